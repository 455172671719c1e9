//! The deployment engine: runs the spec's flows on a target and reports events on a channel.
//! It knows nothing of terminals; the CLI, the dashboard and tests consume its events.

pub mod aftercare;
mod command;
mod deploy;
pub mod diff;
pub mod doctor;
pub mod dry_run;
pub mod env;
pub mod events;
mod fleet;
mod fpm;
mod health;
pub mod hold;
mod identity;
mod job;
pub mod keygen;
pub mod layout;
mod layout_check;
mod lock;
mod logs;
pub mod nginx;
pub mod protocol;
mod provision;
mod prune;
mod refresh;
mod rollback;
pub mod rollout;
pub mod scripts;
pub mod source;
mod unlock;
mod watch;

pub use command::{CommandOutcome, unknown_command};
pub use deploy::{DeployOptions, Deployed};
pub use events::{Action, Event, EventKind};
pub use identity::Identity;
pub use provision::Provisioned;
pub use prune::{PruneItem, PruneOptions, PrunePlan, Pruned, plan_prune};
pub use refresh::{Inspection, LiveState};
pub use rollback::{RollbackOptions, RolledBack, refusal as rollback_refusal};
pub use source::Artifact;
pub use watch::SiteState;

use crate::store::Store;
use crate::transport::Connectors;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::mpsc::UnboundedSender;

pub struct Engine {
    pub store: Arc<Store>,
    /// Opens connections to a configured server (fleet flows need one per server). Injected, so
    /// the engine knows no transport by name.
    connectors: Connectors,
    events: UnboundedSender<Event>,
    identity: Identity,
    next_job: AtomicU64,
    /// Hides secrets in script output before it is shown, stored or written to deployment.log.
    redactor: crate::redact::Redactor,
    /// Deployments this process is running now: never "recovered" from under itself.
    running: std::sync::Mutex<std::collections::HashSet<i64>>,
}

impl Engine {
    pub fn new(
        store: Arc<Store>,
        events: UnboundedSender<Event>,
        connectors: Connectors,
    ) -> Engine {
        Engine {
            store,
            connectors,
            events,
            identity: Identity::current(),
            next_job: AtomicU64::new(1),
            running: Default::default(),
            redactor: crate::redact::Redactor::default(),
        }
    }

    /// Uses the config's redaction patterns instead of the built-in ones.
    pub fn with_redactor(mut self, redactor: crate::redact::Redactor) -> Engine {
        self.redactor = redactor;
        self
    }

    /// Tells the event consumers something about `site` outside any job (a notification that
    /// did not arrive, say): a `Notice` under a job number of its own.
    pub fn notice(&self, site: &str, message: String) {
        let job = self.new_job_id();
        self.emit(job, site, EventKind::Notice { message });
    }

    fn is_running_here(&self, deployment_id: i64) -> bool {
        self.running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(&deployment_id)
    }

    fn new_job_id(&self) -> u64 {
        self.next_job.fetch_add(1, Ordering::Relaxed)
    }

    fn emit(&self, job: u64, site: &str, kind: EventKind) {
        // A consumer that went away must not stop a deploy half-way.
        let _ = self.events.send(Event {
            job,
            site: site.to_string(),
            kind,
        });
    }
}
