//! The dashboard's state and how it changes. Pure: keys, engine events and background results go
//! in; `Effect`s (work for background tasks) come out. Drawing only reads it; nothing here blocks.
//!
//! The state and its queries are here; how it changes is split by what comes in: `keys` (the
//! keyboard, through the keymap, and the mouse), `navigation` (moving the selection and the log's
//! viewport), `modal` (opening the dialogs and answering them), `jobs` (what a confirmed dialog
//! or a refresh starts), `events` (what running jobs report) and `loaded` (results of background
//! work).

mod commands;
mod events;
mod jobs;
mod keys;
mod live;
mod loaded;
mod modal;
mod navigation;
mod outgoing;
mod rollout;
mod watching;

pub use live::{Link, holder as holder_line, next_age_change};
pub use outgoing::Outgoing;
pub use rollout::RolloutView;

use super::keymap::Pane;
use super::layout;
pub use super::layout::Areas;
use super::logbuf::{DEFAULT_CAP, LogBuf};
use crate::engine::{self, Inspection, PrunePlan};
use crate::store::{Deployment, Status};
use ratatui::layout::Rect;
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
    /// `Deploy` or `DeployFleet` (`fleet`) of an exact ref (the deploy dialog's `r`).
    DeployRef {
        site: String,
        git_ref: String,
        fleet: bool,
    },
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
    /// Put this text on the clipboard of the terminal (OSC 52, so it works over SSH).
    Copy(String),
    /// Capture the mouse (the wheel scrolls) or leave it to the terminal (text can be selected).
    MouseCapture(bool),
    /// Step aside for `flipdeck env edit SITE` on the terminal, then come back.
    EditEnv(String),
    /// Run the site command `name` on these sites (`SERVER/DOMAIN`: every server of a domain).
    RunCommand {
        sites: Vec<String>,
        name: String,
    },
    /// What goes out to `site` (the deploy or rollback dialog's), for the dialog's ask
    /// `generation`.
    Outgoing {
        generation: u64,
        site: String,
        target: engine::diff::DiffTarget,
    },
    /// Tell the deploy holding its switch on this site (`SERVER/DOMAIN`) what to do.
    Hold {
        site: String,
        hold: engine::hold::Hold,
    },
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
    /// A server's connection changed.
    Health {
        server: String,
        health: crate::transport::pool::Health,
    },
    /// A periodic read of a server: each of its sites (`SERVER/DOMAIN`), what the server showed,
    /// and whether that differs from the read before.
    Watched {
        sites: Vec<(String, engine::SiteState, bool)>,
    },
    /// A `[[notify]]` webhook did not get a job's outcome.
    Notified(crate::notify::Warning),
    /// What goes out to `site`, answering the dialog's ask `generation`.
    Outgoing {
        generation: u64,
        site: String,
        result: Result<Box<engine::diff::Diff>, String>,
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
    /// The server's `stage`: the tree groups servers by it.
    pub stage: Option<String>,
    /// `protected`: a deploy or rollback is confirmed by typing the domain.
    pub protected: bool,
    /// The shared .env as the last server read saw it (key names only); `None` until read, or
    /// when the site does not share `.env`.
    pub env: Option<crate::engine::protocol::EnvStatus>,
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
        /// An exact ref to deploy (a tag, a branch or a commit id); empty: the branch's newest.
        git_ref: String,
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
    /// The picker of a site's commands (`x`): Enter runs the selected one on `sites`.
    Commands {
        site: String,
        domain: String,
        /// Every server's site with this domain (`SERVER/DOMAIN`).
        sites: Vec<String>,
        /// The commands (name, shell code).
        names: Vec<(String, String)>,
        selected: usize,
    },
    /// A protected site's deploy or rollback dialog (`then`), confirmed only by typing its
    /// domain.
    TypeDomain {
        typed: String,
        then: Box<Modal>,
    },
    /// The ref of the deploy dialog `then`, being typed; Enter or Esc go back to it.
    TypeRef {
        typed: String,
        then: Box<Modal>,
    },
}

impl Modal {
    /// Every modal but the help is a confirm dialog (the keymap's dialog layer). They open with
    /// Cancel focused: destructive actions take a deliberate key.
    pub fn is_confirm(&self) -> bool {
        !matches!(self, Modal::Help)
    }

