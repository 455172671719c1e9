//! The selected site's deployments, newest first, through the filter.

use super::{age, pane_block};
use crate::commit::short;
use crate::store::Deployment;
use crate::ui::app::App;
use crate::ui::keymap::Pane;
use crate::ui::theme::Theme;
use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::Span;
use ratatui::widgets::{Cell, Paragraph, Row, Table, TableState};

pub(super) fn draw(f: &mut Frame<'_>, app: &App, theme: &Theme, area: Rect) {
    let Some(site) = app.site() else { return };
    let visible = app.visible_deployments();
    let mut title = format!(" {} — deployments ", site.key);
    if !app.filter.is_empty() || app.filter_editing {
        title = format!(
            " {} — filter: {}{} ",
            site.key,
            app.filter,
            if app.filter_editing { "▏" } else { "" }
        );
    }
    let block = pane_block(title, app.focus == Pane::Table, theme);
    if visible.is_empty() {
        let msg = if !site.loaded {
            "loading…"
        } else if site.deployments.is_empty() {
            "No deployments yet. Press d to deploy."
        } else {
            "No deployment matches the filter (Esc in / clears it)."
        };
        f.render_widget(Paragraph::new(msg).block(block), area);
        return;
    }
    let rows: Vec<Row<'_>> = visible
        .iter()
        .map(|d| {
            let (word, style) = theme.status(d.status);
            let active = if d.is_active {
                Cell::from(Span::styled("Active", theme.active_badge()))
            } else {
                Cell::from("")
            };
            Row::new(vec![
                Cell::from(format!("#{}", d.id)),
                Cell::from(Span::styled(word, style)),
                active,
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
            ])
        })
        .collect();
    let widths = [
        Constraint::Length(5),
        Constraint::Length(10),
        Constraint::Length(6),
        Constraint::Min(6),
        Constraint::Length(7),
        Constraint::Length(4),
        Constraint::Length(5),
        Constraint::Length(6),
    ];
    let header = Row::new([
        "ID", "Status", "", "Branch", "Commit", "Age", "Took", "Roll",
    ])
    .style(theme.dim());
    let t = Table::new(rows, widths)
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
