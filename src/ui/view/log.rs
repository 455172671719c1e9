//! The selected deployment's log: its last lines while following, or from a paused line (the
//! selected line, which `y` copies, is then the top one). Long lines are cut and scroll sideways,
//! or wrap (`w`). Only the visible lines are laid out.

use super::pane_block;
use crate::ui::app::App;
use crate::ui::keymap::Pane;
use crate::ui::layout;
use crate::ui::logbuf::LineKind;
use crate::ui::theme::Theme;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

pub(super) fn draw(f: &mut Frame<'_>, app: &App, theme: &Theme, area: Rect) {
    let inner_h = layout::log_lines(area);
    let d = app.selected_deployment();
    let command = app.shown_command().map(|(name, _)| name);
    let title = match (command, d, app.log_top) {
        (Some(name), _, None) => format!(" Log · command {name} · following (f) "),
        (Some(name), _, Some(_)) => format!(" Log · command {name} · paused (End resumes) "),
        (None, None, _) => " Log ".to_string(),
        (None, Some(d), None) => format!(" Log #{} · following (f) ", d.id),
        (None, Some(d), Some(_)) => format!(" Log #{} · paused (End resumes) ", d.id),
    };
    let title = if app.wrap {
        format!("{title}· wrap ")
    } else if app.log_left > 0 {
        format!("{title}· col {} ", app.log_left + 1)
    } else {
        title
    };
    let block = pane_block(title, app.focus == Pane::Log, theme);
    let Some(buf) = app.current_log() else {
        let msg = if d.is_some() {
            "loading…"
        } else {
            "Select a deployment to see its log."
        };
        f.render_widget(Paragraph::new(msg).block(block), area);
        return;
    };
    // Following: the last lines that fit this pane (what `App::tail_top` says for the height the
    // App was told), so a frame is right even before the App has heard of a new size.
    let width = area.width.saturating_sub(2).max(1) as usize;
    let mut tail = buf.len().saturating_sub(inner_h.max(1));
    if app.wrap {
        // Wrapped, the last lines take more rows: start where the newest still fit.
        let mut rows = 0;
        tail = buf.len();
        while tail > 0 {
            let n = buf
                .window(tail - 1, 1)
                .next()
                .map_or(1, |(_, t)| t.chars().count().div_ceil(width).max(1));
            if rows + n > inner_h && rows > 0 {
                break;
            }
            rows += n;
            tail -= 1;
        }
    }
    let top = app.log_top.unwrap_or(tail).min(buf.len());
    let selected = app.log_top.is_some() && app.focus == Pane::Log;
    let lines: Vec<Line<'_>> = buf
        .window(top, inner_h)
        .enumerate()
        .map(|(i, (kind, text))| {
            let style = match kind {
                LineKind::Out => Style::new(),
                LineKind::Err => theme.warn(),
                LineKind::Step => theme.step(),
                LineKind::Notice => theme.notice(),
            };
            let line = Line::from(Span::styled(text.as_str(), style));
            if selected && i == 0 {
                line.style(theme.selected())
            } else {
                line
            }
        })
        .collect();
    let p = Paragraph::new(lines).block(block);
    let p = if app.wrap {
        p.wrap(Wrap { trim: false })
    } else {
        p.scroll((0, app.log_left.min(u16::MAX as usize) as u16))
    };
    f.render_widget(p, area);
}
