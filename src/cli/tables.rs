//! Plain-text tables for `list` and `status`, and the JSON shape of `status`.

use crate::config::SiteRef;
use crate::engine::{Inspection, LiveState};
use crate::error::Result;
use crate::store::{CommandRun, Deployment, Store, ts};
use serde::Serialize;
use std::fmt::Write;

/// A commit as the tables show it: short, or `-` when there is none.
fn short(sha: Option<&str>) -> &str {
    sha.map_or("-", crate::commit::short)
}

fn when(t: Option<chrono::DateTime<chrono::Utc>>) -> String {
    t.map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_else(|| "-".into())
}

pub fn deployments(list: &[Deployment]) -> String {
    let mut out = format!(
        "{:>6}  {:<8}  {:<6}  {:<18}  {:<14}  {:<7}  {:<19}  {:>9}  {:<24}  {}\n",
        "ID",
        "STATUS",
        "ACTIVE",
        "RELEASE",
        "BRANCH",
        "COMMIT",
        "STARTED (UTC)",
        "DURATION",
        "FLEET",
        "ROLLBACK"
    );
    for d in list {
        let _ = writeln!(
            out,
            "{:>6}  {:<8}  {:<6}  {:<18}  {:<14}  {:<7}  {:<19}  {:>9}  {:<24}  {}",
            d.id,
            d.status.as_str(),
            if d.is_active { "Active" } else { "" },
            d.release_name.as_deref().unwrap_or("-"),
            d.branch.as_deref().unwrap_or("-"),
            short(d.commit_sha.as_deref()),
            when(d.started_at),
            d.duration_ms
                .map(|ms| format!("{:.1}s", ms as f64 / 1000.0))
                .unwrap_or_else(|| "-".into()),
            d.fleet_id.as_deref().unwrap_or("-"),
            if d.can_rollback() {
                "yes".to_string()
            } else if d.is_active {
                // The dashboard's word for the one that is live.
                "live".to_string()
            } else if let Some(e) = d.error.as_deref() {
                format!("no: {}", e.lines().next().unwrap_or(""))
            } else if d.deployment_path.is_none() && d.status == crate::store::Status::Success {
                "no: pruned".into()
            } else {
                "no".into()
            }
        );
    }
    if list.is_empty() {
        out.push_str("(no deployments yet)\n");
    }
    out
}

/// The site's command runs (`list --commands`): what ran, where, and how it ended.
pub fn command_runs(list: &[CommandRun]) -> String {
    let row = |id: &str,
               status: &str,
               name: &str,
               release: &str,
               exit: &str,
               started: &str,
               took: &str,
               error: &str| {
        format!(
            "{id:>6}  {status:<8}  {name:<20}  {release:<18}  {exit:>4}  {started:<19}  {took:>9}  {error}"
        )
    };
    let mut out = row(
        "ID",
        "STATUS",
        "COMMAND",
        "RELEASE",
        "EXIT",
        "STARTED (UTC)",
        "DURATION",
        "ERROR",
    );
    out.push('\n');
    for r in list {
        let line = row(
            &format!("c{}", r.id),
            r.status.as_str(),
            &r.name,
            r.release_name.as_deref().unwrap_or("-"),
            &r.exit_code.map_or_else(|| "-".into(), |c| c.to_string()),
            &when(r.started_at),
            &r.duration_ms
                .map_or_else(|| "-".into(), |ms| format!("{:.1}s", ms as f64 / 1000.0)),
            r.error
                .as_deref()
                .and_then(|e| e.lines().next())
                .unwrap_or(""),
        );
        out.push_str(line.trim_end());
        out.push('\n');
    }
    if list.is_empty() {
        out.push_str("(no command runs yet)\n");
    }
    out
}

#[derive(Debug, Serialize)]
pub struct StatusRow {
    pub server: String,
    pub domain: String,
    pub active_deployment_id: Option<i64>,
    pub release: Option<String>,
    pub commit_sha: Option<String>,
    pub deployed_at: Option<String>,
    /// The live symlink's target as read from the server.
    pub live: Option<String>,
    pub drift: Option<String>,
    pub lock: Option<String>,
    pub error: Option<String>,
}

impl StatusRow {
    pub fn build(
        store: &Store,
        site: &SiteRef<'_>,
        inspection: Result<Inspection>,
    ) -> Result<StatusRow> {
        let row = store.find_site(&site.server.name, &site.site.domain)?;
        let active = match row.as_ref().and_then(|r| r.active_deployment_id) {
            Some(id) => store.get(id)?,
            None => None,
        };
        let (live, drift, lock, error) = match inspection {
            Ok(i) => (
                match i.live {
                    LiveState::Link(t) => Some(t),
                    LiveState::NotALink => Some("(not a symlink)".into()),
                    LiveState::Missing => None,
                },
                i.drift,
                i.lock,
                None,
            ),
            Err(e) => (None, None, None, Some(e.to_string())),
        };
        Ok(StatusRow {
            server: site.server.name.clone(),
            domain: site.site.domain.clone(),
            active_deployment_id: active.as_ref().map(|d| d.id),
            release: active.as_ref().and_then(|d| d.release_name.clone()),
            commit_sha: active
                .as_ref()
                .and_then(|d| d.commit_sha.clone())
                .filter(|c| !c.is_empty()),
            deployed_at: row.and_then(|r| r.last_deployed_at).map(ts),
            live,
            drift,
            lock,
            error,
        })
    }
}

pub fn status(rows: &[StatusRow]) -> String {
    let mut out = format!(
        "{:<12}  {:<28}  {:>6}  {:<18}  {:<7}  {:<19}  {}\n",
        "SERVER", "DOMAIN", "ACTIVE", "RELEASE", "COMMIT", "DEPLOYED AT (UTC)", "NOTES"
    );
    for r in rows {
        let mut notes = Vec::new();
        if let Some(e) = &r.error {
            notes.push(format!("error: {e}"));
        }
        if let Some(d) = &r.drift {
            notes.push(format!("drift: {d}"));
        }
        if let Some(l) = &r.lock {
            notes.push(format!("locked by {l}"));
        }
        let _ = writeln!(
            out,
            "{:<12}  {:<28}  {:>6}  {:<18}  {:<7}  {:<19}  {}",
            r.server,
            r.domain,
            r.active_deployment_id
                .map(|i| format!("#{i}"))
                .unwrap_or_else(|| "-".into()),
            r.release.as_deref().unwrap_or("-"),
            short(r.commit_sha.as_deref()),
            r.deployed_at
                .as_deref()
                .map(|t| t[..19].replace('T', " "))
                .unwrap_or_else(|| "-".into()),
            notes.join("; ")
        );
    }
    out
}
