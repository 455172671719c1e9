//! A fleet deploy to 10 servers against a deploy to one: ten real sshd instances on 127.0.0.2 to
//! 127.0.0.11, the same repository, the real binary. Target: the fleet takes at most 1.5× one.
//! Run: `cargo bench --bench fleet` (FLIPDECK_BENCH_ITERATIONS=N, default 5). Then a fleet of
//! 100 servers (`hundred_servers`): the flipdeck process's peak memory and open descriptors.
//! `cargo bench --bench fleet -- hundred` runs only that part; FLIPDECK_BENCH_SERVERS=N changes
//! how many servers it starts. Then the same at latency: 20 servers, each behind its own latency
//! proxy at 100 ms RTT ([`at_latency`]); FLIPDECK_BENCH_ONLY=latency runs only that part.

#[path = "../tests/it/support/git.rs"]
mod git;
#[path = "common/util.rs"]
mod util;
use git::git;
use util::{iterations, median};

#[path = "../tests/it/support/latency.rs"]
mod latency;
#[path = "../tests/it/support/sshd.rs"]
mod sshd;

use std::process::Command;
use std::time::{Duration, Instant};

const DOMAIN: &str = "example.com";

fn main() {
    if std::env::var("FLIPDECK_BENCH_ONLY").as_deref() == Ok("latency") {
        at_latency(iterations(5));
        return;
    }
    if !std::env::args().any(|a| a == "hundred") {
        ten_servers();
        at_latency(iterations(5));
    }
    hundred_servers();
}

fn ten_servers() {
    let n = iterations(5);
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    small_repo(&repo);
    let servers: Vec<sshd::TestSshd> = (2..12)
        .map(|i| {
            sshd::TestSshd::start_on(&format!("127.0.0.{i}"))
                .expect("sshd is installed (apt-get install openssh-server)")
        })
        .collect();
    let known: String = servers
        .iter()
        .map(|s| format!("{}\n", s.known_hosts_line))
        .collect();
    std::fs::write(dir.path().join("known_hosts"), known).unwrap();
    let mut config = String::from("parallel = 10\n");
    for (i, s) in servers.iter().enumerate() {
        let root = dir.path().join(format!("srv{i}"));
        std::fs::create_dir_all(&root).unwrap();
        config.push_str(&s.server_block(
            &format!("web{i}"),
            &dir.path().join("known_hosts"),
            &root,
        ));
        config.push_str(&format!(
            "[[servers.sites]]\ndomain = \"{DOMAIN}\"\nrepository = \"{}\"\n\n",
            repo.display()
        ));
    }
    let cfg = dir.path().join("config.toml");
    std::fs::write(&cfg, config).unwrap();
    let run = |args: &[&str]| -> Duration {
        let t = Instant::now();
        let out = Command::new(env!("CARGO_BIN_EXE_flipdeck"))
            .args(args)
            .env("FLIPDECK_CONFIG", &cfg)
            .env("FLIPDECK_DB", dir.path().join("history.db"))
            .env_remove("SSH_AUTH_SOCK")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        t.elapsed()
    };
    // Ten independent single-server deploys started together: the same work with no coordination,
    // the floor for doing it in parallel on this machine.
    let independent = || -> Duration {
        let t = Instant::now();
        let children: Vec<_> = (0..servers.len())
            .map(|i| {
                Command::new(env!("CARGO_BIN_EXE_flipdeck"))
                    .args(["deploy", &format!("web{i}/{DOMAIN}")])
                    .env("FLIPDECK_CONFIG", &cfg)
                    .env("FLIPDECK_DB", dir.path().join("history.db"))
                    .env_remove("SSH_AUTH_SOCK")
                    .stdout(std::process::Stdio::null())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for mut c in children {
            assert!(c.wait().unwrap().success());
        }
        t.elapsed()
    };
    run(&["provision", DOMAIN]);
    let single = format!("web0/{DOMAIN}");
    let (mut one, mut ten, mut apart) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..n {
        one.push(run(&["deploy", &single]));
        ten.push(run(&["deploy", DOMAIN]));
        apart.push(independent());
    }
    let (one, ten, apart) = (median(one), median(ten), median(apart));
    println!(
        "fleet bench: {n} runs each, medians, the real binary over loopback sshd (default deploy script)"
    );
    println!("  deploy to 1 server:    {:.3} s", one.as_secs_f64());
    println!("  deploy to 10 servers:  {:.3} s", ten.as_secs_f64());
    println!(
        "  10 independent deploys at once (no coordination): {:.3} s",
        apart.as_secs_f64()
    );
    println!(
        "  fleet vs one server: {:.2}x (target <= 1.5x)",
        ten.as_secs_f64() / one.as_secs_f64()
    );
    println!(
        "  fleet vs 10 independent deploys: {:.2}x (the cost of switching together)",
        ten.as_secs_f64() / apart.as_secs_f64()
    );
    println!(
        "  machine: {} cores",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0)
    );
}

/// What one run of the real binary cost: wall time, peak RSS (the kernel's own count for that
/// child, from wait4), and the most descriptors, and sockets among them, it had open at once
/// (sampled from /proc every millisecond).
struct Footprint {
    took: Duration,
    max_rss_kb: i64,
    max_fds: usize,
    max_sockets: usize,
}

#[allow(clippy::zombie_processes)] // reaped by wait4, which reports the child's own rusage
fn measured(mut cmd: Command) -> Footprint {
    use std::sync::atomic::{AtomicBool, Ordering};
    let t = Instant::now();
    let child = cmd
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let done = std::sync::Arc::new(AtomicBool::new(false));
    let sampler = {
        let done = done.clone();
        std::thread::spawn(move || {
            let (mut fds, mut sockets) = (0, 0);
            while !done.load(Ordering::Relaxed) {
                if let Ok(rd) = std::fs::read_dir(format!("/proc/{pid}/fd")) {
                    let links: Vec<_> = rd
                        .flatten()
                        .filter_map(|e| e.path().read_link().ok())
                        .collect();
                    fds = fds.max(links.len());
                    let s = links
                        .iter()
                        .filter(|l| l.to_string_lossy().starts_with("socket:"))
                        .count();
                    sockets = sockets.max(s);
                }
                std::thread::sleep(Duration::from_millis(1));
            }
            (fds, sockets)
        })
    };
    // The child's stderr, read while it runs (a full pipe would stall it).
    let mut stderr = child.stderr.unwrap();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut stderr, &mut text);
        text
    });
    let (mut status, mut usage) = (0, unsafe { std::mem::zeroed::<libc::rusage>() });
    // SAFETY: waits for our own child; `status` and `usage` are valid for writing.
    let r = unsafe { libc::wait4(pid as i32, &mut status, 0, &mut usage) };
    let took = t.elapsed();
    done.store(true, Ordering::Relaxed);
    let (max_fds, max_sockets) = sampler.join().unwrap();
    let err = reader.join().unwrap();
    assert!(
        r == pid as i32 && libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "flipdeck failed: {err}"
    );
    Footprint {
        took,
        max_rss_kb: usage.ru_maxrss,
        max_fds,
        max_sockets,
    }
}

