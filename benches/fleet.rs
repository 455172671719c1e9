//! A fleet deploy to 10 servers against a deploy to one: ten real sshd instances on 127.0.0.2 to
//! 127.0.0.11, the same repository, the real binary. Target: the fleet takes at most 1.5× one.
//! Run: `cargo bench --bench fleet` (FLIPDECK_BENCH_ITERATIONS=N, default 5). Then a fleet of
//! 100 servers (`hundred_servers`): the flipdeck process's peak memory and open descriptors.
//! `cargo bench --bench fleet -- hundred` runs only that part; FLIPDECK_BENCH_SERVERS=N changes
//! how many servers it starts.

#[path = "../tests/it/support/git.rs"]
mod git;
#[path = "common/util.rs"]
mod util;
use git::git;
use util::{iterations, median};

#[path = "../tests/it/support/sshd.rs"]
mod sshd;

use std::process::Command;
use std::time::{Duration, Instant};

const DOMAIN: &str = "example.com";

fn main() {
    if !std::env::args().any(|a| a == "hundred") {
        ten_servers();
    }
    hundred_servers();
}

fn ten_servers() {
    let n = iterations(5);
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    std::fs::create_dir_all(repo.join("public")).unwrap();
    for i in 0..200 {
        std::fs::write(
            repo.join(format!("public/page{i}.php")),
            format!("<?php echo {i};\n"),
        )
        .unwrap();
    }
    git(&repo, &["init", "-q"]);
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-qm", "app"]);
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
    std::fs::create_dir_all(repo.join("public")).unwrap();
    for i in 0..200 {
        std::fs::write(
            repo.join(format!("public/page{i}.php")),
            format!("<?php echo {i};\n"),
        )
        .unwrap();
    }
    git(&repo, &["init", "-q"]);
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-qm", "app"]);
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
