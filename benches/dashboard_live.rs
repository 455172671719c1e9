//! The dashboard left open, measured. Run: `cargo bench --bench dashboard_live`.
//!
//! 1. A rollback from the dashboard on its warm connection: from the `r`, `y` keypresses (the
//!    real `App` and `Worker`, over a real sshd on loopback) until the live link has switched on
//!    the server; against the same with a cold connection per job (what the dashboard did
//!    before), and the bare cost of one exec on a warm connection (the login shell's start). It
//!    logs in as a system user `flipdeck-bench` whose login shell is `/bin/sh` (created when
//!    running as root), so that the figures are flipdeck's and not the start-up files' of the
//!    current user's shell (root's `.bashrc` here runs `pyenv init` on every exec);
//!    FLIPDECK_BENCH_AS_ME=1 measures as the current user too.
//! 2. An idle dashboard (the real binary, in a pty made by `script` inside tmux) watching 20
//!    servers (20 sshd on 127.0.0.2-21) with `refresh_s = 5`: its CPU time and the bytes it writes
//!    to the terminal while nothing changes. FLIPDECK_BENCH_IDLE_S=N watches N s (default 60).
//!
//! FLIPDECK_BENCH_RTT_MS=N runs part 1 only, with the server behind the latency proxy
//! (`tests/it/support/latency.rs`) at N ms of round-trip time.
//!
//! `cargo bench --bench dashboard_live --profile dev` measures the debug build (no release
//! build needed; its CPU figures are an upper bound of the release build's).

#[path = "../tests/it/support/git.rs"]
mod git;
#[path = "common/util.rs"]
mod util;
use git::git;
use util::median;

#[path = "../tests/it/support/latency.rs"]
mod latency;
#[path = "../tests/it/support/sshd.rs"]
mod sshd;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use flipdeck::config::Config;
use flipdeck::engine::{DeployOptions, Engine};
use flipdeck::store::Store;
use flipdeck::transport::connect::direct;
use flipdeck::transport::pool::Pool;
use flipdeck::ui::app::{App, Effect, Loaded};
use flipdeck::ui::worker::Worker;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

const DOMAIN: &str = "bench.test";
const ROLLBACKS: usize = 15;

fn repo(dir: &Path) -> PathBuf {
    let repo = dir.join("repo");
    std::fs::create_dir_all(repo.join("public")).unwrap();
    std::fs::write(repo.join("public/index.php"), "<?php echo 1;\n").unwrap();
    git(&repo, &["init", "-q", "-b", "main"]);
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-qm", "v1"]);
    repo
}

fn server_block(s: &sshd::TestSshd, name: &str, known: &Path, root: &Path, repo: &Path) -> String {
    format!(
        "{}\n[[servers.sites]]\ndomain = \"{DOMAIN}\"\nrepository = \"{}\"\ndeployment_script = \"true\"\n",
        s.server_block(name, known, root),
        repo.display()
    )
}

/// `server_block`, logged in as `user` when given: that user then reads sshd's
/// authorized_keys and owns the site's root and the repository.
fn login_block(
    s: &sshd::TestSshd,
    name: &str,
    known: &Path,
    root: &Path,
    repo: &Path,
    user: Option<&str>,
) -> String {
    let text = server_block(s, name, known, root, repo);
    let Some(u) = user else { return text };
    use std::os::unix::fs::PermissionsExt;
    let open = std::fs::Permissions::from_mode(0o755);
    for d in [s.dir(), root.parent().unwrap(), repo.parent().unwrap()] {
        std::fs::set_permissions(d, open.clone()).unwrap();
    }
    for p in [root, repo] {
        let ok = Command::new("chown")
            .args(["-R", u])
            .arg(p)
            .status()
            .unwrap();
        assert!(ok.success());
    }
    text.replace(
        &format!("user = \"{}\"", s.user),
        &format!("user = \"{u}\""),
    )
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn key(c: char) -> KeyEvent {
    KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)
}

/// The live link's target.
fn live(root: &Path) -> PathBuf {
    std::fs::read_link(root.join(DOMAIN)).unwrap()
}

struct Dash {
    app: App,
    worker: Worker,
    loaded: tokio::sync::mpsc::UnboundedReceiver<Loaded>,
}