/// A fleet deploy to 100 sshd servers on 127.0.0.2 to 127.0.0.101, at `parallel` 5, 10 and 20:
/// how much memory and how many descriptors the flipdeck process needs. Target: at most 200 MB
/// RSS, descriptors bounded by `parallel`.
fn hundred_servers() {
    let count: usize = std::env::var("FLIPDECK_BENCH_SERVERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    small_repo(&repo);
    let servers: Vec<sshd::TestSshd> = (0..count)
        .map(|i| {
            sshd::TestSshd::start_on(&format!("127.0.{}.{}", (i + 2) / 256, (i + 2) % 256))
                .expect("sshd is installed (apt-get install openssh-server)")
        })
        .collect();
    let known: String = servers
        .iter()
        .map(|s| format!("{}\n", s.known_hosts_line))
        .collect();
    std::fs::write(dir.path().join("known_hosts"), known).unwrap();
    let config = |parallel: usize| {
        let mut config = format!("parallel = {parallel}\n");
        for (i, s) in servers.iter().enumerate() {
            let root = dir.path().join(format!("srv{i}"));
            std::fs::create_dir_all(&root).unwrap();
            config.push_str(&s.server_block(
                &format!("web{i}"),
                &dir.path().join("known_hosts"),
                &root,
            ));
            config.push_str(&format!(
                "[[servers.sites]]\ndomain = \"{DOMAIN}\"\nrepository = \"{}\"\ndeployment_script = \"true\"\n\n",
                repo.display()
            ));
        }
        let path = dir.path().join(format!("config-{parallel}.toml"));
        std::fs::write(&path, config).unwrap();
        path
    };
    let flipdeck = |cfg: &std::path::Path, args: &[&str]| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_flipdeck"));
        c.args(args)
            .env("FLIPDECK_CONFIG", cfg)
            .env("FLIPDECK_DB", dir.path().join("history.db"))
            .env_remove("SSH_AUTH_SOCK");
        c
    };
    println!("fleet of {count} servers (one sshd each on loopback), the real binary:");
    let p = measured(flipdeck(&config(10), &["provision", DOMAIN]));
    println!(
        "  provision, parallel 10:  {:6.2} s, peak RSS {:6.1} MB, at most {:3} descriptors open ({} sockets)",
        p.took.as_secs_f64(),
        p.max_rss_kb as f64 / 1024.0,
        p.max_fds,
        p.max_sockets
    );
    let mut worst = (0i64, 0usize);
    for parallel in [5, 10, 20] {
        let f = measured(flipdeck(&config(parallel), &["deploy", DOMAIN]));
        println!(
            "  deploy, parallel {parallel:2}:     {:6.2} s, peak RSS {:6.1} MB, at most {:3} descriptors open ({} sockets)",
            f.took.as_secs_f64(),
            f.max_rss_kb as f64 / 1024.0,
            f.max_fds,
            f.max_sockets
        );
        worst = (worst.0.max(f.max_rss_kb), worst.1.max(f.max_fds));
    }
    let mb = worst.0 as f64 / 1024.0;
    println!(
        "  {} peak RSS {mb:.1} MB (target <= 200 MB)",
        if mb <= 200.0 { "met   " } else { "MISSED" }
    );
}

