//! The bottom line: the focused pane's keys, or the filter being typed and its keys, all from the
//! keymap.

use crate::ui::app::App;
use crate::ui::keymap::{self, Layer, Pane};
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
        let (what, text) = if app.filter_pane == Pane::Tree {
            (" filter sites: ", &app.site_filter)
        } else {
            (" filter deployments: ", &app.filter)
        };
        spans.push(Span::styled(what, theme.key()));
        spans.push(Span::raw(format!("{text}▏  {}", hints.join(" · "))));
    } else {
        // A held switch's keys first: they take precedence over the panes' while it holds.
        // A rollout's bar shows its own keys; a watch has only the revert.
        let held = if app.holding() && app.holding_rollout().is_none() {
            app.keymap
                .bar_hints(Layer::Holding)
                .into_iter()
                .filter(|(_, word)| *word == "revert")
                .collect()
        } else {
            Vec::new()
        };
        for (k, h) in held {
            spans.push(Span::styled(format!(" {k}"), theme.error()));
            spans.push(Span::raw(format!(" {h} ")));
        }
        for (k, h) in app.keymap.bar_hints(Layer::Pane(app.focus)) {
            spans.push(Span::styled(format!(" {k}"), theme.key()));
            spans.push(Span::raw(format!(" {h} ")));
        }
    }
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}
