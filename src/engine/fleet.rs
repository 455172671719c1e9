//! Fleet deploys: one domain on several servers, one release name, switched together. Every
//! server builds in parallel (at most `parallel` at once) and waits at a gate; only when all have
//! built do they all switch, and if any switch fails the others switch back. One exec per server:
//! the gate is a conversation over the deploy script's stdin (see `job::Gate`).

use super::Engine;
use super::deploy::{DeployOptions, Deployed, FleetMember};
use super::job::Gate;
use super::rollback::{RollbackOptions, RolledBack, refusal};
use crate::config::SiteRef;
use crate::error::{Error, Result};
use crate::release::ReleaseName;
use chrono::Utc;
use futures_util::future::join_all;
use std::sync::Arc;
use tokio::sync::{Semaphore, oneshot};
use tokio_util::sync::CancellationToken;

impl Engine {
    /// Deploys `sites` (one domain's, on several servers) as one fleet. Returns each server's
    /// outcome, in order; either every server switched to the new release or none kept it.
    pub async fn deploy_fleet(
        &self,
        sites: &[SiteRef<'_>],
        parallel: usize,
        opts: DeployOptions,
        cancel: CancellationToken,
    ) -> Result<Vec<(String, Result<Deployed>)>> {
        // An artifact is built once, before any server is asked: every server gets its bytes.
        let mut opts = opts;
        if let Some(first) = sites.first() {
            opts.artifact = self.fleet_artifact(first, &opts).await?;
        }
        let results = self
            .deploy_fleet_once(sites, parallel, opts.clone(), cancel.clone())
            .await?;
        // A killed flipdeck of this machine left its lock on some server (so none switched):
        // recover what it left everywhere, as `status` does, and deploy the fleet once more.
        let dead_lock = results
            .iter()
            .any(|(_, r)| matches!(r, Err(e) if e.is_stale_lock()));
        if !dead_lock {
            return Ok(results);
        }
        for s in sites {
            self.refresh(s, (self.connectors)(s.server)?.as_ref())
                .await?;
        }
        self.deploy_fleet_once(sites, parallel, opts, cancel).await
    }

    async fn deploy_fleet_once(
        &self,
        sites: &[SiteRef<'_>],
        parallel: usize,
        opts: DeployOptions,
        cancel: CancellationToken,
    ) -> Result<Vec<(String, Result<Deployed>)>> {
        // One name for every server, free in every server's history.
        let now = Utc::now();
        let second = ReleaseName::next_free(now, &[]).to_string();
        let mut taken = Vec::new();
        for s in sites {
            let row = self.store.ensure_site(&s.server.name, &s.site.domain)?;
            taken.extend(self.store.release_names_at(row.id, &second)?);
        }
        let release = ReleaseName::next_free(now, &taken).to_string();
        let fleet_id = format!("{release}-{}", self.identity.pid);
        let slots = Arc::new(Semaphore::new(parallel.max(1)));
        let (hold, watch_cancel) = (opts.hold.clone(), cancel.clone());

        let (mut built_rx, mut go_tx, mut switched_rx, mut commit_tx) =
            (vec![], vec![], vec![], vec![]);
        // aftercare: the watch after the switch, for the whole fleet at once (the longest of the
        // sites' `watch_s` or `--watch`, the first site's auto_revert): each member hands its
        // part over, and the watch's verdict is the fleet's commit.
        let watch_s = sites
            .iter()
            .map(|s| opts.watch_s.unwrap_or(s.site.watch.seconds))
            .max()
            .unwrap_or(0);
        let auto_revert = sites.iter().find_map(|s| s.site.watch.auto_revert);
        let mut watch_rx = vec![];
        let mut members = Vec::new();
        for s in sites {
            let (b_tx, b_rx) = oneshot::channel();
            let (g_tx, g_rx) = oneshot::channel();
            let (s_tx, s_rx) = oneshot::channel();
            let (c_tx, c_rx) = oneshot::channel();
            let (w_tx, w_rx) = oneshot::channel();
            watch_rx.push(w_rx);
            built_rx.push(b_rx);
            go_tx.push(g_tx);
            switched_rx.push(s_rx);
            commit_tx.push(c_tx);
            let (slots, opts, cancel) = (slots.clone(), opts.clone(), cancel.clone());
            let member = FleetMember {
                release: release.clone(),
                fleet_id: fleet_id.clone(),
                gate: Gate::default(),
            };
            members.push(async move {
                let permit = slots.acquire_owned().await.expect("never closed");
                let gate = Gate {
                    built: Some(b_tx),
                    go: Some(g_rx),
                    switched: Some(s_tx),
                    commit: Some(c_rx),
                    permit: Some(permit),
                    watch: (watch_s > 0).then_some(w_tx),
                };
                let member = FleetMember { gate, ..member };
                // A failure before the gate drops its sender: the coordinator aborts the fleet.
                let r = async {
                    let connector = (self.connectors)(s.server)?;
                    let target = connector.connect().await?;
                    self.deploy_on(s, connector.as_ref(), target, opts, cancel, Some(member))
                        .await
                }
                .await;
                (s.key(), r)
            });
        }
        let coordinator = async move {
            let all_built = join_all(built_rx).await.iter().all(Result::is_ok);
            for tx in go_tx {
                let _ = tx.send(all_built);
            }
            if all_built {
                let all_switched = join_all(switched_rx).await.iter().all(Result::is_ok);
                let mut commit = all_switched;
                // aftercare: every server switched; watch them all before the commit.
                if all_switched && watch_s > 0 {
                    let watched: Vec<_> = join_all(watch_rx)
                        .await
                        .into_iter()
                        .filter_map(Result::ok)
                        .collect();
                    let v = self
                        .aftercare(&watched, watch_s, auto_revert, hold.as_ref(), &watch_cancel)
                        .await;
                    if let super::aftercare::Verdict::Revert(why) = v {
                        watched.iter().for_each(|w| w.tell_revert(&why));
                        commit = false;
                    }
                }
                for tx in commit_tx {
                    let _ = tx.send(commit);
                }
            }
        };
        let (results, ()) = tokio::join!(join_all(members), coordinator);
        Ok(results)
    }

    /// Rolls every server of a fleet back to one release name: `to`, or the newest release every
    /// server can roll back to. If any server fails, the others are put back where they were.
    pub async fn rollback_fleet(
        &self,
        sites: &[SiteRef<'_>],
        parallel: usize,
        to: Option<&str>,
    ) -> Result<Vec<(String, Result<RolledBack>)>> {
        let mut lists = Vec::new();
        for s in sites {
            let row = self.store.ensure_site(&s.server.name, &s.site.domain)?;
            lists.push(self.store.list_with_dirs(row.id)?);
        }
        let name = match to {
            Some(n) => n.to_string(),
            None => common_target(&lists).ok_or_else(|| {
                Error::failed("no release older than the live one exists on every server of the fleet; name one with --to")
            })?,
        };
        let slots = Semaphore::new(parallel.max(1));
        let to_name = |n: &str| RollbackOptions {
            to: None,
            to_release: Some(n.to_string()),
        };
        let results = join_all(
            sites
                .iter()
                .map(|s| self.rollback_one(&slots, s, to_name(&name))),
        )
        .await;
        if results.iter().any(Result::is_err) {
            // Not all landed: those that did go back to where they were.
            let undo = sites.iter().zip(&results).filter_map(|(s, r)| {
                let from = r.as_ref().ok()?.from?;
                Some(self.rollback_one(
                    &slots,
                    s,
                    RollbackOptions {
                        to: Some(from),
                        to_release: None,
                    },
                ))
            });
            join_all(undo).await;
        }
        Ok(sites.iter().map(|s| s.key()).zip(results).collect())
    }

    async fn rollback_one(
        &self,
        slots: &Semaphore,
        s: &SiteRef<'_>,
        opts: RollbackOptions,
    ) -> Result<RolledBack> {
        let _slot = slots.acquire().await.expect("never closed");
        let connector = (self.connectors)(s.server)?;
        self.rollback(s, connector.as_ref(), opts).await
    }
}

/// The newest release name that every server can roll back to, older than each one's live release.
fn common_target(lists: &[Vec<crate::store::Deployment>]) -> Option<String> {
    let eligible: Vec<Vec<String>> = lists
        .iter()
        .map(|list| {
            let older = match list.iter().position(|d| d.is_active) {
                Some(p) => &list[p + 1..],
                None => &list[..],
            };
            older
                .iter()
                .filter(|d| refusal(d).is_none())
                .filter_map(|d| d.release_name.clone())
                .collect()
        })
        .collect();
    let (first, rest) = eligible.split_first()?;
    first
        .iter()
        .filter(|n| rest.iter().all(|l| l.contains(n)))
        .filter_map(|n| ReleaseName::parse(n).map(|r| (r, n.clone())))
        .max_by(|a, b| a.0.cmp(&b.0))
        .map(|(_, n)| n)
}
