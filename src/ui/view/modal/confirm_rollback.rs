//! Asks before a rollback: the site, its server, and the releases it switches from and to.

use super::Dialog;
use crate::ui::theme::Theme;
use ratatui::text::{Line, Span};

pub(super) fn dialog<'a>(
    domain: &'a str,
    server: &str,
    from: &str,
    to: &str,
    theme: &Theme,
) -> Dialog<'a> {
    Dialog {
        title: " Rollback ",
        body: vec![
            Line::from(vec![
                Span::raw("Roll back "),
                Span::styled(domain, theme.key()),
                Span::raw(format!(" on {server}")),
            ]),
            Line::from(format!("from: {from}")),
            Line::from(format!("  to: {to}")),
            Line::from(Span::styled(
                "The live symlink switches at once; no release is deleted.",
                theme.dim(),
            )),
        ],
        confirm: Some("Rollback"),
    }
}
