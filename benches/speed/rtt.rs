//! The same operations through the latency proxy (`tests/it/support/latency.rs`) at several
//! round-trip times: flipdeck (the CLI's engine), the floor (one OpenSSH exec) and Capistrano,
//! each with its time and its round trips, side by side.
//!
//! To add an operation: a variant of [`Op`], its name, and its arm in [`Tools::flip`],
//! [`Tools::floor`] and [`Tools::cap`] (`None` where a tool has no such operation).

use crate::cap::Cap;
use crate::flip::{DOMAIN, Flip};
use crate::floor::{Floor, Ssh};
use crate::latency::{LatencyProxy, Tally};
use crate::sshd::TestSshd;
use crate::stats::median;
use flipdeck::engine::RollbackOptions;
use flipdeck::transport::pool::Pool;
use std::path::Path;
use std::time::{Duration, Instant};

/// The round-trip times measured, in ms.
pub const RTTS: [u64; 3] = [0, 50, 150];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Connect,
    WarmDeploy,
    Rollback,
    /// A rollback on a connection that is already open (the dashboard's warm pool).
    WarmConnectionRollback,
}

impl Op {
    pub const ALL: [Op; 4] = [
        Op::Connect,
        Op::WarmDeploy,
        Op::Rollback,
        Op::WarmConnectionRollback,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Op::Connect => "connection + `true`",
            Op::WarmDeploy => "warm deploy",
            Op::Rollback => "rollback",
            Op::WarmConnectionRollback => "rollback, connection already open (dashboard)",
        }
    }
}

/// One tool's figure for one operation: median time and round trips, with every connection's
/// TCP handshake counted (the proxy simulates it but cannot see it).
#[derive(Debug, Clone, Copy)]
pub struct Cell {
    pub time: Duration,
    pub round_trips: usize,
    pub connections: usize,
}

#[derive(Default)]
struct Samples(Vec<(Duration, Tally)>);

impl Samples {
    fn cell(&self) -> Option<Cell> {
        if self.0.is_empty() {
            return None;
        }
        let mut rts: Vec<usize> = self
            .0
            .iter()
            .map(|(_, t)| t.round_trips + t.connections)
            .collect();
        rts.sort();
        Some(Cell {
            time: median(self.0.iter().map(|s| s.0).collect()),
            round_trips: rts[rts.len() / 2],
            connections: self.0[0].1.connections,
        })
    }
}

pub struct Row {
    pub rtt_ms: u64,
    pub op: Op,
    pub flip: Option<Cell>,
    pub floor: Option<Cell>,
    pub cap: Option<Cell>,
}

/// Everything reaching the server through one proxy.
struct Tools {
    proxy: LatencyProxy,
    flip: Flip,
    pool: std::sync::Arc<Pool>,
    floor: Floor,
    floor_releases: Vec<String>,
    ssh: Ssh,
    cap: Option<Cap>,
}

