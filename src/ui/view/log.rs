//! The selected deployment's log: its last lines while following, or from a paused line. Only
//! the visible lines are laid out.

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
use ratatui::widgets::Paragraph;

pub(super) fn draw(f: &mut Frame<'_>, app: &App, theme: &Theme, area: Rect) {
    let inner_h = layout::log_lines(area);
    let d = app.selected_deployment();
    let title = match (d, app.log_top) {
        (None, _) => " Log ".to_string(),
        (Some(d), None) => format!(" Log #{} · following (f) ", d.id),
        (Some(d), Some(_)) => format!(" Log #{} · paused (End resumes) ", d.id),
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
    let tail = buf.len().saturating_sub(inner_h.max(1));
    let top = app.log_top.unwrap_or(tail).min(buf.len());
    let lines: Vec<Line<'_>> = buf
        .window(top, inner_h)
        .map(|(kind, text)| {
            let style = match kind {
                LineKind::Out => Style::new(),
                LineKind::Err => theme.warn(),
                LineKind::Step => theme.step(),
                LineKind::Notice => theme.notice(),
            };
            Line::from(Span::styled(text.as_str(), style))
        })
        .collect();
    f.render_widget(Paragraph::new(lines).block(block), area);
}
