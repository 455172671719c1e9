//! What a person tells a deploy that holds its switch open: the watch after the switch
//! (`watch_s`) and a stepped fleet rollout waiting between batches. The deploy's exec keeps the
//! lock and the prepared way back until it is told to keep the new release or to revert, so a
//! revert is the rename of that link and no other deploy can come in between.

use std::sync::Arc;
use tokio::sync::{Mutex, mpsc};

/// One instruction to a held deploy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hold {
    /// Put every server already switched back on the release it had (the way back).
    Revert,
    /// A rollout: switch the next batch now.
    Next,
    /// A rollout: switch every server left, without pausing again.
    All,
}

/// The sending end, held by whoever drives the deploy (the dashboard's job, the CLI's prompt).
pub type HoldSender = mpsc::UnboundedSender<Hold>;

/// The receiving end, cloneable so it can ride in `DeployOptions` (which is `Clone`); the deploy
/// that holds its switch is the only reader.
#[derive(Debug, Clone)]
pub struct HoldReceiver(pub Arc<Mutex<mpsc::UnboundedReceiver<Hold>>>);

impl HoldReceiver {
    /// The next instruction; `None` once every sender is gone.
    pub async fn recv(&self) -> Option<Hold> {
        self.0.lock().await.recv().await
    }
}

/// The next instruction on `hold`, or never: none given, or every sender gone (then `hold`
/// becomes `None`, so it is not asked again).
pub async fn next(hold: &mut Option<HoldReceiver>) -> Hold {
    loop {
        match hold.as_ref() {
            Some(h) => match h.recv().await {
                Some(x) => return x,
                None => *hold = None,
            },
            None => std::future::pending::<()>().await,
        }
    }
}

/// A connected pair.
pub fn channel() -> (HoldSender, HoldReceiver) {
    let (tx, rx) = mpsc::unbounded_channel();
    (tx, HoldReceiver(Arc::new(Mutex::new(rx))))
}
