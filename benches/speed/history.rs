//! History at scale: 100,000 deployments of one site in the DB, then `flipdeck list SITE` (the
//! real binary) and opening the dashboard (its App, the first table load, one 200x50 frame).

use crate::repo::Rng;
use crate::stats;
use chrono::{Duration as Span, TimeZone, Utc};
use flipdeck::config::Config;
use flipdeck::store::{Store, ts};
use flipdeck::ui::app::{Effect, Loaded};
use flipdeck::ui::worker::TABLE_LIMIT;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

pub const DEPLOYMENTS: usize = 100_000;
const DOMAIN: &str = "history.test";

pub struct Results {
    pub insert: Duration,
    pub list: Duration,
    pub list_json: Duration,
    pub list_rows: usize,
    /// `list --all`: every deployment.
    pub list_all: Duration,
    pub list_all_rows: usize,
    pub dashboard: Duration,
    pub dashboard_rows: usize,
    pub plan: Vec<String>,
}

fn write_config(dir: &Path) -> PathBuf {
    let path = dir.join("config.toml");
    let text = format!(
        "[[servers]]\nname = \"web1\"\ntransport = \"local\"\nroot = \"{}\"\n\n\
         [[servers.sites]]\ndomain = \"{DOMAIN}\"\nrepository = \"/nonexistent/repo\"\n",
        dir.join("srv").display()
    );
    std::fs::write(&path, text).unwrap();
    path
}

/// Inserts `n` deployments of the site in one transaction, older than any other, as years of
/// deploys would have left them: mostly successes, some failures, each with a short output. The
/// newest `with_dirs` successes keep their directory; the rest were pruned.
pub fn fill(db: &Path, server: &str, domain: &str, n: usize, with_dirs: usize) -> Duration {
    let site = Store::open(db)
        .unwrap()
        .ensure_site(server, domain)
        .unwrap();
    let t = Instant::now();
    let mut conn = rusqlite::Connection::open(db).unwrap();
    let tx = conn.transaction().unwrap();
    {
        let mut dep = tx
            .prepare(
                "INSERT INTO server_deployments (server_id, server_site_id, status,
                   deployment_script, release_name, deployment_path, log_file_path, commit_sha,
                   branch, error, started_at, completed_at, duration_ms, created_at)
                 VALUES (?1, ?2, ?3, 'git fetch && git pull', ?4, ?5, ?6, ?7, 'main', ?8,
                   ?9, ?10, ?11, ?9)",
            )
            .unwrap();
        let mut out = tx
            .prepare("INSERT INTO deployment_outputs (deployment_id, output) VALUES (?1, ?2)")
            .unwrap();
        let mut rng = Rng::new(42);
        let start = Utc.with_ymd_and_hms(2005, 1, 1, 0, 0, 0).unwrap();
        for i in 1..=n {
            let started = start + Span::minutes(i as i64 * 97);
            let name = started.format("%d%m%Y-%H%M%S").to_string();
            let failed = rng.below(12) == 0;
            let path = format!("/srv/deployments/{domain}/{name}");
            let kept = !failed && i + with_dirs > n;
            let ms = 400 + rng.below(60_000) as i64;
            let sha = format!(
                "{:016x}{:016x}{:08x}",
                rng.next(),
                rng.next(),
                rng.next() as u32
            );
            dep.execute(rusqlite::params![
                site.server_id,
                site.id,
                if failed { "failed" } else { "success" },
                name,
                kept.then_some(&path),
                format!("{path}/deployment.log"),
                sha,
                failed.then_some("script 1/1: git fetch && git pull failed (exit code 1)"),
                ts(started),
                ts(started + Span::milliseconds(ms)),
                ms,
            ])
            .unwrap();
            out.execute(rusqlite::params![
                tx.last_insert_rowid(),
                format!("==> lock\n==> mkdir\n==> fetch\n==> clone\n==> links\n==> script 1/1: git fetch && git pull\nAlready up to date.\n==> commit\n==> switch\nflipdeck: deployed {name} at {}\n", &sha[..7])
            ])
            .unwrap();
        }
        // Where nothing newer is live, the newest success is.
        tx.execute(
            "UPDATE server_sites SET active_deployment_id = (SELECT MAX(id) FROM server_deployments
               WHERE server_site_id = ?1 AND status = 'success')
             WHERE id = ?1 AND active_deployment_id IS NULL",
            [site.id],
        )
        .unwrap();
    }
    tx.commit().unwrap();
    t.elapsed()
}

