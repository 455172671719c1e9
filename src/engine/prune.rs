//! Pruning: keep the newest N successful releases that still have a directory, plus
//! the active one whatever its age; failed deployments never use up a slot; records are kept.

use super::Engine;
use super::events::Action;
use super::job::Job;
use super::layout::Layout;
use super::protocol::{LOCK_HELD, PruneReport};
use super::scripts;
use crate::config::SiteRef;
use crate::error::{Error, Result};
use crate::store::{Deployment, Status};
use crate::transport::Connector;

#[derive(Debug, Clone, PartialEq)]
pub struct PruneItem {
    pub deployment_id: i64,
    pub release: String,
    pub path: String,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct PrunePlan {
    pub keep: Vec<PruneItem>,
    pub delete: Vec<PruneItem>,
}

#[derive(Debug, Clone, Default)]
pub struct PruneOptions {
    /// Overrides the site's `keep`.
    pub keep: Option<usize>,
    pub dry_run: bool,
}

/// Which releases to delete. `deployments` must be newest first (as `Store::list` returns them).
pub fn plan_prune(deployments: &[Deployment], keep: usize) -> PrunePlan {
    let mut plan = PrunePlan::default();
    let mut kept = 0;
    for d in deployments {
        let (Status::Success, Some(path), Some(release)) =
            (d.status, &d.deployment_path, &d.release_name)
        else {
            continue;
        };
        let item = PruneItem {
            deployment_id: d.id,
            release: release.clone(),
            path: path.clone(),
        };
        if kept < keep {
            kept += 1;
            plan.keep.push(item);
        } else if d.is_active {
            // Beyond N but live (after a rollback): kept whatever its age.
            plan.keep.push(item);
        } else {
            plan.delete.push(item);
        }
    }
    plan
}

/// The plan as it will be once the deployment `new` has succeeded and become the active one (a
/// deploy prunes in the same round trip as its switch). `with_dirs` is newest first.
pub fn plan_after_success(with_dirs: &[Deployment], new: &Deployment, keep: usize) -> PrunePlan {
    let mut after = vec![Deployment {
        status: Status::Success,
        is_active: true,
        // Not known yet without a configured root; it is the newest, so never deleted.
        deployment_path: Some(new.deployment_path.clone().unwrap_or_default()),
        ..new.clone()
    }];
    after.extend(
        with_dirs
            .iter()
            .filter(|d| d.id != new.id)
            .map(|d| Deployment {
                is_active: false,
                ..d.clone()
            }),
    );
    plan_prune(&after, keep)
}

/// What a prune did (or, in a dry run, would do).
#[derive(Debug, Clone)]
pub struct Pruned {
    pub plan: PrunePlan,
    /// Releases actually deleted (empty in a dry run).
    pub deleted: Vec<String>,
    /// Releases the plan wanted gone but that are live on the server.
    pub kept_live: Vec<String>,
    pub live: Option<String>,
}

impl Engine {
    pub async fn prune(
        &self,
        site: &SiteRef<'_>,
        connector: &dyn Connector,
        opts: PruneOptions,
    ) -> Result<Pruned> {
        self.after_recovering(site, connector, || {
            self.prune_once(site, connector, opts.clone())
        })
        .await
    }

    async fn prune_once(
        &self,
        site: &SiteRef<'_>,
        connector: &dyn Connector,
        opts: PruneOptions,
    ) -> Result<Pruned> {
        let keep = opts.keep.unwrap_or(site.site.keep as usize);
        if keep == 0 {
            return Err(Error::usage("--keep must be at least 1"));
        }
        let target = connector.connect().await?;
        let layout = Layout::new(site.server.root.as_deref(), &site.site.domain);
        let row = self
            .store
            .ensure_site(&site.server.name, &site.site.domain)?;
        let mut job = Job::new(self, site.key(), target, layout, Action::Prune);
        let plan = plan_prune(&self.store.list_with_dirs(row.id)?, keep);
        if opts.dry_run {
            // Re-read the live link so the preview says exactly what a real run would do.
            let live = self.read_live(&mut job).await.map_err(|_| {
                Error::failed(format!("cannot read the live symlink of {}", site.key()))
            })?;
            let live_name = live
                .as_deref()
                .and_then(|l| l.rsplit('/').next())
                .map(str::to_string);
            let kept_live: Vec<String> = plan
                .delete
                .iter()
                .filter(|i| Some(&i.release) == live_name.as_ref())
                .map(|i| i.release.clone())
                .collect();
            let mut plan = plan;
            plan.delete.retain(|i| !kept_live.contains(&i.release));
            job.finish(
                true,
                format!("dry run: {} release(s) would be deleted", plan.delete.len()),
            );
            return Ok(Pruned {
                plan,
                deleted: vec![],
                kept_live,
                live,
            });
        }
        if plan.delete.is_empty() {
            job.finish(true, "nothing to prune");
            return Ok(Pruned {
                plan,
                deleted: vec![],
                kept_live: vec![],
                live: None,
            });
        }
        let names: Vec<String> = plan.delete.iter().map(|i| i.release.clone()).collect();
        let script = scripts::prune(&job.prelude(), &names);
        let r = job.run(&script, None, None).await.map_err(|_| {
            Error::failed(format!(
                "connection lost while pruning {}; run prune again",
                site.key()
            ))
        })?;
        let rep: PruneReport = r.report();
        let deleted = self.apply_pruned(&mut job, &plan, &rep);
        if r.status == crate::transport::ExitStatus::Code(LOCK_HELD) {
            let e = self.locked(site, rep.holder.as_deref().unwrap_or("someone"));
            job.finish(false, e.to_string());
            return Err(e);
        }
        if !r.status.success() {
            job.finish(false, format!("prune failed ({})", r.status));
            return Err(Error::failed(format!(
                "pruning {} failed ({})",
                site.key(),
                r.status
            )));
        }
        let failed = &rep.prune_failed;
        if !failed.is_empty() {
            let msg = format!(
                "pruning {} deleted {} release(s) but could not delete {}",
                site.key(),
                deleted.len(),
                failed.join(", ")
            );
            job.finish(false, msg.clone());
            return Err(Error::failed(msg));
        }
        let kept_live = rep.kept_live;
        job.finish(true, format!("pruned {} release(s)", deleted.len()));
        Ok(Pruned {
            plan,
            deleted,
            kept_live,
            live: None,
        })
    }

