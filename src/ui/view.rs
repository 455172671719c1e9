//! Drawing the dashboard from `App`. Only visible log lines are laid out.

use super::app::{App, Modal, SiteView, short};
use super::keymap::{self, Pane};
use super::logbuf::LineKind;
use super::theme::Theme;
use crate::store::Deployment;
use chrono::Utc;
use ratatui::Frame;
use ratatui::layout::{Alignment, Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Clear, Paragraph, Row, Table, TableState, Wrap};

const SPINNER: [&str; 10] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

pub fn draw(f: &mut Frame<'_>, app: &mut App, theme: &Theme) {
    let area = f.area();
    let rows = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(3),
        Constraint::Length(1),
    ])
    .split(area);
    header(f, app, theme, rows[0]);
    if app.sites.is_empty() {
        empty_state(f, app, theme, rows[1]);
    } else {
        let tree_w = (area.width / 4).clamp(22, 40);
        let cols =
            Layout::horizontal([Constraint::Length(tree_w), Constraint::Min(20)]).split(rows[1]);
        let right = Layout::vertical([Constraint::Percentage(45), Constraint::Percentage(55)])
            .split(cols[1]);
        app.areas.tree = cols[0];
        app.areas.table = right[0];
        app.areas.log = right[1];
        tree(f, app, theme, cols[0]);
        table(f, app, theme, right[0]);
        log(f, app, theme, right[1]);
    }
    status_bar(f, app, theme, rows[2]);
    toasts(f, app, theme, rows[1]);
    if let Some(m) = &app.modal {
        modal(f, app, m, theme, area);
    }
}

fn header(f: &mut Frame<'_>, app: &App, theme: &Theme, area: Rect) {
    let servers = {
        let mut v: Vec<&str> = app.sites.iter().map(|s| s.server.as_str()).collect();
        v.dedup();
        v.len()
    };
    let mut spans = vec![
        Span::styled(
            " flipdeck ",
            Style::new().add_modifier(Modifier::BOLD | Modifier::REVERSED),
        ),
        Span::raw(format!(" {servers} server(s), {} site(s)", app.sites.len())),
    ];
    let running = app.running_jobs();
    if running > 0 {
        spans.push(Span::styled(
            format!(
                "  {} {running} job(s) running",
                SPINNER[app.spinner % SPINNER.len()]
            ),
            theme.warn(),
        ));
    }
    if let Some(h) = &app.header {
        spans.push(Span::styled(format!("  {h}"), theme.notice()));
    }
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn empty_state(f: &mut Frame<'_>, app: &App, theme: &Theme, area: Rect) {
    let text = vec![
        Line::from(Span::styled(
            "No sites configured yet.",
            Style::new().add_modifier(Modifier::BOLD),
        )),
        Line::from(""),
        Line::from(format!(
            "flipdeck reads its config from {}",
            app.config_path
        )),
        Line::from(""),
        Line::from("Create it with `flipdeck init` (a commented example), or write one like:"),
        Line::from(""),
        Line::from(Span::styled("  [[servers]]", theme.dim())),
        Line::from(Span::styled("  name = \"web1\"", theme.dim())),
        Line::from(Span::styled("  host = \"web1.example.com\"", theme.dim())),
        Line::from(Span::styled("  [[servers.sites]]", theme.dim())),
        Line::from(Span::styled("  domain = \"example.com\"", theme.dim())),
        Line::from(Span::styled(
            "  repository = \"git@github.com:acme/example.git\"",
            theme.dim(),
        )),
        Line::from(""),
        Line::from("Or try `flipdeck demo` for a sandbox with sample sites."),
    ];
    let block = Block::default()
        .borders(Borders::ALL)
        .title(" Welcome ")
        .border_style(theme.border());
    f.render_widget(
        Paragraph::new(text).block(block).wrap(Wrap { trim: false }),
        area,
    );
}

fn pane_block<'a>(title: String, focused: bool, theme: &Theme) -> Block<'a> {
    Block::default()
        .borders(Borders::ALL)
        .title(title)
        .border_style(if focused {
            theme.focused_border()
        } else {
            theme.border()
        })
}

pub fn age(t: Option<chrono::DateTime<Utc>>) -> String {
    let Some(t) = t else { return "-".into() };
    let s = (Utc::now() - t).num_seconds().max(0);
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m", s / 60),
        3600..86400 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86400),
    }
}

