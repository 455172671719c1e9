//! Webhook notifications (`[[notify]]`): after a deploy or rollback has ended and the history
//! recorded it, each block that covers the site and wants one of the outcome's events gets one
//! POST, in the background. They never change the outcome: a notification that does not arrive
//! within its block's `timeout_s` (every retry included) is one warning line and a record in
//! the history, nothing more.
//!
//! Which events an outcome counts as (the first one is the payload's `event`):
//!
//! | outcome | events |
//! |---|---|
//! | a deploy succeeded | `deploy` |
//! | a deploy failed (build, switch, reload, cancelled, lock held, unreachable) | `failure` |
//! | a deploy failed its health check and was switched back | `health`, `failure` |
//! | a rollback succeeded | `rollback` |
//! | a rollback succeeded, its health check failed (the rollback is kept) | `health`, `rollback` |
//! | a rollback failed | `failure` |
//!
//! A block is sent one message per outcome, whichever of its events match. The engine knows
//! nothing of this: the CLI and the dashboard call [`send_all`] with what the engine returned.

mod outcome;
mod payload;
mod send;

pub use outcome::{Act, Outcome};
pub use payload::{body, text};
pub use send::MAX_ATTEMPTS;

use crate::config::{Config, Notify};
use crate::store::{Notification, Store};
use std::time::{Duration, Instant};

/// How much earlier than the block's deadline the sending thread must give up, so that it has
/// reported by the time the caller stops waiting (the HTTP client's own timeout ends an attempt).
const GRACE: Duration = Duration::from_millis(150);

/// The blocks `outcome` is sent to.
pub fn targets<'c>(config: &'c Config, o: &Outcome) -> Vec<&'c Notify> {
    config
        .notify
        .iter()
        .filter(|n| n.covers(&o.server, &o.domain, o.stage.as_deref()))
        .filter(|n| o.events.iter().any(|e| n.on.contains(e)))
        .collect()
}

/// A notification that did not arrive: the site (`SERVER/DOMAIN`) and the warning line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    pub site: String,
    pub deployment_id: Option<i64>,
    pub message: String,
}

/// Sends every outcome to its blocks at once, waits for them (at most the longest `timeout_s`
/// of the blocks involved, plus a moment), records each in the history, and returns the
/// warnings of those that did not arrive, one per block and outcome.
pub async fn send_all(config: &Config, store: &Store, outcomes: &[Outcome]) -> Vec<Warning> {
    let mut waits = Vec::new();
    for o in outcomes {
        for n in targets(config, o) {
            waits.push(one(config, store, o, n));
        }
    }
    futures_util::future::join_all(waits)
        .await
        .into_iter()
        .flatten()
        .collect()
}

/// One block's notification of one outcome: sent on a thread of its own (so a hung server
/// keeps nothing but that thread), waited for until its deadline, then recorded.
async fn one(config: &Config, store: &Store, o: &Outcome, n: &Notify) -> Option<Warning> {
    let body = payload::body(n.format, o, &config.redactor).to_string();
    let deadline = Instant::now() + n.timeout;
    let give_up = deadline.checked_sub(GRACE).unwrap_or(deadline);
    let (tx, rx) = tokio::sync::oneshot::channel();
    let (url, headers) = (n.url.clone(), n.headers.clone());
    std::thread::spawn(move || {
        let _ = tx.send(send::post(&url, &headers, body.as_bytes(), give_up));
    });
    let sent = match tokio::time::timeout_at(deadline.into(), rx).await {
        Ok(Ok(sent)) => sent,
        _ => send::Sent {
            attempts: 1,
            error: Some(format!("no answer within {} s", n.timeout.as_secs())),
        },
    };
    let label = n.label();
    // The client's errors may quote the address: the URL (a secret) becomes the label.
    let error = sent.error.map(|e| {
        config
            .redactor
            .apply(&e.replace(&n.url, &label))
            .into_owned()
    });
    let event = o.event().as_str();
    let record = Notification {
        site_id: o.site_id,
        deployment_id: o.deployment_id,
        action: o.act.as_str().to_string(),
        event: event.to_string(),
        target: label.clone(),
        sent: error.is_none(),
        attempts: sent.attempts,
        error: error.clone(),
        at: chrono::Utc::now(),
    };
    let site = format!("{}/{}", o.server, o.domain);
    let stored = store.record_notification(&record);
    let error = error?;
    let mut message = format!(
        "the {event} notification to {label} failed after {} attempt{}: {error}; the {}'s outcome stands",
        sent.attempts,
        if sent.attempts == 1 { "" } else { "s" },
        o.act.as_str()
    );
    if let Err(e) = stored {
        message.push_str(&format!(" (and recording this in the history failed: {e})"));
    }
    Some(Warning {
        site,
        deployment_id: o.deployment_id,
        message,
    })
}