    /// Records the releases a script reported deleted: their records stay, without a path.
    pub(super) fn apply_pruned(
        &self,
        job: &mut Job<'_>,
        plan: &PrunePlan,
        r: &PruneReport,
    ) -> Vec<String> {
        let mut deleted = Vec::new();
        for name in &r.pruned {
            if let Some(item) = plan.delete.iter().find(|i| i.release == *name) {
                if let Err(e) = self.store.clear_path(item.deployment_id) {
                    job.notice(format!("could not record the pruning of {name}: {e}"));
                }
                job.notice(format!(
                    "pruned release {name} (deployment #{})",
                    item.deployment_id
                ));
                deleted.push(name.to_string());
            }
        }
        for name in &r.kept_live {
            job.notice(format!(
                "kept release {name}: it is live on the server although the history says otherwise; run `flipdeck status`"
            ));
        }
        for name in &r.prune_failed {
            job.notice(format!(
                "could not delete release {name} (see the error above); its record keeps its path"
            ));
        }
        deleted
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dep(id: i64, status: Status, path: bool, active: bool) -> Deployment {
        Deployment {
            id,
            site_id: 1,
            status,
            deployment_script: None,
            release_name: Some(format!("r{id}")),
            deployment_path: path.then(|| format!("/p/r{id}")),
            log_file_path: None,
            commit_sha: None,
            branch: None,
            error: None,
            started_at: None,
            completed_at: None,
            duration_ms: None,
            is_active: active,
            fleet_id: None,
            job: None,
            origin: Default::default(),
        }
    }

    #[test]
    fn keeps_newest_and_the_active_one_failures_do_not_count() {
        // Newest first: 6 failed, 5 ok, 4 failed, 3 ok, 2 ok, 1 ok (active, after a rollback).
        let list = vec![
            dep(6, Status::Failed, false, false),
            dep(5, Status::Success, true, false),
            dep(4, Status::Failed, false, false),
            dep(3, Status::Success, true, false),
            dep(2, Status::Success, true, false),
            dep(1, Status::Success, true, true),
        ];
        let plan = plan_prune(&list, 2);
        let ids = |v: &[PruneItem]| v.iter().map(|i| i.deployment_id).collect::<Vec<_>>();
        assert_eq!(ids(&plan.keep), [5, 3, 1]);
        assert_eq!(ids(&plan.delete), [2]);
        // The usual case: the active one is the newest and counts toward N.
        let list = vec![
            dep(3, Status::Success, true, true),
            dep(2, Status::Success, true, false),
            dep(1, Status::Success, true, false),
        ];
        assert_eq!(ids(&plan_prune(&list, 2).delete), [1]);
        // Already pruned ones (no path) are not deleted again.
        let list = vec![
            dep(2, Status::Success, true, true),
            dep(1, Status::Success, false, false),
        ];
        assert!(plan_prune(&list, 1).delete.is_empty());
    }

    #[test]
    fn a_deploy_plans_as_if_it_had_succeeded() {
        // Live: 1, an old release after a rollback; 3 and 2 newer. Deploying 4 with keep 2 keeps
        // 4 and 3: 1 is no longer active once 4 is, so it goes, with 2.
        let with_dirs = vec![
            dep(3, Status::Success, true, false),
            dep(2, Status::Success, true, false),
            dep(1, Status::Success, true, true),
        ];
        let new = dep(4, Status::Updating, false, false);
        let plan = plan_after_success(&with_dirs, &new, 2);
        let ids = |v: &[PruneItem]| v.iter().map(|i| i.deployment_id).collect::<Vec<_>>();
        assert_eq!(ids(&plan.keep), [4, 3]);
        assert_eq!(ids(&plan.delete), [2, 1]);
    }
}