fn tree(f: &mut Frame<'_>, app: &App, theme: &Theme, area: Rect) {
    let mut lines: Vec<Line<'_>> = Vec::new();
    let mut last_server: Option<&str> = None;
    for (i, s) in app.sites.iter().enumerate() {
        if last_server != Some(s.server.as_str()) {
            lines.push(Line::from(vec![
                Span::styled("▾ ", theme.dim()),
                Span::styled(s.server.clone(), Style::new().add_modifier(Modifier::BOLD)),
                Span::styled(format!(" ({})", s.transport), theme.dim()),
            ]));
            last_server = Some(&s.server);
        }
        lines.push(site_line(app, s, i == app.selected, theme));
    }
    let block = pane_block(" Servers ".into(), app.focus == Pane::Tree, theme);
    f.render_widget(Paragraph::new(lines).block(block), area);
}

fn site_line<'a>(app: &App, s: &'a SiteView, selected: bool, theme: &Theme) -> Line<'a> {
    let marker = if selected { "› " } else { "  " };
    let mut spans = vec![Span::raw(marker), Span::raw(s.domain.clone())];
    // Marks first: in a narrow tree the commit and age are what gets cut.
    if let Some(a) = s.running {
        spans.push(Span::styled(
            format!(" {} {}", SPINNER[app.spinner % SPINNER.len()], a.as_str()),
            theme.warn(),
        ));
    }
    if s.lock.is_some() {
        spans.push(Span::styled(" [locked]", theme.error()));
    }
    if s.drift.is_some() {
        spans.push(Span::styled(" [drift]", theme.warn()));
    }
    if let Some(a) = s.active() {
        spans.push(Span::styled(
            format!(
                " {} {}",
                a.commit_sha.as_deref().map(short).unwrap_or("-"),
                age(a.completed_at.or(a.started_at))
            ),
            theme.dim(),
        ));
    } else if s.loaded {
        spans.push(Span::styled(" (nothing live)", theme.dim()));
    }
    let line = Line::from(spans);
    if selected {
        line.style(theme.selected())
    } else {
        line
    }
}

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

fn table(f: &mut Frame<'_>, app: &App, theme: &Theme, area: Rect) {
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

fn log(f: &mut Frame<'_>, app: &mut App, theme: &Theme, area: Rect) {
    let inner_h = area.height.saturating_sub(2) as usize;
    app.log_height = inner_h.max(1);
    let d = app.selected_deployment();
    let title = match (d, app.log_top) {
        (None, _) => " Log ".to_string(),
        (Some(d), None) => format!(" Log #{} · following (f) ", d.id),
        (Some(d), Some(_)) => format!(" Log #{} · paused (End resumes) ", d.id),
    };
    let block = pane_block(title, app.focus == Pane::Log, theme);
    let Some(buf) = app.current_log() else {
        let msg = if d.is_some() {
            "loading…"
        } else {
            "Select a deployment to see its log."
        };
        f.render_widget(Paragraph::new(msg).block(block), area);
        return;
    };
    let top = app.log_top.unwrap_or_else(|| app.tail_top()).min(buf.len());
    let lines: Vec<Line<'_>> = buf
        .window(top, inner_h)
        .map(|(kind, text)| {
            let style = match kind {
                LineKind::Out => Style::new(),
                LineKind::Err => theme.warn(),
                LineKind::Step => theme.step(),
                LineKind::Notice => theme.notice(),
            };
            Line::from(Span::styled(text.as_str(), style))
        })
        .collect();
    f.render_widget(Paragraph::new(lines).block(block), area);
}

fn status_bar(f: &mut Frame<'_>, app: &App, theme: &Theme, area: Rect) {
    let mut spans = Vec::new();
    if app.filter_editing {
        spans.push(Span::styled(" filter: ", theme.key()));
        spans.push(Span::raw(format!(
            "{}▏  Enter keep · Esc clear",
            app.filter
        )));
    } else {
        for (k, h) in keymap::bar_hints(app.focus) {
            spans.push(Span::styled(format!(" {k}"), theme.key()));
            spans.push(Span::raw(format!(" {h} ")));
        }
    }
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// Toasts stack in the top-right corner, over the table rather than the log's newest lines.
fn toasts(f: &mut Frame<'_>, app: &App, theme: &Theme, area: Rect) {
    let mut y = area.y + 1;
    for t in app.toasts.iter().rev() {
        let w = (t.text.chars().count() as u16 + 4)
            .min(area.width.saturating_sub(2))
            .max(10);
        let lines = (t.text.chars().count() as u16)
            .div_ceil(w.saturating_sub(4).max(1))
            .max(1);
        let h = lines + 2;
        if y + h > area.bottom() {
            break;
        }
        let rect = Rect::new(area.right().saturating_sub(w + 1), y, w, h);
        y += h;
        let style = if t.error { theme.error() } else { theme.ok() };
        let block = Block::default().borders(Borders::ALL).border_style(style);
        f.render_widget(Clear, rect);
        f.render_widget(
            Paragraph::new(t.text.as_str())
                .wrap(Wrap { trim: true })
                .block(block),
            rect,
        );
    }
}

fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    )
}