/// A small repository (200 files) committed in `repo`.
fn small_repo(repo: &std::path::Path) {
    std::fs::create_dir_all(repo.join("public")).unwrap();
    for i in 0..200 {
        std::fs::write(
            repo.join(format!("public/page{i}.php")),
            format!("<?php echo {i};\n"),
        )
        .unwrap();
    }
    git(repo, &["init", "-q"]);
    git(repo, &["add", "-A"]);
    git(repo, &["commit", "-qm", "app"]);
}

/// 20 servers (127.0.0.12 to 127.0.0.31), each behind its own proxy at 100 ms RTT: a fleet
/// deploy against a deploy to one of them through its proxy, in time and in round trips. The
/// round trips of the coordinated switch are the fleet connection's beyond a single deploy's,
/// plus the one after the switch that both have (a single deploy sends its log once switched;
/// a fleet member gets "go", reports the switch, then gets the commit with its log).
fn at_latency(n: usize) {
    const SERVERS: usize = 20;
    const RTT: Duration = Duration::from_millis(100);
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    small_repo(&repo);
    let servers: Vec<(sshd::TestSshd, latency::LatencyProxy)> = (12..12 + SERVERS)
        .map(|i| {
            let s = sshd::TestSshd::start_on(&format!("127.0.0.{i}"))
                .expect("sshd is installed (apt-get install openssh-server)");
            let p = latency::LatencyProxy::start_on(
                &s.address,
                &format!("{}:{}", s.address, s.port),
                RTT,
                latency::Split::Even,
            );
            (s, p)
        })
        .collect();
    let known = dir.path().join("known_hosts");
    let lines: String = servers
        .iter()
        .map(|(s, p)| {
            let line = s
                .known_hosts_line
                .replace(&format!(":{} ", s.port), &format!(":{} ", p.port));
            format!("{line}\n")
        })
        .collect();
    std::fs::write(&known, lines).unwrap();
    let mut config = format!("parallel = {SERVERS}\n");
    for (i, (s, p)) in servers.iter().enumerate() {
        let root = dir.path().join(format!("srv{i}"));
        std::fs::create_dir_all(&root).unwrap();
        let block = s.server_block(&format!("web{i}"), &known, &root).replace(
            &format!("port = {}\n", s.port),
            &format!("port = {}\n", p.port),
        );
        config.push_str(&block);
        config.push_str(&format!(
            "[[servers.sites]]\ndomain = \"{DOMAIN}\"\nrepository = \"{}\"\n\n",
            repo.display()
        ));
    }
    let cfg = dir.path().join("config.toml");
    std::fs::write(&cfg, config).unwrap();
    // One run: its time and the most round trips any one connection took.
    let run = |args: &[&str]| -> (Duration, usize) {
        let before: Vec<latency::Tally> = servers.iter().map(|(_, p)| p.tally()).collect();
        let t = Instant::now();
        let out = Command::new(env!("CARGO_BIN_EXE_flipdeck"))
            .args(args)
            .env("FLIPDECK_CONFIG", &cfg)
            .env("FLIPDECK_DB", dir.path().join("history.db"))
            .env_remove("SSH_AUTH_SOCK")
            .output()
            .unwrap();
        let took = t.elapsed();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut most = 0;
        for ((_, p), b) in servers.iter().zip(before) {
            p.wait_closed(Duration::from_secs(10));
            let c = p.tally() - b;
            most = most.max(c.round_trips);
        }
        (took, most)
    };
    run(&["provision", DOMAIN]);
    let single = format!("web0/{DOMAIN}");
    let (mut one, mut fleet) = (Vec::new(), Vec::new());
    let (mut one_rt, mut fleet_rt) = (0, 0);
    for _ in 0..n {
        let (t, rt) = run(&["deploy", &single]);
        one.push(t);
        one_rt = rt;
        let (t, rt) = run(&["deploy", DOMAIN]);
        fleet.push(t);
        fleet_rt = rt;
    }
    let (one, fleet) = (median(one), median(fleet));
    let ratio = fleet.as_secs_f64() / one.as_secs_f64();
    let switch = fleet_rt.saturating_sub(one_rt) + 1;
    println!();
    println!(
        "fleet at latency: {SERVERS} servers, each behind a proxy at {} ms RTT, {n} runs each, medians",
        RTT.as_millis()
    );
    println!(
        "  deploy to 1 server:   {:.3} s, {one_rt} round trips (+1 TCP)",
        one.as_secs_f64()
    );
    println!(
        "  deploy to {SERVERS} servers: {:.3} s, at most {fleet_rt} round trips on one connection (+1 TCP)",
        fleet.as_secs_f64()
    );
    println!(
        "  {} fleet vs one server: {ratio:.2}x (target <= 1.5x)",
        if ratio <= 1.5 { "met   " } else { "MISSED" }
    );
    println!(
        "  {} coordinated switch (last server built -> all switched and committed): {switch} round trips (target <= 3)",
        if switch <= 3 { "met   " } else { "MISSED" }
    );
}
