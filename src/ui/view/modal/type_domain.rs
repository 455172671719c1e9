//! A protected site's deploy or rollback: the same dialog, confirmed only by typing the domain
//! (no button to press by habit).

use super::Dialog;
use crate::ui::app::Modal;
use crate::ui::keymap::{self, Layer};
use crate::ui::theme::Theme;
use ratatui::layout::Alignment;
use ratatui::text::{Line, Span};

pub(super) fn dialog<'a>(
    inner: Dialog<'a>,
    typed: &'a str,
    then: &'a Modal,
    theme: &Theme,
) -> Dialog<'a> {
    let mut body = inner.body;
    body.push(Line::from(""));
    body.push(Line::from(vec![
        Span::styled("Protected. ", theme.warn()),
        Span::raw("Type "),
        Span::styled(then.domain().unwrap_or(""), theme.key()),
        Span::raw(" to confirm:"),
    ]));
    let want = then.domain().unwrap_or("");
    let mut line = vec![
        Span::raw("> "),
        // What is typed is shown as visible text: it came from the keyboard, but still.
        Span::raw(crate::visible::visible(typed, false).into_owned()),
        Span::styled("█", theme.dim()),
    ];
    // Said in the dialog, where the eyes are (a toast would sit under it).
    if !typed.is_empty() && !want.starts_with(typed) {
        line.push(Span::styled(
            format!("  not {want}: Enter does nothing"),
            theme.error(),
        ));
    }
    body.push(Line::from(line));
    Dialog {
        title: inner.title,
        body,
        confirm: None,
        outgoing: inner.outgoing,
    }
}

/// The keys of the typing line, from the keymap.
pub(super) fn hints(theme: &Theme) -> Line<'static> {
    let words: Vec<String> = keymap::bar_hints(Layer::Typing)
        .into_iter()
        .map(|(k, w)| format!("{k} {w}"))
        .collect();
    Line::from(Span::styled(words.join("   "), theme.dim())).alignment(Alignment::Center)
}
