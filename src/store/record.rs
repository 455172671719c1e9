//! Every write a deployment makes over its life, and importing one another operator recorded.

use super::Store;
use super::model::{SiteRow, ts};
use crate::error::Result;
use chrono::{DateTime, Utc};
use rusqlite::params;

impl Store {
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

    /// Where deployment `id`'s code comes from (see `Origin`).
    pub fn set_origin(
        &self,
        id: i64,
        source: Option<&str>,
        requested_ref: Option<&str>,
        artifact_sha256: Option<&str>,
    ) -> Result<()> {
        self.conn().execute(
            "UPDATE server_deployments SET source = ?2, requested_ref = ?3, artifact_sha256 = ?4
             WHERE id = ?1",
            params![id, source, requested_ref, artifact_sha256],
        )?;
        Ok(())
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

    /// The deployment's release is `release` after all (the server reserved another name than the
    /// one chosen here), with its paths when they are known.
    pub fn rename_release(
        &self,
        id: i64,
        release: &str,
        paths: Option<(&str, &str)>,
    ) -> Result<()> {
        self.conn().execute(
            "UPDATE server_deployments SET release_name = ?2,
               deployment_path = COALESCE(?3, deployment_path), log_file_path = COALESCE(?4, log_file_path)
             WHERE id = ?1",
            params![id, release, paths.map(|p| p.0), paths.map(|p| p.1)],
        )?;
        Ok(())
    }

    /// Removes a deployment that never began: refused by another job's lock before anything was
    /// made on the server. It was no deployment, so it leaves no record (and no release name).
    pub fn discard_refused(&self, id: i64) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        tx.execute(
            "DELETE FROM deployment_outputs WHERE deployment_id = ?1",
            params![id],
        )?;
        tx.execute("DELETE FROM server_deployments WHERE id = ?1", params![id])?;
        tx.commit()?;
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

    pub fn set_fleet(&self, id: i64, fleet_id: &str) -> Result<()> {
        self.conn().execute(
            "UPDATE server_deployments SET fleet_id = ?2 WHERE id = ?1",
            params![id, fleet_id],
        )?;
        Ok(())
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
}