impl Tools {
    /// What one operation cost through the proxy: the connections it opened, once they are
    /// closed; for an operation on the warm connection, what went over every connection.
    async fn cost(&self, warm: bool, run: impl AsyncFnOnce() -> Duration) -> (Duration, Tally) {
        let (before, open) = (self.proxy.tally(), self.proxy.open());
        let took = run().await;
        if warm {
            tokio::time::sleep(self.proxy.rtt()).await;
            return (took, self.proxy.tally() - before);
        }
        let t = Instant::now();
        while self.proxy.open() > open && t.elapsed() < Duration::from_secs(10) {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        (took, self.proxy.tally_from(before.connections))
    }

    async fn flip(&self, op: Op) -> Option<(Duration, Tally)> {
        let warm = op == Op::WarmConnectionRollback;
        let f = &self.flip;
        Some(
            self.cost(warm, async || match op {
                Op::Connect => f.connect_true().await.took,
                Op::WarmDeploy => f.deploy().await.took,
                Op::Rollback => f.rollback().await.took,
                Op::WarmConnectionRollback => self.pooled_rollback().await,
            })
            .await,
        )
    }

    /// A rollback through the pool whose connection was opened (and used) before the clock
    /// starts, as the dashboard's is.
    async fn pooled_rollback(&self) -> Duration {
        let site = self.flip.config.find_site(DOMAIN).unwrap();
        let connector = self.pool.connector(site.server).unwrap();
        let t = Instant::now();
        self.flip
            .engine
            .rollback(&site, connector.as_ref(), RollbackOptions::default())
            .await
            .expect("pooled rollback");
        t.elapsed()
    }

    async fn floor(&mut self, op: Op) -> Option<(Duration, Tally)> {
        let script = match op {
            Op::Connect => "true".to_string(),
            Op::WarmDeploy => {
                let (r, script) = self.floor.deploy_script();
                self.floor_releases.push(r);
                script
            }
            Op::Rollback => {
                let prev = &self.floor_releases[self.floor_releases.len() - 2];
                self.floor.rollback_script(prev)
            }
            Op::WarmConnectionRollback => return None,
        };
        let ssh = &self.ssh;
        Some(self.cost(false, async || ssh.time(&script)).await)
    }

    async fn cap(&self, op: Op) -> Option<(Duration, Tally)> {
        let cap = self.cap.as_ref()?;
        let task = match op {
            Op::WarmDeploy => "deploy",
            Op::Rollback => "deploy:rollback",
            Op::Connect | Op::WarmConnectionRollback => return None,
        };
        Some(self.cost(false, async || cap.time(task)).await)
    }
}

/// Every operation at every RTT, `n` times each (after one untimed round).
pub async fn run(w: &Path, repo: &Path, sshd: &TestSshd, with_cap: bool, n: usize) -> Vec<Row> {
    let mut rows = Vec::new();
    for rtt_ms in RTTS {
        let dir = w.join(format!("latency-{rtt_ms}"));
        std::fs::create_dir_all(&dir).unwrap();
        let proxy = LatencyProxy::start(
            &format!("{}:{}", sshd.address, sshd.port),
            Duration::from_millis(rtt_ms),
        );
        let known = dir.join("known_hosts");
        let line = sshd
            .known_hosts_line
            .replace(&format!(":{} ", sshd.port), &format!(":{} ", proxy.port));
        std::fs::write(&known, format!("{line}\n")).unwrap();
        let flip = Flip::new_at(&dir.join("flip"), sshd, proxy.port, &known, repo, "");
        let pool = Pool::new(flipdeck::transport::connect::direct(), 4, None);
        let cap = with_cap.then(|| {
            Cap::new_at(
                dir.join("cap"),
                dir.join("cap-srv"),
                sshd,
                proxy.port,
                repo,
                &known,
            )
        });
        let mut tools = Tools {
            ssh: Ssh::new_at(sshd, proxy.port, &known),
            floor: Floor::new(dir.join("floor"), repo),
            floor_releases: Vec::new(),
            proxy,
            flip,
            pool,
            cap,
        };
        // One untimed deploy each, so the first rollback has a release to go back to.
        tools.flip.deploy().await;
        let (r, script) = tools.floor.deploy_script();
        tools.ssh.time(&script);
        tools.floor_releases.push(r);
        if let Some(c) = &tools.cap {
            c.time("deploy");
        }
        let mut samples: Vec<[Samples; 3]> = Op::ALL.iter().map(|_| Default::default()).collect();
        for i in 0..=n {
            // Each round: deploy, roll back, deploy again (the warm-connection rollback), so
            // there is always an older release to go back to.
            for (k, op) in Op::ALL.into_iter().enumerate() {
                if op == Op::WarmConnectionRollback {
                    tools.flip.deploy().await;
                }
                let results = [
                    tools.flip(op).await,
                    tools.floor(op).await,
                    tools.cap(op).await,
                ];
                if i > 0 {
                    for (s, r) in samples[k].iter_mut().zip(results) {
                        s.0.extend(r);
                    }
                }
            }
        }
        for (k, op) in Op::ALL.into_iter().enumerate() {
            let [f, fl, c] = &samples[k];
            rows.push(Row {
                rtt_ms,
                op,
                flip: f.cell(),
                floor: fl.cell(),
                cap: c.cell(),
            });
        }
    }
    rows
}

fn cell(c: &Option<Cell>) -> String {
    match c {
        Some(c) => format!(
            "{:.3} s, {} RT{}",
            c.time.as_secs_f64(),
            c.round_trips,
            if c.connections == 1 {
                String::new()
            } else {
                format!(" ({} conn.)", c.connections)
            }
        ),
        None => "—".into(),
    }
}

/// A Markdown table: time and round trips (TCP handshakes included) per tool.
pub fn table(rows: &[Row]) -> String {
    let mut s = String::from(
        "| RTT | operation | flipdeck | floor (one OpenSSH exec) | capistrano | flipdeck vs floor |\n\
         |---:|---|---:|---:|---:|---:|\n",
    );
    for r in rows {
        let ratio = match (r.flip, r.floor) {
            (Some(f), Some(fl)) => format!("{:.2}×", f.time.as_secs_f64() / fl.time.as_secs_f64()),
            _ => "—".into(),
        };
        s.push_str(&format!(
            "| {} ms | {} | {} | {} | {} | {ratio} |\n",
            r.rtt_ms,
            r.op.name(),
            cell(&r.flip),
            cell(&r.floor),
            cell(&r.cap),
        ));
    }
    s
}

pub fn find(rows: &[Row], rtt_ms: u64, op: Op) -> Option<&Row> {
    rows.iter().find(|r| r.rtt_ms == rtt_ms && r.op == op)
}
