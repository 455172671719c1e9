//! Servers and sites: a site's row, created with its server's on first use.

use super::Store;
use super::model::{SiteRow, parse_ts, ts};
use crate::error::Result;
use chrono::Utc;
use rusqlite::{OptionalExtension, params};

impl Store {
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
            row_to_site,
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
                row_to_site,
            )
            .optional()?)
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
            row_to_site,
        )?)
    }
}

/// A site row from the columns `id, server_id, active_deployment_id, last_deployment_sha,
/// last_deployed_at`, in that order.
fn row_to_site(r: &rusqlite::Row<'_>) -> rusqlite::Result<SiteRow> {
    Ok(SiteRow {
        id: r.get(0)?,
        server_id: r.get(1)?,
        active_deployment_id: r.get(2)?,
        last_deployment_sha: r.get(3)?,
        last_deployed_at: parse_ts(r.get(4)?),
    })
}
