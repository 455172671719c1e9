//! Asks before a rollback: the site, its server, the releases it switches from and to, and what
//! changes between them (see `outgoing`: the commits taken back, and the migrations the target
//! lacks).

use super::{Dialog, Section};
use crate::ui::theme::Theme;
use ratatui::text::{Line, Span};

pub(super) fn dialog<'a>(
    site: &str,
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
        outgoing: Some(Section {
            at: 4,
            rollback: true,
            site: site.to_string(),
        }),
    }
}
