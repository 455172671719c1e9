//! Rollback: the same atomic switch pointed at an older release, in one exec. Releases are kept
//! (unlike Capistrano, which deletes the release rolled back from), so rolling forward again is
//! just another rollback.

use super::Engine;
use super::events::{Action, EventKind};
use super::job::{Job, RunError};
use super::layout::Layout;
use super::protocol::{InspectReport, LOCK_HELD, RollbackReport};
use super::scripts;
use crate::config::SiteRef;
use crate::error::{Error, Result};
use crate::store::{Deployment, Status};
use crate::transport::Connector;
use chrono::Utc;

#[derive(Debug, Clone, Default)]
pub struct RollbackOptions {
    /// Roll back to this deployment; default: the newest rollback-eligible one older than the active.
    pub to: Option<i64>,
    /// Or to the deployment with this release name (how a fleet names its releases).
    pub to_release: Option<String>,
}

#[derive(Debug, Clone)]
pub struct RolledBack {
    pub from: Option<i64>,
    pub to: i64,
    pub release: String,
    /// What failed after the switch while the rollback was kept (its health check).
    pub warning: Option<String>,
}

/// Why a deployment cannot be rolled back to, in the spec's terms; `None` if it can.
pub fn refusal(d: &Deployment) -> Option<String> {
    if d.is_active {
        Some(format!("deployment #{} is already the active one", d.id))
    } else if d.status == Status::Failed {
        Some(format!(
            "deployment #{} failed; only successful deployments can be rolled back to",
            d.id
        ))
    } else if d.status != Status::Success {
        Some(format!(
            "deployment #{} is still {}",
            d.id,
            d.status.as_str()
        ))
    } else if d.deployment_path.is_none() || d.release_name.is_none() {
        Some(format!(
            "deployment #{}'s release directory was pruned; deploy again instead",
            d.id
        ))
    } else {
        None
    }
}

impl Engine {
    /// After the connection dropped mid-rollback: reconnect, stop what the lost session left
    /// running (it could still switch), release our lock, and return the live link (None: could
    /// not reconnect).
    async fn after_lost_rollback(
        &self,
        job: &mut Job<'_>,
        connector: &dyn Connector,
    ) -> Option<String> {
        job.target = connector.connect().await.ok()?;
        let r = job
            .run(&scripts::stop_own(&job.prelude(), true), None, None)
            .await
            .ok()
            .filter(|r| r.status.success())?;
        Some(r.report::<InspectReport>().live.unwrap_or_default())
    }
}

/// The default target: newest eligible deployment that started before the active one.
pub fn default_target(list: &[Deployment]) -> Option<&Deployment> {
    let active_pos = list.iter().position(|d| d.is_active);
    let older = match active_pos {
        Some(p) => &list[p + 1..],
        None => list,
    };
    older.iter().find(|d| refusal(d).is_none())
}

impl Engine {
    pub async fn rollback(
        &self,
        site: &SiteRef<'_>,
        connector: &dyn Connector,
        opts: RollbackOptions,
    ) -> Result<RolledBack> {
        self.after_recovering(site, connector, || {
            self.rollback_once(site, connector, opts.clone())
        })
        .await
    }

