//! The dashboard's state and how it changes. Pure: keys, engine events and background results go
//! in; `Effect`s (work for background tasks) come out. Rendering reads it; nothing here blocks.

use super::keymap::{self, Action, Pane};
use super::logbuf::{DEFAULT_CAP, LineKind, LogBuf};
use crate::engine::{self, Event, EventKind, Inspection, PrunePlan};
use crate::store::{Deployment, Status};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseEvent, MouseEventKind};
use ratatui::layout::{Position, Rect};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Work the dashboard asks the background tasks to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    LoadDeployments(String),
    LoadLog {
        site: String,
        deployment_id: i64,
    },
    Deploy(String),
    /// A fleet deploy of this domain on every server that has it.
    DeployFleet(String),
    Rollback {
        site: String,
        to: i64,
    },
    PrunePreview(String),
    Prune(String),
    /// Re-read the server; `quiet` (the one at start) only speaks up about drift or errors.
    Refresh {
        site: String,
        quiet: bool,
    },
    /// Cancel every running job (quitting).
    CancelAll,
}

/// Results of background work.
#[derive(Debug)]
pub enum Loaded {
    Deployments {
        site: String,
        list: Vec<Deployment>,
    },
    Log {
        deployment_id: i64,
        text: Result<String, String>,
    },
    PrunePreview {
        site: String,
        result: Result<(PrunePlan, Vec<String>), String>,
    },
    Refreshed {
        site: String,
        quiet: bool,
        result: Result<Inspection, String>,
    },
    JobDone {
        site: String,
        ok: bool,
        message: String,
    },
}

#[derive(Debug, Clone)]
pub struct SiteView {
    pub key: String,
    pub server: String,
    pub domain: String,
    pub branch: String,
    pub transport: String,
    pub deployments: Vec<Deployment>,
    pub loaded: bool,
    /// The job this dashboard runs on the site, if any.
    pub running: Option<engine::Action>,
    pub lock: Option<String>,
    pub drift: Option<String>,
    /// Selected row in the (filtered) table.
    pub table_sel: usize,
}

