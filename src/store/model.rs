//! The history's rows as Rust types, and the JSON shape `list --json` prints.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pending,
    Updating,
    Success,
    Failed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Updating => "updating",
            Status::Success => "success",
            Status::Failed => "failed",
        }
    }

    pub(super) fn parse(s: &str) -> Status {
        match s {
            "pending" => Status::Pending,
            "updating" => Status::Updating,
            "success" => Status::Success,
            _ => Status::Failed,
        }
    }
}

/// One row of `server_deployments`, with the site's active flag resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct Deployment {
    pub id: i64,
    pub site_id: i64,
    pub status: Status,
    pub deployment_script: Option<String>,
    pub release_name: Option<String>,
    pub deployment_path: Option<String>,
    pub log_file_path: Option<String>,
    pub commit_sha: Option<String>,
    pub branch: Option<String>,
    pub error: Option<String>,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub duration_ms: Option<i64>,
    pub is_active: bool,
    /// Set when the deployment was one server's part of a fleet deploy.
    pub fleet_id: Option<String>,
    /// The job that ran it: "host pid token" (see `create_deployment`).
    pub job: Option<String>,
    /// Where its code came from (see `set_origin`).
    pub origin: Origin,
}

/// Where a deployment's code came from: `source` (`server`, `push`, `artifact`; `None` before
/// sources were recorded), the ref asked for with `--ref`, an artifact's SHA-256.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Origin {
    pub source: Option<String>,
    pub requested_ref: Option<String>,
    pub artifact_sha256: Option<String>,
}

impl Deployment {
    /// The spec's rule: success, a directory, and not already live.
    pub fn can_rollback(&self) -> bool {
        self.status == Status::Success && self.deployment_path.is_some() && !self.is_active
    }
}

/// The spec's `Deployment` type, exactly as `list --json` prints it.
#[derive(Debug, Serialize)]
pub struct DeploymentJson<'a> {
    pub id: i64,
    pub status: Status,
    pub deployment_path: Option<&'a str>,
    pub log_file_path: Option<&'a str>,
    pub commit_sha: Option<&'a str>,
    pub branch: Option<&'a str>,
    pub started_at: Option<String>,
    pub completed_at: Option<String>,
    pub duration_ms: Option<i64>,
    pub can_rollback: bool,
    pub is_active: bool,
    /// Beyond the spec: where the code came from, the ref asked for, an artifact's checksum.
    pub source: Option<&'a str>,
    pub requested_ref: Option<&'a str>,
    pub artifact_sha256: Option<&'a str>,
}

impl<'a> From<&'a Deployment> for DeploymentJson<'a> {
    fn from(d: &'a Deployment) -> Self {
        DeploymentJson {
            id: d.id,
            status: d.status,
            deployment_path: d.deployment_path.as_deref(),
            log_file_path: d.log_file_path.as_deref(),
            commit_sha: d.commit_sha.as_deref(),
            branch: d.branch.as_deref(),
            started_at: d.started_at.map(ts),
            completed_at: d.completed_at.map(ts),
            duration_ms: d.duration_ms,
            can_rollback: d.can_rollback(),
            is_active: d.is_active,
            source: d.origin.source.as_deref(),
            requested_ref: d.origin.requested_ref.as_deref(),
            artifact_sha256: d.origin.artifact_sha256.as_deref(),
        }
    }
}

/// A site row with its ids.
#[derive(Debug, Clone, PartialEq)]
pub struct SiteRow {
    pub id: i64,
    pub server_id: i64,
    pub active_deployment_id: Option<i64>,
    pub last_deployment_sha: Option<String>,
    pub last_deployed_at: Option<DateTime<Utc>>,
}

/// RFC 3339 in UTC with milliseconds: sorts as text in time order.
pub fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub(super) fn parse_ts(s: Option<String>) -> Option<DateTime<Utc>> {
    s.and_then(|s| DateTime::parse_from_rfc3339(&s).ok())
        .map(|t| t.with_timezone(&Utc))
}
