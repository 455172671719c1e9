//! The prune preview: the dry run's releases to delete and how many are kept. It can be
//! confirmed only once the dry run found something to delete.

use super::Dialog;
use crate::engine::PrunePlan;
use crate::ui::theme::Theme;
use ratatui::text::{Line, Span};

/// At most this many releases are listed; the rest are counted.
const LISTED: usize = 12;

pub(super) fn dialog(
    site: &str,
    plan: Option<&Result<(PrunePlan, Vec<String>), String>>,
    theme: &Theme,
) -> Dialog<'static> {
    let mut body = vec![Line::from(format!("Prune {site}"))];
    let mut confirm = None;
    match plan {
        None => body.push(Line::from("reading the server (dry run)…")),
        Some(Err(e)) => body.push(Line::from(Span::styled(
            format!("preview failed: {e}"),
            theme.error(),
        ))),
        Some(Ok((p, kept_live))) if p.delete.is_empty() => {
            body.push(Line::from(format!(
                "Nothing to delete: {} release(s) kept.",
                p.keep.len() + kept_live.len()
            )));
        }
        Some(Ok((p, kept_live))) => {
            body.push(Line::from(format!(
                "Would delete {} release(s):",
                p.delete.len()
            )));
            for i in p.delete.iter().take(LISTED) {
                body.push(Line::from(Span::styled(
                    format!("  ✗ {}  (#{})", i.release, i.deployment_id),
                    theme.error(),
                )));
            }
            if p.delete.len() > LISTED {
                body.push(Line::from(format!(
                    "  … and {} more",
                    p.delete.len() - LISTED
                )));
            }
            body.push(Line::from(format!(
                "Keeps {} release(s), the live one included.",
                p.keep.len() + kept_live.len()
            )));
            confirm = Some("Prune");
        }
    }
    Dialog {
        title: " Prune preview ",
        body,
        confirm,
        outgoing: None,
    }
}
