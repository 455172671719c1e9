//! What the engine reports while it works. Consumers (CLI printer, dashboard, tests) only ever see
//! these; the engine never prints.

use crate::store::Status;
use crate::transport::Stream;
use std::time::Duration;

/// What a job does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Provision,
    Deploy,
    Rollback,
    Prune,
    Inspect,
    Unlock,
    Keygen,
    /// `flipdeck env`: reading or replacing the shared .env.
    Env,
    /// A site command (`flipdeck run SITE NAME`).
    Command,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Provision => "provision",
            Action::Deploy => "deploy",
            Action::Rollback => "rollback",
            Action::Prune => "prune",
            Action::Inspect => "inspect",
            Action::Unlock => "unlock",
            Action::Keygen => "keygen",
            Action::Env => "env",
            Action::Command => "command",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum EventKind {
    JobStarted {
        action: Action,
        target: String,
    },
    /// A deployment record changed status (pending → updating → success | failed).
    Status {
        deployment_id: i64,
        status: Status,
    },
    StepStarted {
        step: String,
    },
    StepFinished {
        step: String,
        ok: bool,
        elapsed: Duration,
    },
    /// A line of output of the commands run for this job.
    Log {
        stream: Stream,
        line: String,
    },
    /// Something flipdeck itself wants the operator to know (a warning, a skipped release...).
    Notice {
        message: String,
    },
    JobFinished {
        ok: bool,
        summary: String,
    },
    /// Keys the new release's `.env.example` has and the shared `.env` lacks (names only);
    /// `required`: they fail the deploy (`require_env = true`), else a warning.
    EnvMissing {
        keys: Vec<String>,
        required: bool,
    },
    // ---- stepped fleet rollouts (see `rollout`) ----
    /// A server's part in a stepped rollout changed; `site` is that server's `SERVER/DOMAIN`,
    /// `step` (1-based) the step it switches in.
    RolloutServer {
        state: RolloutState,
        step: usize,
    },
    /// A stepped rollout moved on; `site` is the fleet's domain, `step` (1-based) of `steps`.
    RolloutStep {
        step: usize,
        steps: usize,
        phase: RolloutPhase,
    },
    /// The watch after a deploy's switch began on this server (see `aftercare`): `seconds`
    /// long, reverting by itself at `auto_revert`'s threshold. The switch is held meanwhile.
    /// `after`: a stepped rollout's step it watches ("the canary (step 1 of 3)"); a server
    /// switched in an earlier step is watched again after each later one, each time afresh.
    WatchStarted {
        seconds: u32,
        auto_revert: Option<crate::config::AutoRevert>,
        after: Option<String>,
    },
    /// One sample of the watch, about a second: its number (from 1), the seconds left, the
    /// responses of each class (2xx, 3xx, 4xx, 5xx) in its `ms` milliseconds, and the
    /// application log's new lines (made visible, redacted) with how many more the cap left out.
    WatchSecond {
        second: u32,
        left: u32,
        by_class: [u32; 4],
        ms: u32,
        app: Vec<String>,
        app_more: u32,
    },
    /// The watch ended: the release is kept (`reverted` None), or reverted, with why.
    WatchEnded {
        reverted: Option<String>,
    },
}

/// Where one server of a stepped rollout stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RolloutState {
    /// Built, holding its lock and its release at the gate.
    Built,
    /// Built, its step not come yet.
    Waiting,
    /// Told to switch; switching, reloading, health-checking.
    Switching,
    /// Switched and healthy, not committed: its way back is still prepared.
    Live,
    /// Was live, switched back to the release it had.
    Reverted,
    /// Never switched: the rollout stopped before its step (its live link untouched).
    Untouched,
    /// The rollout completed: the new release is kept.
    Committed,
}

impl RolloutState {
    pub fn as_str(self) -> &'static str {
        match self {
            RolloutState::Built => "built",
            RolloutState::Waiting => "waiting",
            RolloutState::Switching => "switching",
            RolloutState::Live => "live",
            RolloutState::Reverted => "reverted",
            RolloutState::Untouched => "not switched",
            RolloutState::Committed => "committed",
        }
    }
}

/// What a stepped rollout is doing.
#[derive(Debug, Clone, PartialEq)]
pub enum RolloutPhase {
    /// These servers were told to switch.
    Switching { servers: Vec<String> },
    /// Every server of the step switched (and passed its checks), this long after the go.
    Switched { elapsed: Duration },
    /// Every server switched so far (`servers`) is watched for `seconds` after this step
    /// switched, before the pause and the next step (or, after the last step, the commit).
    Watching { seconds: u32, servers: Vec<String> },
    /// Waiting before the step: `None` for the operator, else this long.
    Paused { pause: Option<Duration> },
    /// The rollout stops: every switched server goes back, the others never switch.
    Reverting { why: String },
    /// Every server has ended after the revert, this long after it was decided.
    Reverted { elapsed: Duration },
    /// Every server switched: each is told to keep the new release.
    Committing,
}

impl RolloutPhase {
    pub fn as_str(&self) -> &'static str {
        match self {
            RolloutPhase::Switching { .. } => "switching",
            RolloutPhase::Switched { .. } => "switched",
            RolloutPhase::Watching { .. } => "watching",
            RolloutPhase::Paused { .. } => "paused",
            RolloutPhase::Reverting { .. } => "reverting",
            RolloutPhase::Reverted { .. } => "reverted",
            RolloutPhase::Committing => "committing",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Unique per engine; lets a consumer tell concurrent jobs apart.
    pub job: u64,
    /// `SERVER/DOMAIN`.
    pub site: String,
    pub kind: EventKind,
}
