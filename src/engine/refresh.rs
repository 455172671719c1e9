//! Refresh (`flipdeck status`): read the server (live link, release directories, lock, release
//! log) and bring the history in line, since the server is the truth. That includes importing
//! what other operators deployed and recovering what a killed flipdeck of this machine left.

use super::Engine;
use super::events::Action;
use super::identity::JobRef;
use super::job::Job;
use super::layout::Layout;
use super::lock::{held_by_dead_local_process, live_local_holder, on_this_host, pid_alive};
use super::protocol::{InspectReport, LOCK_HELD, LeftoversReport, LockOwner, RecoverReport};
use super::scripts;
use crate::config::SiteRef;
use crate::error::{Error, Result};
use crate::release_log::{self, Entry};
use crate::store::Status;
use crate::transport::Connector;

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
    /// The release name the live link points at, if it points where flipdeck links a release
    /// (`deployments/DOMAIN/NAME`): a link anywhere else (absolute, `..`, another folder) names
    /// no release, even when its last part looks like one.
    pub fn release(&self) -> Option<&str> {
        match self {
            LiveState::Link(t) => {
                let (domain, name) = t.strip_prefix("deployments/")?.split_once('/')?;
                (!name.is_empty() && !name.contains('/') && !domain.is_empty()).then_some(name)
            }
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

impl Engine {
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
        let r = job
            .run(&script, None, None)
            .await
            .map_err(|e| e.read_failed(format_args!("cannot inspect {}", site.key())))?;
        if !r.status.success() {
            job.finish(false, "inspect failed");
            return Err(Error::failed(format!(
                "cannot inspect {} ({})",
                site.key(),
                r.status
            )));
        }
        let InspectReport {
            live,
            live_not_link,
            mut releases,
            lock,
            relog,
            linked,
        } = r.report();
        let live = match (live, live_not_link) {
            (Some(t), _) => LiveState::Link(t),
            (None, true) => LiveState::NotALink,
            _ => LiveState::Missing,
        };
        let imported = self.import_release_log(&job, &row, &relog, &releases)?;
        let lock = self.recover_interrupted(&mut job, row.id, lock).await?;
        if imported > 0 {
            job.notice(format!(
                "{imported} deployment(s) from the server's release log added to the history"
            ));
        }
        // Only what the server's state concerns, never the whole history: the deployments of the
        // release directories the server has, those the history believes have one, and the active.
        let on_server = self.store.with_releases(row.id, &releases)?;
        if lock.is_none() {
            self.remove_failed_leftovers(&mut job, &on_server, &live, &mut releases)
                .await?;
        }
        let mut missing = Vec::new();
        for d in &self.store.list_with_dirs(row.id)? {
            if let Some(name) = &d.release_name
                && !releases.contains(name)
                && matches!(d.status, Status::Success)
            {
                self.store.clear_path(d.id)?;
                missing.push(d.id);
            }
        }
        // Recovery may have settled the active deployment since `row` was read.
        let db_active = match self.store.site_row(row.id)?.active_deployment_id {
            Some(id) => self.store.get(id)?.filter(|d| d.site_id == row.id),
            None => None,
        };
        let db_active = db_active.as_ref();
        // The live link must be the one flipdeck makes for this site's release, into a real
        // directory (a release replaced by a symlink is not one).
        let live_release = live.release().filter(
            |name| matches!(&live, LiveState::Link(t) if *t == job.layout.link_target(name)),
        );
        let server_active = live_release.and_then(|name| {
            on_server.iter().find(|d| {
                d.status == Status::Success
                    && d.release_name.as_deref() == Some(name)
                    && releases.iter().any(|r| r == name)
            })
        });
        let mut drift = None;
        if !linked.is_empty() {
            drift = Some(format!(
                "not a release, never rolled back to: {}",
                linked.join(", ")
            ));
        }
        if db_active.map(|d| d.id) != server_active.map(|d| d.id) {
            let was = drift.take().map(|d| format!("; {d}")).unwrap_or_default();
            drift = Some(format!(
                "history said {}, server says {}{was}",
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
        // Each with its job's token: the server removes only what that job made itself.
        let failed: Vec<(String, String)> = list
            .iter()
            .filter(|d| d.status == Status::Failed)
            .filter_map(|d| {
                let name = d.release_name.clone()?;
                let token = JobRef::parse(d.job.as_deref()?)?.token.to_string();
                Some((name, token))
            })
            .filter(|(n, _)| releases.contains(n) && live.release() != Some(n.as_str()))
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
        let LeftoversReport { removed, .. } = r.report();
        if !removed.is_empty() {
            job.notice(format!(
                "removed what failed deployments left behind: {}",
                removed.join(", ")
            ));
            releases.retain(|n| !removed.contains(n));
        }
        if !r.status.success() && r.status != crate::transport::ExitStatus::Code(LOCK_HELD) {
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
        relog: &[String],
        releases: &[String],
    ) -> Result<usize> {
        let mut added = 0;
        for e in relog.iter().filter_map(|l| release_log::parse(l)) {
            if e.action != "deploy" || !matches!(e.status.as_str(), "success" | "failed") {
                continue;
            }
            // One index lookup per line of the log's tail, not the history's every name.
            if self.store.has_release(row.id, &e.release)? {
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
            let named = lock
                .as_deref()
                .and_then(|l| l.parse::<LockOwner>().ok())
                .is_some_and(|o| o.deployment == Some(d.id));
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
            let rep: RecoverReport = r.report();
            if rep.went_live {
                self.store
                    .finish_success(d.id, rep.commit.as_deref().unwrap_or(""), now)?;
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
    fn settle_from_log(&self, site_id: i64, e: &Entry) -> Result<()> {
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
}
