//! A stepped fleet rollout as the dashboard follows it: each server's state (built, waiting,
//! live, reverted...), the step and whether it pauses, from the engine's rollout events; and
//! the operator's keys while a rollout holds (`n` next batch, `a` all the rest, `x` revert),
//! sent to the rollout's hold.

use super::{App, Effect};
use crate::engine::events::{RolloutPhase, RolloutState};
use crate::engine::hold::Hold;
use std::collections::HashMap;

/// One domain's rollout, as last reported.
#[derive(Debug, Clone, PartialEq)]
pub struct RolloutView {
    pub step: usize,
    pub steps: usize,
    /// `None` while the servers build.
    pub phase: Option<RolloutPhase>,
    /// Each server's state, by `SERVER/DOMAIN`.
    pub servers: HashMap<String, RolloutState>,
    /// Whether the rollout still runs (it can be told something).
    pub running: bool,
}

impl App {
    /// A rollout event: `site` is the domain (a step) or a server's `SERVER/DOMAIN`.
    pub(super) fn on_rollout_server(&mut self, site: &str, state: RolloutState) {
        let Some(domain) = self
            .sites
            .iter()
            .find(|s| s.key == site)
            .map(|s| s.domain.clone())
        else {
            return;
        };
        let r = self.rollouts.entry(domain).or_insert_with(|| RolloutView {
            step: 0,
            steps: 0,
            phase: None,
            servers: HashMap::new(),
            running: true,
        });
        r.servers.insert(site.to_string(), state);
        self.dirty = true;
    }

    pub(super) fn on_rollout_step(
        &mut self,
        domain: &str,
        step: usize,
        steps: usize,
        phase: RolloutPhase,
    ) {
        let r = self
            .rollouts
            .entry(domain.to_string())
            .or_insert_with(|| RolloutView {
                step,
                steps,
                phase: None,
                servers: HashMap::new(),
                running: true,
            });
        r.running = !matches!(
            phase,
            RolloutPhase::Reverting { .. }
                | RolloutPhase::Reverted { .. }
                | RolloutPhase::Committing
        );
        r.step = step;
        r.steps = steps;
        r.phase = Some(phase);
        self.dirty = true;
    }

    /// The selected site's rollout while it can still be told something.
    pub fn holding_rollout(&self) -> Option<&RolloutView> {
        let s = self.site()?;
        self.rollouts
            .get(&s.domain)
            .filter(|r| r.running && s.running.is_some())
    }

    /// The rollout shown for a site: while it runs and a little after (its final states).
    pub fn rollout_of(&self, domain: &str) -> Option<&RolloutView> {
        self.rollouts.get(domain)
    }

    /// `n`, `a` or `x` while the selected site's rollout holds.
    pub(super) fn tell_rollout(&mut self, hold: Hold) -> Vec<Effect> {
        let Some(s) = self.site() else { return vec![] };
        let (key, domain) = (s.key.clone(), s.domain.clone());
        let Some(r) = self.holding_rollout() else {
            return vec![];
        };
        let paused = matches!(r.phase, Some(RolloutPhase::Paused { .. }));
        let watching = matches!(r.phase, Some(RolloutPhase::Watching { .. }));
        let msg = match hold {
            // The watch after a step is never cut short by `n` (see `aftercare`).
            Hold::Next if watching => {
                self.toast(
                    "the rollout watches the servers switched so far; n applies once the watch passed, to the pause after it if one follows",
                    true,
                );
                return vec![];
            }
            Hold::Next if !paused => {
                self.toast(
                    "the rollout is switching a step; n applies while it pauses",
                    true,
                );
                return vec![];
            }
            Hold::Next => format!("{domain}: next batch"),
            Hold::All => format!("{domain}: every server left switches, no more pauses"),
            Hold::Revert => format!("{domain}: reverting every server switched"),
        };
        self.toast(msg, false);
        vec![Effect::Hold { site: key, hold }]
    }
}
