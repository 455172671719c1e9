//! The deploy dialog's "what goes out", measured: from the `d` keypress (the real `App` and
//! `Worker`, on the dashboard's warm connection to a real sshd on loopback) until the dialog,
//! drawn, shows the commit list; against, in the same run and on the same server, the same
//! diff by the CLI (`flipdeck diff SITE --json`, a process and a new connection each time), and
//! one `true` exec on the warm connection (the floor of any exec). The repository is the
//! `diff` bench's: 2,000 files, the live release 30 commits behind the branch.
//! Run: `cargo bench --bench dialog` (FLIPDECK_BENCH_ITERATIONS=N, default 15).

#[path = "../tests/it/support/git.rs"]
mod git;
#[path = "common/repo.rs"]
mod repo;
#[path = "../tests/it/support/sshd.rs"]
mod sshd;
#[path = "common/util.rs"]
mod util;
use git::git;
use util::{iterations, median};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use flipdeck::config::Config;
use flipdeck::engine::{DeployOptions, Engine};
use flipdeck::store::Store;
use flipdeck::transport::Connector;
use flipdeck::transport::connect::direct;
use flipdeck::transport::pool::Pool;
use flipdeck::ui::app::App;
use flipdeck::ui::worker::Worker;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

const DOMAIN: &str = "bench.test";

fn key(c: KeyCode) -> KeyEvent {
    KeyEvent::new(c, KeyModifiers::NONE)
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

/// The `diff` bench's repository with 29 changes (the next 30 are made by `more`).
fn repository(repo: &Path) {
    repo::create(repo);
    (1..30).for_each(|i| repo::change(repo, i));
}

/// Draws the dashboard as the terminal would; whether `text` is on the screen.
fn shows(app: &mut App, term: &mut Terminal<TestBackend>, text: &str) -> bool {
    let theme = flipdeck::ui::theme::Theme::plain();
    let area = term.size().unwrap();
    app.resize(ratatui::layout::Rect::new(0, 0, area.width, area.height));
    term.draw(|f| flipdeck::ui::view::draw(f, app, &theme))
        .unwrap();
    let buf = term.backend().buffer();
    let screen: String = buf.content().iter().map(|c| c.symbol()).collect();
    screen.contains(text)
}

async fn run(n: usize) {
    let dir = tempfile::tempdir().unwrap();
    let sshd = sshd::TestSshd::start().expect("sshd (apt-get install openssh-server)");
    let known = sshd.known_hosts_file();
    let (repo, root) = (dir.path().join("repo"), dir.path().join("srv"));
    std::fs::create_dir_all(&root).unwrap();
    repository(&repo);
    let text = format!(
        "{}\n[[servers.sites]]\ndomain = \"{DOMAIN}\"\nrepository = \"{}\"\nkeep = 3\ndeployment_script = \"true\"\n",
        sshd.server_block("bench", &known, &root),
        repo.display()
    );
    let config_path = dir.path().join("config.toml");
    std::fs::write(&config_path, &text).unwrap();
    let config = Config::parse(&text, &config_path).unwrap();
    let db = dir.path().join("history.db");
    {
        let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
        let engine = Engine::new(Arc::new(Store::open(&db).unwrap()), tx, direct());
        let site = config.find_site(DOMAIN).unwrap();
        let c = flipdeck::transport::connect::connector_for(site.server).unwrap();
        engine.provision(&site, c.as_ref()).await.unwrap();
        engine
            .deploy(
                &site,
                c.as_ref(),
                DeployOptions::default(),
                CancellationToken::new(),
            )
            .await
            .unwrap();
    }
    (30..60).for_each(|i| repo::change(&repo, i));
    let newest = git(&repo, &["rev-parse", "--short=7", "HEAD"]);

    // The dashboard, its connection opened once (as at start).
    let pool = Pool::new(direct(), config.parallel, None);
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move { while rx.recv().await.is_some() {} });
    let engine = Arc::new(Engine::new(
        Arc::new(Store::open(&db).unwrap()),
        tx,
        pool.connectors(),
    ));
    let (ld_tx, mut loaded) = tokio::sync::mpsc::unbounded_channel();
    let worker = Worker::new(Arc::new(config.clone()), engine, ld_tx, pool.clone());
    let mut app = App::new(flipdeck::ui::site_views(&config), "bench".into());
    let pooled = pool.connector(&config.servers[0]).unwrap();
    pooled.connect().await.unwrap();
    let mut term = Terminal::new(TestBackend::new(100, 30)).unwrap();
    let mut dialog = Vec::new();
    for _ in 0..n {
        let t = Instant::now();
        let fx = app.on_key(key(KeyCode::Char('d')));
        assert!(!fx.is_empty(), "the dialog asks for the diff");
        for f in fx {
            worker.run(f);
        }
        // Drawn at once with the loading line, then again as each answer arrives.
        assert!(shows(&mut app, &mut term, "reading what goes out"));
        loop {
            let l = tokio::time::timeout(Duration::from_secs(120), loaded.recv())
                .await
                .expect("the diff answers")
                .unwrap();
            for f in app.on_loaded(l) {
                worker.run(f);
            }
            if shows(&mut app, &mut term, &format!("    {newest} ")) {
                break;
            }
        }
        dialog.push(t.elapsed());
        assert!(shows(&mut app, &mut term, "30 commit(s) go out"));
        app.on_key(key(KeyCode::Esc));
    }
    assert_eq!(pooled.opened(), 1, "every diff on the one warm connection");
    // The floor: one exec of `true` on that connection.
    let mut floor = Vec::new();
    for _ in 0..n {
        let c = pooled.connect().await.unwrap();
        let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
        let t = Instant::now();
        c.exec("true", None, tx).await.unwrap();
        floor.push(t.elapsed());
    }
    // The reference: the CLI's diff of the same site, same server, same run.
    let mut cli = Vec::new();
    for _ in 0..n {
        let t = Instant::now();
        let out = Command::new(env!("CARGO_BIN_EXE_flipdeck"))
            .args(["diff", DOMAIN, "--json"])
            .env("FLIPDECK_CONFIG", &config_path)
            .env("FLIPDECK_DB", &db)
            .env_remove("SSH_AUTH_SOCK")
            .output()
            .unwrap();
        cli.push(t.elapsed());
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let d: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(d["commits_out_count"], 30);
    }
    let (dialog, cli, floor) = (median(dialog), median(cli), median(floor));
    println!(
        "what goes out, 2,000 files, the live release 30 commits behind, sshd on loopback, median of {n} (same run):"
    );
    println!(
        "  dashboard: `d` to the commit list drawn (warm connection): {}",
        ms(dialog)
    );
    println!(
        "  CLI: flipdeck diff --json (process + new connection):    {}",
        ms(cli)
    );
    println!(
        "  one `true` exec on the warm connection (the floor):       {}",
        ms(floor)
    );
    println!(
        "  dialog / CLI: {:.2}x",
        dialog.as_secs_f64() / cli.as_secs_f64()
    );
}

fn main() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(run(iterations(15)));
}
