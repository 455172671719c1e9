//! The help popup: every key of the panes, then the dialogs' keys and how to close the help, all
//! from the keymap.

use super::Dialog;
use crate::ui::keymap::{self, Layer};
use crate::ui::theme::Theme;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

pub(super) fn dialog(keys: &keymap::Keymap, theme: &Theme, area: Rect) -> Dialog<'static> {
    let rows = keys.help_rows();
    let key_w = rows
        .iter()
        .map(|(k, _)| k.chars().count())
        .max()
        .unwrap_or(4);
    // Too many rows for the screen: two columns, each help cut to fit.
    let two = rows.len() + 8 > area.height as usize;
    let cell = |k: &str, h: &str, w: usize| -> Vec<Span<'static>> {
        let h: String = if h.chars().count() > w {
            h.chars().take(w.saturating_sub(1)).chain(['…']).collect()
        } else {
            format!("{h:w$}")
        };
        vec![
            Span::styled(format!("{k:>key_w$}  "), theme.key()),
            Span::raw(h),
        ]
    };
    let mut body: Vec<Line<'static>> = if two {
        let half = rows.len().div_ceil(2);
        let w = (area.width as usize).saturating_sub(8) / 2;
        let help_w = w.saturating_sub(key_w + 2);
        (0..half)
            .map(|i| {
                let (k, h) = &rows[i];
                let mut spans = cell(k, h, help_w);
                if let Some((k, h)) = rows.get(i + half) {
                    spans.push(Span::raw("  "));
                    spans.extend(cell(k, h, help_w));
                }
                Line::from(spans)
            })
            .collect()
    } else {
        rows.iter()
            .map(|(k, h)| Line::from(cell(k, h, h.chars().count())))
            .collect()
    };
    body.push(Line::from(""));
    body.push(Line::from(Span::styled(
        format!("In dialogs: {}.", keymap::layer_help(Layer::Dialog)),
        theme.dim(),
    )));
    body.push(Line::from(Span::styled(
        format!(
            "While a rollout holds: {}.",
            keymap::layer_help(Layer::Holding)
        ),
        theme.dim(),
    )));
    body.push(Line::from(Span::styled(
        format!("{}.", keymap::layer_help(Layer::Help)),
        theme.dim(),
    )));
    Dialog {
        title: " Keys ",
        body,
        confirm: None,
        outgoing: None,
    }
}
