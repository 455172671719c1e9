//! The smaller flows: provision, inspect/refresh (status), unlock, and fetching a stored log.

use super::Engine;
use super::deploy::{DeployOptions, Deployed};
use super::events::Action;
use super::job::{Job, JobRef};
use super::layout::Layout;
use super::{fpm, scripts};
use crate::config::SiteRef;
use crate::error::{Error, Result};
use crate::shell::quote;
use crate::store::Status;
use crate::transport::Connector;
use tokio_util::sync::CancellationToken;

/// What the live path is on the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LiveState {
    Missing,
    /// A real file or directory where the symlink should be.
    NotALink,
    /// A symlink, with its target as written.
    Link(String),
}

impl LiveState {
    /// The release name the live link points at.
    pub fn release(&self) -> Option<&str> {
        match self {
            LiveState::Link(t) => t.rsplit('/').next(),
            _ => None,
        }
    }
}

/// The server's view of a site, and how the local history was brought in line with it.
#[derive(Debug, Clone)]
pub struct Inspection {
    pub live: LiveState,
    pub releases: Vec<String>,
    pub lock: Option<String>,
    /// Deployments whose directory turned out to be gone (now marked so).
    pub missing: Vec<i64>,
    /// The history's active deployment before the refresh, when the server disagreed.
    pub drift: Option<String>,
    pub active_deployment_id: Option<i64>,
}

pub enum Provisioned {
    Already { live: String },
    Initial(Deployed),
}

impl Engine {
    /// The spec's provisioning: layout and shared entries, then an initial deployment (the clone
    /// without the deploy script, or a placeholder without a repository) unless a release is live.
    pub async fn provision(
        &self,
        site: &SiteRef<'_>,
        connector: &dyn Connector,
    ) -> Result<Provisioned> {
        let target = connector.connect().await?;
        let layout = Layout::new(site.server.root.as_deref(), &site.site.domain);
        self.store
            .ensure_site(&site.server.name, &site.site.domain)?;
        let mut job = Job::new(self, site.key(), target.clone(), layout, Action::Provision);
        let mut script = scripts::provision_layout(&job.prelude(), site.site);
        // Only a reload can cut requests, so without one there is nothing to warn about.
        let fpm_conf = site
            .server
            .php_fpm_config
            .as_deref()
            .filter(|_| site.server.reload_command.is_some());
        if let Some(conf) = fpm_conf {
            script.push_str(&fpm::read_timeout(conf));
        }
        let r = job.run(&script, None, None).await.map_err(|_| {
            Error::failed(format!("connection lost while provisioning {}", site.key()))
        })?;
        if !r.status.success() {
            let msg = format!("provisioning {} failed ({})", site.key(), r.status);
            job.finish(false, msg.clone());
            return Err(Error::failed(msg));
        }
        // Without a configured root, the script has reported the login user's home by now.
        let layout = job.layout.clone();
        if let Some(conf) = fpm_conf
            && let Some(w) = fpm::warning(
                conf,
                r.var("fpm_timeout"),
                r.var("fpm_unreadable").is_some(),
            )
        {
            job.notice(w);
        }
        let outcome = if let (Some(live), Some(_)) = (r.var("live"), r.var("live_ok")) {
            let live = live.to_string();
            job.finish(true, format!("already provisioned; live release {live}"));
            Provisioned::Already { live }
        } else {
            job.finish(true, "layout ready");
            let opts = DeployOptions {
                branch: None,
                initial: true,
            };
            // The initial deployment reuses this connection.
            Provisioned::Initial(
                self.deploy_on(
                    site,
                    connector,
                    target.clone(),
                    opts,
                    CancellationToken::new(),
                    None,
                )
                .await?,
            )
        };
        // nginx last, so the server block never points at a live path that does not exist yet.
        if let Some(nginx) = &site.site.nginx {
            self.install_nginx(site, target, layout, nginx).await?;
        }
        Ok(outcome)
    }