    /// The domain a deploy or rollback dialog is about.
    pub fn domain(&self) -> Option<&str> {
        match self {
            Modal::ConfirmDeploy { domain, .. }
            | Modal::ConfirmRollback { domain, .. }
            | Modal::Commands { domain, .. } => Some(domain),
            Modal::TypeDomain { then, .. } | Modal::TypeRef { then, .. } => then.domain(),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Toast {
    pub text: String,
    pub error: bool,
    pub born: Instant,
}

pub struct App {
    /// The watch after the switch, per site (see `watching`).
    pub watches: HashMap<String, watching::WatchView>,
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
    /// How many lines the log pane shows (told by `resize`): a page when scrolling it.
    pub log_height: usize,
    /// The table's filter (deployments).
    pub filter: String,
    /// The tree's filter (sites, by `SERVER/DOMAIN`).
    pub site_filter: String,
    /// Typing a filter after `/`: the tree's or the table's (the pane that had the focus).
    pub filter_editing: bool,
    pub filter_pane: Pane,
    /// `g` was pressed: a second `g` goes to the top.
    pub pending_g: bool,
    /// The log wraps long lines (`w`); otherwise it scrolls sideways from `log_left`.
    pub wrap: bool,
    pub log_left: usize,
    /// Whether the mouse is captured (`M` gives it back to the terminal for selecting text).
    pub mouse: bool,
    /// Each server's connection, as last reported.
    pub links: HashMap<String, Link>,
    /// The keys (the table, remapped by the config's `[keys]`).
    pub keymap: std::sync::Arc<super::keymap::Keymap>,
    pub toasts: Vec<Toast>,
    pub spinner: usize,
    /// Where the panes are on the screen (told by `resize`), for the mouse.
    pub areas: Areas,
    pub header: Option<String>,
    pub config_path: String,
    pub quitting: bool,
    pub should_quit: bool,
    pub dirty: bool,
    pub log_cap: usize,
    /// A deploy just started on this site: select its new row when the table reloads.
    select_newest: Option<String>,
    /// Each site's commands (name, shell code), from the config (`SERVER/DOMAIN`).
    pub commands: HashMap<String, Vec<(String, String)>>,
    /// Each site's newest command run started here: its name and its output.
    pub command_logs: HashMap<String, (String, LogBuf)>,
    /// Which job runs a command on which site.
    job_command: HashMap<u64, String>,
    /// The site whose command output the log pane shows (until the selection moves).
    pub command_shown: Option<String>,
    /// What goes out, for the open deploy or rollback dialog; the generation of its latest ask.
    outgoing: Option<Outgoing>,
    outgoing_generation: u64,
    /// Each domain's stepped rollout, as its events tell (see `rollout`).
    pub rollouts: HashMap<String, RolloutView>,
}

const TOAST_TTL: Duration = Duration::from_secs(5);

impl App {
    pub fn new(sites: Vec<SiteView>, config_path: String) -> App {
        App {
            watches: HashMap::new(),
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
            site_filter: String::new(),
            filter_editing: false,
            filter_pane: Pane::Table,
            pending_g: false,
            wrap: false,
            log_left: 0,
            mouse: true,
            links: HashMap::new(),
            keymap: Default::default(),
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
            commands: HashMap::new(),
            command_logs: HashMap::new(),
            job_command: HashMap::new(),
            command_shown: None,
            outgoing: None,
            outgoing_generation: 0,
            rollouts: HashMap::new(),
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

    /// The indices of the sites the tree shows: those that pass its filter (and always the
    /// selected one, so the table never shows a site the tree hides).
    pub fn visible_sites(&self) -> Vec<usize> {
        let f = self.site_filter.to_lowercase();
        (0..self.sites.len())
            .filter(|&i| {
                f.is_empty() || i == self.selected || self.sites[i].key.to_lowercase().contains(&f)
            })
            .collect()
    }

    /// Why a job cannot start on `site` now, in one line: a job of ours runs there, someone
    /// holds its lock, or its server cannot be reached.
    pub fn refusal(&self, site: &str) -> Option<String> {
        let s = self.sites.iter().find(|s| s.key == site)?;
        if let Some(a) = s.running {
            return Some(format!("{site} is busy: a {} is running", a.as_str()));
        }
        if let Some(holder) = &s.lock {
            return Some(format!("{site} is locked by {}", live::holder(holder)));
        }
        if let Some(Link::Unreachable { error, .. }) = self.links.get(&s.server) {
            return Some(format!("{} is unreachable: {error}", s.server));
        }
        None
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
        let text: String = text.into();
        self.toasts.push(Toast {
            // Errors quote the server: no control character reaches the terminal.
            text: crate::visible::visible(&text, false).into_owned(),
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

    /// The frame's size, told before each frame is drawn: the mouse finds the pane under it by
    /// where the panes are, and a page in the log is the log's height.
    pub fn resize(&mut self, area: Rect) {
        // With no sites there are no panes (the welcome text fills the screen).
        if self.sites.is_empty() {
            return;
        }
        self.areas = layout::panes(layout::screen(area).body);
        self.log_height = layout::log_lines(self.areas.log).max(1);
    }

    /// First line shown when following the tail.
    pub fn tail_top(&self) -> usize {
        self.current_log()
            .map_or(0, |b| b.len().saturating_sub(self.log_height))
    }

    pub fn current_log(&self) -> Option<&LogBuf> {
        if let Some(buf) = self.shown_command().map(|(_, b)| b) {
            return Some(buf);
        }
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
}
