//! Asks before a deploy: the site, its server (or every server of a fleet) and the branch.

use super::Dialog;
use crate::ui::theme::Theme;
use ratatui::text::{Line, Span};

pub(super) fn dialog<'a>(
    domain: &'a str,
    server: &str,
    branch: &str,
    fleet: &[String],
    theme: &Theme,
) -> Dialog<'a> {
    Dialog {
        title: " Deploy ",
        body: vec![
            Line::from(vec![
                Span::raw("Deploy "),
                Span::styled(domain, theme.key()),
                Span::raw(if fleet.is_empty() {
                    format!(" on {server}")
                } else {
                    format!(" on {} servers (fleet): {}", fleet.len(), fleet.join(", "))
                }),
            ]),
            Line::from(format!("branch: {branch}")),
            Line::from(Span::styled(
                "A new release is built; the live site switches only if it succeeds.",
                theme.dim(),
            )),
        ],
        confirm: Some("Deploy"),
    }
}
