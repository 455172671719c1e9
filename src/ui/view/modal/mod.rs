//! Dialogs drawn over the panes, one file per dialog: each gives its title, its lines and the
//! label of its confirming button (if it has one); the box, the buttons and their keys (from the
//! keymap) are drawn here.

mod commands;
mod confirm_deploy;
mod confirm_quit;
mod confirm_rollback;
mod help;
mod outgoing;
mod prune_preview;
mod type_domain;

use crate::ui::app::{App, Modal};
use crate::ui::keymap::{self, Action, Layer};
use crate::ui::theme::Theme;
use ratatui::Frame;
use ratatui::layout::{Alignment, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};

/// What one dialog shows.
struct Dialog<'a> {
    title: &'static str,
    body: Vec<Line<'a>>,
    /// The confirming button's label; `None`: nothing to confirm (yet).
    confirm: Option<&'static str>,
    /// What goes out, shown after this many lines of `body`, in the lines the screen leaves.
    outgoing: Option<Section>,
}

/// Where a deploy or rollback dialog shows what goes out, for which site.
struct Section {
    at: usize,
    rollback: bool,
    site: String,
}

pub(super) fn draw(f: &mut Frame<'_>, app: &App, m: &Modal, theme: &Theme, area: Rect) {
    let Dialog {
        title,
        mut body,
        confirm,
        outgoing,
    } = dialog(app, m, theme, area);
    // The world changed under the dialog: it says why it cannot be confirmed now.
    let (confirm, refused) = match app.dialog_refusal() {
        Some(why) => {
            let room = (area.width as usize).saturating_sub(6).max(20);
            for l in wrap_words(&format!("Not now: {why}"), room) {
                body.push(Line::from(Span::styled(l, theme.error())));
            }
            (None, true)
        }
        None => (confirm, false),
    };
    body.push(Line::from(""));
    match confirm {
        Some(c) => body.push(buttons(app, c, theme)),
        None if matches!(m, Modal::TypeDomain { .. } | Modal::TypeRef { .. }) && !refused => {
            body.push(type_domain::hints(theme))
        }
        None if matches!(m, Modal::Commands { .. }) => body.push(commands::hints(theme)),
        None if m.is_confirm() || refused => {
            let (key, what) = keymap::hint(Layer::Dialog, Action::Close);
            body.push(
                Line::from(Span::styled(format!("{key} {what}"), theme.dim()))
                    .alignment(Alignment::Center),
            )
        }
        None => {}
    }
    if let Some(sec) = outgoing {
        // The lines the rest of the dialog and its border leave on the screen.
        let room = (area.height as usize).saturating_sub(body.len() + 2);
        let width = (area.width as usize).saturating_sub(6);
        let o = app
            .outgoing()
            .filter(|o| o.sites.first().is_some_and(|(s, _)| *s == sec.site));
        let lines = outgoing::lines(o, sec.rollback, theme, room, width);
        let at = sec.at.min(body.len());
        body.splice(at..at, lines);
    }
    let w = body
        .iter()
        .map(|l| l.width() as u16)
        .max()
        .unwrap_or(20)
        .max(34)
        + 4;
    let rect = centered(area, w, body.len() as u16 + 2);
    f.render_widget(Clear, rect);
    let block = Block::default()
        .borders(Borders::ALL)
        .title(title)
        .border_style(theme.focused_border());
    f.render_widget(Paragraph::new(body).block(block), rect);
}

/// What dialog `m` shows.
fn dialog<'a>(app: &'a App, m: &'a Modal, theme: &Theme, area: Rect) -> Dialog<'a> {
    match m {
        Modal::Help => help::dialog(&app.keymap, theme, area),
        Modal::ConfirmDeploy {
            site,
            domain,
            server,
            branch,
            fleet,
            git_ref,
        } => confirm_deploy::dialog(site, domain, server, branch, git_ref, fleet, theme),
        Modal::ConfirmRollback {
            site,
            domain,
            server,
            from,
            to,
            ..
        } => confirm_rollback::dialog(site, domain, server, from, to, theme),
        Modal::PrunePreview { site, plan } => prune_preview::dialog(site, plan.as_ref(), theme),
        Modal::ConfirmQuit { .. } => confirm_quit::dialog(app.running_jobs()),
        Modal::Commands {
            site,
            sites,
            names,
            selected,
            ..
        } => commands::dialog(site, sites, names, *selected, theme, area),
        Modal::TypeRef { typed, then } => {
            confirm_deploy::type_ref(dialog(app, then, theme, area), typed, theme)
        }
        Modal::TypeDomain { typed, then } => {
            type_domain::dialog(dialog(app, then, theme, area), typed, then, theme)
        }
    }
}

/// Cancel and the confirming button, each with its key; the focused one highlighted.
fn buttons<'a>(app: &App, confirm: &'a str, theme: &Theme) -> Line<'a> {
    let (cancel_key, cancel) = keymap::hint(Layer::Dialog, Action::Cancel);
    let (confirm_key, _) = keymap::hint(Layer::Dialog, Action::Confirm);
    let (cancel_style, ok_style) = if app.confirm_focused {
        (Style::new(), theme.selected())
    } else {
        (theme.selected(), Style::new())
    };
    Line::from(vec![
        Span::styled(format!(" {cancel} ({cancel_key}) "), cancel_style),
        Span::raw("   "),
        Span::styled(format!(" {confirm} ({confirm_key}) "), ok_style),
    ])
    .alignment(Alignment::Center)
}

fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    )
}

/// `text` in lines of at most `width` characters, broken between words where it can be.
fn wrap_words(text: &str, width: usize) -> Vec<String> {
    let mut lines = vec![String::new()];
    for word in text.split(' ') {
        let last = lines.last_mut().expect("one line");
        if !last.is_empty() && last.chars().count() + 1 + word.chars().count() > width {
            lines.push(String::new());
        }
        let last = lines.last_mut().expect("one line");
        if !last.is_empty() {
            last.push(' ');
        }
        last.push_str(word);
    }
    lines
}
