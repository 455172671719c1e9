//! The deployment pipeline: record → lock + build → switch (+ reload) → record → log, prune, unlock.

use super::events::{Action, EventKind};
use super::job::{Job, RunError, RunResult};
use super::layout::Layout;
use super::scripts::{self, LOCK_HELD, Source};
use super::{Connector, Engine, resolve_root};
use crate::config::SiteRef;
use crate::error::{Error, Result};
use crate::release::ReleaseName;
use crate::store::Status;
use chrono::Utc;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone, Default)]
pub struct DeployOptions {
    /// Deploy this branch instead of the configured one.
    pub branch: Option<String>,
    /// Provisioning's initial deployment: no deploy script (the spec), placeholder without a repo.
    pub initial: bool,
}

/// What a successful deploy produced.
#[derive(Debug, Clone)]
pub struct Deployed {
    pub deployment_id: i64,
    pub release: String,
    pub commit: Option<String>,
    pub pruned: Vec<String>,
}

impl Engine {
    pub async fn deploy(
        &self,
        site: &SiteRef<'_>,
        connector: &dyn Connector,
        opts: DeployOptions,
        cancel: CancellationToken,
    ) -> Result<Deployed> {
        let branch = opts
            .branch
            .as_deref()
            .unwrap_or(&site.site.branch)
            .to_string();
        crate::validate::branch(&branch)
            .map_err(|w| Error::usage(format!("branch {branch:?} {w}")))?;
        let source = match (&site.site.repository, opts.initial) {
            (Some(repo), _) => Source::Git {
                repository: repo,
                branch: &branch,
            },
            (None, true) => Source::Placeholder,
            (None, false) => {
                return Err(Error::usage(format!(
                    "site {} has no repository; set `repository` in the config to deploy it",
                    site.key()
                )));
            }
        };
        let target = connector.connect().await?;
        let root = resolve_root(site.server, target.as_ref()).await?;
        let layout = Layout::new(&root, &site.site.domain);
        let row = self
            .store
            .ensure_site(&site.server.name, &site.site.domain)?;
        let action = if opts.initial {
            Action::Provision
        } else {
            Action::Deploy
        };
        let mut job = Job::new(self, site.key(), target, layout.clone(), action);
        let script_text = if opts.initial {
            ""
        } else {
            &site.site.deployment_script
        };
        let id = self.store.create_deployment(&row, script_text, &branch)?;
        job.attach_deployment(id);
        job.emit(EventKind::Status {
            deployment_id: id,
            status: Status::Pending,
        });

        let now = Utc::now();
        let release = ReleaseName::next_free(now, &self.store.release_names(row.id)?).to_string();
        self.store.mark_updating(
            id,
            &release,
            &layout.release(&release),
            &layout.log_file(&release),
            now,
        )?;
        job.emit(EventKind::Status {
            deployment_id: id,
            status: Status::Updating,
        });
        job.notice(format!(
            "{} {} release {release} (deployment #{id}, branch {branch}) on {}",
            action.as_str(),
            site.key(),
            job.target.describe()
        ));

        // 1. Lock and build. Only this phase can be cancelled: it touches nothing live.
        let build = scripts::build(&job.prelude(), site.site, &release, &source, !opts.initial);
        let built = job.run(&build, None, Some(&cancel)).await;
        let commit = match built {
            Ok(r) if r.status.success() && r.var("built").is_some() => {
                r.var("commit").map(str::to_string)
            }
            Ok(r) => return Err(self.build_failed(&mut job, id, site, r)),
            Err(e) => {
                return Err(self
                    .interrupted(&mut job, id, Some(&release), e, connector)
                    .await);
            }
        };

        // 2. Switch, reload, health check; a failing reload or check switches back at once.
        // Provisioning's first release has nothing to go back to (and nginx may not serve it yet).
        let health = site.site.health_check.as_ref().filter(|_| !opts.initial);
        let switch = scripts::switch(
            &job.prelude(),
            &layout.link_target(&release),
            site.server.reload_command.as_deref(),
            health,
        );
        match job.run(&switch, None, None).await {
            Ok(r) if r.status.success() => {}
            Ok(r) => {
                let back_to = r
                    .var("prev")
                    .filter(|p| !p.is_empty())
                    .unwrap_or("no release (nothing was live before)");
                let why = match (r.var("switched_back"), r.var("health_failed")) {
                    (Some(_), Some(detail)) => {
                        format!("health check failed: {detail}; switched back to {back_to}")
                    }
                    (Some(_), None) => {
                        format!("reload failed ({}); switched back to {back_to}", r.status)
                    }
                    (None, Some(detail)) => {
                        format!("health check failed: {detail}; switching back failed")
                    }
                    (None, None) => format!("switch failed ({})", r.status),
                };
                // If switching back failed the new release may still be live: never delete it then.
                let mut remove = Some(release.as_str());
                if r.var("switched").is_some() && r.var("switched_back").is_none() {
                    let still_live = match self.read_live(&mut job).await {
                        Ok(live) => {
                            live.as_deref().and_then(|l| l.rsplit('/').next())
                                == Some(release.as_str())
                        }
                        Err(()) => true, // cannot tell: keep it
                    };
                    if still_live {
                        job.notice("switching back failed and the new release is live; it is kept");
                        remove = None;
                    }
                }
                self.cleanup_after_failure(&mut job, remove).await;
                return Err(self.record_failure(&mut job, id, &why, commit.as_deref()));
            }
            Err(e) => {
                return Err(self
                    .interrupted(&mut job, id, Some(&release), e, connector)
                    .await);
            }
        }
        self.store
            .finish_success(id, commit.as_deref().unwrap_or(""), Utc::now())?;
        job.emit(EventKind::Status {
            deployment_id: id,
            status: Status::Success,
        });

        // 3. Log into the release, prune, unlock. The deploy has succeeded whatever happens here.
        let plan =
            super::prune::plan_prune(&self.store.list(row.id, None)?, site.site.keep as usize);
        let names: Vec<String> = plan.delete.iter().map(|d| d.release.clone()).collect();
        let fin = scripts::finalize(&job.prelude(), &release, &names);
        let mut log = job.log.clone().into_bytes();
        log.extend_from_slice(b"==> done\n");
        let pruned = match job.run(&fin, Some(log), None).await {
            Ok(r) => self.apply_pruned(&mut job, &plan, &r),
            Err(_) => {
                job.notice(format!(
                    "deployed, but the final step (log, prune, unlock) did not complete; \
                     if the site stays locked run `flipdeck unlock {}`",
                    site.key()
                ));
                Vec::new()
            }
        };
        let summary = format!(
            "deployed {} release {release}{} (#{id})",
            site.key(),
            commit
                .as_deref()
                .map(|c| format!(" at {}", short(c)))
                .unwrap_or_default()
        );
        job.flush();
        job.finish(true, summary);
        Ok(Deployed {
            deployment_id: id,
            release,
            commit,
            pruned,
        })
    }