    /// Reads the server (live link, release directories, lock) and brings the history in line:
    /// the server is the truth.
    pub async fn refresh(
        &self,
        site: &SiteRef<'_>,
        connector: &dyn Connector,
    ) -> Result<Inspection> {
        let target = connector.connect().await?;
        let layout = Layout::new(site.server.root.as_deref(), &site.site.domain);
        let row = self
            .store
            .ensure_site(&site.server.name, &site.site.domain)?;
        let mut job = Job::new(self, site.key(), target, layout, Action::Inspect);
        let script = scripts::inspect(&job.prelude());
        let r = job.run(&script, None, None).await.map_err(|e| match e {
            super::job::RunError::Transport { error, .. } => {
                Error::failed(format!("cannot inspect {}: {error}", site.key()))
            }
            super::job::RunError::Cancelled { .. } => Error::failed("cancelled"),
        })?;
        if !r.status.success() {
            job.finish(false, "inspect failed");
            return Err(Error::failed(format!(
                "cannot inspect {} ({})",
                site.key(),
                r.status
            )));
        }
        let live = match (r.var("live"), r.var("live_not_link")) {
            (Some(t), _) => LiveState::Link(t.to_string()),
            (None, Some(_)) => LiveState::NotALink,
            _ => LiveState::Missing,
        };
        let mut releases: Vec<String> = r.vars_named("release").map(str::to_string).collect();
        let lock = r.var("lock").map(str::to_string);
        let imported = self.import_release_log(&job, &row, &r, &releases)?;
        let lock = self.recover_interrupted(&mut job, row.id, lock).await?;
        if imported > 0 {
            job.notice(format!(
                "{imported} deployment(s) from the server's release log added to the history"
            ));
        }
        let list = self.store.list(row.id, None)?;
        if lock.is_none() {
            self.remove_failed_leftovers(&mut job, &list, &live, &mut releases)
                .await?;
        }
        let mut missing = Vec::new();
        for d in &list {
            if let (Some(_), Some(name)) = (&d.deployment_path, &d.release_name)
                && !releases.contains(name)
                && matches!(d.status, Status::Success)
            {
                self.store.clear_path(d.id)?;
                missing.push(d.id);
            }
        }
        let db_active = list.iter().find(|d| d.is_active);
        let server_active = live.release().and_then(|name| {
            list.iter().find(|d| {
                d.status == Status::Success
                    && d.release_name.as_deref() == Some(name)
                    && releases.iter().any(|r| r == name)
            })
        });
        let mut drift = None;
        if db_active.map(|d| d.id) != server_active.map(|d| d.id) {
            drift = Some(format!(
                "history said {}, server says {}",
                db_active
                    .and_then(|d| d.release_name.clone())
                    .unwrap_or_else(|| "nothing live".into()),
                match &live {
                    LiveState::Link(t) => t.clone(),
                    LiveState::Missing => "no live symlink".into(),
                    LiveState::NotALink => "a real directory, not a symlink".into(),
                }
            ));
            match server_active {
                Some(d) => self.store.set_active(row.id, d.id, chrono::Utc::now())?,
                None => self.store.clear_active(row.id)?,
            }
        }
        job.finish(true, "inspected");
        Ok(Inspection {
            live,
            releases,
            lock,
            missing,
            drift,
            active_deployment_id: server_active.map(|d| d.id),
        })
    }

    /// Directories of failed deployments that their own clean-up could not remove (the disk was
    /// read-only then, say) are removed now, under the lock; a live one never is.
    async fn remove_failed_leftovers(
        &self,
        job: &mut Job<'_>,
        list: &[crate::store::Deployment],
        live: &LiveState,
        releases: &mut Vec<String>,
    ) -> Result<()> {
        let failed: Vec<String> = list
            .iter()
            .filter(|d| d.status == Status::Failed)
            .filter_map(|d| d.release_name.clone())
            .filter(|n| releases.contains(n) && live.release() != Some(n.as_str()))
            .collect();
        if failed.is_empty() {
            return Ok(());
        }
        let r = job
            .run(
                &scripts::remove_leftovers(&job.prelude(), &failed),
                None,
                None,
            )
            .await
            .map_err(|_| Error::failed(format!("connection lost while cleaning {}", job.site)))?;
        let removed: Vec<&str> = r.vars_named("removed").collect();
        if !removed.is_empty() {
            job.notice(format!(
                "removed what failed deployments left behind: {}",
                removed.join(", ")
            ));
            releases.retain(|n| !removed.contains(&n.as_str()));
        }
        if !r.status.success() && r.status != crate::transport::ExitStatus::Code(scripts::LOCK_HELD)
        {
            job.notice(format!(
                "could not remove what failed deployments left behind ({})",
                r.status
            ));
        }
        Ok(())
    }

    /// Deployments in the server's release log that this history lacks (another operator's, or
    /// this machine's with another DB) are added; a local record a crash left pending or updating
    /// takes the outcome the server recorded. Returns how many were added.
    fn import_release_log(
        &self,
        job: &Job<'_>,
        row: &crate::store::SiteRow,
        r: &super::job::RunResult,
        releases: &[String],
    ) -> Result<usize> {
        use super::release_log;
        let known = self.store.release_names(row.id)?;
        let mut added = 0;
        for e in r.vars_named("relog").filter_map(release_log::parse) {
            if e.action != "deploy" || !matches!(e.status.as_str(), "success" | "failed") {
                continue;
            }
            if known.contains(&e.release) {
                self.settle_from_log(row.id, &e)?;
                continue;
            }
            let on_disk = e.status == "success" && releases.contains(&e.release);
            let (path, log) = (
                job.layout.release(&e.release),
                job.layout.log_file(&e.release),
            );
            let paths = on_disk.then_some((path.as_str(), log.as_str()));
            self.store.import_deployment(row, &e, paths)?;
            added += 1;
        }
        Ok(added)
    }

