//! Medians, the results table and the machine description.

use std::process::Command;
use std::time::Duration;

pub fn median(mut v: Vec<Duration>) -> Duration {
    assert!(!v.is_empty());
    v.sort();
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2
    }
}

/// One line of the table. Counts are flipdeck's, per operation (the same in every iteration,
/// checked when they are collected).
pub struct Row {
    pub op: &'static str,
    pub flip: Option<Duration>,
    pub floor: Option<Duration>,
    pub cap: Option<Duration>,
    pub connections: Option<usize>,
    pub execs: Option<usize>,
}

impl Row {
    pub fn vs_floor(&self) -> Option<f64> {
        Some(self.flip?.as_secs_f64() / self.floor?.as_secs_f64())
    }

    pub fn vs_cap(&self) -> Option<f64> {
        Some(self.flip?.as_secs_f64() / self.cap?.as_secs_f64())
    }
}

fn secs(d: Option<Duration>) -> String {
    d.map_or("—".into(), |d| format!("{:.3} s", d.as_secs_f64()))
}

fn ratio(r: Option<f64>) -> String {
    r.map_or("—".into(), |r| format!("{r:.2}×"))
}

fn count(c: Option<usize>) -> String {
    c.map_or("—".into(), |c| c.to_string())
}

/// A Markdown table, so it can be pasted into the README as it is.
pub fn table(rows: &[Row]) -> String {
    let mut s = String::from(
        "| operation | flipdeck median | floor | capistrano | ratio vs floor | ratio vs cap | connections | exec calls |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for r in rows {
        s.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} |\n",
            r.op,
            secs(r.flip),
            secs(r.floor),
            secs(r.cap),
            ratio(r.vs_floor()),
            ratio(r.vs_cap()),
            count(r.connections),
            count(r.execs),
        ));
    }
    s
}

fn first_line(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .ok()
        .map(|o| {
            let text = if o.stdout.is_empty() {
                o.stderr
            } else {
                o.stdout
            };
            String::from_utf8_lossy(&text)
                .lines()
                .next()
                .unwrap_or("")
                .trim()
                .to_string()
        })
        .unwrap_or_else(|| "not found".into())
}

/// nproc, CPU model, OpenSSH and git versions.
pub fn machine() -> String {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, m)| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    format!(
        "{cpus} cores ({model}), {}, {}",
        first_line("ssh", &["-V"]),
        first_line("git", &["--version"])
    )
}
