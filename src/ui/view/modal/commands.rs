//! The site commands' picker (`x`): the site's commands, the selected one highlighted with its
//! shell code's first line, and where Enter runs it.

use super::Dialog;
use crate::ui::keymap::{self, Layer};
use crate::ui::theme::Theme;
use crate::visible::visible;
use ratatui::layout::{Alignment, Rect};
use ratatui::text::{Line, Span};

pub(super) fn dialog<'a>(
    site: &'a str,
    sites: &'a [String],
    names: &'a [(String, String)],
    selected: usize,
    theme: &Theme,
    area: Rect,
) -> Dialog<'a> {
    let room = (area.width as usize).saturating_sub(10).max(20);
    let name_w = names
        .iter()
        .map(|(n, _)| n.chars().count())
        .max()
        .unwrap_or(4);
    let mut body = vec![Line::from(vec![
        Span::raw("Run in the live release of "),
        Span::styled(
            if sites.len() > 1 {
                format!("{} servers", sites.len())
            } else {
                site.to_string()
            },
            theme.key(),
        ),
        Span::raw(":"),
    ])];
    body.push(Line::from(""));
    for (i, (name, code)) in names.iter().enumerate() {
        // The code's first line, made visible and cut to the room left.
        let first = visible(code.lines().next().unwrap_or(""), false).into_owned();
        let more = code.trim_end().contains('\n');
        let w = room.saturating_sub(name_w + 4);
        let shown: String = if first.chars().count() > w {
            first
                .chars()
                .take(w.saturating_sub(1))
                .chain(['…'])
                .collect()
        } else if more {
            format!("{first} …")
        } else {
            first
        };
        let marker = if i == selected { "> " } else { "  " };
        let style = if i == selected {
            theme.selected()
        } else {
            ratatui::style::Style::new()
        };
        body.push(Line::from(vec![
            Span::styled(format!("{marker}{name:<name_w$}"), style),
            Span::raw("  "),
            Span::styled(shown, theme.dim()),
        ]));
    }
    Dialog {
        title: " Commands ",
        body,
        confirm: None,
        outgoing: None,
    }
}

/// The picker's keys, from the keymap.
pub(super) fn hints(theme: &Theme) -> Line<'static> {
    let words: Vec<String> = keymap::bar_hints(Layer::Picker)
        .into_iter()
        .map(|(k, w)| format!("{k} {w}"))
        .collect();
    Line::from(Span::styled(words.join("   "), theme.dim())).alignment(Alignment::Center)
}
