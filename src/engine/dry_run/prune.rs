//! The prune after a deploy, as a dry run tells it: the deploy's own plan
//! (`prune::plan_after_success`) on the same history, the new release counted, each release with
//! why, and the server's directories the prune never deletes.

use super::{NOT_RECORDED, PruneEntry, PrunePreview};
use crate::config::SiteConfig;
use crate::engine::Engine;
use crate::engine::protocol::InspectReport;
use crate::error::Result;
use crate::store::{Deployment, Status};

impl Engine {
    /// The prune after the deploy: `plan_after_success` on the history as the deploy would see
    /// it, the new release counted; each release with why, and the server's other directories.
    pub(super) fn prune_preview(
        &self,
        site_id: Option<i64>,
        s: &SiteConfig,
        release: &str,
        ins: &InspectReport,
        live: &Option<String>,
    ) -> Result<PrunePreview> {
        let with_dirs = match site_id {
            Some(id) => self.store.list_with_dirs(id)?,
            None => vec![],
        };
        let new = Deployment {
            id: NOT_RECORDED,
            site_id: site_id.unwrap_or(0),
            status: Status::Updating,
            deployment_script: None,
            release_name: Some(release.to_string()),
            deployment_path: None,
            log_file_path: None,
            commit_sha: None,
            branch: None,
            error: None,
            started_at: None,
            completed_at: None,
            duration_ms: None,
            is_active: false,
            fleet_id: None,
            job: None,
            origin: Default::default(),
        };
        let keep = s.keep;
        let plan = crate::engine::prune::plan_after_success(&with_dirs, &new, keep as usize);
        let on_server = |r: &str| ins.releases.iter().any(|x| x == r);
        let is_live = |r: &str| live.as_deref() == Some(r);
        let delete = plan
            .delete
            .iter()
            .map(|i| PruneEntry {
                release: i.release.clone(),
                deployment_id: Some(i.deployment_id),
                live_now: is_live(&i.release),
                why: if !on_server(&i.release) {
                    "beyond the newest kept; its directory is gone from the server already, so only its record changes".into()
                } else if is_live(&i.release) {
                    format!("live now but older than the newest {keep} (after a rollback): once the new release is live it is pruned")
                } else {
                    format!("older than the newest {keep} successful releases (the new one counted)")
                },
            })
            .collect();
        let kept = plan
            .keep
            .iter()
            .map(|i| PruneEntry {
                release: i.release.clone(),
                deployment_id: (i.deployment_id != NOT_RECORDED).then_some(i.deployment_id),
                live_now: is_live(&i.release),
                why: if i.deployment_id == NOT_RECORDED {
                    "the new release".into()
                } else if is_live(&i.release) {
                    format!("among the newest {keep}; live now: the way back if the deploy fails after its switch")
                } else {
                    format!("among the newest {keep} successful releases")
                },
            })
            .collect();
        let planned: Vec<&str> = plan
            .keep
            .iter()
            .chain(&plan.delete)
            .map(|i| i.release.as_str())
            .collect();
        let others: Vec<String> = ins
            .releases
            .iter()
            .filter(|r| !planned.contains(&r.as_str()))
            .cloned()
            .collect();
        let known = match site_id {
            Some(id) => self.store.with_releases(id, &others)?,
            None => vec![],
        };
        let mut untouched: Vec<PruneEntry> = others
            .iter()
            .map(|r| {
                let d = known.iter().find(|d| d.release_name.as_deref() == Some(r));
                PruneEntry {
                    release: r.clone(),
                    deployment_id: d.map(|d| d.id),
                    live_now: is_live(r),
                    why: match d {
                        Some(d) if d.status != Status::Success => format!(
                            "deployment #{} is {}: failed deployments never count or get pruned",
                            d.id,
                            d.status.as_str()
                        ),
                        Some(d) => format!(
                            "deployment #{} has no directory in the history: the prune does not know it is there (`flipdeck status` records it)",
                            d.id
                        ),
                        None => "not in this machine's history: the prune never deletes it".into(),
                    },
                }
            })
            .collect();
        for l in &ins.linked {
            untouched.push(PruneEntry {
                release: l.clone(),
                deployment_id: None,
                live_now: false,
                why: "a symlink beside the releases, never a release".into(),
            });
        }
        Ok(PrunePreview {
            keep,
            delete,
            kept,
            untouched,
        })
    }
}
