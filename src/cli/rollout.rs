//! `deploy --canary N --batch 50% --batch 100% --pause 30s`: the command line's stepped rollout
//! (over the site's `rollout`), the lines its events print, and, on a terminal, the operator's
//! keys while it pauses (Enter: the next batch, `a`: all the rest, `x`: revert every server).

use crate::config::{Pause, Pauses, Reach, Rollout, SiteRef};
use crate::engine::events::RolloutPhase;
use crate::engine::hold::{self, Hold, HoldReceiver};
use crate::error::{Error, Result};
use std::io::IsTerminal;

/// The rollout flags as given.
#[derive(Debug, Default, Clone)]
pub struct Flags {
    pub canary: Option<usize>,
    pub batches: Vec<String>,
    pub pauses: Vec<String>,
}

impl Flags {
    fn given(&self) -> bool {
        self.canary.is_some() || !self.batches.is_empty() || !self.pauses.is_empty()
    }
}

/// The rollout the flags ask for, filled in from the site's (else a canary of 1, then
/// `100%`, pausing for the operator); `None` without flags (the site's own applies).
pub fn from_flags(flags: &Flags, sites: &[SiteRef<'_>]) -> Result<Option<Rollout>> {
    if !flags.given() {
        return Ok(None);
    }
    if sites.len() < 2 {
        return Err(Error::usage(
            "--canary, --batch and --pause step a fleet's rollout: this site is on one server",
        ));
    }
    let base = sites.first().and_then(|s| s.site.rollout.clone());
    let batches = if flags.batches.is_empty() {
        base.as_ref()
            .map_or_else(|| vec![Reach::Percent(100)], |b| b.batches.clone())
    } else {
        flags
            .batches
            .iter()
            .map(|b| Reach::parse(b).map_err(|w| Error::usage(format!("--batch {w}"))))
            .collect::<Result<_>>()?
    };
    let pause = |p: &String| Pause::parse(p).map_err(|w| Error::usage(format!("--pause {w}")));
    let pauses = match flags.pauses.as_slice() {
        [] => base
            .as_ref()
            .map_or(Pauses::Every(Pause::Manual), |b| b.pauses.clone()),
        [one] => Pauses::Every(pause(one)?),
        many => Pauses::Each(many.iter().map(pause).collect::<Result<_>>()?),
    };
    let r = Rollout {
        canary: flags
            .canary
            .or(base.as_ref().map(|b| b.canary))
            .unwrap_or(1),
        batches,
        pauses,
    };
    r.steps(sites.len()).map_err(Error::usage)?;
    Ok(Some(r))
}

/// The operator's end of the rollout's hold, when stdin is a terminal: Enter, `a` or `x` then
/// Enter, read on a thread of its own. Without a terminal a manual pause is refused (by the
/// engine, which says to give a timed one).
pub fn terminal_hold(rollout: Option<&Rollout>) -> Option<HoldReceiver> {
    rollout?;
    if !std::io::stdin().is_terminal() {
        return None;
    }
    let (tx, rx) = hold::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        loop {
            line.clear();
            match std::io::stdin().read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            let h = match line.trim() {
                "" | "n" => Hold::Next,
                "a" => Hold::All,
                "x" => Hold::Revert,
                _ => {
                    // To the terminal the operator types on, whatever --json does with stdout.
                    eprintln!(
                        "flipdeck: Enter = next batch, a = all the rest, x = revert every server"
                    );
                    continue;
                }
            };
            if tx.send(h).is_err() {
                return;
            }
        }
    });
    Some(rx)
}

/// How a step event reads, on the fleet's `[DOMAIN]` line.
pub fn step_line(step: usize, steps: usize, phase: &RolloutPhase) -> String {
    let at = format!("rollout step {step}/{steps}");
    match phase {
        RolloutPhase::Switching { servers } => format!("{at}: switching {}", servers.join(", ")),
        RolloutPhase::Switched { elapsed } => {
            format!("{at}: switched in {:.2}s", elapsed.as_secs_f64())
        }
        RolloutPhase::Watching { seconds, servers } => format!(
            "{at}: watching {} for {seconds} s before {} (Ctrl-C, or x then Enter on a terminal, reverts every server switched)",
            servers.join(", "),
            if step == steps {
                "keeping the new release"
            } else {
                "the next step"
            }
        ),
        RolloutPhase::Paused { pause: None } => format!(
            "{at}: paused (manual) before this step: Enter = next batch, a = all the rest, x = revert every server"
        ),
        RolloutPhase::Paused { pause: Some(d) } => format!(
            "{at}: paused for {} before this step (on a terminal: Enter = next batch now, a = all the rest, x = revert)",
            Pause::For(*d)
        ),
        RolloutPhase::Reverting { why } => format!("{at}: {why}"),
        RolloutPhase::Reverted { elapsed } => format!(
            "rollout reverted: every server ended in {:.2}s after the revert",
            elapsed.as_secs_f64()
        ),
        RolloutPhase::Committing => format!("{at}: every server switched; keeping the new release"),
    }
}
