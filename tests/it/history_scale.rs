//! A long history costs nothing: `status` (the engine's refresh, which the dashboard runs too) and
//! a deploy do the same work in the history database whether it holds a few deployments or
//! thousands more, and no statement they run scans the deployments. Counted by SQLite itself
//! (rows returned, virtual machine steps), not timed.

use crate::support::{DOMAIN, Harness};
use flipdeck::config::Config;
use flipdeck::engine::{DeployOptions, Engine};
use flipdeck::store::{Store, Traced};
use flipdeck::transport::LocalConnector;
use std::path::Path;
use std::sync::{Arc, Mutex};
use tokio_util::sync::CancellationToken;

const OLDER: usize = 3_000;

fn engine(db: &Path) -> Engine {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move { while rx.recv().await.is_some() {} });
    Engine::new(
        Arc::new(Store::open(db).unwrap()),
        tx,
        flipdeck::transport::connect::direct(),
    )
}

/// `OLDER` deployments older than every other of the site, as years of deploys leave them: pruned
/// successes, failures (some with the job that ran them), outputs.
fn add_older(db: &Path, site_id: i64, server_id: i64) {
    let mut conn = rusqlite::Connection::open(db).unwrap();
    let tx = conn.transaction().unwrap();
    for i in 0..OLDER {
        let failed = i % 11 == 0;
        let t0 = chrono::TimeZone::with_ymd_and_hms(&chrono::Utc, 2010, 1, 1, 0, 0, 0).unwrap();
        let started = flipdeck::store::ts(t0 + chrono::Duration::minutes(i as i64));
        tx.execute(
            "INSERT INTO server_deployments (server_id, server_site_id, status, release_name,
               commit_sha, branch, error, started_at, completed_at, duration_ms, created_at, job)
             VALUES (?1, ?2, ?3, ?4, 'abc', 'main', ?5, ?6, ?6, 1000, ?6, ?7)",
            rusqlite::params![
                server_id,
                site_id,
                if failed { "failed" } else { "success" },
                format!("old-{i}"),
                failed.then_some("script failed"),
                started,
                failed.then_some("otherhost 1 token-old"),
            ],
        )
        .unwrap();
        tx.execute(
            "INSERT INTO deployment_outputs (deployment_id, output) VALUES (?1, 'ok\n')",
            [tx.last_insert_rowid()],
        )
        .unwrap();
    }
    tx.commit().unwrap();
}

/// What the traced statements did since the last call: rows returned and VM steps, in all.
fn work(log: &Mutex<Vec<Traced>>) -> (u64, i64, Vec<Traced>) {
    let runs = std::mem::take(&mut *log.lock().unwrap());
    let rows = runs.iter().map(|t| t.rows).sum();
    let steps = runs.iter().map(|t| t.vm_steps).sum();
    (rows, steps, runs)
}

/// Every statement that was run, planned: none may scan a table of the history.
fn assert_no_scans(db: &Path, runs: &[Traced]) {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut seen = std::collections::BTreeSet::new();
    for t in runs {
        if !seen.insert(t.sql.clone()) || t.sql.trim_start().starts_with("PRAGMA") {
            continue;
        }
        let mut stmt = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {}", t.sql))
            .unwrap();
        let mut rows = stmt.raw_query();
        let mut plan = Vec::new();
        while let Some(r) = rows.next().unwrap() {
            plan.push(r.get::<_, String>(3).unwrap());
        }
        for line in &plan {
            let scanned = line.starts_with("SCAN ")
                && ["server_deployments", "deployment_outputs", " d", " d "]
                    .iter()
                    .any(|t| line.ends_with(t) || line.contains(&format!("{t} ")));
            assert!(!scanned, "{}\nplan: {plan:?}", t.sql);
        }
    }
}

#[tokio::test]
async fn status_and_deploy_do_not_grow_with_the_history() {
    let h = Harness::local();
    h.write_config("keep = 3");
    let config = Config::load(&h.config).unwrap();
    let site = config.find_site(DOMAIN).unwrap();
    let engine = engine(&h.db);
    let c = LocalConnector;
    engine.provision(&site, &c).await.unwrap();
    let deploy = || {
        engine.deploy(
            &site,
            &c,
            DeployOptions::default(),
            CancellationToken::new(),
        )
    };
    for i in 0..2 {
        h.commit("public/index.php", &format!("<?php echo {i};\n"));
        deploy().await.unwrap();
    }
    let log = engine.store.trace();
    // Each measured twice: the first refresh after a deploy may settle something.
    engine.refresh(&site, &c).await.unwrap();
    let _ = work(&log);
    engine.refresh(&site, &c).await.unwrap();
    let (status_rows, status_steps, runs) = work(&log);
    assert_no_scans(&h.db, &runs);
    deploy().await.unwrap();
    let (deploy_rows, deploy_steps, runs) = work(&log);
    assert_no_scans(&h.db, &runs);

    let row = engine.store.find_site("web1", DOMAIN).unwrap().unwrap();
    add_older(&h.db, row.id, row.server_id);
    engine.refresh(&site, &c).await.unwrap();
    let _ = work(&log);
    engine.refresh(&site, &c).await.unwrap();
    let (big_rows, big_steps, runs) = work(&log);
    assert_no_scans(&h.db, &runs);
    deploy().await.unwrap();
    let (big_deploy_rows, big_deploy_steps, runs) = work(&log);
    assert_no_scans(&h.db, &runs);

    // Reading each of the older deployments would return thousands of rows and take tens of
    // thousands of steps; the refresh and the deploy stay where they were (a deploy more to see).
    let small = |before: (u64, i64), after: (u64, i64), what: &str| {
        assert!(
            after.0 <= before.0 + 5 && after.1 <= before.1 + before.1 / 4 + 200,
            "{what}: {before:?} (rows, VM steps) with a short history, {after:?} with {OLDER} more"
        );
    };
    small((status_rows, status_steps), (big_rows, big_steps), "status");
    small(
        (deploy_rows, deploy_steps),
        (big_deploy_rows, big_deploy_steps),
        "deploy",
    );
    assert!(
        status_steps > 0 && deploy_steps > 0,
        "the trace saw the statements"
    );
}
