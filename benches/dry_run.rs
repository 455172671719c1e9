//! How long `deploy --dry-run` takes next to `flipdeck diff` of the same site, over a real sshd on
//! loopback: a repository of 2,000 files and 60 commits, the live release 30 commits behind, six
//! releases with keep = 3 (so the prune has some to delete), hooks set; the real binary. The dry
//! run is the diff's exec plus the read of the releases, the lock and the shared paths, and the
//! history's prune plan: the ratio shows what that costs. Against, in the same run: `flipdeck list`
//! (the process and the history alone, no server).
//! Run: `cargo bench --bench dry_run` (FLIPDECK_BENCH_ITERATIONS=N, default 9).

#[path = "../tests/it/support/git.rs"]
mod git;
#[path = "common/repo.rs"]
mod repo;
#[path = "common/util.rs"]
mod util;
use util::{iterations, median};

#[path = "../tests/it/support/sshd.rs"]
mod sshd;

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
        .env_remove("SSH_AUTH_SOCK")
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
    let n = iterations(9);
    let sshd = sshd::TestSshd::start().expect("sshd is installed (apt-get install openssh-server)");
    let dir = tempfile::tempdir().unwrap();
    let (repo, root) = (dir.path().join("repo"), dir.path().join("srv"));
    std::fs::create_dir_all(&root).unwrap();
    repo::create(&repo);
    let commit = |i: usize| repo::change(&repo, i);
    let known = dir.path().join("known_hosts");
    std::fs::write(&known, format!("{}\n", sshd.known_hosts_line)).unwrap();
    let config = format!(
        "{}\n[[servers.sites]]\ndomain = \"{DOMAIN}\"\nrepository = \"{}\"\nkeep = 3\n\
         deployment_script = \"true\"\nafter_switch = \"true\"\non_failure = \"true\"\n",
        sshd.server_block("web1", &known, &root),
        repo.display()
    );
    std::fs::write(dir.path().join("config.toml"), config).unwrap();
    (1..25).for_each(commit);
    // keep = 3 prunes as it goes: six deploys leave three releases, and the dry run's plan one
    // to delete.
    for i in 25..30 {
        commit(i);
        flipdeck(dir.path(), &["deploy", DOMAIN]);
    }
    (30..60).for_each(commit);
    let time = |args: &[&str]| median((0..n).map(|_| flipdeck(dir.path(), args)).collect());
    let list = time(&["list", DOMAIN]);
    let diff = time(&["diff", DOMAIN, "--json"]);
    let dry = time(&["deploy", DOMAIN, "--dry-run", "--json"]);
    println!(
        "loopback sshd, 2,000 files, the live release 30 commits behind, median of {n} (same run):"
    );
    println!("  flipdeck list (process + history):             {list:.3?}");
    println!("  flipdeck diff (one exec):                      {diff:.3?}");
    println!("  flipdeck deploy --dry-run (one exec):          {dry:.3?}");
    println!(
        "  dry run / diff: {:.2}x; dry run - diff: {:.3?}",
        dry.as_secs_f64() / diff.as_secs_f64(),
        dry.saturating_sub(diff)
    );
}
