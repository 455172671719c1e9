//! What the benches share: the median, and how many runs to take (git is the tests' own,
//! `tests/it/support/git.rs`).
#![allow(dead_code)] // each bench uses a different part

use std::time::Duration;

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
