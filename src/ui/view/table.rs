//! The selected site's deployments, newest first, through the filter. The title says who holds
//! the site's lock and whether its server can be reached; the columns fit the width, the branch
//! giving way before the release and the commit.

use super::{age, pane_block};
use crate::commit::short;
use crate::store::Deployment;
use crate::ui::app::{App, Link};
use crate::ui::keymap::{Layer, Pane};
use crate::ui::theme::Theme;
use ratatui::Frame;
use ratatui::layout::{Constraint, Flex, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table, TableState, Wrap};

/// A release name, `ddMMYYYY-HHMMSS`.
const RELEASE_W: u16 = 15;
/// The branch column's narrowest and widest.
const BRANCH_MIN: u16 = 6;
const BRANCH_MAX: u16 = 40;

pub(super) fn draw(f: &mut Frame<'_>, app: &App, theme: &Theme, area: Rect) {
    let Some(site) = app.site() else { return };
    let visible = app.visible_deployments();
    let mut title = format!(" {} — deployments ", site.key);
    if !app.filter.is_empty() || (app.filter_editing && app.filter_pane == Pane::Table) {
        title = format!(
            " {} — filter: {}{} ",
            site.key,
            app.filter,
            if app.filter_editing { "▏" } else { "" }
        );
    }
    let unreachable = match app.links.get(&site.server) {
        Some(Link::Unreachable { error, retry_at }) => Some((error, retry_at)),
        _ => None,
    };
    let mut block = pane_block(title, app.focus == Pane::Table, theme);
    if let Some(holder) = &site.lock {
        let who = crate::ui::app::holder_line(holder);
        block = block.title_bottom(Line::from(Span::styled(
            format!(" locked by {who} "),
            theme.error(),
        )));
    } else if unreachable.is_some() {
        block = block.title_bottom(Line::from(Span::styled(
            " server unreachable ",
            theme.error(),
        )));
    }
    if let Some(env) = &site.env {
        let (text, style) = env_line(env, theme);
        block = block.title_bottom(Line::from(Span::styled(text, style)).right_aligned());
    }
    if visible.is_empty() {
        let msg = match unreachable {
            _ if !site.loaded => "loading…".to_string(),
            Some((error, retry_at)) if site.deployments.is_empty() => format!(
                "{} cannot be reached: {error}. The next try is in {}; nothing can be deployed until it answers.",
                site.server,
                super::countdown(*retry_at)
            ),
            _ if site.deployments.is_empty() => {
                let key = app
                    .keymap
                    .bar_hints(Layer::Pane(Pane::Tree))
                    .into_iter()
                    .find(|(_, w)| *w == "deploy")
                    .map_or_else(|| "d".to_string(), |(k, _)| k);
                format!("No deployments yet. Press {key} to deploy.")
            }
            _ => "No deployment matches the filter (Esc clears it).".to_string(),
        };
        let style = if unreachable.is_some() {
            theme.error()
        } else {
            ratatui::style::Style::new()
        };
        f.render_widget(
            Paragraph::new(Span::styled(msg, style))
                .wrap(Wrap { trim: true })
                .block(block),
            area,
        );
        return;
    }
    let id_w = visible
        .iter()
        .map(|d| d.id.to_string().len() as u16 + 1)
        .max()
        .unwrap_or(2)
        .max(2);
    let longest_branch = visible
        .iter()
        .filter_map(|d| d.branch.as_deref())
        .map(|b| b.chars().count() as u16)
        .max()
        .unwrap_or(0);
    let inner = area.width.saturating_sub(2);
    // ID, status, badge, commit, age, took, roll, and the gaps between the eight columns.
    let fixed = id_w + 10 + 6 + 7 + 4 + 6 + 6 + 7;
    let with_release = inner >= fixed + RELEASE_W + 1 + BRANCH_MIN + 2;
    let room = inner.saturating_sub(fixed + if with_release { RELEASE_W + 1 } else { 0 });
    let branch_w = longest_branch
        .clamp(BRANCH_MIN, BRANCH_MAX)
        .min(room)
        .max(1);
    let rows: Vec<Row<'_>> = visible
        .iter()
        .map(|d| {
            let (word, style) = theme.status(d.status);
            let active = if d.is_active {
                Cell::from(Span::styled("Active", theme.active_badge()))
            } else {
                Cell::from("")
            };
            let mut cells = vec![
                Cell::from(format!("#{}", d.id)),
                Cell::from(Span::styled(word, style)),
                active,
            ];
            if with_release {
                cells.push(Cell::from(
                    d.release_name.clone().unwrap_or_else(|| "-".into()),
                ));
            }
            cells.extend([
                Cell::from(d.branch.clone().unwrap_or_default()),
                Cell::from(
                    d.commit_sha
                        .as_deref()
                        .map(short)
                        .unwrap_or("-")
                        .to_string(),
                ),
                Cell::from(age(d.started_at)),
                Cell::from(
                    d.duration_ms
                        .map(|ms| format!("{:.1}s", ms as f64 / 1000.0))
                        .unwrap_or_else(|| "-".into()),
                ),
                Cell::from(rollback_cell(d)),
            ]);
            Row::new(cells)
        })
        .collect();
    let mut widths = vec![
        Constraint::Length(id_w),
        Constraint::Length(10),
        Constraint::Length(6),
    ];
    let mut names = vec!["ID", "Status", ""];
    if with_release {
        widths.push(Constraint::Length(RELEASE_W));
        names.push("Release");
    }
    widths.extend([
        Constraint::Length(branch_w),
        Constraint::Length(7),
        Constraint::Length(4),
        Constraint::Length(6),
        Constraint::Length(6),
    ]);
    names.extend(["Branch", "Commit", "Age", "Took", "Roll"]);
    let header = Row::new(names).style(theme.dim());
    let t = Table::new(rows, widths)
        .flex(Flex::Start)
        .header(header)
        .block(block)
        .column_spacing(1)
        .row_highlight_style(theme.selected());
    let mut state =
        TableState::default().with_selected(Some(site.table_sel.min(visible.len() - 1)));
    f.render_stateful_widget(t, area, &mut state);
}

/// The Roll column: can it be rolled back, and if not, why.
fn rollback_cell(d: &Deployment) -> &'static str {
    if d.can_rollback() {
        "yes"
    } else if d.is_active {
        "live"
    } else if d.status == crate::store::Status::Success && d.deployment_path.is_none() {
        "pruned"
    } else {
        "no"
    }
}

/// The site's shared .env as the last read saw it: missing, or the keys the live release's
/// `.env.example` has and it lacks (names only: the dashboard never holds a value).
fn env_line(
    env: &crate::engine::protocol::EnvStatus,
    theme: &Theme,
) -> (String, ratatui::style::Style) {
    if env.none {
        return (" no shared .env (e edits) ".into(), theme.warn());
    }
    if env.unreadable {
        return (" .env unreadable ".into(), theme.error());
    }
    if !env.lacks.is_empty() {
        const SHOWN: usize = 3;
        let mut keys: Vec<String> = env
            .lacks
            .iter()
            .take(SHOWN)
            .map(|k| crate::visible::visible(k, false).into_owned())
            .collect();
        if env.lacks.len() > SHOWN {
            keys.push(format!("+{}", env.lacks.len() - SHOWN));
        }
        return (
            format!(" .env lacks {} (e edits) ", keys.join(", ")),
            theme.warn(),
        );
    }
    if env.example {
        (" .env has every .env.example key ".into(), theme.dim())
    } else {
        (" .env ".into(), theme.dim())
    }
}
