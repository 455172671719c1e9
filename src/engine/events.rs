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
    /// The watch after a deploy's switch began on this server (see `aftercare`): `seconds`
    /// long, reverting by itself at `auto_revert`'s threshold. The switch is held meanwhile.
    WatchStarted {
        seconds: u32,
        auto_revert: Option<crate::config::AutoRevert>,
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

#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Unique per engine; lets a consumer tell concurrent jobs apart.
    pub job: u64,
    /// `SERVER/DOMAIN`.
    pub site: String,
    pub kind: EventKind,
}
