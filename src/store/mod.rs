//! The local history: a SQLite database after the spec's schema. Records are never deleted; pruning
//! only sets `deployment_path` to null. `model` holds the rows' types, `sites` the site rows,
//! `record` every write a deployment makes, `query` the reads.

mod commands;
mod migrations;
mod model;
mod notifications;
mod query;
mod record;
mod sites;

pub use commands::{CommandRun, CommandRunJson, RunEnd, RunStatus};
pub use model::{Deployment, DeploymentJson, Origin, SiteRow, Status, ts};
pub use notifications::Notification;

use crate::error::{Error, Result};
use rusqlite::Connection;
use std::path::Path;
use std::sync::{Arc, Mutex};

/// One run of one statement, as SQLite counted it (see `Store::trace`).
#[derive(Debug, Clone)]
pub struct Traced {
    pub sql: String,
    /// Rows it returned.
    pub rows: u64,
    /// Virtual machine steps: the work it did, which grows with every row it visits.
    pub vm_steps: i64,
    /// Steps of full table scans.
    pub fullscan_steps: i64,
    /// How long it ran, as SQLite measured it.
    pub took: std::time::Duration,
}

pub struct Store {
    conn: Mutex<Connection>,
}

impl Store {
    /// Opens (creating with mode 0600 where missing, in folders made 0700) and migrates the
    /// history DB. A database (and its -wal and -shm files) that others can read is made private
    /// first: it holds every deploy's output.
    pub fn open(path: &Path) -> Result<Store> {
        let fail = |e: &dyn std::fmt::Display| {
            Error::failed(format!(
                "cannot open history database {}: {e}",
                path.display()
            ))
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            crate::permissions::create_private_dir(dir).map_err(|e| fail(&e))?;
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
        for suffix in ["", "-wal", "-shm"] {
            let mut p = path.as_os_str().to_owned();
            p.push(suffix);
            crate::permissions::make_private(Path::new(&p)).map_err(|e| fail(&e))?;
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

    /// From now on, records what each statement the store runs did, as SQLite counts it: for
    /// the tests and benches that check a long history is read only where it is needed.
    pub fn trace(&self) -> Arc<Mutex<Vec<Traced>>> {
        use rusqlite::StatementStatus::{FullscanStep, VmStep};
        use rusqlite::trace::{TraceEvent, TraceEventCodes};
        let log: Arc<Mutex<Vec<Traced>>> = Arc::default();
        let sink = log.clone();
        // A statement's counters add up over its runs (cached statements run many times): each
        // run's share is what it reached at the end less what it had at the start.
        let mut open: Vec<(String, i64, i64)> = Vec::new();
        let mut rows = 0u64;
        let codes = TraceEventCodes::SQLITE_TRACE_STMT
            | TraceEventCodes::SQLITE_TRACE_PROFILE
            | TraceEventCodes::SQLITE_TRACE_ROW;
        let f = move |e: TraceEvent<'_>| match e {
            TraceEvent::Stmt(st, _) => {
                let counters = (
                    i64::from(st.get_status(VmStep)),
                    i64::from(st.get_status(FullscanStep)),
                );
                open.push((st.sql().into_owned(), counters.0, counters.1));
                rows = 0;
            }
            TraceEvent::Row(_) => rows += 1,
            TraceEvent::Profile(st, took) => {
                let sql = st.sql().into_owned();
                let Some(at) = open.iter().rposition(|o| o.0 == sql) else {
                    return;
                };
                let (_, vm, scan) = open.remove(at);
                let mut log = sink.lock().unwrap_or_else(|p| p.into_inner());
                log.push(Traced {
                    vm_steps: i64::from(st.get_status(VmStep)) - vm,
                    fullscan_steps: i64::from(st.get_status(FullscanStep)) - scan,
                    rows,
                    sql,
                    took,
                });
            }
            _ => {}
        };
        // Tracing is for tests; a store that cannot be traced simply records nothing.
        let _ = self.conn().trace_v2(codes, Some(f));
        log
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

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
        assert!(
            store.has_release(site.id, "r1").unwrap() && store.has_release(site.id, "r2").unwrap()
        );
        assert!(!store.has_release(site.id, "r3").unwrap());
        let named = store
            .with_releases(site.id, &["r1".into(), "r2".into()])
            .unwrap();
        assert_eq!(named.iter().map(|d| d.id).collect::<Vec<_>>(), [b, a]);
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
