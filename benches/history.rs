//! Big histories cost nothing: the same warm deploy, and the same `status` read, on two sites of
//! one sshd that differ only in their history: one empty, one with 100,000 older deployments.
//! Both sites are in the same state (14 releases kept, so every deploy also prunes one) and are
//! measured alternately in one run, so the machine's load moves both alike.
//!
//! Run: `cargo bench --bench history` (FLIPDECK_BENCH_ITERATIONS=N, default 9).
#![allow(dead_code)] // the speed bench's modules, of which this uses a part

#[path = "../tests/it/support/counting.rs"]
mod counting;
#[path = "../tests/it/support/sshd.rs"]
mod sshd;

#[path = "speed/flip.rs"]
mod flip;
#[path = "speed/history.rs"]
mod history;
#[path = "speed/repo.rs"]
mod repo;
#[path = "speed/stats.rs"]
mod stats;

use flip::{Flip, Sample};
use stats::median;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The samples of one operation on one site.
#[derive(Default)]
struct Series(Vec<Sample>);

impl Series {
    fn total(&self) -> Duration {
        median(self.0.iter().map(|s| s.took).collect())
    }

    /// What the client spent outside connect and exec calls: the history DB, mostly.
    fn local(&self) -> Duration {
        median(
            self.0
                .iter()
                .map(|s| s.took.saturating_sub(s.calls.iter().map(|c| c.1).sum()))
                .collect(),
        )
    }

    fn counts(&self) -> (usize, usize) {
        let c = (self.0[0].connections, self.0[0].execs);
        assert!(self.0.iter().all(|s| (s.connections, s.execs) == c));
        c
    }
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"))
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn main() {
    let n = std::env::var("FLIPDECK_BENCH_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(9usize)
        .max(1);
    println!("history bench ({n} alternating runs per site and operation, medians)");
    println!("machine: {}", stats::machine());
    let cache = target_dir().join("speed-bench");
    std::fs::create_dir_all(&cache).unwrap();
    let (repo_dir, _) = repo::reference(&cache);
    let work = tempfile::Builder::new()
        .prefix("flipdeck-history-")
        .tempdir()
        .unwrap();
    let w = work.path();
    let Some(sshd) = sshd::TestSshd::start() else {
        println!("no sshd: install openssh-server to run this bench");
        return;
    };
    let known = sshd.known_hosts_file();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let empty = Flip::new(&w.join("empty"), &sshd, &known, &repo_dir);
        let big = Flip::new(&w.join("big"), &sshd, &known, &repo_dir);
        // Up to `keep` releases and one more: from here on every deploy prunes one, on both.
        for _ in 0..15 {
            empty.deploy().await;
            big.deploy().await;
        }
        let took = history::fill(
            &w.join("big/history.db"),
            "bench",
            flip::DOMAIN,
            history::DEPLOYMENTS,
            0,
        );
        println!(
            "{} older deployments added to one site's history in {:.1} s",
            history::DEPLOYMENTS,
            took.as_secs_f64()
        );
        let sites = [(&empty, "empty history"), (&big, "100,000 deployments")];
        let (mut deploys, mut statuses) = (
            [Series::default(), Series::default()],
            [Series::default(), Series::default()],
        );
        // One untimed round, then alternate which site goes first.
        for i in 0..=n {
            for k in 0..2 {
                let k = (k + i) % 2;
                let d = sites[k].0.deploy().await;
                let s = sites[k].0.status().await;
                if i > 0 {
                    deploys[k].0.push(d);
                    statuses[k].0.push(s);
                }
            }
        }
        // Where the history's time goes in one more deploy of each: the statements, slowest first.
        for (f, name) in sites {
            let log = f.engine.store.trace();
            f.deploy().await;
            let mut runs = std::mem::take(&mut *log.lock().unwrap());
            let total: Duration = runs.iter().map(|t| t.took).sum();
            runs.sort_by_key(|t| std::cmp::Reverse(t.took));
            println!(
                "one deploy, {name}: {} statements, {:.2} ms in SQLite; slowest:",
                runs.len(),
                ms(total)
            );
            for t in runs.iter().take(4) {
                let sql: String = t.sql.split_whitespace().collect::<Vec<_>>().join(" ");
                println!(
                    "  {:6.2} ms {:5} rows {:7} steps  {:.90}",
                    ms(t.took),
                    t.rows,
                    t.vm_steps,
                    sql
                );
            }
        }
        for (what, series) in [("warm deploy", &deploys), ("status", &statuses)] {
            println!("{what}:");
            for (k, s) in series.iter().enumerate() {
                let (c, e) = s.counts();
                println!(
                    "  {:<20} {:7.1} ms in all, {:5.1} ms outside connect/exec ({c} connection(s), {e} exec(s))",
                    sites[k].1,
                    ms(s.total()),
                    ms(s.local())
                );
            }
            let ratio = series[1].total().as_secs_f64() / series[0].total().as_secs_f64();
            println!(
                "  {} 100,000 vs empty: {ratio:.3}x, {:+.1} ms (target within 5%)",
                if ratio <= 1.05 { "met   " } else { "MISSED" },
                ms(series[1].total()) - ms(series[0].total())
            );
        }
    });
}
