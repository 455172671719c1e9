//! The history of site commands (`flipdeck run SITE NAME`): one row per run on one server, in
//! `command_runs` (migration 6), apart from the deployments so that no deployment query can pick
//! a command run as the active release or a rollback target.

use super::Store;
use super::model::{SiteRow, parse_ts, ts};
use crate::error::Result;
use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};
use serde::Serialize;

/// How a command run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    Running,
    Success,
    Failed,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Success => "success",
            RunStatus::Failed => "failed",
        }
    }

    fn parse(s: &str) -> RunStatus {
        match s {
            "running" => RunStatus::Running,
            "success" => RunStatus::Success,
            _ => RunStatus::Failed,
        }
    }
}

/// One row of `command_runs`.
#[derive(Debug, Clone, PartialEq)]
pub struct CommandRun {
    pub id: i64,
    pub site_id: i64,
    pub name: String,
    pub command: String,
    pub status: RunStatus,
    /// The release the command ran in (the live one when it started).
    pub release_name: Option<String>,
    pub exit_code: Option<i32>,
    pub error: Option<String>,
    pub operator: Option<String>,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub duration_ms: Option<i64>,
}

/// A command run as `list --commands --json` prints it.
#[derive(Debug, Serialize)]
pub struct CommandRunJson<'a> {
    pub id: i64,
    pub kind: &'static str,
    pub name: &'a str,
    pub command: &'a str,
    pub status: RunStatus,
    pub release_name: Option<&'a str>,
    pub exit_code: Option<i32>,
    pub error: Option<&'a str>,
    pub operator: Option<&'a str>,
    pub started_at: Option<String>,
    pub completed_at: Option<String>,
    pub duration_ms: Option<i64>,
}

impl<'a> From<&'a CommandRun> for CommandRunJson<'a> {
    fn from(r: &'a CommandRun) -> Self {
        CommandRunJson {
            id: r.id,
            kind: "command",
            name: &r.name,
            command: &r.command,
            status: r.status,
            release_name: r.release_name.as_deref(),
            exit_code: r.exit_code,
            error: r.error.as_deref(),
            operator: r.operator.as_deref(),
            started_at: r.started_at.map(ts),
            completed_at: r.completed_at.map(ts),
            duration_ms: r.duration_ms,
        }
    }
}

/// How a command run ended: its release (if it got that far), exit code, error and output.
#[derive(Debug, Clone)]
pub struct RunEnd<'a> {
    pub ok: bool,
    pub release: Option<&'a str>,
    pub exit_code: Option<i32>,
    pub error: Option<&'a str>,
    pub output: &'a str,
    pub completed: DateTime<Utc>,
}

const COLUMNS: &str = "id, server_site_id, name, command, status, release_name, exit_code, error, \
                       operator, started_at, completed_at, duration_ms";

fn row_to_run(r: &rusqlite::Row<'_>) -> rusqlite::Result<CommandRun> {
    Ok(CommandRun {
        id: r.get(0)?,
        site_id: r.get(1)?,
        name: r.get(2)?,
        command: r.get(3)?,
        status: RunStatus::parse(&r.get::<_, String>(4)?),
        release_name: r.get(5)?,
        exit_code: r.get(6)?,
        error: r.get(7)?,
        operator: r.get(8)?,
        started_at: parse_ts(r.get(9)?),
        completed_at: parse_ts(r.get(10)?),
        duration_ms: r.get(11)?,
    })
}

impl Store {
    /// A new run of `name` (`command`) on `site`, running from `started`.
    pub fn create_command_run(
        &self,
        site: &SiteRow,
        name: &str,
        command: &str,
        operator: &str,
        job: &str,
        started: DateTime<Utc>,
    ) -> Result<i64> {
        let conn = self.conn();
        conn.execute(
            "INSERT INTO command_runs
               (server_site_id, name, command, status, operator, job, started_at)
             VALUES (?1, ?2, ?3, 'running', ?4, ?5, ?6)",
            params![site.id, name, command, operator, job, ts(started)],
        )?;
        Ok(conn.last_insert_rowid())
    }

