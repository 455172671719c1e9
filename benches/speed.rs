//! flipdeck side by side with the floor (one OpenSSH exec per operation, docs/design.md §11) and with
//! Capistrano 3.17, on the same reference repository and the same loopback sshd, in one run.
//! Then history at scale: `flipdeck list` and opening the dashboard with 100,000 deployments.
//!
//! Then the same operations at 0, 50 and 150 ms of round-trip time (`speed/rtt.rs`).
//!
//! Run: `cargo bench --bench speed`. FLIPDECK_BENCH_ITERATIONS=N runs N per operation (default 5);
//! FLIPDECK_BENCH_CAP=0 leaves Capistrano out (it takes most of the run);
//! FLIPDECK_BENCH_ONLY=latency runs only the latency section (with the bastion and the warm
//! connection after its table); `=bastion` or `=warm` only that part of it.

#[path = "../tests/it/support/counting.rs"]
mod counting;
#[path = "../tests/it/support/latency.rs"]
mod latency;
#[path = "../tests/it/support/sshd.rs"]
mod sshd;

#[path = "speed/bastion.rs"]
mod bastion;
#[path = "speed/cap.rs"]
mod cap;
#[path = "speed/flip.rs"]
mod flip;
#[path = "speed/floor.rs"]
mod floor;
#[path = "speed/history.rs"]
mod history;
#[path = "speed/repo.rs"]
mod repo;
#[path = "speed/rtt.rs"]
mod rtt;
#[path = "speed/stats.rs"]
mod stats;
#[path = "speed/warm.rs"]
mod warm;

use chrono::{Duration as Span, TimeZone, Utc};
use flip::{Flip, Sample};
use floor::{Floor, Ssh};
use stats::{Row, median};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// Samples of one operation, reduced to a median and flipdeck's round-trip counts.
#[derive(Default)]
struct Series {
    flip: Vec<Duration>,
    floor: Vec<Duration>,
    cap: Vec<Duration>,
    counts: Vec<(usize, usize)>,
    steps: Vec<Vec<(String, Duration)>>,
    calls: Vec<Vec<(&'static str, Duration)>>,
}

impl Series {
    fn add(&mut self, s: Sample) {
        self.flip.push(s.took);
        self.counts.push((s.connections, s.execs));
        self.steps.push(s.steps);
        self.calls.push(s.calls);
    }

    /// Median time of each script step, and what is left: connecting, round trips, the DB.
    fn breakdown(&self, op: &str) -> String {
        let Some(first) = self.steps.first() else {
            return String::new();
        };
        let mut parts = Vec::new();
        let mut sum = Duration::ZERO;
        for (i, (name, _)) in first.iter().enumerate() {
            let m = median(
                self.steps
                    .iter()
                    .filter_map(|s| s.get(i).map(|x| x.1))
                    .collect(),
            );
            sum += m;
            parts.push(format!("{name} {:.0}", m.as_secs_f64() * 1e3));
        }
        let total = median(self.flip.clone());
        let mut calls = Vec::new();
        let mut in_calls = Duration::ZERO;
        for (i, (what, _)) in self.calls[0].iter().enumerate() {
            let m = median(
                self.calls
                    .iter()
                    .filter_map(|c| c.get(i).map(|x| x.1))
                    .collect(),
            );
            in_calls += m;
            calls.push(format!("{what} {:.0}", m.as_secs_f64() * 1e3));
        }
        format!(
            "  {op}: {:.0} in all\n    steps: {} (sum {:.0})\n    calls: {}; outside calls {:.0}",
            total.as_secs_f64() * 1e3,
            parts.join(", "),
            sum.as_secs_f64() * 1e3,
            calls.join(", "),
            total.saturating_sub(in_calls).as_secs_f64() * 1e3
        )
    }

