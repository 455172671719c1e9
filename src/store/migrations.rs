//! Versioned schema migrations, applied in order and recorded in `PRAGMA user_version`.
//! Never edit a shipped migration: add the next one.

use rusqlite::Connection;

const MIGRATIONS: &[&str] = &[
    // 1: the spec's tables (servers, server_sites, server_deployments) and the output copy.
    r#"
    CREATE TABLE servers (
        id          INTEGER PRIMARY KEY,
        name        TEXT NOT NULL UNIQUE,
        created_at  TEXT NOT NULL
    );
    CREATE TABLE server_sites (
        id                   INTEGER PRIMARY KEY,
        server_id            INTEGER NOT NULL REFERENCES servers(id),
        domain               TEXT NOT NULL,
        active_deployment_id INTEGER REFERENCES server_deployments(id),
        last_deployment_sha  TEXT,
        last_deployed_at     TEXT,
        UNIQUE (server_id, domain)
    );
    CREATE TABLE server_deployments (
        id                INTEGER PRIMARY KEY,
        server_id         INTEGER NOT NULL REFERENCES servers(id),
        server_site_id    INTEGER NOT NULL REFERENCES server_sites(id),
        status            TEXT NOT NULL CHECK (status IN ('pending', 'updating', 'success', 'failed')),
        deployment_script TEXT,
        release_name      TEXT,
        deployment_path   TEXT,
        log_file_path     TEXT,
        commit_sha        TEXT,
        branch            TEXT,
        error             TEXT,
        started_at        TEXT,
        completed_at      TEXT,
        duration_ms       INTEGER,
        created_at        TEXT NOT NULL
    );
    CREATE INDEX server_deployments_by_site
        ON server_deployments (server_site_id, started_at DESC, id DESC);
    CREATE TABLE deployment_outputs (
        deployment_id INTEGER PRIMARY KEY REFERENCES server_deployments(id),
        output        TEXT NOT NULL
    );
    "#,
    // 2: indexes for a long history (100,000 deployments). `list` and the dashboard read newest
    // first, this index's order, so nothing is sorted; pruning, rollback and deploys read only
    // the deployments that still have a directory (a partial index, a handful of rows); a new
    // release name is checked against the site's names of the same second.
    r#"
    DROP INDEX server_deployments_by_site;
    CREATE INDEX server_deployments_newest
        ON server_deployments (server_site_id, COALESCE(started_at, created_at) DESC, id DESC);
    CREATE INDEX server_deployments_with_dir
        ON server_deployments (server_site_id, COALESCE(started_at, created_at) DESC, id DESC)
        WHERE deployment_path IS NOT NULL;
    CREATE INDEX server_deployments_release
        ON server_deployments (server_site_id, release_name);
    "#,
    // 3: who made a deployment (user@machine), for deployments learnt from a server's release log.
    r#"
    ALTER TABLE server_deployments ADD COLUMN operator TEXT;
    "#,
    // 4: the fleet deploy a deployment belongs to (one record per server, one id for the fleet).
    r#"
    ALTER TABLE server_deployments ADD COLUMN fleet_id TEXT;
    "#,
    // 5: the job running a deployment ("host pid token"), so a crash is recognised and what the
    // job left running on the server can be stopped even before it took the lock.
    r#"
    ALTER TABLE server_deployments ADD COLUMN job TEXT;
    "#,
    // 6 (notify): each webhook notification sent after a deploy or rollback, and how it went.
    // `target` names the `[[notify]]` block with its URL cut after the host (webhook URLs carry
    // their token); `deployment_id` is the deploy's, or the rollback's target (NULL when none).
    r#"
    CREATE TABLE notifications (
        id             INTEGER PRIMARY KEY,
        server_site_id INTEGER REFERENCES server_sites(id),
        deployment_id  INTEGER REFERENCES server_deployments(id),
        action         TEXT NOT NULL,
        event          TEXT NOT NULL,
        target         TEXT NOT NULL,
        status         TEXT NOT NULL CHECK (status IN ('sent', 'failed')),
        attempts       INTEGER NOT NULL,
        error          TEXT,
        created_at     TEXT NOT NULL
    );
    CREATE INDEX notifications_by_deployment ON notifications (deployment_id, id);
    "#,
    // 7: the runs of site commands (`flipdeck run SITE NAME`), in a table of their own: a command
    // run is no deployment, so no query of server_deployments (the active one, rollback's and
    // prune's choices, recovery) can ever pick one. `release_name` is the release it ran in; the
    // output is kept with the run, like a deployment's.
    r#"
    CREATE TABLE command_runs (
        id             INTEGER PRIMARY KEY,
        server_site_id INTEGER NOT NULL REFERENCES server_sites(id),
        name           TEXT NOT NULL,
        command        TEXT NOT NULL,
        status         TEXT NOT NULL CHECK (status IN ('running', 'success', 'failed')),
        release_name   TEXT,
        exit_code      INTEGER,
        error          TEXT,
        output         TEXT NOT NULL DEFAULT '',
        operator       TEXT,
        job            TEXT,
        started_at     TEXT NOT NULL,
        completed_at   TEXT,
        duration_ms    INTEGER
    );
    CREATE INDEX command_runs_newest ON command_runs (server_site_id, started_at DESC, id DESC);
    "#,
    // 8: the deployments still pending or updating (a crash's leftovers, the running ones): every
    // refresh and `status` looks for them, so with a long history they are found through this
    // partial index (a handful of rows), never by reading the site's every deployment.
    r#"
    CREATE INDEX server_deployments_unfinished
        ON server_deployments (server_site_id)
        WHERE status IN ('pending', 'updating');
    "#,
    // 9 (sources): where a deployment's code came from (server, push, artifact; NULL: before
    // sources, or a placeholder), the ref it was asked for (`deploy --ref`), and an artifact's
    // SHA-256 (its commit is commit_sha).
    r#"
    ALTER TABLE server_deployments ADD COLUMN source TEXT;
    ALTER TABLE server_deployments ADD COLUMN requested_ref TEXT;
    ALTER TABLE server_deployments ADD COLUMN artifact_sha256 TEXT;
    "#,
];

pub fn run(conn: &mut Connection) -> Result<(), String> {
    apply(conn).map_err(|e| e.to_string())?
}

fn apply(conn: &mut Connection) -> rusqlite::Result<Result<(), String>> {
    let current: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    let current = current.max(0) as usize;
    if current > MIGRATIONS.len() {
        return Ok(Err(format!(
            "its schema version {current} is newer than this flipdeck knows ({}); upgrade flipdeck",
            MIGRATIONS.len()
        )));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(current) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        tx.commit()?;
    }
    Ok(Ok(()))
}

pub fn latest() -> usize {
    MIGRATIONS.len()
}