    /// How the run ended (see `RunEnd`).
    pub fn finish_command_run(&self, id: i64, end: &RunEnd<'_>) -> Result<()> {
        self.conn().execute(
            "UPDATE command_runs SET status = ?2, release_name = ?3, exit_code = ?4, error = ?5,
               output = output || ?6, completed_at = ?7,
               duration_ms = CAST(ROUND((julianday(?7) - julianday(started_at)) * 86400000) AS INTEGER)
             WHERE id = ?1",
            params![
                id,
                if end.ok { "success" } else { "failed" },
                end.release,
                end.exit_code,
                end.error,
                end.output,
                ts(end.completed)
            ],
        )?;
        Ok(())
    }

    pub fn command_run(&self, id: i64) -> Result<Option<CommandRun>> {
        let sql = format!("SELECT {COLUMNS} FROM command_runs WHERE id = ?1");
        Ok(self.conn().query_row(&sql, [id], row_to_run).optional()?)
    }

    pub fn command_output(&self, id: i64) -> Result<Option<String>> {
        Ok(self
            .conn()
            .query_row("SELECT output FROM command_runs WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .optional()?)
    }

    /// The site's command runs, newest first, at most `limit`.
    pub fn command_runs(&self, site_id: i64, limit: Option<usize>) -> Result<Vec<CommandRun>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM command_runs WHERE server_site_id = ?1
             ORDER BY started_at DESC, id DESC LIMIT ?2"
        );
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(&sql)?;
        let limit = limit.map_or(-1, |l| l as i64);
        let rows = stmt.query_map(params![site_id, limit], row_to_run)?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// The site's runs still `running`, with the job that runs them ("host pid token").
    pub fn running_command_runs(&self, site_id: i64) -> Result<Vec<(i64, Option<String>)>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT id, job FROM command_runs WHERE server_site_id = ?1 AND status = 'running'",
        )?;
        let rows = stmt.query_map([site_id], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// How many command runs the site has.
    pub fn command_run_count(&self, site_id: i64) -> Result<usize> {
        let n: i64 = self.conn().query_row(
            "SELECT COUNT(*) FROM command_runs WHERE server_site_id = ?1",
            [site_id],
            |r| r.get(0),
        )?;
        Ok(n as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_command_run_is_recorded_apart_from_the_deployments() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("h.db")).unwrap();
        let site = store.ensure_site("web1", "example.com").unwrap();
        let d = store.create_deployment(&site, "true", "main", "").unwrap();
        let t0 = Utc::now();
        store
            .mark_updating(d, "r1", "/p/r1", "/p/r1/deployment.log", t0)
            .unwrap();
        store.finish_success(d, "abc", t0).unwrap();
        let r = store
            .create_command_run(
                &site,
                "status",
                "php artisan migrate:status",
                "me@here",
                "h 1 t",
                t0,
            )
            .unwrap();
        assert_eq!(
            store.command_run(r).unwrap().unwrap().status,
            RunStatus::Running
        );
        store
            .finish_command_run(
                r,
                &RunEnd {
                    ok: false,
                    release: Some("r1"),
                    exit_code: Some(3),
                    error: Some("exit code 3"),
                    output: "out\n",
                    completed: t0 + chrono::Duration::milliseconds(250),
                },
            )
            .unwrap();
        let run = store.command_run(r).unwrap().unwrap();
        assert_eq!(
            (
                run.status,
                run.release_name.as_deref(),
                run.exit_code,
                run.duration_ms
            ),
            (RunStatus::Failed, Some("r1"), Some(3), Some(250))
        );
        assert_eq!(store.command_output(r).unwrap().as_deref(), Some("out\n"));
        assert_eq!(store.command_runs(site.id, None).unwrap(), [run]);
        assert_eq!(store.command_run_count(site.id).unwrap(), 1);
        // The deployments know nothing of it: the active one stays, nothing new to roll back to.
        let list = store.list(site.id, None).unwrap();
        assert_eq!(list.iter().map(|d| d.id).collect::<Vec<_>>(), [d]);
        assert!(list[0].is_active);
        assert_eq!(store.count(site.id).unwrap(), 1);
    }
}