    fn row(&self, op: &'static str) -> Row {
        let m = |v: &Vec<Duration>| (!v.is_empty()).then(|| median(v.clone()));
        // Counts must not vary between iterations: a stray reconnect would show up here.
        let first = self.counts.first().copied();
        if let Some(c) = first {
            assert!(
                self.counts.iter().all(|x| *x == c),
                "{op}: connections/execs vary between iterations: {:?}",
                self.counts
            );
        }
        Row {
            op,
            flip: m(&self.flip),
            floor: m(&self.floor),
            cap: m(&self.cap),
            connections: first.map(|c| c.0),
            execs: first.map(|c| c.1),
        }
    }
}

fn sh(cmd: &str) {
    let status = Command::new("sh").args(["-c", cmd]).status().unwrap();
    assert!(status.success(), "{cmd}");
}

fn q(p: &Path) -> String {
    format!("'{}'", p.display().to_string().replace('\'', r"'\''"))
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"))
}

/// Adds `n` successful releases older than every other one: hard-linked copies of `from` on
/// disk, and their records (for flipdeck) in the history. Returns their names.
fn old_releases(base: &Path, from: &Path, n: usize, batch: usize) -> Vec<String> {
    let t0 = Utc.with_ymd_and_hms(2020, 1, 1, 0, 0, 0).unwrap();
    let names: Vec<String> = (0..n)
        .map(|k| {
            (t0 + Span::minutes((batch * 1000 + k) as i64))
                .format("%d%m%Y-%H%M%S")
                .to_string()
        })
        .collect();
    for name in &names {
        sh(&format!("cp -al {} {}", q(from), q(&base.join(name))));
    }
    names
}

fn record_old(f: &Flip, names: &[String], batch: usize) {
    let store = &f.engine.store;
    let site = store.find_site("bench", flip::DOMAIN).unwrap().unwrap();
    let t0 = Utc.with_ymd_and_hms(2020, 1, 1, 0, 0, 0).unwrap();
    for (k, name) in names.iter().enumerate() {
        let started = t0 + Span::minutes((batch * 1000 + k) as i64);
        let id = store
            .create_deployment(&site, "git fetch && git pull", "main", "")
            .unwrap();
        let path = f.base().join(name).display().to_string();
        store
            .mark_updating(id, name, &path, &format!("{path}/deployment.log"), started)
            .unwrap();
        store
            .finish_success(id, "0000000", started + Span::seconds(1))
            .unwrap();
    }
    // finish_success made the last one active: the live release is still the real one.
    let active = site.active_deployment_id.expect("an active deployment");
    store.set_active(site.id, active, Utc::now()).unwrap();
}

fn main() {
    let iterations: usize = std::env::var("FLIPDECK_BENCH_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5)
        .max(1);
    println!("flipdeck speed bench ({iterations} iterations per operation, medians)");
    println!("machine: {}", stats::machine());
    let cache = target_dir().join("speed-bench");
    std::fs::create_dir_all(&cache).unwrap();
    let (cached_repo, head) = repo::reference(&cache);
    let work = tempfile::Builder::new()
        .prefix("flipdeck-speed-")
        .tempdir()
        .unwrap();
    let w = work.path();
    let repo_dir = w.join("repo");
    // A copy: the bench adds commits (deploys "one commit ahead") without touching the cache.
    sh(&format!("cp -a {} {}", q(&cached_repo), q(&repo_dir)));
    println!(
        "repository: {} files, {} commits, {:.1} MB of history (.git), HEAD {} (the same everywhere)",
        repo::git(&repo_dir, &["ls-files"]).lines().count(),
        repo::git(&repo_dir, &["rev-list", "--count", "HEAD"]),
        repo::du(&repo_dir.join(".git")) as f64 / 1e6,
        &head[..12]
    );
    let cap_version =
        cap::version().filter(|_| std::env::var("FLIPDECK_BENCH_CAP").as_deref() != Ok("0"));
    match &cap_version {
        Some(v) => println!("capistrano: {v}"),
        None => println!(
            "capistrano: not installed, its column stays empty (Debian: `apt-get install capistrano`)"
        ),
    }
    let Some(sshd) = sshd::TestSshd::start() else {
        println!("no sshd: install openssh-server to run this bench");
        return;
    };
    let known = sshd.known_hosts_file();
    let ssh = Ssh::new(&sshd, &known);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    match std::env::var("FLIPDECK_BENCH_ONLY").as_deref() {
        Ok("latency") => {
            latency_section(&rt, w, &repo_dir, &sshd, cap_version.is_some(), iterations);
            return;
        }
        Ok("bastion") => return bastion_part(&rt, w, &repo_dir, &sshd, iterations),
        Ok("warm") => return warm_part(&rt, w, &repo_dir, &sshd, iterations),
        _ => {}
    }
    let (rows, breakdown) = rt.block_on(deploys(
        w,
        &repo_dir,
        &sshd,
        &known,
        &ssh,
        cap_version.is_some(),
        iterations,
    ));
    println!();
    println!("{}", stats::table(&rows));
    println!("where flipdeck's time goes (medians, ms):");
    println!("{breakdown}");
    let latency_rows = latency_section(&rt, w, &repo_dir, &sshd, cap_version.is_some(), iterations);

    // Cargo builds the binary for benches and names it here; the fallback is the same path.
    let bin = option_env!("CARGO_BIN_EXE_flipdeck")
        .map(PathBuf::from)
        .unwrap_or_else(|| target_dir().join("release/flipdeck"));
    let hist_dir = w.join("history");
    std::fs::create_dir_all(&hist_dir).unwrap();
    let h = history::run(&hist_dir, &bin, iterations);
    println!(
        "history at scale: {} deployments inserted in {:.2} s (one transaction)",
        history::DEPLOYMENTS,
        h.insert.as_secs_f64()
    );
    println!("  list query plan: {}", h.plan.join("; "));
    println!(
        "  `flipdeck list SITE`: {:.1} ms ({} lines); `list SITE --json`: {:.1} ms",
        h.list.as_secs_f64() * 1e3,
        h.list_rows,
        h.list_json.as_secs_f64() * 1e3
    );
    println!(
        "  `flipdeck list SITE --all`: {:.1} ms ({} lines)",
        h.list_all.as_secs_f64() * 1e3,
        h.list_all_rows
    );
    println!(
        "  dashboard open (config, DB, App, first {} rows, one 200x50 frame): {:.1} ms",
        h.dashboard_rows,
        h.dashboard.as_secs_f64() * 1e3
    );
    println!();
    verdicts(&rows, &h);
    rtt_verdicts(&latency_rows);
}

/// The latency table: the same repository and server behind the proxy at each RTT.
fn latency_section(
    rt: &tokio::runtime::Runtime,
    w: &Path,
    repo_dir: &Path,
    sshd: &sshd::TestSshd,
    with_cap: bool,
    n: usize,
) -> Vec<rtt::Row> {
    let rows = rt.block_on(rtt::run(w, repo_dir, sshd, with_cap, n));
    println!();
    println!(
        "at latency (loopback proxy, RTT split evenly; round trips include each connection's TCP handshake):"
    );
    println!("{}", rtt::table(&rows));
    rtt_verdicts(&rows);
    bastion_part(rt, w, repo_dir, sshd, n);
    warm_part(rt, w, repo_dir, sshd, n);
    rows
}

fn bastion_part(
    rt: &tokio::runtime::Runtime,
    w: &Path,
    repo: &Path,
    sshd: &sshd::TestSshd,
    n: usize,
) {
    match rt.block_on(bastion::run(w, repo, sshd, n)) {
        Some(r) => bastion::report(&r),
        None => println!("no second sshd for the bastion: its part is left out"),
    }
}

fn warm_part(rt: &tokio::runtime::Runtime, w: &Path, repo: &Path, sshd: &sshd::TestSshd, n: usize) {
    warm::report(&rt.block_on(warm::run(w, repo, sshd, n)));
}

fn rtt_verdicts(rows: &[rtt::Row]) {
    use rtt::Op;
    let rt = |ms, op| rtt::find(rows, ms, op).and_then(|r| r.flip);
    let check = |what: &str, value: Option<usize>, limit: usize| match value {
        Some(v) => println!(
            "  {} {what}: {v} round trips (target ≤ {limit})",
            if v <= limit { "met   " } else { "MISSED" }
        ),
        None => println!("  n/a    {what}: not measured"),
    };
    println!("latency targets (150 ms RTT):");
    check(
        "CLI rollback",
        rt(150, Op::Rollback).map(|c| c.round_trips),
        5,
    );
    check(
        "CLI warm deploy (git's fetch is local to the server here)",
        rt(150, Op::WarmDeploy).map(|c| c.round_trips),
        6,
    );
    check(
        "rollback on the warm connection",
        rt(150, Op::WarmConnectionRollback).map(|c| c.round_trips),
        2,
    );
    if let Some(c) = rt(150, Op::WarmConnectionRollback) {
        let s = c.time.as_secs_f64();
        println!(
            "  {} rollback on the warm connection: {s:.3} s (target ≤ 0.35 s)",
            if s <= 0.35 { "met   " } else { "MISSED" }
        );
    }
}

fn find<'a>(rows: &'a [Row], op: &str) -> &'a Row {
    rows.iter().find(|r| r.op == op).expect("row")
}