impl Dash {
    fn new(config: &Config, db: &Path) -> (Dash, Arc<Pool>) {
        let pool = Pool::new(direct(), config.parallel, None);
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move { while rx.recv().await.is_some() {} });
        let store = Arc::new(Store::open(db).unwrap());
        let engine = Arc::new(Engine::new(store, tx, pool.connectors()));
        let (ld_tx, loaded) = tokio::sync::mpsc::unbounded_channel();
        let worker = Worker::new(Arc::new(config.clone()), engine, ld_tx, pool.clone());
        let app = App::new(flipdeck::ui::site_views(config), "bench".into());
        (
            Dash {
                app,
                worker,
                loaded,
            },
            pool,
        )
    }

    /// Runs effects until `done` says the state is what is wanted.
    async fn settle(&mut self, mut fx: Vec<Effect>, done: impl Fn(&App) -> bool) {
        loop {
            for f in fx.drain(..) {
                self.worker.run(f);
            }
            if done(&self.app) {
                return;
            }
            let l = self.loaded.recv().await.unwrap();
            fx = self.app.on_loaded(l);
        }
    }

    /// `r`, `y` on the table's row that can be rolled back to; how long until the link switched.
    async fn rollback(&mut self, root: &Path) -> Duration {
        // The list as the last job left it.
        self.app.sites[0].loaded = false;
        let fx = vec![Effect::LoadDeployments(format!("bench/{DOMAIN}"))];
        self.settle(fx, |a| a.sites[0].loaded && a.sites[0].running.is_none())
            .await;
        self.app.focus = flipdeck::ui::keymap::Pane::Table;
        let target = self.app.sites[0]
            .deployments
            .iter()
            .position(|d| d.can_rollback())
            .expect("a rollback target");
        self.app.sites[0].table_sel = target;
        let before = live(root);
        let t = Instant::now();
        // The dialog's diff (what the rollback takes back) is left unasked: the figure is the
        // rollback's alone.
        let fx = self.app.on_key(key('r'));
        assert!(
            fx.iter().all(|f| matches!(f, Effect::Outgoing { .. })),
            "{fx:?}"
        );
        let fx = self.app.on_key(key('y'));
        assert!(matches!(fx[..], [Effect::Rollback { .. }]), "{fx:?}");
        for f in fx {
            self.worker.run(f);
        }
        while live(root) == before {
            if t.elapsed() > Duration::from_secs(120) {
                // Say why: the job's outcome is in the toasts.
                while let Ok(l) = self.loaded.try_recv() {
                    self.app.on_loaded(l);
                }
                let toasts: Vec<&str> = self.app.toasts.iter().map(|t| t.text.as_str()).collect();
                panic!("the live link did not switch: {toasts:?}");
            }
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
        let took = t.elapsed();
        self.settle(vec![], |a| a.sites[0].running.is_none()).await;
        took
    }
}

