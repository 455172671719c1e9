//! Fleet deploys: one domain on several servers, one release name, switched together. Every
//! server builds in parallel (at most `parallel` at once) and waits at a gate; only when all have
//! built do they all switch, and if any switch fails the others switch back. One exec per server:
//! the gate is a conversation over the deploy script's stdin (see `job::Gate`). With a stepped
//! rollout (`rollout`) the built servers switch step by step instead, still all or none.

use super::Engine;
use super::aftercare::FleetWatch;
use super::deploy::{DeployOptions, Deployed, FleetMember};
use super::events::RolloutState;
use super::job::Gate;
use super::rollback::{RollbackOptions, RolledBack, refusal};
use super::rollout;
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
        let rollout = self.rollout_of(sites, &opts)?;
        // A rollout's servers are not cancelled once built: a cancel then is the coordinator's
        // abort (every switched server goes back through its own exec).
        let members_cancel = match &rollout {
            Some(_) => CancellationToken::new(),
            None => cancel.clone(),
        };
        let why = Arc::new(std::sync::Mutex::new(None));
        let states: rollout::States = Arc::new(std::sync::Mutex::new(vec![
            RolloutState::Built;
            sites.len()
        ]));

        let (lost_tx, lost_rx) = tokio::sync::mpsc::unbounded_channel();
        // The rollout's events are one job's: the coordinator's.
        let rollout_job = self.new_job_id();
        let mut ends = rollout::Ends {
            built: vec![],
            go: vec![],
            switched: vec![],
            commit: vec![],
        };
        // The watch after the switch, for the whole fleet at once (the longest of the sites'
        // `watch_s` or `--watch`, the first site's auto_revert): each member hands its part over
        // at the gate, and the watch's verdict decides the fleet's commit.
        let watch_s = sites
            .iter()
            .map(|s| opts.watch_s.unwrap_or(s.site.watch.seconds))
            .max()
            .unwrap_or(0);
        let mut watch = FleetWatch {
            parts: vec![],
            seconds: watch_s,
            auto_revert: sites.iter().find_map(|s| s.site.watch.auto_revert),
        };
        let mut members = Vec::new();
        for (i, s) in sites.iter().enumerate() {
            let (b_tx, b_rx) = oneshot::channel();
            let (g_tx, g_rx) = oneshot::channel();
            let (s_tx, s_rx) = oneshot::channel();
            let (c_tx, c_rx) = oneshot::channel();
            ends.built.push(b_rx);
            ends.go.push(g_tx);
            ends.switched.push(s_rx);
            ends.commit.push(c_tx);
            let (w_tx, w_rx) = oneshot::channel();
            watch.parts.push(w_rx);
            let (slots, opts, cancel) = (slots.clone(), opts.clone(), members_cancel.clone());
            let member = FleetMember {
                release: release.clone(),
                fleet_id: fleet_id.clone(),
                gate: Gate::default(),
            };
            let gate_why = Some(why.clone());
            let (states, stepped, lost) = (states.clone(), rollout.is_some(), lost_tx.clone());
            let step = rollout
                .as_ref()
                .and_then(|(_, steps)| steps.iter().position(|r| r.contains(&i)))
                .map_or(0, |k| k + 1);
            members.push(async move {
                let permit = slots.acquire_owned().await.expect("never closed");
                let gate = Gate {
                    built: Some(b_tx),
                    go: Some(g_rx),
                    switched: Some(s_tx),
                    commit: Some(c_rx),
                    permit: Some(permit),
                    why: gate_why,
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
                if stepped {
                    let (was, end) = {
                        let mut st = states.lock().unwrap_or_else(|p| p.into_inner());
                        let was = st[i];
                        st[i] = rollout::ended(was, r.is_ok());
                        (was, st[i])
                    };
                    if r.is_err() {
                        let _ = lost.send((i, was));
                    }
                    self.emit(
                        rollout_job,
                        &s.key(),
                        super::events::EventKind::RolloutServer { state: end, step },
                    );
                } else if r.is_err() {
                    // A plain fleet's watch must hear of it too (see `watch_fleet`).
                    let _ = lost.send((i, RolloutState::Live));
                }
                (s.key(), r)
            });
        }
        let Some((rollout, steps)) = rollout else {
            drop(lost_tx);
            let rollout::Ends {
                built: built_rx,
                go: go_tx,
                switched: switched_rx,
                commit: commit_tx,
            } = ends;
            let (hold, cancel) = (opts.hold.clone(), cancel.clone());
            let keys: Vec<String> = sites.iter().map(|s| s.key()).collect();
            let names = keys.clone();
            let lost_why = why.clone();
            // The others' abort or revert names the servers that failed.
            let failed = |got: &[std::result::Result<(), oneshot::error::RecvError>], did: &str| {
                let names: Vec<&str> = got
                    .iter()
                    .zip(&keys)
                    .filter(|(r, _)| r.is_err())
                    .map(|(_, k)| k.as_str())
                    .collect();
                if !names.is_empty() {
                    *why.lock().unwrap_or_else(|p| p.into_inner()) =
                        Some(format!("{} failed to {did}", names.join(", ")));
                }
            };
            let coordinator = async move {
                let built = join_all(built_rx).await;
                let all_built = built.iter().all(Result::is_ok);
                failed(&built, "build");
                for tx in go_tx {
                    let _ = tx.send(all_built);
                }
                if all_built {
                    let switched = join_all(switched_rx).await;
                    let all_switched = switched.iter().all(Result::is_ok);
                    failed(
                        &switched,
                        "switch (its reload, after_switch hook or health check)",
                    );
                    // Every server switched: watch them all before the commit (a server whose
                    // deploy ends meanwhile went back on its own: all go back).
                    let mut lost_rx = lost_rx;
                    let lost = async {
                        match lost_rx.recv().await {
                            Some((i, _)) => format!(
                                "{}'s deploy ended during the watch (the connection dropped, or it was stopped); every server goes back",
                                names[i]
                            ),
                            None => std::future::pending().await,
                        }
                    };
                    let mut commit = match all_switched {
                        true => self
                            .watch_fleet(watch, hold.as_ref(), &cancel, lost)
                            .await
                            .is_ok(),
                        false => {
                            drop(lost);
                            false
                        }
                    };
                    // A server lost just as the watch passed is not committed around.
                    if let (true, Ok((i, _))) = (commit, lost_rx.try_recv()) {
                        *lost_why.lock().unwrap_or_else(|p| p.into_inner()) = Some(format!(
                            "{}'s deploy ended before the commit (the connection dropped, or it was stopped); every server goes back",
                            names[i]
                        ));
                        commit = false;
                    }
                    for tx in commit_tx {
                        let _ = tx.send(commit);
                    }
                }
            };
            let (results, ()) = tokio::join!(join_all(members), coordinator);
            return Ok(results);
        };
        let mut coordinator = rollout::Coordinator {
            engine: self,
            job: rollout_job,
            domain: sites[0].site.domain.clone(),
            keys: sites.iter().map(|s| s.key()).collect(),
            names: sites.iter().map(|s| s.server.name.clone()).collect(),
            rollout,
            steps,
            hold: opts.hold.clone(),
            cancel,
            members: members_cancel,
            why,
            states,
            lost: Some(lost_rx),
            stopped_at: None,
            stopped_by_watch: false,
            watch: Some(watch),
        };
        drop(lost_tx);
        let (results, reverted_at) = tokio::join!(join_all(members), coordinator.run(ends));
        coordinator.finished(reverted_at);
        if !coordinator.stopped_by_watch {
            return Ok(results);
        }
        // A watch stopped the rollout: the servers it never switched end as reverted by that
        // watch, as the switched ones do (`Error::Reverted`: exit 3), not as failed deploys.
        let states = coordinator
            .states
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        Ok(results
            .into_iter()
            .zip(states)
            .map(|((key, r), state)| match r {
                Err(Error::Failed(why)) if state == RolloutState::Untouched => {
                    (key, Err(Error::Reverted(why)))
                }
                r => (key, r),
            })
            .collect())
    }

    /// The watch after every server of a fleet switched (none when `watch_s` is 0); `Err` with
    /// why when it reverts, every watched server told why. `lost` ends with why when a server's
    /// deploy ends during the watch (it went back on its own): the others must go back too.
    pub(super) async fn watch_fleet(
        &self,
        watch: FleetWatch,
        hold: Option<&super::hold::HoldReceiver>,
        cancel: &CancellationToken,
        lost: impl std::future::Future<Output = String>,
    ) -> std::result::Result<(), String> {
        if watch.seconds == 0 {
            return Ok(());
        }
        let watched = super::aftercare::gather(watch.parts).await;
        self.watch_these(
            &watched,
            (watch.seconds, watch.auto_revert),
            None,
            hold,
            cancel,
            lost,
        )
        .await
    }

    /// The stepped rollout this fleet deploy follows (the command line's, else the site's) with
    /// its steps, or none. A pause for the operator needs someone who can end it.
    fn rollout_of(
        &self,
        sites: &[SiteRef<'_>],
        opts: &DeployOptions,
    ) -> Result<Option<(crate::config::Rollout, Vec<std::ops::Range<usize>>)>> {
        let Some(r) = opts
            .rollout
            .clone()
            .or_else(|| sites.first().and_then(|s| s.site.rollout.clone()))
        else {
            return Ok(None);
        };
        let steps = rollout::plan(&r, sites.len()).map_err(|why| {
            Error::usage(format!(
                "the rollout of {} cannot run: {why}",
                sites.first().map_or("", |s| s.site.domain.as_str())
            ))
        })?;
        let manual = (1..steps.len()).any(|k| r.pause_before(k) == crate::config::Pause::Manual);
        if manual && opts.hold.is_none() {
            return Err(Error::usage(
                "this rollout pauses for the operator (pause = \"manual\"), and nobody can end the pause here: give a timed pause (--pause 30s)",
            ));
        }
        Ok(Some((r, steps)))
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