fn verdicts(rows: &[Row], h: &history::Results) {
    let check = |what: &str, value: Option<f64>, limit: f64| match value {
        Some(v) => println!(
            "  {} {what}: {v:.2} (target ≤ {limit})",
            if v <= limit { "met   " } else { "MISSED" }
        ),
        None => println!("  n/a    {what}: not measured"),
    };
    println!("targets:");
    for op in [WARM_SAME, WARM_AHEAD] {
        let r = find(rows, op);
        check(&format!("{op} vs floor"), r.vs_floor(), 1.2);
        check(&format!("{op} vs capistrano"), r.vs_cap(), 0.2);
    }
    let r = find(rows, ROLLBACK);
    check("rollback vs floor", r.vs_floor(), 1.3);
    check("rollback vs capistrano", r.vs_cap(), 0.15);
    check("cold deploy vs floor", find(rows, COLD).vs_floor(), 1.2);
    let p = find(rows, PRUNE);
    let (c, e) = (p.connections.unwrap_or(0), p.execs.unwrap_or(0));
    println!(
        "  {} prune of 50 releases: {c} connection(s), {e} exec(s) (target: one round trip)",
        if (c, e) == (1, 1) { "met   " } else { "MISSED" }
    );
    for (big, small) in [(BIG_DEPLOY, SMALL_DEPLOY), (BIG_ROLLBACK, SMALL_ROLLBACK)] {
        let ratio = |r: &Row| r.flip.map(|d| d.as_secs_f64());
        let v = ratio(find(rows, big)).zip(ratio(find(rows, small)));
        check(&format!("{big} vs before"), v.map(|(b, s)| b / s), 1.05);
    }
    check(
        "list with 100,000 deployments (ms)",
        Some(h.list.as_secs_f64() * 1e3),
        50.0,
    );
    check(
        "dashboard open with 100,000 deployments (ms)",
        Some(h.dashboard.as_secs_f64() * 1e3),
        200.0,
    );
}

