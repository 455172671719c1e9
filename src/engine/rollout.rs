//! A stepped fleet rollout: every server builds first (as any fleet deploy), then the canary
//! switches, then each batch, with a pause (a timer, or the operator) between two steps. With
//! `watch_s`, each step is watched once it switched (every server switched so far, before the
//! pause and the next step; the last step's watch is the one before the commit). Only
//! once every server has switched is every server told to keep the new release; until then
//! each switched server keeps its exec, its lock and its way back, and each waiting one its
//! built release. An abort anywhere (the operator's revert, Ctrl-C, SIGTERM, a failed switch or
//! health check) sends every switched server back and tells the others not to switch: all or
//! none, as for any fleet.

use super::Engine;
use super::aftercare::{StepWatch, Watched};
use super::events::{EventKind, RolloutPhase, RolloutState};
use super::hold::{Hold, HoldReceiver};
use crate::config::{Pause, Rollout};
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use std::ops::Range;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

/// The servers of each step (indices into the fleet, in config order).
pub fn plan(rollout: &Rollout, n: usize) -> Result<Vec<Range<usize>>, String> {
    let reach = rollout.steps(n)?;
    let mut from = 0;
    Ok(reach
        .into_iter()
        .map(|to| {
            let r = from..to;
            from = to;
            r
        })
        .collect())
}

/// How a step is called: the first one of a rollout with a canary is the canary.
pub fn step_name(rollout: &Rollout, k: usize) -> String {
    match (rollout.canary > 0, k) {
        (true, 0) => "the canary".to_string(),
        (true, k) => format!("batch {k}"),
        (false, k) => format!("batch {}", k + 1),
    }
}

/// Each server's state, shared by the coordinator and the servers' own tasks (which say how
/// they ended).
pub type States = Arc<Mutex<Vec<RolloutState>>>;

/// The other ends of every server's gate (see `job::Gate`), in fleet order.
pub struct Ends {
    pub built: Vec<oneshot::Receiver<()>>,
    pub go: Vec<oneshot::Sender<bool>>,
    pub switched: Vec<oneshot::Receiver<()>>,
    pub commit: Vec<oneshot::Sender<bool>>,
}

pub struct Coordinator<'e> {
    pub engine: &'e Engine,
    /// The coordinator's own job id for its events.
    pub job: u64,
    pub domain: String,
    /// `SERVER/DOMAIN` of each server, and its name.
    pub keys: Vec<String>,
    pub names: Vec<String>,
    pub rollout: Rollout,
    pub steps: Vec<Range<usize>>,
    pub hold: Option<HoldReceiver>,
    /// The caller's token (Ctrl-C, SIGTERM, the dashboard quitting).
    pub cancel: CancellationToken,
    /// The servers' own token: cancelled while they build; after that a cancel is an abort.
    pub members: CancellationToken,
    /// Why the rollout stops, sent with every abort and revert (see `Gate::why`).
    pub why: Arc<Mutex<Option<String>>>,
    pub states: States,
    /// A server whose deploy ended (failed) on its own: the connection dropped, say. Before the
    /// commit that breaks all or none, so the rollout stops.
    pub lost: Option<tokio::sync::mpsc::UnboundedReceiver<(usize, RolloutState)>>,
    /// The step (0-based) the rollout stopped at, once it did.
    pub stopped_at: Option<usize>,
    /// The rollout stopped during a watch (its threshold, the operator's revert, a server lost):
    /// the servers it never switched were stopped by that watch too.
    pub stopped_by_watch: bool,
    /// The watch after each step (`watch_s`): every server switched so far is watched before
    /// the pause and the next step; after the last step, before the commit.
    pub watch: Option<super::aftercare::FleetWatch>,
}

/// The watch parts of the rollout's servers: each one's, taken once it switched.
struct Parts {
    waiting: Vec<Option<oneshot::Receiver<Watched>>>,
    /// The servers switched so far, in the order they switched.
    switched: Vec<Watched>,
    seconds: u32,
    auto_revert: Option<crate::config::AutoRevert>,
}

/// Waits for the next server lost, or never once none can be.
async fn next_lost(
    lost: &mut Option<tokio::sync::mpsc::UnboundedReceiver<(usize, RolloutState)>>,
) -> (usize, RolloutState) {
    loop {
        match lost.as_mut() {
            Some(rx) => match rx.recv().await {
                Some(i) => return i,
                None => *lost = None,
            },
            None => std::future::pending::<()>().await,
        }
    }
}

