//! Site commands in the dashboard: `x` opens a picker of the selected site's commands, Enter
//! runs the chosen one on every server of the site (a protected one asks for its domain first),
//! and its output streams into the log pane, apart from the deployments' logs: a command run is
//! never a row of the deployments table.

use super::{App, Effect, Modal};
use crate::engine::{self, Event, EventKind};
use crate::ui::keymap::Action;
use crate::ui::logbuf::{LineKind, LogBuf};

impl App {
    /// `x`: the picker of the selected site's commands, or why there is none.
    pub(super) fn open_commands(&mut self) {
        let Some(s) = self.site() else { return };
        let key = s.key.clone();
        let domain = s.domain.clone();
        let names = self.commands.get(&key).cloned().unwrap_or_default();
        if names.is_empty() {
            return self.toast(
                format!("{key} has no commands; add them under [servers.sites.commands]"),
                true,
            );
        }
        // Every server of the domain that has the command runs it (as `flipdeck run DOMAIN`).
        let sites: Vec<String> = self
            .sites
            .iter()
            .filter(|o| o.domain == domain)
            .map(|o| o.key.clone())
            .collect();
        // Refusals come first, as for d, r and p: a busy or unreachable server opens nothing.
        if let Some(why) = sites.iter().find_map(|s| self.command_refusal(s)) {
            return self.toast(format!("cannot run a command: {why}"), true);
        }
        self.modal = Some(Modal::Commands {
            site: key,
            domain,
            sites,
            names,
            selected: 0,
        });
    }

    /// A key's action in the picker.
    pub(super) fn on_picker_action(&mut self, action: Action) -> Vec<Effect> {
        let Some(Modal::Commands {
            names, selected, ..
        }) = &mut self.modal
        else {
            return vec![];
        };
        match action {
            Action::Up => *selected = selected.saturating_sub(1),
            Action::Down => *selected = (*selected + 1).min(names.len().saturating_sub(1)),
            Action::Close => self.modal = None,
            Action::Quit => {
                self.modal = None;
                return self.request_quit();
            }
            Action::Confirm => {
                let modal = self.modal.take().expect("the picker is open");
                if let Some(why) = self.refusal_for_picker(&modal) {
                    self.toast(format!("cannot run: {why}"), true);
                    return vec![];
                }
                let protected = match &modal {
                    Modal::Commands { domain, .. } => self
                        .sites
                        .iter()
                        .any(|o| &o.domain == domain && o.protected),
                    _ => false,
                };
                if protected {
                    self.modal = Some(Modal::TypeDomain {
                        typed: String::new(),
                        then: Box::new(modal),
                    });
                    return vec![];
                }
                return self.run_picked(modal);
            }
            _ => {}
        }
        vec![]
    }

    fn refusal_for_picker(&self, modal: &Modal) -> Option<String> {
        match modal {
            Modal::Commands { sites, .. } => sites.iter().find_map(|s| self.command_refusal(s)),
            _ => None,
        }
    }

    /// Why a command cannot start on `site` now: a job of ours runs there, or its server cannot
    /// be reached. A lock held elsewhere is no reason: commands take no lock (they run in the
    /// live release, as `flipdeck run` does).
    pub(super) fn command_refusal(&self, site: &str) -> Option<String> {
        let s = self.sites.iter().find(|s| s.key == site)?;
        if let Some(a) = s.running {
            return Some(format!("{site} is busy: a {} is running", a.as_str()));
        }
        match self.links.get(&s.server) {
            Some(super::Link::Unreachable { error, .. }) => {
                Some(format!("{} is unreachable: {error}", s.server))
            }
            _ => None,
        }
    }

    /// Starts the picked command on the picker's sites (each shows its spinner); the log pane
    /// shows its output on the selected site.
    pub(super) fn run_picked(&mut self, modal: Modal) -> Vec<Effect> {
        let Modal::Commands {
            site,
            sites,
            names,
            selected,
            ..
        } = modal
        else {
            return vec![];
        };
        let Some((name, _)) = names.get(selected).cloned() else {
            return vec![];
        };
        // Every server of the site runs it, or none: as `flipdeck run DOMAIN NAME`, a command
        // that some server's site lacks is refused rather than run on the others only.
        if let Some(lacking) = sites.iter().find(|k| {
            !self
                .commands
                .get(*k)
                .is_some_and(|c| c.iter().any(|(n, _)| *n == name))
        }) {
            self.toast(
                format!(
                    "cannot run {name}: {lacking} has no such command; run it on one server \
                     with `flipdeck run {site} {name}`"
                ),
                true,
            );
            return vec![];
        }
        if let Some(busy) = sites
            .iter()
            .find(|k| self.site_mut(k).is_some_and(|s| s.running.is_some()))
        {
            self.toast(
                format!("{busy} is busy; run {name} when its job is done"),
                true,
            );
            return vec![];
        }
        let cap = self.log_cap;
        for k in &sites {
            if let Some(s) = self.site_mut(k) {
                s.running = Some(engine::Action::Command);
            }
            self.command_logs
                .insert(k.clone(), (name.clone(), LogBuf::new(cap)));
        }
        self.command_shown = Some(site);
        self.log_top = None;
        self.dirty = true;
        vec![Effect::RunCommand { sites, name }]
    }

    /// The command run the log pane shows, if it shows one: its name and output.
    pub fn shown_command(&self) -> Option<(&str, &LogBuf)> {
        let key = self.command_shown.as_ref()?;
        if self.site().map(|s| &s.key) != Some(key) {
            return None;
        }
        self.command_logs
            .get(key)
            .map(|(name, buf)| (name.as_str(), buf))
    }

    /// An engine event of a command job: its lines go to the site's command log. Returns whether
    /// it was one.
    pub(super) fn on_command_event(&mut self, ev: &Event) -> bool {
        if let EventKind::JobStarted {
            action: engine::Action::Command,
            ..
        } = ev.kind
        {
            self.job_command.insert(ev.job, ev.site.clone());
            return true;
        }
        let Some(site) = self.job_command.get(&ev.job).cloned() else {
            return false;
        };
        let line = match &ev.kind {
            EventKind::StepStarted { step } => Some((LineKind::Step, format!("==> {step}"))),
            EventKind::Log { stream, line } => Some((
                if *stream == crate::transport::Stream::Stderr {
                    LineKind::Err
                } else {
                    LineKind::Out
                },
                line.clone(),
            )),
            EventKind::Notice { message } => {
                Some((LineKind::Notice, format!("flipdeck: {message}")))
            }
            EventKind::JobFinished { ok, summary } => {
                self.job_command.remove(&ev.job);
                let word = if *ok { "OK " } else { "ERR" };
                Some((LineKind::Notice, format!("{word} {summary}")))
            }
            _ => None,
        };
        if let (Some((kind, text)), Some((_, buf))) = (line, self.command_logs.get_mut(&site)) {
            buf.push(kind, text);
            if self.command_shown.as_ref() == Some(&site) {
                self.dirty = true;
            }
        }
        true
    }
}