const CONNECT: &str = "connection + `true`";
const COLD: &str = "cold deploy (fresh server)";
const PROVISION: &str = "provision (fresh server)";
const WARM_SAME: &str = "warm deploy, repository unchanged";
const WARM_AHEAD: &str = "warm deploy, one commit ahead";
const PUSH_AHEAD: &str = "warm deploy, one commit ahead, source = push";
const ARTIFACT_AHEAD: &str = "warm deploy, one commit ahead, source = artifact";
const ROLLBACK: &str = "rollback";
const PRUNE: &str = "prune of 50 releases";
const SMALL_DEPLOY: &str = "warm deploy, the same site before its history grows";
const SMALL_ROLLBACK: &str = "rollback, the same site before its history grows";
const BIG_DEPLOY: &str = "warm deploy, 100,000 deployments in the history";
const BIG_ROLLBACK: &str = "rollback, 100,000 deployments in the history";

async fn deploys(
    w: &Path,
    repo_dir: &Path,
    sshd: &sshd::TestSshd,
    known: &Path,
    ssh: &Ssh,
    with_cap: bool,
    n: usize,
) -> (Vec<Row>, String) {
    let cap =
        with_cap.then(|| cap::Cap::new(w.join("cap"), w.join("cap-srv"), sshd, repo_dir, known));

    // The connection alone: russh in-process vs the OpenSSH client.
    let mut connect = Series::default();
    let probe = Flip::new(&w.join("probe"), sshd, known, repo_dir);
    for _ in 0..n {
        connect.add(probe.connect_true().await);
        connect.floor.push(ssh.time("true"));
    }

    // Cold: nothing on the server yet (no layout, no repository cache).
    let (mut cold, mut provision) = (Series::default(), Series::default());
    for i in 0..n {
        let dir = w.join(format!("cold-{i}"));
        cold.add(
            Flip::new(&dir.join("deploy"), sshd, known, repo_dir)
                .deploy()
                .await,
        );
        provision.add(
            Flip::new(&dir.join("provision"), sshd, known, repo_dir)
                .provision()
                .await,
        );
        cold.floor
            .push(ssh.time(&Floor::clone_script(repo_dir, &dir.join("clone"))));
        if let Some(c) = &cap {
            cap::Cap::reset(&c.deploy_to);
            cold.cap.push(c.time("deploy"));
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
    // Provisioning's initial deployment is a cold deploy too: same floor.
    provision.floor = cold.floor.clone();

    // Warm: the site has releases and a repository cache. One untimed round first.
    let f = Flip::new(&w.join("flip"), sshd, known, repo_dir);
    f.deploy().await;
    let mut fl = Floor::new(w.join("floor"), repo_dir);
    let mut floor_releases = Vec::new();
    let (mut same, mut ahead, mut rollback) =
        (Series::default(), Series::default(), Series::default());
    // The same site with its code sent from this machine: pushed objects, or an artifact (the
    // clean checkout as it is: the bench's app has no build step).
    let pushed = Flip::with_site(&w.join("push"), sshd, known, repo_dir, "source = \"push\"");
    let sent = Flip::with_site(
        &w.join("artifact"),
        sshd,
        known,
        repo_dir,
        "source = \"artifact\"",
    );
    pushed.deploy().await;
    sent.deploy().await;
    let (mut push_ahead, mut artifact_ahead) = (Series::default(), Series::default());
    for i in 0..=n {
        let timed = i > 0;
        let s = f.deploy().await;
        let (r, script) = fl.deploy_script();
        let t_floor = ssh.time(&script);
        floor_releases.push(r);
        let t_cap = cap.as_ref().map(|c| c.time("deploy"));
        if timed {
            same.add(s);
            same.floor.push(t_floor);
            same.cap.extend(t_cap);
        }

        repo::add_commit(repo_dir, 100 + i, 5000 + i as u64);
        let s = f.deploy().await;
        let (r, script) = fl.deploy_script();
        let t_floor = ssh.time(&script);
        floor_releases.push(r);
        let t_cap = cap.as_ref().map(|c| c.time("deploy"));
        if timed {
            ahead.add(s);
            ahead.floor.push(t_floor);
            ahead.cap.extend(t_cap);
        }
        let (p, a) = (pushed.deploy().await, sent.deploy().await);
        if timed {
            push_ahead.add(p);
            push_ahead.floor.push(t_floor);
            artifact_ahead.add(a);
            artifact_ahead.floor.push(t_floor);
        }

        let s = f.rollback().await;
        let prev = &floor_releases[floor_releases.len() - 2];
        let t_floor = ssh.time(&fl.rollback_script(prev));
        let t_cap = cap.as_ref().map(|c| c.time("deploy:rollback"));
        if timed {
            rollback.add(s);
            rollback.floor.push(t_floor);
            rollback.cap.extend(t_cap);
        }
    }

    // Prune: 50 old releases (hard-linked copies of a real one) on each side, deleted in one go.
    let mut prune = Series::default();
    let active = std::fs::read_link(f.root.join(flip::DOMAIN)).unwrap();
    let active = f.root.join(active);
    let floor_from = fl.base().join(floor_releases.last().unwrap());
    for batch in 0..n.min(3) {
        let names = old_releases(&f.base(), &active, 50, batch);
        record_old(&f, &names, batch);
        let with_dirs = f
            .engine
            .store
            .list(f.site_id(), None)
            .unwrap()
            .iter()
            .filter(|d| d.deployment_path.is_some())
            .count();
        let (s, deleted) = f.prune(with_dirs - 50).await;
        assert_eq!(deleted, 50, "flipdeck pruned {deleted} releases, not 50");
        prune.add(s);
        let names = old_releases(&fl.base(), &floor_from, 50, batch);
        prune.floor.push(ssh.time(&fl.prune_script(&names)));
    }

    // The same loop on the same site before its history grows: the reference the 100,000 row is
    // held to (both prune a release per deploy, which the warm rows above do not).
    let (mut small_deploy, mut small_rollback) = (Series::default(), Series::default());
    for _ in 0..n {
        small_deploy.add(f.deploy().await);
        let (r, script) = fl.deploy_script();
        small_deploy.floor.push(ssh.time(&script));
        floor_releases.push(r);
        small_rollback.add(f.rollback().await);
        let prev = &floor_releases[floor_releases.len() - 2];
        small_rollback
            .floor
            .push(ssh.time(&fl.rollback_script(prev)));
    }

    // The same site with 100,000 older deployments in its history: no step may grow with it.
    history::fill(
        &w.join("flip/history.db"),
        "bench",
        flip::DOMAIN,
        history::DEPLOYMENTS,
        0,
    );
    let (mut big_deploy, mut big_rollback) = (Series::default(), Series::default());
    for _ in 0..n {
        big_deploy.add(f.deploy().await);
        let (r, script) = fl.deploy_script();
        big_deploy.floor.push(ssh.time(&script));
        floor_releases.push(r);
        big_rollback.add(f.rollback().await);
        let prev = &floor_releases[floor_releases.len() - 2];
        big_rollback.floor.push(ssh.time(&fl.rollback_script(prev)));
    }

    let breakdown = [
        cold.breakdown(COLD),
        same.breakdown(WARM_SAME),
        ahead.breakdown(WARM_AHEAD),
        push_ahead.breakdown(PUSH_AHEAD),
        artifact_ahead.breakdown(ARTIFACT_AHEAD),
        rollback.breakdown(ROLLBACK),
        small_deploy.breakdown(SMALL_DEPLOY),
        big_deploy.breakdown(BIG_DEPLOY),
    ]
    .join("\n");
    let rows = vec![
        connect.row(CONNECT),
        cold.row(COLD),
        provision.row(PROVISION),
        same.row(WARM_SAME),
        ahead.row(WARM_AHEAD),
        push_ahead.row(PUSH_AHEAD),
        artifact_ahead.row(ARTIFACT_AHEAD),
        rollback.row(ROLLBACK),
        prune.row(PRUNE),
        small_deploy.row(SMALL_DEPLOY),
        small_rollback.row(SMALL_ROLLBACK),
        big_deploy.row(BIG_DEPLOY),
        big_rollback.row(BIG_ROLLBACK),
    ];
    (rows, breakdown)
}