/// `flipdeck list SITE ARGS`, as a user runs it; returns the time and how many lines it printed.
fn time_list(bin: &Path, config: &Path, db: &Path, args: &[&str]) -> (Duration, usize) {
    let mut c = Command::new(bin);
    c.args(["list", DOMAIN])
        .args(args)
        .env("FLIPDECK_CONFIG", config)
        .env("FLIPDECK_DB", db);
    let t = Instant::now();
    let out = c.output().expect("flipdeck list runs");
    let took = t.elapsed();
    assert!(
        out.status.success(),
        "flipdeck list: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (took, out.stdout.iter().filter(|&&b| b == b'\n').count())
}

/// What opening the dashboard costs before the first useful frame: config, DB, App, the first
/// `LoadDeployments` (as the worker runs it) and one render.
fn time_dashboard(config: &Path, db: &Path) -> (Duration, usize) {
    let t = Instant::now();
    let cfg = Config::load(config).unwrap();
    let store = Store::open(db).unwrap();
    let mut app = flipdeck::ui::app::App::new(flipdeck::ui::site_views(&cfg), "bench".into());
    let mut rows = 0;
    for fx in app.start() {
        if let Effect::LoadDeployments(key) = fx {
            let s = cfg.find_site(&key).unwrap();
            let row = store.find_site(&s.server.name, &s.site.domain).unwrap();
            let list = store.list(row.unwrap().id, Some(TABLE_LIMIT)).unwrap();
            rows = list.len();
            app.on_loaded(Loaded::Deployments { site: key, list });
        }
    }
    let mut term = Terminal::new(TestBackend::new(200, 50)).unwrap();
    let theme = flipdeck::ui::theme::Theme {
        color: true,
        ..flipdeck::ui::theme::Theme::plain()
    };
    term.draw(|f| flipdeck::ui::view::draw(f, &app, &theme))
        .unwrap();
    (t.elapsed(), rows)
}

pub fn run(dir: &Path, bin: &Path, iterations: usize) -> Results {
    let config = write_config(dir);
    let db = dir.join("history.db");
    let insert = fill(&db, "web1", DOMAIN, DEPLOYMENTS, 14);
    let store = Store::open(&db).unwrap();
    let site = store.find_site("web1", DOMAIN).unwrap().unwrap();
    let plan = store.list_plan(site.id, false).unwrap();
    drop(store);
    let n = iterations.max(5);
    let time = |args: &[&str]| {
        let runs: Vec<(Duration, usize)> =
            (0..n).map(|_| time_list(bin, &config, &db, args)).collect();
        let lines = runs[0].1;
        (
            stats::median(runs.into_iter().map(|r| r.0).collect()),
            lines,
        )
    };
    let (list, list_rows) = time(&[]);
    let (list_json, _) = time(&["--json"]);
    let (list_all, list_all_rows) = time(&["--all"]);
    let mut dashboard_rows = 0;
    let dashboard = stats::median(
        (0..n)
            .map(|_| {
                let (t, r) = time_dashboard(&config, &db);
                dashboard_rows = r;
                t
            })
            .collect(),
    );
    Results {
        insert,
        list,
        list_json,
        list_rows,
        list_all,
        list_all_rows,
        dashboard,
        dashboard_rows,
        plan,
    }
}
