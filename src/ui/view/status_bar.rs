//! The bottom line: the focused pane's keys, or the filter being typed and its keys, all from the
//! keymap.

use crate::ui::app::App;
use crate::ui::keymap::{self, Layer};
use crate::ui::theme::Theme;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

pub(super) fn draw(f: &mut Frame<'_>, app: &App, theme: &Theme, area: Rect) {
    let mut spans = Vec::new();
    if app.filter_editing {
        let hints: Vec<String> = keymap::bar_hints(Layer::Filter)
            .into_iter()
            .map(|(k, h)| format!("{k} {h}"))
            .collect();
        spans.push(Span::styled(" filter: ", theme.key()));
        spans.push(Span::raw(format!("{}▏  {}", app.filter, hints.join(" · "))));
    } else {
        for (k, h) in keymap::bar_hints(Layer::Pane(app.focus)) {
            spans.push(Span::styled(format!(" {k}"), theme.key()));
            spans.push(Span::raw(format!(" {h} ")));
        }
    }
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}
