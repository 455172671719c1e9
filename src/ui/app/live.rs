//! The live state, without a key: each server's connection (connected, connecting, unreachable
//! with its last error and the next try), what the periodic read of a server shows (locks that
//! come and go, a live link or release log that changed, so that site is refreshed), and when
//! the ages on screen next change (the event loop sleeps until then).

use super::{App, Effect, Modal};
use crate::engine::SiteState;
use crate::engine::protocol::LockOwner;
use crate::transport::pool::Health;
use chrono::{DateTime, Utc};
use std::time::{Duration, Instant};

/// A server's connection as the dashboard shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Link {
    Connecting,
    Connected,
    Unreachable {
        error: String,
        /// When the next attempt is made.
        retry_at: DateTime<Utc>,
    },
}

impl Link {
    pub fn from_health(h: Health) -> Link {
        match h {
            Health::Connecting => Link::Connecting,
            Health::Connected => Link::Connected,
            Health::Unreachable { error, retry_at } => Link::Unreachable {
                error,
                retry_at: Utc::now()
                    + chrono::Duration::from_std(
                        retry_at.saturating_duration_since(Instant::now()),
                    )
                    .unwrap_or_default(),
            },
        }
    }
}

/// A lock's holder in one line: `ops@laptop (deploy #12, since 2026-12-01T08:30:00Z)`.
pub fn holder(lock: &str) -> String {
    let Ok(o) = lock.parse::<LockOwner>() else {
        return crate::visible::visible(lock, false).into_owned();
    };
    let mut what = Vec::new();
    if let Some(a) = &o.action {
        what.push(match o.deployment {
            Some(d) => format!("{a} #{d}"),
            None => a.clone(),
        });
    }
    if let Some(s) = &o.since {
        what.push(format!("since {}", since(s)));
    }
    let who = crate::visible::visible(&o.who, false).into_owned();
    if what.is_empty() {
        who
    } else {
        format!("{who} ({})", what.join(", "))
    }
}

/// A lock's start, short: the time of day when it is today (UTC), else the day and the minute.
fn since(ts: &str) -> String {
    match DateTime::parse_from_rfc3339(ts) {
        Ok(t) if t.date_naive() == Utc::now().date_naive() => t.format("%H:%M:%SZ").to_string(),
        Ok(t) => t.format("%Y-%m-%d %H:%MZ").to_string(),
        Err(_) => crate::visible::visible(ts, false).into_owned(),
    }
}

impl App {
    pub(super) fn on_health(&mut self, server: String, health: Health) -> Vec<Effect> {
        let link = Link::from_health(health);
        let came_back = matches!(
            self.links.get(&server),
            Some(Link::Unreachable { .. } | Link::Connecting)
        ) && link == Link::Connected;
        if self.links.get(&server) != Some(&link) {
            self.links.insert(server.clone(), link);
            self.dirty = true;
        }
        // Back after a drop: what happened meanwhile is read again.
        if came_back {
            return self
                .sites
                .iter()
                .filter(|s| s.server == server && s.running.is_none())
                .map(|s| Effect::Refresh {
                    site: s.key.clone(),
                    quiet: true,
                })
                .collect();
        }
        vec![]
    }

    /// A periodic read: locks shown as they are, and a site whose state changed is refreshed
    /// (its history brought in line, deployments made elsewhere imported). A site this
    /// dashboard runs a job on learns from the job itself.
    pub(super) fn on_watched(&mut self, sites: Vec<(String, SiteState, bool)>) -> Vec<Effect> {
        let mut fx = Vec::new();
        let mut env_changed = false;
        for (key, state, changed) in sites {
            let Some(s) = self.site_mut(&key) else {
                continue;
            };
            if s.env != state.env {
                s.env = state.env.clone();
                env_changed = true;
            }
            if s.running.is_some() {
                continue;
            }
            if s.lock != state.lock {
                s.lock = state.lock.clone();
                self.dirty = true;
                // A deploy from elsewhere on this machine's history shows its row at once.
                fx.push(Effect::LoadDeployments(key.clone()));
            }
            if changed {
                fx.push(Effect::Refresh {
                    site: key.clone(),
                    quiet: true,
                });
            }
        }
        self.dirty |= env_changed;
        // A dialog open on a site that just changed is redrawn with what now holds.
        if matches!(
            self.modal,
            Some(Modal::ConfirmDeploy { .. } | Modal::ConfirmRollback { .. })
        ) {
            self.dirty = true;
        }
        fx
    }

    /// How long until an age on screen changes (the tree's live ages, the table's rows): every
    /// second while one is under a minute, at the next whole minute (or hour, day) otherwise;
    /// and each second while a server's next try counts down. `None`: nothing on screen ticks.
    pub fn next_age_change(&self, now: DateTime<Utc>) -> Option<Duration> {
        let tree = self
            .visible_sites()
            .into_iter()
            .filter_map(|i| self.sites[i].active())
            .filter_map(|a| a.completed_at.or(a.started_at));
        let table = self
            .visible_deployments()
            .into_iter()
            .filter_map(|d| d.started_at);
        // A server's next try counts down each second.
        let retry = self.links.values().filter_map(|l| match l {
            Link::Unreachable { retry_at, .. } if *retry_at > now => Some(Duration::from_millis(
                ((*retry_at - now).num_milliseconds() % 1000 + 1) as u64,
            )),
            _ => None,
        });
        tree.chain(table)
            .map(|t| next_age_change(t, now))
            .chain(retry)
            .min()
    }
}

/// How long until the age of `t` as shown (`42s`, `5m`, `3h`, `2d`) changes.
pub fn next_age_change(t: DateTime<Utc>, now: DateTime<Utc>) -> Duration {
    let ms = (now - t).num_milliseconds().max(0);
    let unit: i64 = match ms / 1000 {
        0..60 => 1_000,
        60..3600 => 60_000,
        3600..86400 => 3_600_000,
        _ => 86_400_000,
    };
    Duration::from_millis((unit - ms % unit) as u64)
}
