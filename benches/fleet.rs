//! A fleet deploy to 10 servers against a deploy to one: ten real sshd instances on 127.0.0.2 to
//! 127.0.0.11, the same repository, the real binary. Target: the fleet takes at most 1.5× one.
//! Run: `cargo bench --bench fleet` (FLIPDECK_BENCH_ITERATIONS=N, default 5).

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