impl SiteView {
    pub fn active(&self) -> Option<&Deployment> {
        self.deployments.iter().find(|d| d.is_active)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Modal {
    Help,
    ConfirmDeploy {
        site: String,
        server: String,
        domain: String,
        branch: String,
        /// Every server with this domain when there are several: the fleet deploys together.
        fleet: Vec<String>,
    },
    ConfirmRollback {
        site: String,
        server: String,
        domain: String,
        from: String,
        to: String,
        to_id: i64,
    },
    PrunePreview {
        site: String,
        plan: Option<Result<(PrunePlan, Vec<String>), String>>,
    },
    ConfirmQuit {
        running: usize,
    },
}

impl Modal {
    /// Confirm dialogs start with Cancel focused: destructive actions take a deliberate key.
    pub fn is_confirm(&self) -> bool {
        !matches!(self, Modal::Help)
    }
}

#[derive(Debug, Clone)]
pub struct Toast {
    pub text: String,
    pub error: bool,
    pub born: Instant,
}

/// Where each pane was drawn last (for the mouse).
#[derive(Debug, Clone, Copy, Default)]
pub struct Areas {
    pub tree: Rect,
    pub table: Rect,
    pub log: Rect,
}

pub struct App {
    pub sites: Vec<SiteView>,
    pub selected: usize,
    pub focus: Pane,
    pub modal: Option<Modal>,
    /// In a confirm modal: is the confirming button focused (Cancel otherwise)?
    pub confirm_focused: bool,
    pub logs: HashMap<i64, LogBuf>,
    /// Which job writes which deployment's log.
    job_deployment: HashMap<u64, i64>,
    /// The newest status each running deployment reported, newer than a list read a moment ago.
    live_status: HashMap<i64, Status>,
    /// `None`: follow the tail; `Some(top)`: paused with this first line.
    pub log_top: Option<usize>,
    pub log_height: usize,
    pub filter: String,
    pub filter_editing: bool,
    pub toasts: Vec<Toast>,
    pub spinner: usize,
    pub areas: Areas,
    pub header: Option<String>,
    pub config_path: String,
    pub quitting: bool,
    pub should_quit: bool,
    pub dirty: bool,
    pub log_cap: usize,
    /// A deploy just started on this site: select its new row when the table reloads.
    select_newest: Option<String>,
}

const TOAST_TTL: Duration = Duration::from_secs(5);

impl App {
    pub fn new(sites: Vec<SiteView>, config_path: String) -> App {
        App {
            sites,
            selected: 0,
            focus: Pane::Tree,
            modal: None,
            confirm_focused: false,
            logs: HashMap::new(),
            job_deployment: HashMap::new(),
            live_status: HashMap::new(),
            log_top: None,
            log_height: 10,
            filter: String::new(),
            filter_editing: false,
            toasts: Vec::new(),
            spinner: 0,
            areas: Areas::default(),
            header: None,
            config_path,
            quitting: false,
            should_quit: false,
            dirty: true,
            log_cap: DEFAULT_CAP,
            select_newest: None,
        }
    }

    /// What to load first: every site's history.
    pub fn start(&self) -> Vec<Effect> {
        // The history first (instant), then what the servers say (locks, drift) in the background.
        let load = self
            .sites
            .iter()
            .map(|s| Effect::LoadDeployments(s.key.clone()));
        let look = self.sites.iter().map(|s| Effect::Refresh {
            site: s.key.clone(),
            quiet: true,
        });
        load.chain(look).collect()
    }

    pub fn site(&self) -> Option<&SiteView> {
        self.sites.get(self.selected)
    }

    fn site_mut(&mut self, key: &str) -> Option<&mut SiteView> {
        self.sites.iter_mut().find(|s| s.key == key)
    }

    pub fn running_jobs(&self) -> usize {
        self.sites.iter().filter(|s| s.running.is_some()).count()
    }

    /// The selected site's deployments that pass the filter, newest first.
    pub fn visible_deployments(&self) -> Vec<&Deployment> {
        let Some(site) = self.site() else {
            return vec![];
        };
        let f = self.filter.to_lowercase();
        site.deployments
            .iter()
            .filter(|d| {
                f.is_empty()
                    || d.status.as_str().contains(&f)
                    || d.branch
                        .as_deref()
                        .is_some_and(|b| b.to_lowercase().contains(&f))
                    || d.commit_sha.as_deref().is_some_and(|c| c.starts_with(&f))
                    || d.release_name.as_deref().is_some_and(|r| r.contains(&f))
            })
            .collect()
    }

    pub fn selected_deployment(&self) -> Option<&Deployment> {
        let sel = self.site()?.table_sel;
        self.visible_deployments().get(sel).copied()
    }

    pub fn toast(&mut self, text: impl Into<String>, error: bool) {
        self.toasts.push(Toast {
            text: text.into(),
            error,
            born: Instant::now(),
        });
        if self.toasts.len() > 4 {
            self.toasts.remove(0);
        }
        self.dirty = true;
    }

    /// Periodic: spinner and toast expiry. Returns whether anything visible changed.
    pub fn tick(&mut self) -> bool {
        let before = self.toasts.len();
        self.toasts
            .retain(|t| t.born.elapsed() < if t.error { TOAST_TTL * 2 } else { TOAST_TTL });
        let busy = self.running_jobs() > 0;
        if busy {
            self.spinner = self.spinner.wrapping_add(1);
        }
        let changed = busy || before != self.toasts.len();
        self.dirty |= changed;
        changed
    }

    /// Whether ticks are needed at all (an idle dashboard does not wake up).
    pub fn animating(&self) -> bool {
        self.running_jobs() > 0 || !self.toasts.is_empty()
    }

    // ---- input -------------------------------------------------------------------------------

    pub fn on_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        self.dirty = true;
        if self.quitting {
            return vec![];
        }
        if key.code == KeyCode::Char('c')
            && key.modifiers.contains(KeyModifiers::CONTROL)
            && self.modal.is_some()
        {
            // Ctrl-C always means quit, even from a dialog.
            self.modal = None;
            return self.request_quit();
        }
        if let Some(modal) = self.modal.clone() {
            return self.on_modal_key(modal, key);
        }
        if self.filter_editing {
            self.on_filter_key(key);
            return vec![];
        }
        match keymap::lookup(key, self.focus) {
            Some(a) => self.on_action(a),
            None => vec![],
        }
    }

    fn on_filter_key(&mut self, key: KeyEvent) {
        match key.code {
            KeyCode::Enter => self.filter_editing = false,
            KeyCode::Esc => {
                self.filter.clear();
                self.filter_editing = false;
            }
            KeyCode::Backspace => {
                self.filter.pop();
            }
            KeyCode::Char(c) if !key.modifiers.contains(KeyModifiers::CONTROL) => {
                self.filter.push(c)
            }
            _ => {}
        }
        if let Some(i) = self.sites.get_mut(self.selected) {
            i.table_sel = 0;
        }
        self.log_top = None;
    }

    fn on_modal_key(&mut self, modal: Modal, key: KeyEvent) -> Vec<Effect> {
        if modal == Modal::Help {
            if matches!(
                key.code,
                KeyCode::Esc | KeyCode::Char('?') | KeyCode::Char('q') | KeyCode::Enter
            ) {
                self.modal = None;
            }
            return vec![];
        }
        let confirm = match key.code {
            KeyCode::Char('y') | KeyCode::Char('Y') => true,
            KeyCode::Char('n') | KeyCode::Char('N') | KeyCode::Esc => false,
            KeyCode::Tab
            | KeyCode::BackTab
            | KeyCode::Left
            | KeyCode::Right
            | KeyCode::Char('h')
            | KeyCode::Char('l') => {
                self.confirm_focused = !self.confirm_focused;
                return vec![];
            }
            KeyCode::Enter => self.confirm_focused,
            _ => return vec![],
        };
        self.modal = None;
        self.confirm_focused = false;
        if !confirm {
            return vec![];
        }
        match modal {
            Modal::ConfirmDeploy {
                site,
                fleet,
                domain,
                ..
            } if !fleet.is_empty() => {
                let keys: Vec<String> = fleet.iter().map(|srv| format!("{srv}/{domain}")).collect();
                if let Some(busy) = keys
                    .iter()
                    .find(|k| self.site_mut(k).is_some_and(|s| s.running.is_some()))
                {
                    let msg =
                        format!("{busy} is busy: the fleet deploys when every server is free");
                    self.toast(msg, true);
                    return vec![];
                }
                for k in &keys {
                    if let Some(s) = self.site_mut(k) {
                        s.running = Some(engine::Action::Deploy);
                    }
                }
                self.select_newest = Some(site);
                vec![Effect::DeployFleet(domain)]
            }
            Modal::ConfirmDeploy { site, .. } => {
                self.start_job(&site, engine::Action::Deploy, Effect::Deploy(site.clone()))
            }
            Modal::ConfirmRollback { site, to_id, .. } => self.start_job(
                &site,
                engine::Action::Rollback,
                Effect::Rollback {
                    site: site.clone(),
                    to: to_id,
                },
            ),
            Modal::PrunePreview {
                site,
                plan: Some(Ok((plan, _))),
            } if !plan.delete.is_empty() => {
                self.start_job(&site, engine::Action::Prune, Effect::Prune(site.clone()))
            }
            Modal::PrunePreview { .. } => vec![],
            Modal::ConfirmQuit { .. } => {
                self.quitting = true;
                self.toast("cancelling running jobs cleanly…", false);
                vec![Effect::CancelAll]
            }
            Modal::Help => vec![],
        }
    }

    fn start_job(&mut self, site: &str, action: engine::Action, effect: Effect) -> Vec<Effect> {
        let Some(s) = self.site_mut(site) else {
            return vec![];
        };
        if let Some(a) = s.running {
            let msg = format!("{site} is busy: a {} is running", a.as_str());
            self.toast(msg, true);
            return vec![];
        }
        s.running = Some(action);
        if action == engine::Action::Deploy {
            self.select_newest = Some(site.to_string());
        }
        vec![effect]
    }

    fn request_quit(&mut self) -> Vec<Effect> {
        let running = self.running_jobs();
        if running == 0 {
            self.should_quit = true;
        } else {
            self.modal = Some(Modal::ConfirmQuit { running });
            self.confirm_focused = false;
        }
        vec![]
    }

    pub fn on_action(&mut self, action: Action) -> Vec<Effect> {
        self.dirty = true;
        match action {
            Action::Quit => return self.request_quit(),
            Action::Help => self.modal = Some(Modal::Help),
            Action::FocusNext => self.focus = self.focus.next(),
            Action::FocusPrev => self.focus = self.focus.prev(),
            Action::Up => return self.move_by(-1),
            Action::Down => return self.move_by(1),
            Action::PageUp => return self.move_by(-(self.page() as isize)),
            Action::PageDown => return self.move_by(self.page() as isize),
            Action::Home => return self.move_to_start(),
            Action::End => return self.move_to_end(),
            Action::ToggleFollow => {
                self.log_top = match self.log_top {
                    None => Some(self.tail_top()),
                    Some(_) => None,
                };
            }
            Action::Filter => {
                self.filter_editing = true;
                self.focus = Pane::Table;
            }
            Action::OpenLog => {
                self.focus = Pane::Log;
                self.log_top = None;
                return self.ensure_log();
            }
            Action::Deploy => {
                let Some(s) = self.site() else { return vec![] };
                let servers: Vec<String> = self
                    .sites
                    .iter()
                    .filter(|o| o.domain == s.domain)
                    .map(|o| o.server.clone())
                    .collect();
                self.modal = Some(Modal::ConfirmDeploy {
                    site: s.key.clone(),
                    server: s.server.clone(),
                    domain: s.domain.clone(),
                    branch: s.branch.clone(),
                    fleet: if servers.len() > 1 { servers } else { vec![] },
                });
                self.confirm_focused = false;
            }
            Action::Rollback => return self.ask_rollback(),
            Action::Prune => {
                let Some(s) = self.site() else { return vec![] };
                let key = s.key.clone();
                self.modal = Some(Modal::PrunePreview {
                    site: key.clone(),
                    plan: None,
                });
                self.confirm_focused = false;
                return vec![Effect::PrunePreview(key)];
            }
            Action::Refresh => {
                let Some(s) = self.site() else { return vec![] };
                let key = s.key.clone();
                if s.running.is_none() {
                    return self.start_job(
                        &key,
                        engine::Action::Inspect,
                        Effect::Refresh {
                            site: key.clone(),
                            quiet: false,
                        },
                    );
                }
                self.toast(format!("{key} is busy; refresh when the job is done"), true);
            }
        }
        vec![]
    }

    fn ask_rollback(&mut self) -> Vec<Effect> {
        let Some(s) = self.site() else { return vec![] };
        let Some(d) = self.selected_deployment() else {
            self.toast("no deployment selected", true);
            return vec![];
        };
        if let Some(why) = engine::rollback_refusal(d) {
            self.toast(format!("cannot roll back: {why}"), true);
            return vec![];
        }
        let describe = |d: &Deployment| {
            format!(
                "#{} {} ({})",
                d.id,
                d.release_name.as_deref().unwrap_or("?"),
                d.commit_sha.as_deref().map(short).unwrap_or("no commit")
            )
        };
        let modal = Modal::ConfirmRollback {
            site: s.key.clone(),
            server: s.server.clone(),
            domain: s.domain.clone(),
            from: s
                .active()
                .map(describe)
                .unwrap_or_else(|| "nothing live".into()),
            to: describe(d),
            to_id: d.id,
        };
        self.modal = Some(modal);
        self.confirm_focused = false;
        vec![]
    }

    fn page(&self) -> usize {
        match self.focus {
            Pane::Log => self.log_height.max(1),
            _ => 10,
        }
    }

    fn move_by(&mut self, delta: isize) -> Vec<Effect> {
        match self.focus {
            Pane::Tree => {
                if self.sites.is_empty() {
                    return vec![];
                }
                let n = self.sites.len() as isize;
                let next = (self.selected as isize + delta).clamp(0, n - 1) as usize;
                if next != self.selected {
                    self.selected = next;
                    self.log_top = None;
                    return self.ensure_log();
                }
            }
            Pane::Table => {
                let n = self.visible_deployments().len();
                if n == 0 {
                    return vec![];
                }
                let s = &mut self.sites[self.selected];
                let next = (s.table_sel as isize + delta).clamp(0, n as isize - 1) as usize;
                if next != s.table_sel {
                    s.table_sel = next;
                    self.log_top = None;
                    return self.ensure_log();
                }
            }
            Pane::Log => {
                let max_top = self.tail_top();
                let top = self.log_top.unwrap_or(max_top) as isize;
                let next = (top + delta).clamp(0, max_top as isize) as usize;
                // Scrolling up pauses follow; reaching the end by scrolling resumes it.
                self.log_top = if next >= max_top && delta > 0 {
                    None
                } else {
                    Some(next)
                };
            }
        }
        vec![]
    }

    fn move_to_start(&mut self) -> Vec<Effect> {
        match self.focus {
            Pane::Log => {
                self.log_top = Some(0);
                vec![]
            }
            _ => self.move_by(-(isize::MAX / 2)),
        }
    }

    fn move_to_end(&mut self) -> Vec<Effect> {
        match self.focus {
            Pane::Log => {
                self.log_top = None;
                vec![]
            }
            _ => self.move_by(isize::MAX / 2),
        }
    }

    /// First line shown when following the tail.
    pub fn tail_top(&self) -> usize {
        self.current_log()
            .map_or(0, |b| b.len().saturating_sub(self.log_height))
    }

    pub fn current_log(&self) -> Option<&LogBuf> {
        self.selected_deployment()
            .and_then(|d| self.logs.get(&d.id))
    }

    /// Asks for the selected deployment's stored log when it is not in memory yet.
    fn ensure_log(&mut self) -> Vec<Effect> {
        let Some(d) = self.selected_deployment() else {
            return vec![];
        };
        let (id, site) = (d.id, self.sites[self.selected].key.clone());
        if self.logs.contains_key(&id) {
            return vec![];
        }
        self.logs.insert(id, LogBuf::new(self.log_cap));
        vec![Effect::LoadLog {
            site,
            deployment_id: id,
        }]
    }

    pub fn on_mouse(&mut self, m: MouseEvent) -> Vec<Effect> {
        let delta = match m.kind {
            MouseEventKind::ScrollUp => -3,
            MouseEventKind::ScrollDown => 3,
            _ => return vec![],
        };
        let at = Position::new(m.column, m.row);
        let pane = if self.areas.log.contains(at) {
            Pane::Log
        } else if self.areas.table.contains(at) {
            Pane::Table
        } else if self.areas.tree.contains(at) {
            Pane::Tree
        } else {
            return vec![];
        };
        let saved = self.focus;
        self.focus = pane;
        let fx = self.move_by(delta);
        self.focus = saved;
        self.dirty = true;
        fx
    }

    // ---- background results ------------------------------------------------------------------

    pub fn on_engine(&mut self, ev: Event) -> Vec<Effect> {
        let mut fx = vec![];
        let line = match ev.kind {
            EventKind::Status {
                deployment_id,
                status,
            } => {
                self.job_deployment.insert(ev.job, deployment_id);
                let cap = self.log_cap;
                self.logs
                    .entry(deployment_id)
                    .or_insert_with(|| LogBuf::new(cap));
                self.live_status.insert(deployment_id, status);
                // The row changes at once; the reload brings new rows and the final fields.
                if let Some(d) = self
                    .site_mut(&ev.site)
                    .and_then(|s| s.deployments.iter_mut().find(|d| d.id == deployment_id))
                {
                    d.status = status;
                    self.dirty = true;
                }
                if matches!(status, Status::Pending | Status::Success | Status::Failed) {
                    fx.push(Effect::LoadDeployments(ev.site.clone()));
                }
                None
            }
            EventKind::StepStarted { step } => Some((LineKind::Step, format!("==> {step}"))),
            EventKind::Log { stream, line } => Some((
                if stream == crate::transport::Stream::Stderr {
                    LineKind::Err
                } else {
                    LineKind::Out
                },
                line,
            )),
            EventKind::Notice { message } => {
                Some((LineKind::Notice, format!("flipdeck: {message}")))
            }
            EventKind::StepFinished { .. }
            | EventKind::JobStarted { .. }
            | EventKind::JobFinished { .. } => None,
        };
        if let (Some((kind, text)), Some(id)) = (line, self.job_deployment.get(&ev.job)) {
            if let Some(buf) = self.logs.get_mut(id) {
                buf.push(kind, text);
            }
            // Only a change to the visible log needs a redraw.
            if self.selected_deployment().map(|d| d.id) == Some(*id) {
                self.dirty = true;
            }
        }
        fx
    }

    pub fn on_loaded(&mut self, loaded: Loaded) -> Vec<Effect> {
        self.dirty = true;
        match loaded {
            Loaded::Deployments { site, mut list } => {
                // A list read before the latest event must not move a row back in its lifecycle.
                let rank = |s: Status| match s {
                    Status::Pending => 0,
                    Status::Updating => 1,
                    Status::Success | Status::Failed => 2,
                };
                for d in &mut list {
                    if let Some(&st) = self.live_status.get(&d.id)
                        && rank(st) > rank(d.status)
                    {
                        d.status = st;
                    }
                }
                let select_newest = self.select_newest.as_deref() == Some(site.as_str());
                let selected_key = self.site().map(|s| s.key.clone());
                let prev_id = self.selected_deployment().map(|d| d.id);
                if let Some(s) = self.site_mut(&site) {
                    s.deployments = list;
                    s.loaded = true;
                    // Keep the selection on the same deployment when rows are added above it.
                    s.table_sel = match (select_newest, prev_id) {
                        (true, _) => 0,
                        (false, Some(id)) if selected_key.as_deref() == Some(site.as_str()) => {
                            s.deployments.iter().position(|d| d.id == id).unwrap_or(0)
                        }
                        _ => s.table_sel.min(s.deployments.len().saturating_sub(1)),
                    };
                }
                if select_newest {
                    self.select_newest = None;
                    self.log_top = None;
                }
                if selected_key.as_deref() == Some(site.as_str()) {
                    return self.ensure_log();
                }
            }
            Loaded::Log {
                deployment_id,
                text,
            } => {
                let cap = self.log_cap;
                let buf = self
                    .logs
                    .entry(deployment_id)
                    .or_insert_with(|| LogBuf::new(cap));
                // A live log that already has lines is fresher than the stored copy.
                if buf.is_empty() {
                    match text {
                        Ok(t) => buf.load(&t),
                        Err(e) => buf.push(LineKind::Notice, format!("flipdeck: no log: {e}")),
                    }
                }
            }
            Loaded::PrunePreview { site, result } => {
                if let Some(Modal::PrunePreview { site: s, plan }) = &mut self.modal
                    && *s == site
                {
                    *plan = Some(result);
                }
            }
            Loaded::Refreshed {
                site,
                quiet,
                result,
            } => {
                let Some(s) = self.site_mut(&site) else {
                    return vec![];
                };
                if !quiet {
                    s.running = None;
                }
                let toast = match result {
                    Ok(i) => {
                        s.lock = i.lock.clone();
                        s.drift = i.drift.clone();
                        let mut msg = format!("{site}: refreshed");
                        if let Some(d) = &i.drift {
                            msg.push_str(&format!("; drift: {d} (history updated)"));
                        }
                        if !i.missing.is_empty() {
                            msg.push_str(&format!(
                                "; {} release(s) missing on the server",
                                i.missing.len()
                            ));
                        }
                        let noteworthy = i.drift.is_some() || !i.missing.is_empty();
                        (!quiet || noteworthy).then_some((msg, i.drift.is_some()))
                    }
                    Err(e) => Some((format!("{site}: cannot read the server: {e}"), true)),
                };
                if let Some((msg, error)) = toast {
                    self.toast(msg, error);
                }
                if self.quitting && self.running_jobs() == 0 {
                    self.should_quit = true;
                }
                return vec![Effect::LoadDeployments(site)];
            }
            Loaded::JobDone { site, ok, message } => {
                if let Some(s) = self.site_mut(&site) {
                    s.running = None;
                    if ok {
                        s.lock = None;
                    }
                }
                self.toast(message, !ok);
                if self.quitting && self.running_jobs() == 0 {
                    self.should_quit = true;
                }
                return vec![Effect::LoadDeployments(site)];
            }
        }
        vec![]
    }
}

pub fn short(sha: &str) -> &str {
    &sha[..sha.len().min(7)]
}