fn buttons<'a>(app: &App, confirm: &'a str, theme: &Theme) -> Line<'a> {
    let (cancel_style, ok_style) = if app.confirm_focused {
        (Style::new(), theme.selected())
    } else {
        (theme.selected(), Style::new())
    };
    Line::from(vec![
        Span::styled(" Cancel (n) ", cancel_style),
        Span::raw("   "),
        Span::styled(format!(" {confirm} (y) "), ok_style),
    ])
    .alignment(Alignment::Center)
}

fn modal(f: &mut Frame<'_>, app: &App, m: &Modal, theme: &Theme, area: Rect) {
    let (title, mut body, confirm): (&str, Vec<Line<'_>>, Option<&str>) = match m {
        Modal::Help => {
            let mut v: Vec<Line<'_>> = keymap::help_rows()
                .into_iter()
                .map(|(k, h)| {
                    Line::from(vec![
                        Span::styled(format!("{k:>12}  "), theme.key()),
                        Span::raw(h),
                    ])
                })
                .collect();
            v.push(Line::from(""));
            v.push(Line::from(Span::styled(
                "In dialogs: y confirms, n/Esc cancels, Tab switches the button.",
                theme.dim(),
            )));
            v.push(Line::from(Span::styled(
                "Esc or ? closes this help.",
                theme.dim(),
            )));
            (" Keys ", v, None)
        }
        Modal::ConfirmDeploy {
            domain,
            server,
            branch,
            fleet,
            ..
        } => (
            " Deploy ",
            vec![
                Line::from(vec![
                    Span::raw("Deploy "),
                    Span::styled(domain.as_str(), theme.key()),
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
            Some("Deploy"),
        ),
        Modal::ConfirmRollback {
            domain,
            server,
            from,
            to,
            ..
        } => (
            " Rollback ",
            vec![
                Line::from(vec![
                    Span::raw("Roll back "),
                    Span::styled(domain.as_str(), theme.key()),
                    Span::raw(format!(" on {server}")),
                ]),
                Line::from(format!("from: {from}")),
                Line::from(format!("  to: {to}")),
                Line::from(Span::styled(
                    "The live symlink switches at once; no release is deleted.",
                    theme.dim(),
                )),
            ],
            Some("Rollback"),
        ),
        Modal::PrunePreview { site, plan } => {
            let mut v = vec![Line::from(format!("Prune {site}"))];
            let mut ok = None;
            match plan {
                None => v.push(Line::from("reading the server (dry run)…")),
                Some(Err(e)) => v.push(Line::from(Span::styled(
                    format!("preview failed: {e}"),
                    theme.error(),
                ))),
                Some(Ok((p, kept_live))) if p.delete.is_empty() => {
                    v.push(Line::from(format!(
                        "Nothing to delete: {} release(s) kept.",
                        p.keep.len() + kept_live.len()
                    )));
                }
                Some(Ok((p, kept_live))) => {
                    v.push(Line::from(format!(
                        "Would delete {} release(s):",
                        p.delete.len()
                    )));
                    for i in p.delete.iter().take(12) {
                        v.push(Line::from(Span::styled(
                            format!("  ✗ {}  (#{})", i.release, i.deployment_id),
                            theme.error(),
                        )));
                    }
                    if p.delete.len() > 12 {
                        v.push(Line::from(format!("  … and {} more", p.delete.len() - 12)));
                    }
                    v.push(Line::from(format!(
                        "Keeps {} release(s), the live one included.",
                        p.keep.len() + kept_live.len()
                    )));
                    ok = Some("Prune");
                }
            }
            (" Prune preview ", v, ok)
        }
        Modal::ConfirmQuit { running } => (
            " Quit? ",
            vec![
                Line::from(format!("{running} job(s) still running.")),
                Line::from("Quitting cancels them cleanly: the lock is released and"),
                Line::from("the deployment is recorded failed (\"cancelled\")."),
            ],
            Some("Quit"),
        ),
    };
    body.push(Line::from(""));
    match confirm {
        Some(c) => body.push(buttons(app, c, theme)),
        None if m.is_confirm() => body
            .push(Line::from(Span::styled("Esc closes", theme.dim())).alignment(Alignment::Center)),
        None => {}
    }
    let w = body
        .iter()
        .map(|l| l.width() as u16)
        .max()
        .unwrap_or(20)
        .max(34)
        + 4;
    let rect = centered(area, w, body.len() as u16 + 2);
    f.render_widget(Clear, rect);
    let block = Block::default()
        .borders(Borders::ALL)
        .title(title)
        .border_style(theme.focused_border());
    f.render_widget(Paragraph::new(body).block(block), rect);
}
