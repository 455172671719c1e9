//! Warm connections pay once (issue 21), at 150 ms RTT: a rollback on the dashboard's warm
//! connection (the pool) timed from the engine call to the live link switched on the server
//! (read from the server side's filesystem), and a deploy on the warm connection against the
//! CLI's (a connection per job), alternately, on the same site.

use crate::flip::{DOMAIN, Flip};
use crate::latency::LatencyProxy;
use crate::sshd::TestSshd;
use crate::stats::median;
use flipdeck::engine::{DeployOptions, RollbackOptions};
use flipdeck::transport::pool::Pool;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

pub const RTT_MS: u64 = 150;

pub struct Results {
    /// Engine call → the live link on the server names another release.
    pub rollback_to_switch: Duration,
    /// The same rollback's call, to its result.
    pub rollback_call: Duration,
    pub warm_deploy: Duration,
    pub cli_deploy: Duration,
    /// The CLI deploy's own connect (TCP, key exchange, authentication), from its calls.
    pub cli_connect: Duration,
}

/// Polls `link` from another thread until it no longer points at what it did; the time since
/// `from`.
fn watch_switch(link: PathBuf, from: Instant) -> std::thread::JoinHandle<Duration> {
    let before = std::fs::read_link(&link).expect("a live link");
    std::thread::spawn(move || {
        loop {
            if std::fs::read_link(&link).is_ok_and(|now| now != before) {
                return from.elapsed();
            }
            assert!(from.elapsed() < Duration::from_secs(30), "no switch seen");
            std::thread::sleep(Duration::from_micros(500));
        }
    })
}

/// `n` of each, after an untimed deploy on each connector (which opens the warm one).
pub async fn run(w: &Path, repo: &Path, sshd: &TestSshd, n: usize) -> Results {
    let dir = w.join(format!("warm-{RTT_MS}"));
    std::fs::create_dir_all(&dir).unwrap();
    let proxy = LatencyProxy::start(
        &format!("{}:{}", sshd.address, sshd.port),
        Duration::from_millis(RTT_MS),
    );
    let known = dir.join("known_hosts");
    let line = sshd
        .known_hosts_line
        .replace(&format!(":{} ", sshd.port), &format!(":{} ", proxy.port));
    std::fs::write(&known, format!("{line}\n")).unwrap();
    let f = Flip::new_at(&dir.join("flip"), sshd, proxy.port, &known, repo, "");
    let site = f.config.find_site(DOMAIN).unwrap();
    let pool = Pool::new(flipdeck::transport::connect::direct(), 4, None);
    let warm = pool.connector(site.server).unwrap();
    let warm_deploy = async || {
        let t = Instant::now();
        f.engine
            .deploy(
                &site,
                warm.as_ref(),
                DeployOptions::default(),
                CancellationToken::new(),
            )
            .await
            .expect("deploy on the warm connection");
        t.elapsed()
    };
    f.deploy().await;
    warm_deploy().await;
    let link = f.root.join(DOMAIN);
    let (mut switch, mut call, mut wd, mut cd, mut cc) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for i in 0..=n {
        let cli = f.deploy().await;
        let on_warm = warm_deploy().await;
        let t = Instant::now();
        let seen = watch_switch(link.clone(), t);
        f.engine
            .rollback(&site, warm.as_ref(), RollbackOptions::default())
            .await
            .expect("rollback on the warm connection");
        let took = t.elapsed();
        let to_switch = seen.join().unwrap();
        if i > 0 {
            switch.push(to_switch);
            call.push(took);
            wd.push(on_warm);
            cd.push(cli.took);
            cc.extend(cli.calls.iter().find(|c| c.0 == "connect").map(|c| c.1));
        }
    }
    assert_eq!(warm.opened(), 1, "one warm connection all along");
    Results {
        rollback_to_switch: median(switch),
        rollback_call: median(call),
        warm_deploy: median(wd),
        cli_deploy: median(cd),
        cli_connect: median(cc),
    }
}

pub fn report(r: &Results) {
    let s = |d: Duration| d.as_secs_f64();
    println!();
    println!(
        "on the dashboard's warm connection, {RTT_MS} ms RTT (medians; from the engine call):"
    );
    let v = s(r.rollback_to_switch);
    println!(
        "  {} rollback, call → live link switched on the server: {v:.3} s (target ≤ 0.35 s; \
         the call returns after {:.3} s)",
        if v <= 0.35 { "met   " } else { "MISSED" },
        s(r.rollback_call)
    );
    let saved = r.cli_deploy.saturating_sub(r.warm_deploy);
    println!(
        "  {} deploy: {:.3} s on the warm connection vs {:.3} s for the CLI's: saves {:.3} s \
         (the CLI's connection set-up: {:.3} s)",
        if saved >= r.cli_connect {
            "met   "
        } else {
            "MISSED"
        },
        s(r.warm_deploy),
        s(r.cli_deploy),
        s(saved),
        s(r.cli_connect)
    );
}