/// Why a step's watch stopped the rollout, and whether the watch decided it (its threshold, the
/// operator, Ctrl-C) rather than a server lost meanwhile (a failure, exit 1).
struct WatchStop {
    why: String,
    by_watch: bool,
}

impl Coordinator<'_> {
    fn step_event(&self, k: usize, phase: RolloutPhase) {
        self.engine.emit(
            self.job,
            &self.domain,
            EventKind::RolloutStep {
                step: k + 1,
                steps: self.steps.len(),
                phase,
            },
        );
    }

    fn set_state(&self, i: usize, state: RolloutState) {
        self.states.lock().unwrap_or_else(|p| p.into_inner())[i] = state;
        let step = self.steps.iter().position(|r| r.contains(&i)).unwrap_or(0);
        self.engine.emit(
            self.job,
            &self.keys[i],
            EventKind::RolloutServer {
                state,
                step: step + 1,
            },
        );
    }

    fn notice(&self, message: String) {
        self.engine
            .emit(self.job, &self.domain, EventKind::Notice { message });
    }

    /// Where the rollout stands, in words: "before any server switched", "after batch 1 (step 2
    /// of 3)", "during the canary (step 1 of 3)".
    fn at(&self, done: usize, during: bool) -> String {
        let n = self.steps.len();
        if during {
            return format!(
                "during {} (step {} of {n})",
                step_name(&self.rollout, done),
                done + 1
            );
        }
        match done {
            0 => "before any server switched".to_string(),
            d => format!(
                "after {} (step {d} of {n})",
                step_name(&self.rollout, d - 1)
            ),
        }
    }

    /// Step `k` in words: "the canary (step 1 of 3)".
    fn step_words(&self, k: usize) -> String {
        format!(
            "{} (step {} of {})",
            step_name(&self.rollout, k),
            k + 1,
            self.steps.len()
        )
    }

    /// Runs the rollout to its end. Returns when the abort was decided, if it was.
    pub async fn run(&mut self, ends: Ends) -> Option<Instant> {
        let Ends {
            built,
            go,
            switched,
            commit,
        } = ends;
        let mut go: Vec<Option<oneshot::Sender<bool>>> = go.into_iter().map(Some).collect();
        let mut commit: Vec<Option<oneshot::Sender<bool>>> = commit.into_iter().map(Some).collect();
        let mut switched: Vec<Option<oneshot::Receiver<()>>> =
            switched.into_iter().map(Some).collect();
        let mut parts = match self.watch.take() {
            Some(w) => Parts {
                waiting: w.parts.into_iter().map(Some).collect(),
                switched: Vec::new(),
                seconds: w.seconds,
                auto_revert: w.auto_revert,
            },
            None => Parts {
                waiting: Vec::new(),
                switched: Vec::new(),
                seconds: 0,
                auto_revert: None,
            },
        };

        // 1. Every server builds. A cancel stops the builds (nothing live is touched); an
        // operator's revert is kept until the builds are done.
        let mut pending: FuturesUnordered<_> = built
            .into_iter()
            .enumerate()
            .map(|(i, rx)| async move { (i, rx.await.is_ok()) })
            .collect();
        let mut all_built = true;
        let mut reverted: Option<String> = None;
        let mut hold = self.hold.take();
        let mut lost = self.lost.take();
        while !pending.is_empty() {
            tokio::select! {
                Some((i, ok)) = pending.next() => {
                    if ok {
                        self.set_state(i, RolloutState::Built);
                    } else {
                        all_built = false;
                    }
                }
                h = super::hold::next(&mut hold), if reverted.is_none() => {
                    if h == Hold::Revert {
                        reverted = Some(format!("rollout reverted by the operator {}", self.at(0, false)));
                    }
                }
                _ = self.cancel.cancelled(), if !self.members.is_cancelled() => self.members.cancel(),
            }
        }
        drop(pending);
        if !all_built || reverted.is_some() || self.members.is_cancelled() {
            // Nothing switched: every built server removes its release (the usual message when a
            // build failed, the operator's reason otherwise).
            *self.why.lock().unwrap_or_else(|p| p.into_inner()) = reverted;
            for tx in go.iter_mut().filter_map(Option::take) {
                let _ = tx.send(false);
            }
            return None;
        }
        for r in self.steps.iter().skip(1) {
            for i in r.clone() {
                self.set_state(i, RolloutState::Waiting);
            }
        }

        // 2. Step by step: pause (but before the first), go, wait for every switch.
        let mut no_more_pauses = false;
        let mut done = 0;
        let stopped: Option<String> = 'steps: loop {
            if done == self.steps.len() {
                break None;
            }
            if done > 0 && !no_more_pauses {
                let pause = self.rollout.pause_before(done);
                let wait = match pause {
                    Pause::Manual => None,
                    Pause::For(d) => Some(d),
                };
                if wait != Some(Duration::ZERO) {
                    self.step_event(done, RolloutPhase::Paused { pause: wait });
                    let timer = async {
                        match wait {
                            Some(d) => tokio::time::sleep(d).await,
                            None => std::future::pending().await,
                        }
                    };
                    tokio::select! {
                        _ = timer => {}
                        h = super::hold::next(&mut hold) => match h {
                            Hold::Next => {}
                            Hold::All => no_more_pauses = true,
                            Hold::Revert => break 'steps Some(format!(
                                "rollout reverted by the operator {}", self.at(done, false)
                            )),
                        },
                        _ = self.cancel.cancelled() => break 'steps Some(format!(
                            "rollout cancelled {}", self.at(done, false)
                        )),
                        (i, was) = next_lost(&mut lost) => break 'steps Some(self.lost_why(i, was, done, false)),
                    }
                }
            }
            let range = self.steps[done].clone();
            let servers: Vec<String> = range.clone().map(|i| self.names[i].clone()).collect();
            self.step_event(done, RolloutPhase::Switching { servers });
            let started = Instant::now();
            for i in range.clone() {
                self.set_state(i, RolloutState::Switching);
                if let Some(tx) = go[i].take() {
                    let _ = tx.send(true);
                }
            }
            let mut waiting: FuturesUnordered<_> = range
                .clone()
                .filter_map(|i| {
                    switched[i]
                        .take()
                        .map(|rx| async move { (i, rx.await.is_ok()) })
                })
                .collect();
            while !waiting.is_empty() {
                tokio::select! {
                    Some((i, ok)) = waiting.next() => {
                        if ok {
                            self.set_state(i, RolloutState::Live);
                        } else {
                            break 'steps Some(format!(
                                "{} failed to switch (its reload, after_switch hook or health check) {}; every server goes back",
                                self.names[i], self.at(done, true)
                            ));
                        }
                    }
                    h = super::hold::next(&mut hold) => match h {
                        Hold::Revert => break 'steps Some(format!(
                            "rollout reverted by the operator {}", self.at(done, true)
                        )),
                        Hold::All => no_more_pauses = true,
                        Hold::Next => self.notice("the rollout is switching a step; n applies while it pauses".into()),
                    },
                    _ = self.cancel.cancelled() => break 'steps Some(format!(
                        "rollout cancelled {}", self.at(done, true)
                    )),
                    (i, was) = next_lost(&mut lost) => break 'steps Some(self.lost_why(i, was, done, true)),
                }
            }
            self.step_event(
                done,
                RolloutPhase::Switched {
                    elapsed: started.elapsed(),
                },
            );
            // Each switched server hands its watch part over before its switch.
            let taken = range
                .clone()
                .filter_map(|i| parts.waiting.get_mut(i)?.take());
            parts
                .switched
                .extend(super::aftercare::gather(taken.collect::<Vec<_>>()).await);
            // The watch after this step, before the pause and the next one: every server
            // switched so far (the canary takes more load as the batches come). The last
            // step's watch is the one before the commit, below.
            if done + 1 < self.steps.len() {
                match self
                    .watch_step(done, &parts, hold.as_ref(), &mut lost)
                    .await
                {
                    Ok(all) => no_more_pauses |= all,
                    Err(stop) => {
                        self.stopped_by_watch = stop.by_watch;
                        break 'steps Some(stop.why);
                    }
                }
            }
            done += 1;
        };

        match stopped {
            None => {
                // 3. Every server switched.
                if let Err(stop) = self
                    .watch_step(done - 1, &parts, hold.as_ref(), &mut lost)
                    .await
                {
                    self.stopped_by_watch = stop.by_watch;
                    return Some(self.revert_all(stop.why, done - 1, &mut go, &mut commit));
                }
                // A server lost just now (its deploy ended as the watch passed) is not
                // committed around: all go back.
                if let Some((i, was)) = lost.as_mut().and_then(|rx| rx.try_recv().ok()) {
                    let why = self.lost_why(i, was, done - 1, true);
                    return Some(self.revert_all(why, done - 1, &mut go, &mut commit));
                }
                self.step_event(self.steps.len() - 1, RolloutPhase::Committing);
                for tx in commit.iter_mut().filter_map(Option::take) {
                    let _ = tx.send(true);
                }
                None
            }
            Some(why) => Some(self.revert_all(why, done, &mut go, &mut commit)),
        }
    }

    /// Why the rollout stops when server `i`'s deploy ended before the commit.
    fn lost_why(&self, i: usize, state: RolloutState, done: usize, during: bool) -> String {
        format!(
            "{}'s deploy ended while {} (the connection dropped, or it was stopped) {}; every server goes back",
            self.names[i],
            state.as_str(),
            self.at(done, during)
        )
    }

    /// The watch after step `k` switched (none when `watch_s` is 0) of every server switched so
    /// far, `parts.switched`; after the last step it is the moment before the commit. Returns
    /// whether the operator said `a` meanwhile, or why every server goes back: the watch's
    /// threshold, the operator's revert (`hold`, Ctrl-C), or a server `lost` meanwhile (it went
    /// back on its own, so all go back). A watch's revert is told to each watched server as the
    /// watch's; the others hear it as the rollout's (`revert_all`).
    async fn watch_step(
        &self,
        k: usize,
        parts: &Parts,
        hold: Option<&HoldReceiver>,
        lost: &mut Option<tokio::sync::mpsc::UnboundedReceiver<(usize, RolloutState)>>,
    ) -> Result<bool, WatchStop> {
        if parts.seconds == 0 || parts.switched.is_empty() {
            return Ok(false);
        }
        let by_lost = std::sync::atomic::AtomicBool::new(false);
        let step = StepWatch {
            words: self.step_words(k),
            job: self.job,
            site: self.domain.clone(),
            more: k + 1 < self.steps.len(),
            all: Default::default(),
        };
        self.step_event(
            k,
            RolloutPhase::Watching {
                seconds: parts.seconds,
                servers: parts.switched.iter().map(|w| w.server.clone()).collect(),
            },
        );
        let lost = async {
            let (i, was) = next_lost(lost).await;
            by_lost.store(true, std::sync::atomic::Ordering::Relaxed);
            format!(
                "{}'s deploy ended while {} during the watch after {} (the connection dropped, or it was stopped); every server goes back",
                self.names[i],
                was.as_str(),
                step.words
            )
        };
        self.engine
            .watch_these(
                &parts.switched,
                (parts.seconds, parts.auto_revert),
                Some(&step),
                hold,
                &self.cancel,
                lost,
            )
            .await
            .map_err(|why| WatchStop {
                why,
                by_watch: !by_lost.load(std::sync::atomic::Ordering::Relaxed),
            })?;
        Ok(step.all.load(std::sync::atomic::Ordering::Relaxed))
    }

    /// Stops the rollout: every server that was told to switch is told to go back (it does so
    /// once it reports switched, if it is still switching), every other one not to switch.
    fn revert_all(
        &mut self,
        why: String,
        step: usize,
        go: &mut [Option<oneshot::Sender<bool>>],
        commit: &mut [Option<oneshot::Sender<bool>>],
    ) -> Instant {
        let at = Instant::now();
        *self.why.lock().unwrap_or_else(|p| p.into_inner()) = Some(why.clone());
        let step = step.min(self.steps.len() - 1);
        self.stopped_at = Some(step);
        self.step_event(step, RolloutPhase::Reverting { why });
        for (i, tx) in go.iter_mut().enumerate() {
            match tx.take() {
                // Never told to switch.
                Some(tx) => {
                    let _ = tx.send(false);
                }
                None => {
                    if let Some(tx) = commit[i].take() {
                        let _ = tx.send(false);
                    }
                }
            }
        }
        at
    }

    /// After every server's deploy ended: the rollout's last word, when it was reverted.
    pub fn finished(&self, reverted_at: Option<Instant>) {
        let Some(at) = reverted_at else { return };
        let step = self.stopped_at.unwrap_or(self.steps.len() - 1);
        self.step_event(
            step,
            RolloutPhase::Reverted {
                elapsed: at.elapsed(),
            },
        );
    }
}

/// What a server's own task says once its deploy has ended, from where it stood.
pub fn ended(state: RolloutState, ok: bool) -> RolloutState {
    match (state, ok) {
        (_, true) => RolloutState::Committed,
        (RolloutState::Switching | RolloutState::Live, false) => RolloutState::Reverted,
        _ => RolloutState::Untouched,
    }
}
