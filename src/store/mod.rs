//! The local history: a SQLite database after the spec's schema. Records are never deleted; pruning
//! only sets `deployment_path` to null.

mod migrations;

use crate::error::{Error, Result};
use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use std::path::Path;
use std::sync::Mutex;

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

    fn parse(s: &str) -> Status {
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

fn parse_ts(s: Option<String>) -> Option<DateTime<Utc>> {
    s.and_then(|s| DateTime::parse_from_rfc3339(&s).ok())
        .map(|t| t.with_timezone(&Utc))
}

pub struct Store {
    conn: Mutex<Connection>,
}

const DEPLOYMENT_COLUMNS: &str = "d.id, d.server_site_id, d.status, d.deployment_script, d.release_name, \
     d.deployment_path, d.log_file_path, d.commit_sha, d.branch, d.error, d.started_at, \
     d.completed_at, d.duration_ms, (s.active_deployment_id IS d.id), d.fleet_id, d.job";

/// Matches the partial index `server_deployments_with_dir` (migration 2).
const WITH_DIR: &str = "AND d.deployment_path IS NOT NULL";

/// The ORDER BY is the expression of the indexes of migration 2, so no sort is needed.
fn list_sql(filter: &str) -> String {
    format!(
        "SELECT {DEPLOYMENT_COLUMNS} FROM server_deployments d
         JOIN server_sites s ON s.id = d.server_site_id
         WHERE d.server_site_id = ?1 {filter}
         ORDER BY COALESCE(d.started_at, d.created_at) DESC, d.id DESC LIMIT ?2"
    )
}

fn row_to_deployment(r: &rusqlite::Row<'_>) -> rusqlite::Result<Deployment> {
    Ok(Deployment {
        id: r.get(0)?,
        site_id: r.get(1)?,
        status: Status::parse(&r.get::<_, String>(2)?),
        deployment_script: r.get(3)?,
        release_name: r.get(4)?,
        deployment_path: r.get(5)?,
        log_file_path: r.get(6)?,
        commit_sha: r.get(7)?,
        branch: r.get(8)?,
        error: r.get(9)?,
        started_at: parse_ts(r.get(10)?),
        completed_at: parse_ts(r.get(11)?),
        duration_ms: r.get(12)?,
        is_active: r.get(13)?,
        fleet_id: r.get(14)?,
        job: r.get(15)?,
    })
}

impl Store {
    /// Opens (creating with mode 0600 where missing) and migrates the history DB.
    pub fn open(path: &Path) -> Result<Store> {
        let fail = |e: &dyn std::fmt::Display| {
            Error::failed(format!(
                "cannot open history database {}: {e}",
                path.display()
            ))
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| fail(&e))?;
        }
        {
            use std::os::unix::fs::OpenOptionsExt;
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .mode(0o600)
                .open(path)
                .map_err(|e| fail(&e))?;
        }
        let mut conn = Connection::open(path).map_err(|e| fail(&e))?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(|e| fail(&e))?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(|e| fail(&e))?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(|e| fail(&e))?;
        migrations::run(&mut conn).map_err(|e| fail(&e))?;
        Ok(Store {
            conn: Mutex::new(conn),
        })
    }

    pub fn schema_version() -> usize {
        migrations::latest()
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The site's row, created (with its server's) on first use.
    pub fn ensure_site(&self, server: &str, domain: &str) -> Result<SiteRow> {
        let conn = self.conn();
        let now = ts(Utc::now());
        conn.execute(
            "INSERT INTO servers (name, created_at) VALUES (?1, ?2) ON CONFLICT(name) DO NOTHING",
            params![server, now],
        )?;
        let server_id: i64 =
            conn.query_row("SELECT id FROM servers WHERE name = ?1", [server], |r| {
                r.get(0)
            })?;
        conn.execute(
            "INSERT INTO server_sites (server_id, domain) VALUES (?1, ?2)
             ON CONFLICT(server_id, domain) DO NOTHING",
            params![server_id, domain],
        )?;
        let row = conn.query_row(
            "SELECT id, server_id, active_deployment_id, last_deployment_sha, last_deployed_at
             FROM server_sites WHERE server_id = ?1 AND domain = ?2",
            params![server_id, domain],
            |r| {
                Ok(SiteRow {
                    id: r.get(0)?,
                    server_id: r.get(1)?,
                    active_deployment_id: r.get(2)?,
                    last_deployment_sha: r.get(3)?,
                    last_deployed_at: parse_ts(r.get(4)?),
                })
            },
        )?;
        Ok(row)
    }

    /// The site, if it has ever been used (read-only: does not create rows).
    pub fn find_site(&self, server: &str, domain: &str) -> Result<Option<SiteRow>> {
        let conn = self.conn();
        Ok(conn
            .query_row(
                "SELECT s.id, s.server_id, s.active_deployment_id, s.last_deployment_sha, s.last_deployed_at
                 FROM server_sites s JOIN servers v ON v.id = s.server_id
                 WHERE v.name = ?1 AND s.domain = ?2",
                params![server, domain],
                |r| {
                    Ok(SiteRow {
                        id: r.get(0)?,
                        server_id: r.get(1)?,
                        active_deployment_id: r.get(2)?,
                        last_deployment_sha: r.get(3)?,
                        last_deployed_at: parse_ts(r.get(4)?),
                    })
                },
            )
            .optional()?)
    }

    /// The spec's first step: the record exists (pending) before any work starts.
    /// A new pending deployment, made by `job` ("host pid token": who to look for after a crash).
    pub fn create_deployment(
        &self,
        site: &SiteRow,
        script: &str,
        branch: &str,
        job: &str,
    ) -> Result<i64> {
        let conn = self.conn();
        conn.execute(
            "INSERT INTO server_deployments
               (server_id, server_site_id, status, deployment_script, branch, created_at, job)
             VALUES (?1, ?2, 'pending', ?3, ?4, ?5, ?6)",
            params![site.server_id, site.id, script, branch, ts(Utc::now()), job],
        )?;
        Ok(conn.last_insert_rowid())
    }

    pub fn mark_updating(
        &self,
        id: i64,
        release: &str,
        path: &str,
        log_path: &str,
        started: DateTime<Utc>,
    ) -> Result<()> {
        self.mark_updating_at(id, release, Some((path, log_path)), started)
    }

    /// `mark_updating`, with the release and log paths left unset while they are not known yet
    /// (the root is the server's `$HOME`); `set_paths` fills them in.
    pub fn mark_updating_at(
        &self,
        id: i64,
        release: &str,
        paths: Option<(&str, &str)>,
        started: DateTime<Utc>,
    ) -> Result<()> {
        self.conn().execute(
            "UPDATE server_deployments SET status = 'updating', release_name = ?2,
               deployment_path = ?3, log_file_path = ?4, started_at = ?5 WHERE id = ?1",
            params![
                id,
                release,
                paths.map(|p| p.0),
                paths.map(|p| p.1),
                ts(started)
            ],
        )?;
        Ok(())
    }

    pub fn set_paths(&self, id: i64, path: Option<&str>, log_path: Option<&str>) -> Result<()> {
        self.conn().execute(
            "UPDATE server_deployments SET deployment_path = ?2, log_file_path = ?3 WHERE id = ?1",
            params![id, path, log_path],
        )?;
        Ok(())
    }

    pub fn append_output(&self, id: i64, text: &str) -> Result<()> {
        if text.is_empty() {
            return Ok(());
        }
        self.conn().execute(
            "INSERT INTO deployment_outputs (deployment_id, output) VALUES (?1, ?2)
             ON CONFLICT(deployment_id) DO UPDATE SET output = output || excluded.output",
            params![id, text],
        )?;
        Ok(())
    }

    pub fn output(&self, id: i64) -> Result<Option<String>> {
        Ok(self
            .conn()
            .query_row(
                "SELECT output FROM deployment_outputs WHERE deployment_id = ?1",
                [id],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Success: the deployment becomes the site's active one, in one transaction.
    pub fn finish_success(&self, id: i64, sha: &str, completed: DateTime<Utc>) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        tx.execute(
            "UPDATE server_deployments SET status = 'success', commit_sha = ?2, completed_at = ?3,
               duration_ms = CAST(ROUND((julianday(?3) - julianday(COALESCE(started_at, created_at))) * 86400000) AS INTEGER),
               error = NULL
             WHERE id = ?1",
            params![id, sha, ts(completed)],
        )?;
        tx.execute(
            "UPDATE server_sites SET active_deployment_id = ?1, last_deployment_sha = ?2, last_deployed_at = ?3
             WHERE id = (SELECT server_site_id FROM server_deployments WHERE id = ?1)",
            params![id, sha, ts(completed)],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Failure: the record keeps its output and says why; a failed deployment has no directory.
    pub fn finish_failed(
        &self,
        id: i64,
        error: &str,
        sha: Option<&str>,
        completed: DateTime<Utc>,
    ) -> Result<()> {
        self.conn().execute(
            "UPDATE server_deployments SET status = 'failed', error = ?2, completed_at = ?3,
               commit_sha = COALESCE(?4, commit_sha), deployment_path = NULL,
               duration_ms = CAST(ROUND((julianday(?3) - julianday(COALESCE(started_at, created_at))) * 86400000) AS INTEGER)
             WHERE id = ?1",
            params![id, error, ts(completed), sha],
        )?;
        Ok(())
    }

    /// A rollback: point the site at an older successful deployment.
    pub fn set_active(&self, site_id: i64, deployment_id: i64, at: DateTime<Utc>) -> Result<()> {
        self.conn().execute(
            "UPDATE server_sites SET active_deployment_id = ?2, last_deployed_at = ?3,
               last_deployment_sha = (SELECT commit_sha FROM server_deployments WHERE id = ?2)
             WHERE id = ?1",
            params![site_id, deployment_id, ts(at)],
        )?;
        Ok(())
    }

    /// The server has no live release for this site (or one the DB does not know).
    pub fn clear_active(&self, site_id: i64) -> Result<()> {
        self.conn().execute(
            "UPDATE server_sites SET active_deployment_id = NULL WHERE id = ?1",
            [site_id],
        )?;
        Ok(())
    }

    /// Pruned or found missing: the record stays, its directory is gone.
    pub fn clear_path(&self, id: i64) -> Result<()> {
        self.conn().execute(
            "UPDATE server_deployments SET deployment_path = NULL WHERE id = ?1",
            [id],
        )?;
        Ok(())
    }

    pub fn get(&self, id: i64) -> Result<Option<Deployment>> {
        let sql = format!(
            "SELECT {DEPLOYMENT_COLUMNS} FROM server_deployments d
             JOIN server_sites s ON s.id = d.server_site_id WHERE d.id = ?1"
        );
        Ok(self
            .conn()
            .query_row(&sql, [id], row_to_deployment)
            .optional()?)
    }

    /// The site's deployments, newest first (by start time, then id), at most `limit`.
    pub fn list(&self, site_id: i64, limit: Option<usize>) -> Result<Vec<Deployment>> {
        self.query_list(&list_sql(""), site_id, limit)
    }

    /// The site's deployments that still have a release directory, newest first: all that
    /// pruning and rollback choose from, however long the history.
    pub fn list_with_dirs(&self, site_id: i64) -> Result<Vec<Deployment>> {
        self.query_list(&list_sql(WITH_DIR), site_id, None)
    }

    fn query_list(&self, sql: &str, site_id: i64, limit: Option<usize>) -> Result<Vec<Deployment>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(sql)?;
        let limit = limit.map_or(-1, |l| l as i64);
        let rows = stmt.query_map(params![site_id, limit], row_to_deployment)?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// How many deployments the site has.
    pub fn count(&self, site_id: i64) -> Result<usize> {
        let n: i64 = self.conn().query_row(
            "SELECT COUNT(*) FROM server_deployments WHERE server_site_id = ?1",
            [site_id],
            |r| r.get(0),
        )?;
        Ok(n as usize)
    }

    /// How SQLite runs `list`, or `list_with_dirs` (EXPLAIN QUERY PLAN): an index must serve it.
    pub fn list_plan(&self, site_id: i64, with_dirs: bool) -> Result<Vec<String>> {
        let filter = if with_dirs { WITH_DIR } else { "" };
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {}", list_sql(filter)))?;
        let rows = stmt.query_map(params![site_id, -1], |r| r.get::<_, String>(3))?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// Release names ever used by this site (to keep new names unique).
    pub fn release_names(&self, site_id: i64) -> Result<Vec<String>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT release_name FROM server_deployments
             WHERE server_site_id = ?1 AND release_name IS NOT NULL",
        )?;
        let rows = stmt.query_map([site_id], |r| r.get(0))?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// The site's release names `base` and `base-N`: those a new release started in the same
    /// second as `base` must not reuse.
    pub fn release_names_at(&self, site_id: i64, base: &str) -> Result<Vec<String>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT release_name FROM server_deployments
             WHERE server_site_id = ?1 AND release_name >= ?2 AND release_name < ?3",
        )?;
        // '-' sorts just before '.': the range holds exactly `base` and `base-…`.
        let rows = stmt.query_map(params![site_id, base, format!("{base}.")], |r| r.get(0))?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    pub fn set_fleet(&self, id: i64, fleet_id: &str) -> Result<()> {
        self.conn().execute(
            "UPDATE server_deployments SET fleet_id = ?2 WHERE id = ?1",
            params![id, fleet_id],
        )?;
        Ok(())
    }

    /// The site's deployments still pending or updating.
    pub fn list_unfinished(&self, site_id: i64) -> Result<Vec<Deployment>> {
        let sql = format!(
            "SELECT {DEPLOYMENT_COLUMNS} FROM server_deployments d
             JOIN server_sites s ON s.id = d.server_site_id
             WHERE d.server_site_id = ?1 AND d.status IN ('pending', 'updating')"
        );
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(&sql)?;
        let rows = stmt.query_map([site_id], row_to_deployment)?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// A deployment learnt from the server's release log (made by another operator or another
    /// machine): recorded as it ended there, with who made it.
    pub fn import_deployment(
        &self,
        site: &SiteRow,
        e: &crate::release_log::Entry,
        paths: Option<(&str, &str)>,
    ) -> Result<i64> {
        let status = if e.status == "success" {
            "success"
        } else {
            "failed"
        };
        let started = e
            .started
            .clone()
            .or_else(|| crate::release::ReleaseName::parse(&e.release).map(|n| ts(n.time_utc())));
        let conn = self.conn();
        conn.execute(
            "INSERT INTO server_deployments
               (server_id, server_site_id, status, release_name, deployment_path, log_file_path,
                commit_sha, branch, error, started_at, completed_at, duration_ms, operator, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11,
                CAST(ROUND((julianday(?11) - julianday(?10)) * 86400000) AS INTEGER), ?12, ?13)",
            params![
                site.server_id,
                site.id,
                status,
                e.release,
                paths.map(|p| p.0),
                paths.map(|p| p.1),
                e.commit,
                e.branch,
                (status == "failed").then(|| format!("failed on the server (deployed by {})", e.who)),
                started,
                e.completed,
                e.who,
                ts(Utc::now()),
            ],
        )?;
        Ok(conn.last_insert_rowid())
    }

    /// `(server name, domain)` of a site row.
    pub fn site_names(&self, site_id: i64) -> Result<Option<(String, String)>> {
        Ok(self
            .conn()
            .query_row(
                "SELECT v.name, s.domain FROM server_sites s JOIN servers v ON v.id = s.server_id
                 WHERE s.id = ?1",
                [site_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?)
    }

    /// `(server name, domain)` of the site a deployment belongs to.
    pub fn site_of(&self, deployment_id: i64) -> Result<Option<(String, String)>> {
        Ok(self
            .conn()
            .query_row(
                "SELECT v.name, s.domain FROM server_deployments d
                 JOIN server_sites s ON s.id = d.server_site_id
                 JOIN servers v ON v.id = s.server_id WHERE d.id = ?1",
                [deployment_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?)
    }

    pub fn site_row(&self, site_id: i64) -> Result<SiteRow> {
        Ok(self.conn().query_row(
            "SELECT id, server_id, active_deployment_id, last_deployment_sha, last_deployed_at
             FROM server_sites WHERE id = ?1",
            [site_id],
            |r| {
                Ok(SiteRow {
                    id: r.get(0)?,
                    server_id: r.get(1)?,
                    active_deployment_id: r.get(2)?,
                    last_deployment_sha: r.get(3)?,
                    last_deployed_at: parse_ts(r.get(4)?),
                })
            },
        )?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifecycle_and_listing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/h.db");
        let store = Store::open(&path).unwrap();
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let site = store.ensure_site("web1", "example.com").unwrap();
        assert_eq!(
            store.ensure_site("web1", "example.com").unwrap().id,
            site.id
        );
        let a = store.create_deployment(&site, "true", "main", "").unwrap();
        let t0 = Utc::now();
        store
            .mark_updating(a, "r1", "/p/r1", "/p/r1/deployment.log", t0)
            .unwrap();
        store.append_output(a, "one\n").unwrap();
        store.append_output(a, "two\n").unwrap();
        store
            .finish_success(a, "abc", t0 + chrono::Duration::milliseconds(1500))
            .unwrap();
        let d = store.get(a).unwrap().unwrap();
        assert_eq!(d.status, Status::Success);
        assert_eq!(d.duration_ms, Some(1500));
        assert!(d.is_active && !d.can_rollback());
        assert_eq!(store.output(a).unwrap().as_deref(), Some("one\ntwo\n"));

        let b = store.create_deployment(&site, "true", "dev", "").unwrap();
        store
            .mark_updating(
                b,
                "r2",
                "/p/r2",
                "/p/r2/deployment.log",
                t0 + chrono::Duration::seconds(5),
            )
            .unwrap();
        store
            .finish_failed(b, "script failed", None, t0 + chrono::Duration::seconds(6))
            .unwrap();
        let list = store.list(site.id, None).unwrap();
        assert_eq!(list.iter().map(|d| d.id).collect::<Vec<_>>(), [b, a]);
        assert_eq!(list[0].deployment_path, None);
        assert_eq!(store.release_names(site.id).unwrap().len(), 2);
        assert_eq!(store.release_names_at(site.id, "r2").unwrap(), ["r2"]);
        assert!(store.release_names_at(site.id, "r").unwrap().is_empty());
        // Only deployments with a directory: the failed one has none.
        let with_dirs = store.list_with_dirs(site.id).unwrap();
        assert_eq!(with_dirs.iter().map(|d| d.id).collect::<Vec<_>>(), [a]);
        assert_eq!(store.count(site.id).unwrap(), 2);
        // Reopening runs no migration twice.
        drop(store);
        let store = Store::open(&path).unwrap();
        assert_eq!(store.list(site.id, Some(1)).unwrap().len(), 1);
    }

    /// A long history is read through indexes, never sorted: the plans say so.
    #[test]
    fn history_queries_use_indexes() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("h.db")).unwrap();
        let site = store.ensure_site("web1", "example.com").unwrap();
        let plan = store.list_plan(site.id, false).unwrap().join("; ");
        assert!(
            plan.contains("USING INDEX server_deployments_newest"),
            "{plan}"
        );
        assert!(!plan.contains("TEMP B-TREE"), "{plan}");
        let plan = store.list_plan(site.id, true).unwrap().join("; ");
        assert!(
            plan.contains("USING INDEX server_deployments_with_dir"),
            "{plan}"
        );
        assert!(!plan.contains("TEMP B-TREE"), "{plan}");
        let names = store.conn().query_row(
            "EXPLAIN QUERY PLAN SELECT release_name FROM server_deployments
             WHERE server_site_id = 1 AND release_name >= 'a' AND release_name < 'a.'",
            [],
            |r| r.get::<_, String>(3),
        );
        assert!(names.unwrap().contains("server_deployments_release"));
    }

    #[test]
    fn release_names_of_one_second() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("h.db")).unwrap();
        let site = store.ensure_site("web1", "example.com").unwrap();
        let t = Utc::now();
        for name in [
            "01012026-120000",
            "01012026-120000-2",
            "01012026-120001",
            "01012026-115959-3",
        ] {
            let id = store.create_deployment(&site, "", "main", "").unwrap();
            store.mark_updating(id, name, "/p", "/p/l", t).unwrap();
        }
        let mut got = store.release_names_at(site.id, "01012026-120000").unwrap();
        got.sort();
        assert_eq!(got, ["01012026-120000", "01012026-120000-2"]);
    }
}
