//! What a notification is about: one site's deploy or rollback as it ended, read back from the
//! history once the engine recorded it, and which events it counts as.

use crate::config::{Config, NotifyEvent, SiteRef};
use crate::engine::{Deployed, Identity, RolledBack};
use crate::error::{EXIT_USAGE, Error, Result};
use crate::store::{Deployment, Store};
use chrono::{DateTime, Utc};

/// What ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Act {
    Deploy,
    Rollback,
}

impl Act {
    pub fn as_str(self) -> &'static str {
        match self {
            Act::Deploy => "deploy",
            Act::Rollback => "rollback",
        }
    }
}

/// One site's deploy or rollback as it ended.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub act: Act,
    /// The events it counts as, the most specific first (the payload's `event`): a deploy
    /// switched back by its health check is `health` and `failure`; a rollback kept despite a
    /// failed health check is `health` and `rollback`.
    pub events: Vec<NotifyEvent>,
    pub server: String,
    pub domain: String,
    pub stage: Option<String>,
    pub site_id: Option<i64>,
    /// The deploy's record, or the deployment the rollback went to.
    pub deployment_id: Option<i64>,
    pub release: Option<String>,
    /// A rollback's release before it (`None` for a deploy).
    pub from_release: Option<String>,
    pub commit: Option<String>,
    pub branch: Option<String>,
    pub ok: bool,
    /// Why it failed, or what failed while a rollback was kept.
    pub error: Option<String>,
    /// `user@host` of this flipdeck.
    pub operator: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
}

impl Outcome {
    /// The most specific event, the one the payload names.
    pub fn event(&self) -> NotifyEvent {
        self.events[0]
    }

    pub fn duration_ms(&self) -> i64 {
        (self.finished_at - self.started_at)
            .num_milliseconds()
            .max(0)
    }

    fn base(site: &SiteRef<'_>, act: Act, started: DateTime<Utc>) -> Outcome {
        Outcome {
            act,
            events: vec![],
            server: site.server.name.clone(),
            domain: site.site.domain.clone(),
            stage: site.server.stage.clone(),
            site_id: None,
            deployment_id: None,
            release: None,
            from_release: None,
            commit: None,
            branch: None,
            ok: false,
            error: None,
            operator: Identity::current().to_string(),
            started_at: started,
            finished_at: Utc::now(),
        }
    }

    fn take_record(&mut self, d: &Deployment) {
        self.site_id = Some(d.site_id);
        self.deployment_id = Some(d.id);
        self.release = d.release_name.clone();
        self.commit = d.commit_sha.clone().filter(|c| !c.is_empty());
        self.branch = d.branch.clone();
    }

    /// A deploy of `site` started at `started` (by this process) that ended with `result`, as
    /// the history recorded it. `None` for a usage error: nothing was tried.
    pub fn deploy(
        store: &Store,
        site: &SiteRef<'_>,
        started: DateTime<Utc>,
        result: &Result<Deployed>,
    ) -> Option<Outcome> {
        let mut o = Outcome::base(site, Act::Deploy, started);
        match result {
            Ok(d) => {
                o.ok = true;
                o.events = vec![NotifyEvent::Deploy];
                if let Ok(Some(rec)) = store.get(d.deployment_id) {
                    o.take_record(&rec);
                    if let Some(at) = rec.started_at {
                        o.started_at = at;
                    }
                }
                o.release = Some(d.release.clone());
                o.commit = d.commit.clone().or(o.commit);
            }
            Err(e) if e.exit_code() == EXIT_USAGE => return None,
            Err(e) => {
                let rec = own_record_since(store, site, started);
                let error = rec
                    .as_ref()
                    .and_then(|r| r.error.clone())
                    .unwrap_or_else(|| e.one_line());
                if let Some(rec) = &rec {
                    o.take_record(rec);
                }
                // The engine's words for a release its health check switched back.
                o.events = if error.starts_with("health check failed") {
                    vec![NotifyEvent::Health, NotifyEvent::Failure]
                } else if matches!(e, crate::error::Error::Reverted(_)) {
                    vec![NotifyEvent::Reverted, NotifyEvent::Failure]
                } else {
                    vec![NotifyEvent::Failure]
                };
                o.error = Some(error);
            }
        }
        Some(o)
    }

    /// A rollback of `site` started at `started` that ended with `result`.
    pub fn rollback(
        store: &Store,
        site: &SiteRef<'_>,
        started: DateTime<Utc>,
        result: &Result<RolledBack>,
    ) -> Option<Outcome> {
        let mut o = Outcome::base(site, Act::Rollback, started);
        match result {
            Ok(r) => {
                o.ok = true;
                if let Ok(Some(rec)) = store.get(r.to) {
                    o.take_record(&rec);
                }
                o.release = Some(r.release.clone());
                o.from_release = r
                    .from
                    .and_then(|f| store.get(f).ok().flatten())
                    .and_then(|d| d.release_name);
                o.events = match &r.warning {
                    Some(_) => vec![NotifyEvent::Health, NotifyEvent::Rollback],
                    None => vec![NotifyEvent::Rollback],
                };
                o.error = r.warning.clone();
            }
            Err(e) if e.exit_code() == EXIT_USAGE => return None,
            Err(e) => {
                o.site_id = store
                    .find_site(&site.server.name, &site.site.domain)
                    .ok()
                    .flatten()
                    .map(|s| s.id);
                o.events = vec![NotifyEvent::Failure];
                o.error = Some(e.one_line());
            }
        }
        Some(o)
    }

    /// Every server's outcome of a fleet command: each server's own (`one` reads it back), or,
    /// when the fleet failed as a whole (`Err` before any server's result), each failed with
    /// that error.
    pub fn of_fleet<T>(
        config: &Config,
        store: &Store,
        sites: &[SiteRef<'_>],
        started: DateTime<Utc>,
        results: &Result<Vec<(String, Result<T>)>>,
        one: impl Fn(&Store, &SiteRef<'_>, DateTime<Utc>, &Result<T>) -> Option<Outcome>,
    ) -> Vec<Outcome> {
        match results {
            Ok(each) => each
                .iter()
                .filter_map(|(key, r)| one(store, &config.find_site(key).ok()?, started, r))
                .collect(),
            Err(e) => sites
                .iter()
                .filter_map(|s| one(store, s, started, &Err(Error::failed(e.one_line()))))
                .collect(),
        }
    }
}

/// The deployment this process started for `site` at or after `started`, if the engine got as
/// far as recording one (a deploy refused by another's lock leaves none).
fn own_record_since(
    store: &Store,
    site: &SiteRef<'_>,
    started: DateTime<Utc>,
) -> Option<Deployment> {
    let row = store
        .find_site(&site.server.name, &site.site.domain)
        .ok()??;
    let me = Identity::current();
    store.list(row.id, Some(5)).ok()?.into_iter().find(|d| {
        let ours = d.job.as_deref().is_some_and(|j| {
            let mut w = j.split_whitespace();
            w.next() == Some(me.host.as_str()) && w.next() == Some(me.pid.to_string().as_str())
        });
        ours && d
            .started_at
            .is_some_and(|t| t >= started - chrono::Duration::seconds(1))
    })
}
