//! Drawing the dashboard from `&App`, one widget or dialog per file. Drawing never changes the
//! state: what it needs to know about the screen (where the panes are, how tall the log is) the
//! event loop tells the App before each frame (`App::resize`), from the same layout.

mod ascii;
mod empty_state;
mod header;
mod log;
mod modal;
mod rollout;
mod signals;
mod status_bar;
mod table;
mod toasts;
mod tree;

use super::app::App;
use super::layout;
use super::theme::Theme;
use chrono::Utc;
use ratatui::Frame;
use ratatui::widgets::{Block, Borders};

const SPINNER: [&str; 10] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

pub fn draw(f: &mut Frame<'_>, app: &App, theme: &Theme) {
    let area = f.area();
    let screen = layout::screen(area);
    header::draw(f, app, theme, screen.header);
    if app.sites.is_empty() {
        empty_state::draw(f, app, theme, screen.body);
        toasts::draw(f, app, theme, screen.body);
    } else {
        let panes = layout::panes(screen.body);
        tree::draw(f, app, theme, panes.tree);
        table::draw(f, app, theme, panes.table);
        // While the selected site's domain has a watch after the switch, it takes the log's
        // right side (the log keeps its height, so its scrolling is unchanged).
        let (log_area, watch_area) = if signals::shown(app) {
            let w = (panes.log.width / 2).clamp(30, 60);
            let cols = ratatui::layout::Layout::horizontal([
                ratatui::layout::Constraint::Min(20),
                ratatui::layout::Constraint::Length(w),
            ])
            .split(panes.log);
            (cols[0], Some(cols[1]))
        } else {
            (panes.log, None)
        };
        log::draw(f, app, theme, log_area);
        // A stepped rollout's bar, on the log's lower border.
        rollout::draw(f, app, theme, log_area);
        if let Some(a) = watch_area {
            signals::draw(f, app, theme, a);
        }
        // Over the log, never over the table's newest rows.
        toasts::draw(f, app, theme, log_area);
    }
    status_bar::draw(f, app, theme, screen.status_bar);
    if let Some(m) = &app.modal {
        modal::draw(f, app, m, theme, area);
    }
    if theme.ascii {
        ascii::fold(f.buffer_mut());
    }
}

/// `text` in at most `n` characters, with `…` when cut.
pub(crate) fn cut(text: &str, n: usize) -> String {
    if text.chars().count() <= n {
        return text.to_string();
    }
    let mut t: String = text.chars().take(n.saturating_sub(1)).collect();
    t.push('…');
    t
}

fn spinner(app: &App) -> &'static str {
    SPINNER[app.spinner % SPINNER.len()]
}

/// A pane's frame; the focused pane's border stands out.
fn pane_block<'a>(title: String, focused: bool, theme: &Theme) -> Block<'a> {
    Block::default()
        .borders(Borders::ALL)
        .title(title)
        .border_style(if focused {
            theme.focused_border()
        } else {
            theme.border()
        })
}

/// How long ago, in one unit: `42s`, `5m`, `3h`, `2d`.
pub fn age(t: Option<chrono::DateTime<Utc>>) -> String {
    let Some(t) = t else { return "-".into() };
    let s = (Utc::now() - t).num_seconds().max(0);
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m", s / 60),
        3600..86400 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86400),
    }
}

/// How long until `t`, in whole seconds rounded up: `12s`, `0s` once due.
pub fn countdown(t: chrono::DateTime<Utc>) -> String {
    let ms = (t - Utc::now()).num_milliseconds().max(0);
    format!("{}s", (ms + 999) / 1000)
}
