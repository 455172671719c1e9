//! Reading the history: one deployment, a site's list (newest first, on the indexes of migration
//! 2), release names, what is unfinished.

use super::Store;
use super::model::{Deployment, Status, parse_ts};
use crate::error::Result;
use rusqlite::{OptionalExtension, params};

const DEPLOYMENT_COLUMNS: &str = "d.id, d.server_site_id, d.status, d.deployment_script, d.release_name, \
     d.deployment_path, d.log_file_path, d.commit_sha, d.branch, d.error, d.started_at, \
     d.completed_at, d.duration_ms, (s.active_deployment_id IS d.id), d.fleet_id, d.job, \
     d.source, d.requested_ref, d.artifact_sha256";

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
        origin: super::model::Origin {
            source: r.get(16)?,
            requested_ref: r.get(17)?,
            artifact_sha256: r.get(18)?,
        },
    })
}

impl Store {
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

    /// Whether the site has a deployment of this release name (on `server_deployments_release`).
    pub fn has_release(&self, site_id: i64, name: &str) -> Result<bool> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT 1 FROM server_deployments WHERE server_site_id = ?1 AND release_name = ?2 LIMIT 1",
        )?;
        Ok(stmt.exists(params![site_id, name])?)
    }

    /// The site's deployments of these release names (those the server has directories of, say),
    /// newest first: one index lookup per name, however long the history.
    pub fn with_releases(&self, site_id: i64, names: &[String]) -> Result<Vec<Deployment>> {
        let sql = format!(
            "SELECT {DEPLOYMENT_COLUMNS}, COALESCE(d.started_at, d.created_at) FROM server_deployments d
             JOIN server_sites s ON s.id = d.server_site_id
             WHERE d.server_site_id = ?1 AND d.release_name = ?2"
        );
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(&sql)?;
        let mut found: Vec<(String, Deployment)> = Vec::new();
        for name in names {
            let rows = stmt.query_map(params![site_id, name], |r| {
                Ok((r.get::<_, String>(16)?, row_to_deployment(r)?))
            })?;
            for row in rows {
                found.push(row?);
            }
        }
        // The order of `list`: start time (else creation), then id, newest first.
        found.sort_by(|a, b| (&b.0, b.1.id).cmp(&(&a.0, a.1.id)));
        Ok(found.into_iter().map(|(_, d)| d).collect())
    }

    /// The site's deployments still pending or updating (on the partial index of migration 6).
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
}