    /// Local records still pending or updating whose flipdeck is gone: the lock names them but its
    /// holder is a dead process on this machine, or no lock names them long after they started.
    /// Their half release is removed (or, if it went live, the record follows the server), the lock
    /// released, and the record marked failed "interrupted". Another live holder is left alone.
    /// Returns the lock as it now stands.
    async fn recover_interrupted(
        &self,
        job: &mut Job<'_>,
        site_id: i64,
        mut lock: Option<String>,
    ) -> Result<Option<String>> {
        for d in self.store.list_unfinished(site_id)? {
            if self.is_running_here(d.id) {
                continue;
            }
            let named = lock.as_deref().is_some_and(|l| {
                l.split_whitespace()
                    .any(|w| w == format!("deployment={}", d.id))
            });
            let job_ref = d.job.as_deref().and_then(JobRef::parse);
            let gone = if named {
                let holder = lock.as_deref().unwrap_or_default();
                on_this_host(holder, &self.identity.host)
                    && live_local_holder(holder, &self.identity.host).is_none()
            } else if let Some(j) = job_ref.as_ref().filter(|j| j.host == self.identity.host) {
                // Its flipdeck ran here: gone when that process is.
                !pid_alive(j.pid)
            } else {
                // Without the lock a deploy is only ever a moment old.
                let started = d.started_at.unwrap_or_else(chrono::Utc::now);
                chrono::Utc::now() - started > chrono::Duration::seconds(60)
            };
            if !gone {
                continue;
            }
            let now = chrono::Utc::now();
            let Some(release) = d.release_name.clone() else {
                self.store.finish_failed(d.id, "interrupted", None, now)?;
                continue;
            };
            let r = job
                .run(
                    &scripts::recover(
                        &job.prelude(),
                        d.id,
                        &release,
                        job_ref.as_ref().map(|j| j.token),
                    ),
                    None,
                    None,
                )
                .await
                .map_err(|_| {
                    Error::failed(format!(
                        "connection lost while recovering deployment #{}",
                        d.id
                    ))
                })?;
            if !r.status.success() {
                job.notice(format!(
                    "could not clean up interrupted deployment #{} ({})",
                    d.id, r.status
                ));
                continue;
            }
            if named {
                lock = None;
            }
            if r.var("went_live").is_some() {
                self.store
                    .finish_success(d.id, r.var("commit").unwrap_or(""), now)?;
                job.notice(format!("deployment #{} was interrupted after its switch; its release is live, so it is recorded as a success", d.id));
            } else {
                self.store.finish_failed(d.id, "interrupted", None, now)?;
                job.notice(format!("deployment #{} was interrupted (its flipdeck is gone): half release removed, lock released", d.id));
            }
            // Whatever output it had stored stays; this says how it ended.
            self.store.append_output(
                d.id,
                &format!(
                    "flipdeck: interrupted (its flipdeck process is gone); recovered by {} at {}\n",
                    self.identity,
                    crate::store::ts(now)
                ),
            )?;
        }
        // A lock left by a dead flipdeck of this machine with no deployment to settle (a killed
        // rollback or prune): nothing is half-built, so it only needs removing.
        if let Some(holder) = lock.clone()
            && held_by_dead_local_process(&holder, &self.identity.host)
        {
            let r = job
                .run(&scripts::force_unlock(&job.prelude()), None, None)
                .await;
            if matches!(r, Ok(ref r) if r.status.success()) {
                job.notice(format!(
                    "removed the lock left by {holder}: that flipdeck is no longer running"
                ));
                lock = None;
            }
        }
        Ok(lock)
    }

    /// A local record still pending or updating (its flipdeck died) whose outcome the server logged.
    fn settle_from_log(&self, site_id: i64, e: &super::release_log::Entry) -> Result<()> {
        let unsettled = self.store.list_unfinished(site_id)?;
        let Some(d) = unsettled
            .iter()
            .find(|d| d.release_name.as_deref() == Some(e.release.as_str()))
        else {
            return Ok(());
        };
        let at = e
            .completed
            .as_deref()
            .and_then(|c| chrono::DateTime::parse_from_rfc3339(c).ok())
            .map_or_else(chrono::Utc::now, |t| t.with_timezone(&chrono::Utc));
        if e.status == "success" {
            self.store
                .finish_success(d.id, e.commit.as_deref().unwrap_or(""), at)
        } else {
            self.store.finish_failed(
                d.id,
                "interrupted; the server's release log says it failed",
                None,
                at,
            )
        }
    }