    async fn rollback_once(
        &self,
        site: &SiteRef<'_>,
        connector: &dyn Connector,
        opts: RollbackOptions,
    ) -> Result<RolledBack> {
        let row = self
            .store
            .ensure_site(&site.server.name, &site.site.domain)?;
        let to = match (&opts.to, &opts.to_release) {
            (Some(id), _) => Some(*id),
            (None, Some(name)) => Some(
                self.store
                    .list_with_dirs(row.id)?
                    .iter()
                    .chain(self.store.list(row.id, Some(1000))?.iter())
                    .find(|d| d.release_name.as_deref() == Some(name.as_str()))
                    .map(|d| d.id)
                    .ok_or_else(|| {
                        Error::failed(format!(
                            "{} has no release {name}; see `flipdeck list {}`",
                            site.key(),
                            site.key()
                        ))
                    })?,
            ),
            (None, None) => None,
        };
        let chosen = match to {
            Some(id) => {
                let Some(d) = self.store.get(id)?.filter(|d| d.site_id == row.id) else {
                    // Which ids the site has, so the answer says what would work.
                    let ids: Vec<i64> = self
                        .store
                        .list(row.id, None)?
                        .iter()
                        .map(|d| d.id)
                        .collect();
                    let has = match (ids.iter().min(), ids.iter().max()) {
                        (Some(lo), Some(hi)) if lo == hi => format!("it has #{lo}"),
                        (Some(lo), Some(hi)) => format!("it has #{lo}\u{2013}#{hi}"),
                        _ => "it has no deployments".to_string(),
                    };
                    return Err(Error::failed(format!(
                        "no deployment #{id} for {} ({has})",
                        site.key()
                    )));
                };
                if let Some(why) = refusal(&d) {
                    return Err(Error::failed(format!(
                        "cannot roll back {} to #{id}: {why}",
                        site.key()
                    )));
                }
                d
            }
            // Only deployments with a directory qualify: a short list whatever the history.
            None => default_target(&self.store.list_with_dirs(row.id)?)
                .cloned()
                .ok_or_else(|| {
                    Error::failed(format!(
                        "{} has no successful deployment older than the active one to roll back to",
                        site.key()
                    ))
                })?,
        };
        let release = chosen
            .release_name
            .clone()
            .expect("eligible deployments have a release");
        let from = row.active_deployment_id;
        let target = connector.connect().await?;
        let layout = Layout::new(site.server.root.as_deref(), &site.site.domain);
        let mut job = Job::new(self, site.key(), target, layout.clone(), Action::Rollback);
        job.notice(format!(
            "rollback {} from {} to deployment #{} (release {release})",
            site.key(),
            from.map(|f| format!("#{f}"))
                .unwrap_or_else(|| "nothing".into()),
            chosen.id
        ));
        let script = scripts::rollback(
            &job.prelude(),
            &release,
            &layout.link_target(&release),
            scripts::AfterSwitch {
                reload: site.server.reload_command.as_deref(),
                health: site.site.health_check.as_ref(),
                hooks: Some(&site.site.hooks),
            },
            (
                &crate::release_log::prefix(
                    "rollback",
                    &release,
                    chosen.branch.as_deref(),
                    &job.who,
                    Some(&crate::store::ts(chrono::Utc::now())),
                    Some(chosen.id),
                ),
                chosen.commit_sha.as_deref().unwrap_or(""),
            ),
        );
        let r = match job.run(&script, None, None).await {
            Ok(r) => r,
            Err(RunError::Transport { error, .. }) => {
                job.notice(format!("{error}"));
                let state = match self.after_lost_rollback(&mut job, connector).await {
                    Some(live) if live.rsplit('/').next() == Some(release.as_str()) => {
                        self.store.set_active(row.id, chosen.id, Utc::now())?;
                        "its switch had happened, so the rollback is in place"
                    }
                    Some(_) => "its switch had not happened, so the live release is unchanged",
                    None => "could not reconnect to check; run `flipdeck status`",
                };
                job.finish(false, "connection lost");
                return Err(Error::failed(format!(
                    "connection lost during the rollback of {} ({error}); {state}",
                    site.key()
                )));
            }
            Err(RunError::Cancelled { .. }) => {
                job.finish(false, "cancelled");
                return Err(Error::failed("rollback cancelled"));
            }
        };
        let rep: RollbackReport = r.report();
        if r.status.success() {
            self.store.set_active(row.id, chosen.id, Utc::now())?;
            let mut summary = format!(
                "rolled back {} to #{} (release {release})",
                site.key(),
                chosen.id
            );
            // A rollback is usually the way out of trouble: its health check is reported, never
            // undone automatically.
            if let Some(h) = rep.switch.hook_failed("after_rollback") {
                let at = job
                    .last_command
                    .as_deref()
                    .map(|c| format!(" at `{c}`"))
                    .unwrap_or_default();
                summary.push_str(&format!(
                    "; warning: the after_rollback hook failed (exit code {}){at} (the rollback is kept)",
                    h.code
                ));
            }
            let warning = rep
                .switch
                .health_failed
                .map(|detail| format!("health check failed: {detail}"));
            if let Some(w) = &warning {
                summary.push_str(&format!("; warning: {w} (the rollback is kept)"));
            }
            job.emit(EventKind::Notice {
                message: summary.clone(),
            });
            job.finish(true, summary);
            return Ok(RolledBack {
                from,
                to: chosen.id,
                release,
                warning,
            });
        }
        if r.status == crate::transport::ExitStatus::Code(LOCK_HELD) {
            let e = self.locked(site, rep.holder.as_deref().unwrap_or("someone"));
            job.finish(false, e.to_string());
            return Err(e);
        }
        let why = if rep.missing {
            // The server is the truth: the directory is gone, so this deployment is no longer a target.
            self.store.clear_path(chosen.id)?;
            format!(
                "cannot roll back {} to #{}: its release directory {} is gone on the server",
                site.key(),
                chosen.id,
                layout.release(&release)
            )
        } else if rep.switch.switched_back {
            format!(
                "rollback of {} failed: reload failed ({}); switched back",
                site.key(),
                r.status
            )
        } else {
            format!(
                "rollback of {} failed during {} ({})",
                site.key(),
                r.last_step.as_deref().unwrap_or("start"),
                r.status
            )
        };
        job.finish(false, why.clone());
        Err(Error::failed(why))
    }
}
