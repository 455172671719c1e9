//! The left pane: servers and their sites, each with its live commit and age, a spinner while a
//! job runs, and `[locked]`/`[drift]` marks.

use super::{age, pane_block, spinner};
use crate::commit::short;
use crate::ui::app::{App, SiteView};
use crate::ui::keymap::Pane;
use crate::ui::theme::Theme;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

pub(super) fn draw(f: &mut Frame<'_>, app: &App, theme: &Theme, area: Rect) {
    let mut lines: Vec<Line<'_>> = Vec::new();
    let mut last_server: Option<&str> = None;
    // Stage headings only when some server has a stage (the sites come grouped by it).
    let staged = app.sites.iter().any(|s| s.stage.is_some());
    let mut last_stage: Option<Option<&str>> = None;
    for (i, s) in app.sites.iter().enumerate() {
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
            lines.push(Line::from(vec![
                Span::styled("▾ ", theme.dim()),
                Span::styled(s.server.clone(), Style::new().add_modifier(Modifier::BOLD)),
                Span::styled(format!(" ({})", s.transport), theme.dim()),
            ]));
            last_server = Some(&s.server);
        }
        lines.push(site_line(app, s, i == app.selected, theme));
    }
    let block = pane_block(" Servers ".into(), app.focus == Pane::Tree, theme);
    f.render_widget(Paragraph::new(lines).block(block), area);
}

fn site_line<'a>(app: &App, s: &'a SiteView, selected: bool, theme: &Theme) -> Line<'a> {
    let marker = if selected { "› " } else { "  " };
    let mut spans = vec![Span::raw(marker), Span::raw(s.domain.clone())];
    if s.protected {
        spans.push(Span::styled(" [protected]", theme.warn()));
    }
    // Marks first: in a narrow tree the commit and age are what gets cut.
    if let Some(a) = s.running {
        spans.push(Span::styled(
            format!(" {} {}", spinner(app), a.as_str()),
            theme.warn(),
        ));
    }
    if s.lock.is_some() {
        spans.push(Span::styled(" [locked]", theme.error()));
    }
    if s.drift.is_some() {
        spans.push(Span::styled(" [drift]", theme.warn()));
    }
    if let Some(a) = s.active() {
        spans.push(Span::styled(
            format!(
                " {} {}",
                a.commit_sha.as_deref().map(short).unwrap_or("-"),
                age(a.completed_at.or(a.started_at))
            ),
            theme.dim(),
        ));
    } else if s.loaded {
        spans.push(Span::styled(" (nothing live)", theme.dim()));
    }
    let line = Line::from(spans);
    if selected {
        line.style(theme.selected())
    } else {
        line
    }
}
