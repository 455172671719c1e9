//! Site commands (`flipdeck run SITE NAME`): a named piece of the site's own shell code, run in
//! the live release of every server of the site, one exec each, traced like the deploy script,
//! and recorded in the history as a command run (never a deployment). Commands take no lock (see
//! `assets/remote/command.sh`): they say which release they ran in instead.

use super::Engine;
use super::events::Action;
use super::job::{Job, RunError};
use super::layout::Layout;
use super::protocol::{Key, Report};
use super::scripts;
use crate::config::SiteRef;
use crate::error::{Error, Result};
use crate::store::RunEnd;
use crate::transport::{Connector, ExitStatus};
use chrono::Utc;
use tokio_util::sync::CancellationToken;

/// How a command ended on one server.
#[derive(Debug, Clone)]
pub struct CommandOutcome {
    /// Its record in the history (`command_runs`).
    pub run_id: i64,
    /// The release it ran in.
    pub release: String,
}

/// What `command.sh` reports.
#[derive(Debug, Default)]
struct CommandReport {
    release: Option<String>,
    holder: Option<String>,
    /// Why it could not start (no live release, drift).
    why: Option<String>,
}

impl Report for CommandReport {
    fn take(&mut self, key: Key, v: &str) {
        match key {
            Key::Release => self.release = Some(v.into()),
            Key::Holder => self.holder = Some(v.into()),
            Key::Why => self.why = Some(v.into()),
            _ => {}
        }
    }
}

/// The error for a command name the site does not have, naming those it has.
pub fn unknown_command(site: &SiteRef<'_>, name: &str) -> Error {
    if site.site.commands.is_empty() {
        return Error::usage(format!(
            "{} has no commands; add them under [servers.sites.commands] in the config, \
             e.g. migrate-status = \"php artisan migrate:status\"",
            site.key()
        ));
    }
    let names: Vec<&str> = site.site.commands.iter().map(|(n, _)| n.as_str()).collect();
    Error::usage(format!(
        "{} has no command {name:?}; its commands: {}",
        site.key(),
        names.join(", ")
    ))
}

impl Engine {
    /// Runs of the site still `running` whose flipdeck, a process of this machine, is gone (it
    /// was killed): recorded failed, saying so. What they started on the server is left alone:
    /// a command (a migration) may be better finished than cut off.
    pub fn settle_interrupted_runs(&self, site_id: i64) -> Result<()> {
        for (id, job) in self.store.running_command_runs(site_id)? {
            let Some(job) = job.as_deref().and_then(super::identity::JobRef::parse) else {
                continue;
            };
            if job.host != self.identity.host
                || job.pid == self.identity.pid as i32
                || super::lock::pid_alive(job.pid)
            {
                continue;
            }
            let why = format!(
                "interrupted: the flipdeck that ran it (pid {}) is gone; what it started on the \
                 server may have run on",
                job.pid
            );
            self.store.finish_command_run(
                id,
                &RunEnd {
                    ok: false,
                    release: None,
                    exit_code: None,
                    error: Some(&why),
                    output: "",
                    completed: Utc::now(),
                },
            )?;
        }
        Ok(())
    }

