//! The record of each webhook notification (migration 6): which block, for which outcome, and
//! whether it arrived. Written once per block and outcome, after the last attempt.

use super::Store;
use super::model::{parse_ts, ts};
use crate::error::Result;
use chrono::{DateTime, Utc};
use rusqlite::params;

/// One notification as the history keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    pub site_id: Option<i64>,
    /// The deploy's record, or the deployment a rollback went to.
    pub deployment_id: Option<i64>,
    /// `deploy` or `rollback`.
    pub action: String,
    /// The event it was sent as (`deploy`, `rollback`, `failure`, `health`).
    pub event: String,
    /// The block, its URL cut after the host: `notify[0] (https://hooks.slack.com/…)`.
    pub target: String,
    pub sent: bool,
    pub attempts: u32,
    /// Why it did not arrive (redacted), `None` when sent.
    pub error: Option<String>,
    pub at: DateTime<Utc>,
}

impl Store {
    pub fn record_notification(&self, n: &Notification) -> Result<()> {
        self.conn().execute(
            "INSERT INTO notifications
               (server_site_id, deployment_id, action, event, target, status, attempts, error, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                n.site_id,
                n.deployment_id,
                n.action,
                n.event,
                n.target,
                if n.sent { "sent" } else { "failed" },
                n.attempts,
                n.error,
                ts(n.at),
            ],
        )?;
        Ok(())
    }

    /// The notifications sent about deployment `id` (its deploy, or rollbacks to it), oldest first.
    pub fn notifications(&self, deployment_id: i64) -> Result<Vec<Notification>> {
        let conn = self.conn();
        let mut st = conn.prepare(
            "SELECT server_site_id, deployment_id, action, event, target, status, attempts, error, created_at
             FROM notifications WHERE deployment_id = ?1 ORDER BY id",
        )?;
        let rows = st.query_map([deployment_id], |r| {
            Ok(Notification {
                site_id: r.get(0)?,
                deployment_id: r.get(1)?,
                action: r.get(2)?,
                event: r.get(3)?,
                target: r.get(4)?,
                sent: r.get::<_, String>(5)? == "sent",
                attempts: r.get(6)?,
                error: r.get(7)?,
                at: parse_ts(r.get(8)?).unwrap_or_default(),
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}