/// The rollback figures for one login: `user` logs in (the current user when `None`).
/// With `rtt`, the server is reached through the latency proxy.
async fn rollbacks(user: Option<&str>, rtt: Option<Duration>) {
    let dir = tempfile::tempdir().unwrap();
    let sshd = sshd::TestSshd::start().expect("sshd (apt-get install openssh-server)");
    let known = sshd.known_hosts_file();
    let root = dir.path().join("srv");
    std::fs::create_dir_all(&root).unwrap();
    let repo = repo(dir.path());
    let mut text = login_block(&sshd, "bench", &known, &root, &repo, user);
    let proxy = rtt.map(|rtt| {
        let proxy = latency::LatencyProxy::start(&format!("{}:{}", sshd.address, sshd.port), rtt);
        let (from, to) = (format!(":{} ", sshd.port), format!(":{} ", proxy.port));
        let line = sshd.known_hosts_line.replace(&from, &to);
        let path = dir.path().join("known_hosts");
        std::fs::write(&path, format!("{line}\n")).unwrap();
        text = text
            .replace(&known.display().to_string(), &path.display().to_string())
            .replace(
                &format!("port = {}\n", sshd.port),
                &format!("port = {}\n", proxy.port),
            );
        proxy
    });
    let config = Config::parse(&text, &dir.path().join("config.toml")).unwrap();
    let db = dir.path().join("history.db");
    {
        let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
        let engine = Engine::new(Arc::new(Store::open(&db).unwrap()), tx, direct());
        let site = config.find_site(DOMAIN).unwrap();
        let c = flipdeck::transport::connect::connector_for(site.server).unwrap();
        engine.provision(&site, c.as_ref()).await.unwrap();
        for _ in 0..2 {
            let opts = DeployOptions::default();
            engine
                .deploy(&site, c.as_ref(), opts, CancellationToken::new())
                .await
                .unwrap();
        }
    }
    // Warm: one dashboard, its connection opened once (as at start).
    let (mut warm, pool) = Dash::new(&config, &db);
    let pooled = pool.connector(&config.servers[0]).unwrap();
    flipdeck::transport::Connector::connect(pooled.as_ref())
        .await
        .unwrap();
    let mut warm_times = Vec::new();
    for _ in 0..ROLLBACKS {
        warm_times.push(warm.rollback(&root).await);
    }
    assert_eq!(pooled.opened(), 1, "every rollback on the one connection");
    // One exec of `true` on that connection: the least any job can cost here.
    let mut exec_times = Vec::new();
    for _ in 0..ROLLBACKS {
        let t = flipdeck::transport::Connector::connect(pooled.as_ref())
            .await
            .unwrap();
        let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
        let s = Instant::now();
        t.exec("true", None, tx).await.unwrap();
        exec_times.push(s.elapsed());
    }
    // Cold: a new connection per job (a new pool each time, nothing opened before the key).
    let mut cold_times = Vec::new();
    for _ in 0..ROLLBACKS {
        let (mut cold, _pool) = Dash::new(&config, &db);
        cold_times.push(cold.rollback(&root).await);
    }
    let who = match user {
        Some(u) => format!("{u}, login shell /bin/sh"),
        None => format!("{}, its own login shell", sshd.user),
    };
    let at = match &proxy {
        Some(p) => format!("; {} ms RTT through the latency proxy", p.rtt().as_millis()),
        None => String::new(),
    };
    println!(
        "rollback from the dashboard, keypress to live link switched ({ROLLBACKS} each, median; logged in as {who}{at}):"
    );
    // On loopback the target is 50 ms; at latency (issue 21) 0.35 s at 150 ms RTT.
    let target = if proxy.is_some() { 350 } else { 50 };
    println!(
        "  warm connection:            {} (target <= {target} ms)",
        ms(median(warm_times))
    );
    println!("  new connection per job:     {}", ms(median(cold_times)));
    let floor = if proxy.is_some() {
        "one round trip and the login shell's start"
    } else {
        "the login shell's start"
    };
    println!(
        "  one `true` exec, warm:      {} ({floor})",
        ms(median(exec_times))
    );
}

/// A user whose login shell is plain `/bin/sh` (made when running as root and missing), so the
/// rollback figure is flipdeck's and not the current user's shell start-up files'.
fn plain_user() -> Option<&'static str> {
    const USER: &str = "flipdeck-bench";
    let exists = |u: &str| {
        Command::new("id")
            .arg(u)
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if !exists(USER) {
        let _ = Command::new("useradd")
            .args([
                "--system",
                "--no-create-home",
                "--home-dir",
                "/nonexistent",
                "--shell",
                "/bin/sh",
                USER,
            ])
            .status();
    }
    // A locked account ("!") may not log in at all, keys or not: no password instead ("*").
    let _ = Command::new("usermod").args(["-p", "*", USER]).status();
    exists(USER).then_some(USER)
}

/// CPU ticks (user + system) of a process.
fn cpu_ticks(pid: &str) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
}

fn tmux(socket: &str, args: &[&str]) {
    Command::new("tmux")
        .args(["-L", socket])
        .args(args)
        .status()
        .unwrap();
}

