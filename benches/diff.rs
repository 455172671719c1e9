//! How long `flipdeck diff` takes to list what goes out: a repository of 2,000 files and 60
//! commits, the live release 30 commits behind the branch, the local transport, the real binary.
//! Against, in the same run: `flipdeck list` (the process and history alone) and a warm deploy
//! of the same site (what the diff is asked before).
//! Run: `cargo bench --bench diff` (FLIPDECK_BENCH_ITERATIONS=N, default 7).

#[path = "../tests/it/support/git.rs"]
mod git;
#[path = "common/repo.rs"]
mod repo;
#[path = "common/util.rs"]
mod util;
use util::{iterations, median};

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const DOMAIN: &str = "example.com";

fn flipdeck(dir: &Path, args: &[&str]) -> Duration {
    let t = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_flipdeck"))
        .args(args)
        .env("FLIPDECK_CONFIG", dir.join("config.toml"))
        .env("FLIPDECK_DB", dir.join("history.db"))
        .output()
        .unwrap();
    let elapsed = t.elapsed();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    elapsed
}

fn main() {
    let n = iterations(7);
    let dir = tempfile::tempdir().unwrap();
    let (repo, root) = (dir.path().join("repo"), dir.path().join("srv"));
    std::fs::create_dir_all(&root).unwrap();
    repo::create(&repo);
    let commit = |i: usize| repo::change(&repo, i);
    (1..30).for_each(commit);
    std::fs::write(
        dir.path().join("config.toml"),
        format!(
            "[[servers]]\nname = \"here\"\ntransport = \"local\"\nroot = \"{}\"\n\n\
             [[servers.sites]]\ndomain = \"{DOMAIN}\"\nrepository = \"{}\"\nkeep = 3\n\
             deployment_script = \"true\"\n",
            root.display(),
            repo.display()
        ),
    )
    .unwrap();
    flipdeck(dir.path(), &["deploy", DOMAIN]);
    (30..60).for_each(commit);
    let list = median(
        (0..n)
            .map(|_| flipdeck(dir.path(), &["list", DOMAIN]))
            .collect(),
    );
    let diff = median(
        (0..n)
            .map(|_| flipdeck(dir.path(), &["diff", DOMAIN, "--json"]))
            .collect(),
    );
    let deploy = median(
        (0..n)
            .map(|_| flipdeck(dir.path(), &["deploy", DOMAIN]))
            .collect(),
    );
    println!("2,000 files, the live release 30 commits behind, median of {n} (same run):");
    println!("  flipdeck list (process + history):          {list:.3?}");
    println!("  flipdeck diff (fetch + compare, one exec):  {diff:.3?}");
    println!("  warm deploy of the same site:               {deploy:.3?}");
    println!(
        "  diff / deploy: {:.2}x; diff - list: {:.3?}",
        diff.as_secs_f64() / deploy.as_secs_f64(),
        diff.saturating_sub(list)
    );
}