    fn build_failed(&self, job: &mut Job<'_>, id: i64, site: &SiteRef<'_>, r: RunResult) -> Error {
        if r.status == crate::target::ExitStatus::Code(LOCK_HELD)
            && let Some(holder) = r.var("holder")
        {
            let msg = format!(
                "site {} is locked by {holder}; wait for that job to finish, or if it is stale run `flipdeck unlock {}`",
                site.key(),
                site.key()
            );
            self.record_failure(job, id, &format!("refused: {msg}"), None);
            return Error::failed(msg);
        }
        let step = r.last_step.as_deref().unwrap_or("build");
        let why = if r.status.success() {
            format!("{step}: the deploy script exited early (a line ran `exit`)")
        } else {
            format!("{step} failed ({})", r.status)
        };
        // The build script's exit trap has already removed the half release and released the lock.
        self.record_failure(job, id, &why, None)
    }

    /// Cancelled or connection lost before the switch completed: the live site was not touched
    /// unless the switch itself was under way, which is checked by reading the live link.
    async fn interrupted(
        &self,
        job: &mut Job<'_>,
        id: i64,
        release: Option<&str>,
        e: RunError,
        connector: &dyn Connector,
    ) -> Error {
        let (why, step) = match &e {
            RunError::Cancelled { step } => ("cancelled", step.clone()),
            RunError::Transport { step, error } => {
                job.notice(format!("{error}"));
                ("connection lost", step.clone())
            }
        };
        let why = format!("{why} during {}", step.as_deref().unwrap_or("start"));
        if matches!(e, RunError::Transport { .. }) {
            match connector.connect().await {
                Ok(t) => job.target = t,
                Err(err) => {
                    job.notice(format!(
                        "could not reconnect to clean up ({err}); the site may stay locked: check with `flipdeck status`, then `flipdeck unlock {}`",
                        job.site
                    ));
                    return self.record_failure(job, id, &why, None);
                }
            }
        }
        // If the switch had completed, switch back before removing anything.
        let mut remove = release;
        if let (Some(rel), Ok(live)) = (release, self.read_live(job).await)
            && live
                .as_deref()
                .map(|l| l.rsplit('/').next() == Some(rel))
                .unwrap_or(false)
        {
            let prev = self.previous_link(job, rel);
            match prev {
                Some(p) => {
                    let sw = scripts::switch(&job.prelude(), &p, None, None);
                    if !matches!(job.run(&sw, None, None).await, Ok(r) if r.status.success()) {
                        job.notice("the new release is live and switching back failed; it is kept");
                        remove = None;
                    }
                }
                None => {
                    job.notice("the new release went live before the interruption and nothing was live before; it is kept");
                    remove = None;
                }
            }
        }
        self.cleanup_after_failure(job, remove).await;
        self.record_failure(job, id, &why, None)
    }

