//! The top line: how many servers and sites, the running jobs, and the demo's note.

use super::spinner;
use crate::ui::app::App;
use crate::ui::theme::Theme;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

pub(super) fn draw(f: &mut Frame<'_>, app: &App, theme: &Theme, area: Rect) {
    let servers = {
        let mut v: Vec<&str> = app.sites.iter().map(|s| s.server.as_str()).collect();
        v.dedup();
        v.len()
    };
    let mut spans = vec![
        Span::styled(
            " flipdeck ",
            Style::new().add_modifier(Modifier::BOLD | Modifier::REVERSED),
        ),
        Span::raw(format!(" {servers} server(s), {} site(s)", app.sites.len())),
    ];
    let running = app.running_jobs();
    if running > 0 {
        spans.push(Span::styled(
            format!("  {} {running} job(s) running", spinner(app)),
            theme.warn(),
        ));
    }
    if let Some(h) = &app.header {
        spans.push(Span::styled(format!("  {h}"), theme.notice()));
    }
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}