    /// Removes the site's deploy lock, returning who held it (None: there was no lock). A lock held
    /// by a running flipdeck on this machine is only removed with `force`.
    pub async fn unlock(
        &self,
        site: &SiteRef<'_>,
        connector: &dyn Connector,
        force: bool,
    ) -> Result<Option<String>> {
        let target = connector.connect().await?;
        let layout = Layout::new(site.server.root.as_deref(), &site.site.domain);
        let mut job = Job::new(self, site.key(), target, layout, Action::Unlock);
        if !force {
            let r = job
                .run(&scripts::inspect(&job.prelude()), None, None)
                .await
                .map_err(|_| {
                    Error::failed(format!("cannot reach {} to read its lock", site.key()))
                })?;
            if let Some(holder) = r.var("lock")
                && let Some(pid) = live_local_holder(holder, &self.identity.host)
            {
                job.finish(false, "lock held by a running process");
                return Err(Error::failed(format!(
                    "the lock of {} is held by {holder}, and process {pid} is still running on this machine; \
                     stop it first, or use `flipdeck unlock {} --force`",
                    site.key(),
                    site.key()
                )));
            }
        }
        let r = job
            .run(&scripts::force_unlock(&job.prelude()), None, None)
            .await
            .map_err(|_| {
                Error::failed(format!("connection lost while unlocking {}", site.key()))
            })?;
        if !r.status.success() {
            job.finish(false, "unlock failed");
            return Err(Error::failed(format!(
                "could not remove the lock of {} ({})",
                site.key(),
                r.status
            )));
        }
        job.finish(true, "unlocked");
        Ok(if r.var("nolock").is_some() {
            None
        } else {
            Some(r.var("holder").unwrap_or("unknown").to_string())
        })
    }

    /// A deployment's output from the server's `deployment.log` (when the DB has none).
    pub async fn fetch_log(
        &self,
        site: &SiteRef<'_>,
        connector: &dyn Connector,
        path: &str,
    ) -> Result<String> {
        let target = connector.connect().await?;
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let status = target
            .exec(&format!("cat {}", quote(path)), None, tx)
            .await?;
        let mut out = String::new();
        while let Ok(l) = rx.try_recv() {
            if l.stream == crate::transport::Stream::Stdout {
                out.push_str(&l.line);
                out.push('\n');
            }
        }
        if !status.success() {
            return Err(Error::failed(format!(
                "cannot read {path} on {} ({status})",
                site.key()
            )));
        }
        Ok(out)
    }
}

fn pid_alive(pid: i32) -> bool {
    // SAFETY: signal 0 only checks for existence.
    pid > 0 && unsafe { libc::kill(pid, 0) } == 0
}

impl Engine {
    /// The refusal when `holder` has the site's lock. A holder that is a dead flipdeck of this
    /// machine makes a stale `Locked` error, which `after_recovering` gets out of.
    pub(super) fn locked(&self, site: &SiteRef<'_>, holder: &str) -> Error {
        Error::Locked {
            site: site.key(),
            holder: holder.to_string(),
            stale: held_by_dead_local_process(holder, &self.identity.host),
        }
    }

    /// Runs `op`; if a killed flipdeck of this machine holds the site's lock, recovers what it left
    /// (as `status` does) and runs `op` once more.
    pub(super) async fn after_recovering<T, F, Fut>(
        &self,
        site: &SiteRef<'_>,
        connector: &dyn Connector,
        mut op: F,
    ) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T>>,
    {
        match op().await {
            Err(e) if e.is_stale_lock() => {
                self.refresh(site, connector).await?;
                op().await
            }
            r => r,
        }
    }
}

/// Whether a lock holder line names a process of this machine that no longer exists.
pub(super) fn held_by_dead_local_process(holder: &str, this_host: &str) -> bool {
    on_this_host(holder, this_host) && live_local_holder(holder, this_host).is_none()
}

/// Whether a lock holder line (`user@host pid=...`) names this host.
fn on_this_host(holder: &str, this_host: &str) -> bool {
    holder
        .split_whitespace()
        .next()
        .and_then(|who| who.rsplit_once('@'))
        .is_some_and(|(_, h)| h == this_host)
}

/// The pid of a lock holder that is a live process on this host, if it is one.
fn live_local_holder(holder: &str, this_host: &str) -> Option<i32> {
    let who = holder.split_whitespace().next()?;
    let host = who.rsplit_once('@').map(|(_, h)| h)?;
    if host != this_host {
        return None;
    }
    let pid: i32 = holder
        .split_whitespace()
        .find_map(|w| w.strip_prefix("pid="))?
        .parse()
        .ok()?;
    pid_alive(pid).then_some(pid)
}