    /// The link target of the release that was active before `release`, from the history.
    fn previous_link(&self, job: &Job<'_>, release: &str) -> Option<String> {
        let id = job.deployment_id?;
        let d = self.store.get(id).ok()??;
        let site = self.store.site_row(d.site_id).ok()?;
        let active = self.store.get(site.active_deployment_id?).ok()??;
        let name = active.release_name?;
        (name != release && active.deployment_path.is_some()).then(|| job.layout.link_target(&name))
    }

    pub(super) async fn read_live(&self, job: &mut Job<'_>) -> Result<Option<String>, ()> {
        let s = scripts::inspect(&job.prelude());
        match job.run(&s, None, None).await {
            Ok(r) if r.status.success() => Ok(r.var("live").map(str::to_string)),
            _ => Err(()),
        }
    }

    pub(super) async fn cleanup_after_failure(&self, job: &mut Job<'_>, release: Option<&str>) {
        let s = scripts::cleanup(&job.prelude(), release);
        if !matches!(job.run(&s, None, None).await, Ok(r) if r.status.success()) {
            job.notice("cleanup after the failure did not complete; check with `flipdeck status`");
        }
    }

    pub(super) fn record_failure(
        &self,
        job: &mut Job<'_>,
        id: i64,
        why: &str,
        sha: Option<&str>,
    ) -> Error {
        job.notice(format!(
            "deployment #{id} failed: {why}; the live site was left as it was"
        ));
        job.flush();
        let stored = self.store.finish_failed(id, why, sha, Utc::now());
        job.emit(EventKind::Status {
            deployment_id: id,
            status: Status::Failed,
        });
        job.finish(false, format!("deployment #{id} failed: {why}"));
        match stored {
            Ok(()) => Error::failed(format!("deployment #{id} of {} failed: {why}", job.site)),
            Err(e) => Error::failed(format!(
                "deployment #{id} of {} failed: {why} (and recording it failed: {e})",
                job.site
            )),
        }
    }
}

/// The first 7 characters of a commit.
pub fn short(sha: &str) -> &str {
    &sha[..sha.len().min(7)]
}
