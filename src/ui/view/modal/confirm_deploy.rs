//! Asks before a deploy: the site, its server (or every server of a fleet), the branch, the
//! exact ref when one is set (`r` types it), and what goes out (see `outgoing`).

use super::{Dialog, Section};
use crate::ui::keymap::{self, Action, Layer};
use crate::ui::theme::Theme;
use ratatui::text::{Line, Span};

pub(super) fn dialog<'a>(
    site: &str,
    domain: &'a str,
    server: &str,
    branch: &str,
    git_ref: &str,
    fleet: &[String],
    theme: &Theme,
) -> Dialog<'a> {
    let (key, _) = keymap::hint(Layer::Dialog, Action::EditRef);
    let what = if git_ref.is_empty() {
        Line::from(vec![
            Span::raw(format!("branch: {branch}")),
            Span::styled(format!("   ({key}: an exact ref)"), theme.dim()),
        ])
    } else {
        Line::from(vec![
            Span::raw("ref: "),
            Span::styled(
                crate::visible::visible(git_ref, false).into_owned(),
                theme.key(),
            ),
            Span::styled(format!("   ({key}: change)"), theme.dim()),
        ])
    };
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
            what,
            Line::from(Span::styled(
                "A new release is built; the live site switches only if it succeeds.",
                theme.dim(),
            )),
        ],
        confirm: Some("Deploy"),
        outgoing: Some(Section {
            at: 3,
            rollback: false,
            site: site.to_string(),
        }),
    }
}

/// The deploy dialog, with the ref being typed under it.
pub(super) fn type_ref<'a>(inner: Dialog<'a>, typed: &'a str, theme: &Theme) -> Dialog<'a> {
    let mut body = inner.body;
    body.push(Line::from(""));
    body.push(Line::from(
        "Ref to deploy (a tag, a branch or a commit; empty: the branch's newest):",
    ));
    let mut line = vec![
        Span::raw("> "),
        Span::raw(crate::visible::visible(typed, false).into_owned()),
        Span::styled("█", theme.dim()),
    ];
    if let Err(why) = crate::validate::git_ref(typed.trim())
        && !typed.trim().is_empty()
    {
        line.push(Span::styled(format!("  {why}"), theme.error()));
    }
    body.push(Line::from(line));
    Dialog {
        title: inner.title,
        body,
        confirm: None,
        outgoing: inner.outgoing,
    }
}