fn idle(user: Option<&str>) {
    let seconds: u64 = std::env::var("FLIPDECK_BENCH_IDLE_S")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    let dir = tempfile::tempdir().unwrap();
    let repo = repo(dir.path());
    let servers: Vec<sshd::TestSshd> = (2..22)
        .map(|i| sshd::TestSshd::start_on(&format!("127.0.0.{i}")).expect("sshd"))
        .collect();
    let mut text = "refresh_s = 5\nparallel = 10\n".to_string();
    let known = dir.path().join("known_hosts");
    let lines: Vec<String> = servers.iter().map(|s| s.known_hosts_line.clone()).collect();
    std::fs::write(&known, lines.join("\n") + "\n").unwrap();
    for (i, s) in servers.iter().enumerate() {
        let root = dir.path().join(format!("srv{i}"));
        std::fs::create_dir_all(&root).unwrap();
        text.push_str(&login_block(
            s,
            &format!("s{i}"),
            &known,
            &root,
            &repo,
            user,
        ));
    }
    let config = dir.path().join("config.toml");
    std::fs::write(&config, text).unwrap();
    let bin = binary();
    let db = dir.path().join("history.db");
    // One deploy per server, so every tree row has a live release with an age.
    for i in 0..servers.len() {
        let ok = Command::new(&bin)
            .args([
                "--config",
                config.to_str().unwrap(),
                "--db",
                db.to_str().unwrap(),
            ])
            .args(["deploy", &format!("s{i}/{DOMAIN}")])
            .output()
            .unwrap()
            .status
            .success();
        assert!(ok, "deploy s{i}");
    }
    // Old enough that no age ticks each second: only minutes change.
    std::thread::sleep(Duration::from_secs(61));
    let typescript = dir.path().join("typescript");
    let socket = format!("flipdeck-bench-{}", std::process::id());
    let cmd = format!(
        "LANG=C.UTF-8 script -q -f -c \"'{}' --config '{}' --db '{}'\" '{}'",
        bin.display(),
        config.display(),
        db.display(),
        typescript.display()
    );
    tmux(
        &socket,
        &[
            "new-session",
            "-d",
            "-s",
            "idle",
            "-x",
            "200",
            "-y",
            "50",
            &cmd,
        ],
    );
    // Let it connect to all 20 and draw.
    std::thread::sleep(Duration::from_secs(10));
    let pid = find_pid(&config);
    let (bytes0, ticks0, t0) = (
        std::fs::metadata(&typescript).unwrap().len(),
        cpu_ticks(&pid),
        Instant::now(),
    );
    std::thread::sleep(Duration::from_secs(seconds));
    let (bytes1, ticks1) = (
        std::fs::metadata(&typescript).unwrap().len(),
        cpu_ticks(&pid),
    );
    let wall = t0.elapsed().as_secs_f64();
    let hz = 100.0;
    let cpu = (ticks1 - ticks0) as f64 / hz / wall * 100.0;
    let per_minute = (bytes1 - bytes0) as f64 * 60.0 / wall;
    // SIGTERM: the dashboard restores the terminal and exits, and `script` with it.
    // SAFETY: plain syscall on the process this bench started.
    unsafe {
        libc::kill(pid.parse().unwrap(), libc::SIGTERM);
    }
    std::thread::sleep(Duration::from_secs(1));
    tmux(&socket, &["kill-server"]);
    println!("idle dashboard, 20 servers over SSH, refresh_s = 5, 200x50, {wall:.0} s watched:");
    println!("  CPU:                        {cpu:.2}% of a core (target <= 1%)");
    println!("  written to the terminal:    {per_minute:.0} bytes/minute (only the ticking ages)");
    drop(servers);
}

/// The flipdeck binary of the profile this bench was built with (`target/release`, or
/// `target/debug` with `cargo bench --profile dev`), built if need be.
fn binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().and_then(Path::parent).unwrap().to_path_buf();
    let bin = dir.join("flipdeck");
    if !bin.exists() {
        let profile = match dir.file_name().and_then(|n| n.to_str()) {
            Some("debug") => "dev",
            Some(p) => p,
            None => "release",
        };
        let ok = Command::new(env!("CARGO"))
            .args(["build", "--bin", "flipdeck", "--profile", profile])
            .status()
            .unwrap()
            .success();
        assert!(ok, "building flipdeck");
    }
    bin
}

/// The dashboard's pid: the flipdeck process whose command line names this config.
fn find_pid(config: &Path) -> String {
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        if !name.chars().all(|c| c.is_ascii_digit()) {
            continue;
        }
        let cmdline = std::fs::read(format!("/proc/{name}/cmdline")).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&cmdline);
        if cmdline.starts_with(&binary().display().to_string())
            && cmdline.contains(&config.display().to_string())
        {
            return name;
        }
    }
    panic!("the dashboard is not running");
}

fn main() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    // As a user whose login shell reads no start-up files, when there can be one; as oneself
    // too with FLIPDECK_BENCH_AS_ME=1 (or when there cannot).
    let plain = plain_user();
    let rtt = std::env::var("FLIPDECK_BENCH_RTT_MS")
        .ok()
        .map(|v| Duration::from_millis(v.parse().expect("FLIPDECK_BENCH_RTT_MS in ms")));
    if plain.is_none() || std::env::var("FLIPDECK_BENCH_AS_ME").is_ok_and(|v| v == "1") {
        rt.block_on(rollbacks(None, rtt));
    }
    if let Some(u) = plain {
        rt.block_on(rollbacks(Some(u), rtt));
    }
    drop(rt);
    if rtt.is_some() {
        return;
    }
    idle(plain);
}
