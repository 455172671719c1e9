//! What the benches share: git with a fixed identity, the median, and how many runs to take.
#![allow(dead_code)] // each bench uses a different part

use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// Runs git in `dir` with a fixed author, `main` as the first branch and no signing.
pub fn git(dir: &Path, args: &[&str]) {
    let st = Command::new("git")
        .args([
            "-c",
            "user.name=bench",
            "-c",
            "user.email=bench@example.test",
        ])
        .args([
            "-c",
            "init.defaultBranch=main",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(st.status.success(), "git {args:?}");
}

pub fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// `FLIPDECK_BENCH_ITERATIONS`, else `default`.
pub fn iterations(default: usize) -> usize {
    std::env::var("FLIPDECK_BENCH_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}
