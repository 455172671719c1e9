//! The help popup: every key of the panes, then the dialogs' keys and how to close the help, all
//! from the keymap.

use super::Dialog;
use crate::ui::keymap::{self, Layer};
use crate::ui::theme::Theme;
use ratatui::text::{Line, Span};

pub(super) fn dialog(theme: &Theme) -> Dialog<'static> {
    let mut body: Vec<Line<'static>> = keymap::help_rows()
        .into_iter()
        .map(|(k, h)| {
            Line::from(vec![
                Span::styled(format!("{k:>12}  "), theme.key()),
                Span::raw(h),
            ])
        })
        .collect();
    body.push(Line::from(""));
    body.push(Line::from(Span::styled(
        format!("In dialogs: {}.", keymap::layer_help(Layer::Dialog)),
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
    }
}
