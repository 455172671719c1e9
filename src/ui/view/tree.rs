//! The left pane: servers and their sites. A server's line says how its connection stands
//! (connected, connecting, unreachable with the last error and the next try), for as long as it
//! stands so. Each site shows a spinner while a job runs, `[locked]`/`[drift]` marks, and its
//! live commit and age on the right: a narrow tree cuts the domain first, then the commit, never
//! the age.

use super::{age, cut, pane_block, spinner};
use crate::commit::short;
use crate::engine::events::RolloutState;
use crate::ui::app::{App, Link, SiteView};
use crate::ui::keymap::Pane;
use crate::ui::theme::Theme;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

pub(super) fn draw(f: &mut Frame<'_>, app: &App, theme: &Theme, area: Rect) {
    let width = area.width.saturating_sub(2) as usize;
    let mut lines: Vec<Line<'_>> = Vec::new();
    let mut last_server: Option<&str> = None;
    // Stage headings only when some server has a stage (the sites come grouped by it).
    let staged = app.sites.iter().any(|s| s.stage.is_some());
    let mut last_stage: Option<Option<&str>> = None;
    for i in app.visible_sites() {
        let s = &app.sites[i];
        if staged && last_stage != Some(s.stage.as_deref()) {
            let name = s.stage.as_deref().unwrap_or("no stage");
            lines.push(Line::from(Span::styled(
                format!("■ {name}"),
                theme.key().add_modifier(Modifier::BOLD),
            )));
            last_stage = Some(s.stage.as_deref());
            last_server = None;
        }
        if last_server != Some(s.server.as_str()) {
            lines.extend(server_lines(app, s, theme, width));
            last_server = Some(&s.server);
        }
        lines.push(site_line(app, s, i == app.selected, theme, width));
    }
    let title =
        if app.site_filter.is_empty() && !(app.filter_editing && app.filter_pane == Pane::Tree) {
            " Servers ".to_string()
        } else {
            let cursor = if app.filter_editing { "▏" } else { "" };
            format!(" Servers — /{}{cursor} ", app.site_filter)
        };
    let block = pane_block(title, app.focus == Pane::Tree, theme);
    f.render_widget(Paragraph::new(lines).block(block), area);
}

/// The server's name and transport, how its connection stands, and under it, while it cannot
/// be reached, why and when the next try is.
fn server_lines<'a>(app: &App, s: &'a SiteView, theme: &Theme, width: usize) -> Vec<Line<'a>> {
    let link = app.links.get(&s.server);
    let state = match link {
        Some(Link::Connected) => Some(Span::styled(" ● connected", theme.ok())),
        Some(Link::Connecting) => Some(Span::styled(" ◌ connecting…", theme.warn())),
        Some(Link::Unreachable { .. }) => Some(Span::styled(" ✗ unreachable", theme.error())),
        None => None,
    };
    let transport = format!(" ({})", s.transport);
    let state_w = state.as_ref().map_or(0, |st| st.content.chars().count());
    let mut head = vec![
        Span::styled("▾ ", theme.dim()),
        Span::styled(s.server.clone(), Style::new().add_modifier(Modifier::BOLD)),
    ];
    // The connection's state before the transport, when both do not fit.
    if 2 + s.server.chars().count() + transport.len() + state_w <= width {
        head.push(Span::styled(transport, theme.dim()));
    }
    head.extend(state);
    let mut lines = vec![Line::from(head)];
    if let Some(Link::Unreachable { error, retry_at }) = link {
        // The next try first: the whole error is in the table.
        let text = format!("  retry in {}: {error}", super::countdown(*retry_at));
        lines.push(Line::from(Span::styled(cut(&text, width), theme.error())));
    }
    lines
}

fn site_line<'a>(
    app: &App,
    s: &'a SiteView,
    selected: bool,
    theme: &Theme,
    width: usize,
) -> Line<'a> {
    let marker = if selected { "› " } else { "  " };
    let mut marks: Vec<Span<'a>> = Vec::new();
    if s.protected {
        marks.push(Span::styled(" [protected]", theme.warn()));
    }
    // A stepped rollout: where this server stands in it, in place of the job's name.
    let rollout = s.running.and_then(|_| {
        app.rollout_of(&s.domain)
            .and_then(|r| r.servers.get(&s.key))
    });
    match (s.running, rollout) {
        (Some(_), Some(state)) => {
            let style = match state {
                RolloutState::Live | RolloutState::Committed => theme.ok(),
                RolloutState::Reverted | RolloutState::Untouched => theme.error(),
                _ => theme.warn(),
            };
            marks.push(Span::styled(format!(" {}", spinner(app)), theme.warn()));
            marks.push(Span::styled(format!(" [{}]", state.as_str()), style));
        }
        (Some(a), None) => marks.push(Span::styled(
            format!(" {} {}", spinner(app), a.as_str()),
            theme.warn(),
        )),
        (None, _) => {}
    }
    if s.lock.is_some() {
        marks.push(Span::styled(" [locked]", theme.error()));
    }
    if s.drift.is_some() {
        marks.push(Span::styled(" [drift]", theme.warn()));
    }
    // What the right side shows, longest first: the domain gives way first, then the commit;
    // the age stays.
    let rights: Vec<String> = match s.active() {
        Some(a) => {
            let when = format!(" {}", age(a.completed_at.or(a.started_at)));
            let commit = a.commit_sha.as_deref().map(short).unwrap_or("-");
            vec![format!(" {commit}{when}"), when]
        }
        None if s.loaded => vec![" (nothing live)".into(), " (none)".into()],
        None => vec![String::new()],
    };
    let marks_w: usize = marks.iter().map(|m| m.content.chars().count()).sum();
    let room = |right: &str| width.saturating_sub(2 + marks_w + right.chars().count());
    let want = s.domain.chars().count().min(12);
    let right = rights
        .iter()
        .find(|r| room(r) >= want)
        .unwrap_or(&rights[rights.len() - 1])
        .clone();
    let domain = cut(&s.domain, room(&right).max(4));
    let used = 2 + domain.chars().count() + marks_w + right.chars().count();
    let mut spans = vec![Span::raw(marker), Span::raw(domain)];
    spans.extend(marks);
    spans.push(Span::raw(" ".repeat(width.saturating_sub(used))));
    spans.push(Span::styled(right, theme.dim()));
    let line = Line::from(spans);
    if selected {
        line.style(theme.selected())
    } else {
        line
    }
}