    /// Runs the site command `name` in the live release of `site`. The run is recorded before
    /// anything happens (an unreachable server is a failed run too), and finished with the
    /// release, the exit code and the output. Cancelling stops the command on the server.
    pub async fn run_command(
        &self,
        site: &SiteRef<'_>,
        connector: &dyn Connector,
        name: &str,
        cancel: CancellationToken,
    ) -> Result<CommandOutcome> {
        let text = site
            .site
            .command(name)
            .ok_or_else(|| unknown_command(site, name))?;
        let row = self
            .store
            .ensure_site(&site.server.name, &site.site.domain)?;
        self.settle_interrupted_runs(row.id)?;
        let started = Utc::now();
        let who = self.identity.to_string();
        // The history keeps the command's text as its output is kept: redacted.
        let stored = self.redactor.apply(text).into_owned();
        let target = match connector.connect().await {
            Ok(t) => t,
            Err(e) => {
                let run_id = self
                    .store
                    .create_command_run(&row, name, &stored, &who, "", started)?;
                let why = e.to_string();
                self.store.finish_command_run(
                    run_id,
                    &RunEnd {
                        ok: false,
                        release: None,
                        exit_code: None,
                        error: Some(&why),
                        output: "",
                        completed: Utc::now(),
                    },
                )?;
                return Err(e);
            }
        };
        let layout = Layout::new(site.server.root.as_deref(), &site.site.domain);
        let mut job = Job::new(self, site.key(), target, layout, Action::Command);
        let run_id =
            self.store
                .create_command_run(&row, name, &stored, &who, &job.reference(), started)?;
        let script = scripts::command(&job.prelude(), name, text);
        let ran = job.run(&script, None, Some(&cancel)).await;
        let (status, report) = match ran {
            Ok(r) => (Ok(r.status.clone()), r.report::<CommandReport>()),
            Err(RunError::Cancelled { .. }) => (Err("cancelled".to_string()), Default::default()),
            Err(RunError::Transport { error, .. }) => (
                Err(format!("{error}; the command may have run")),
                Default::default(),
            ),
        };
        if let Some(holder) = &report.holder {
            job.notice(format!(
                "the site's lock was held ({holder}) when the command started; it ran in the \
                 live release anyway"
            ));
        }
        let release = report.release.clone();
        let (ok, code, error) = match &status {
            Ok(s) if s.success() => (true, Some(0), None),
            Ok(s) => {
                let code = match s {
                    ExitStatus::Code(c) => Some(*c),
                    ExitStatus::Signal(_) => None,
                };
                let why = match (&release, &job.last_command) {
                    (None, _) => match &report.why {
                        Some(why) => format!("{name} could not start: {why}"),
                        None => format!("{name} could not start ({s})"),
                    },
                    (Some(_), Some(cmd)) => format!("{name} failed ({s}) at `{cmd}`"),
                    (Some(_), None) => format!("{name} failed ({s})"),
                };
                (false, code, Some(why))
            }
            Err(why) => (false, None, Some(format!("{name}: {why}"))),
        };
        let end = RunEnd {
            ok,
            release: release.as_deref(),
            exit_code: code,
            error: error.as_deref(),
            output: &job.log,
            completed: Utc::now(),
        };
        if let Err(e) = self.store.finish_command_run(run_id, &end) {
            job.notice(format!("could not record the run: {e}"));
        }
        match (error, release) {
            (None, Some(release)) => {
                job.finish(
                    true,
                    format!("{name} ran in release {release} (run c{run_id})"),
                );
                Ok(CommandOutcome { run_id, release })
            }
            (None, None) => {
                // Exit 0 without the report: not what command.sh does; say so rather than guess.
                let why = format!("{name} ended without saying which release it ran in");
                job.finish(false, why.clone());
                Err(Error::failed(why))
            }
            (Some(why), release) => {
                let whole = match release {
                    Some(r) => format!("{why} in release {r} (run c{run_id})"),
                    None => format!("{why} (run c{run_id})"),
                };
                job.finish(false, whole.clone());
                Err(Error::failed(whole))
            }
        }
    }

    /// `run_command` on every server of a domain, at most `parallel` at once; each server's
    /// outcome, in the order of `sites`. One failing server does not stop the others.
    pub async fn run_command_each(
        &self,
        sites: &[SiteRef<'_>],
        parallel: usize,
        name: &str,
        cancel: CancellationToken,
    ) -> Vec<(String, Result<CommandOutcome>)> {
        let slots = tokio::sync::Semaphore::new(parallel.max(1));
        let runs = sites.iter().map(|s| {
            let (slots, cancel) = (&slots, cancel.clone());
            async move {
                let _permit = slots.acquire().await.expect("never closed");
                let r = match (self.connectors)(s.server) {
                    Ok(c) => self.run_command(s, c.as_ref(), name, cancel).await,
                    Err(e) => Err(e),
                };
                (s.key(), r)
            }
        });
        futures_util::future::join_all(runs).await
    }
}
