//! The dashboard's warm connections (`transport::pool`): one per server over a real sshd, reused
//! by every job and refresh and by the one-exec read of a server, never reused once dropped;
//! opened at most `parallel` at a time; tried again with a growing wait after a failure.

use crate::support::counting::CountingConnector;
use crate::support::{DOMAIN, Harness, TransportKind};
use async_trait::async_trait;
use flipdeck::config::{Config, ServerConfig};
use flipdeck::engine::{DeployOptions, Engine, RollbackOptions};
use flipdeck::error::{Error, Result};
use flipdeck::store::Store;
use flipdeck::transport::connect::{Connectors, direct};
use flipdeck::transport::pool::{FIRST_BACKOFF, Health, Pool};
use flipdeck::transport::{Connector, LocalTransport, Transport};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

fn engine(h: &Harness, connectors: Connectors) -> Engine {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move { while rx.recv().await.is_some() {} });
    Engine::new(Arc::new(Store::open(&h.db).unwrap()), tx, connectors)
}

async fn deploy(engine: &Engine, site: &flipdeck::config::SiteRef<'_>, c: &dyn Connector) {
    let opts = DeployOptions::default();
    engine
        .deploy(site, c, opts, CancellationToken::new())
        .await
        .unwrap();
}

/// How many SSH logins sshd accepted so far.
fn logins(h: &Harness) -> usize {
    let TransportKind::Ssh(s) = &h.transport else {
        unreachable!()
    };
    s.log().matches("Accepted publickey").count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_warm_connection_serves_every_job_and_read_and_a_drop_gets_a_fresh_one() {
    let Some(h) = Harness::ssh() else { return };
    h.write_config("deployment_script = \"true\"");
    h.ok(&["deploy", DOMAIN]);
    h.ok(&["deploy", DOMAIN]);
    let before = logins(&h);
    let config = Config::load(&h.config).unwrap();
    let site = config.find_site(DOMAIN).unwrap();
    let pool = Pool::new(direct(), config.parallel, None);
    let engine = engine(&h, pool.connectors());
    let pooled = pool.connector(site.server).unwrap();
    let c = CountingConnector::new(pooled.clone());

    engine.refresh(&site, &c).await.unwrap();
    let read = engine
        .watch(site.server, &c, &HashMap::new())
        .await
        .unwrap();
    assert_eq!(
        c.take().1,
        2,
        "a refresh, then one exec for the whole server"
    );
    assert_eq!(read.len(), 1);
    assert_eq!(read[0].releases.len(), 2);
    assert!(read[0].relog_size > 0 && read[0].relog.len() == 2);
    // Read again from where the last read ended: nothing new in the release log.
    let offsets = HashMap::from([(DOMAIN.to_string(), read[0].relog_size)]);
    let again = engine.watch(site.server, &c, &offsets).await.unwrap();
    assert!(again[0].relog.is_empty(), "{again:?}");
    engine
        .rollback(&site, &c, RollbackOptions::default())
        .await
        .unwrap();
    deploy(&engine, &site, &c).await;
    let grown = engine.watch(site.server, &c, &offsets).await.unwrap();
    assert_eq!(
        grown[0].relog.len(),
        2,
        "the rollback's and the deploy's lines"
    );
    assert_eq!(pooled.opened(), 1);
    assert_eq!(logins(&h) - before, 1, "sshd saw one login for all of it");
    assert_eq!(pooled.health(), Some(Health::Connected));

    // The connection drops: the next job gets a fresh one, and works.
    let TransportKind::Ssh(s) = &h.transport else {
        unreachable!()
    };
    assert!(s.drop_connections() > 0);
    let deadline = Instant::now() + Duration::from_secs(10);
    while pooled.is_up() {
        assert!(Instant::now() < deadline, "the drop was not noticed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    deploy(&engine, &site, &c).await;
    assert_eq!(pooled.opened(), 2);
    assert_eq!(logins(&h) - before, 2);
}

/// Connects slowly and counts how many connects run at once.
struct Slow {
    now: Arc<AtomicUsize>,
    most: Arc<AtomicUsize>,
}

#[async_trait]
impl Connector for Slow {
    async fn connect(&self) -> Result<Arc<dyn Transport>> {
        let n = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.most.fetch_max(n, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(50)).await;
        self.now.fetch_sub(1, Ordering::SeqCst);
        Ok(Arc::new(LocalTransport))
    }
}

fn servers(n: usize) -> Config {
    let text: String = (0..n)
        .map(|i| {
            format!("[[servers]]\nname = \"s{i}\"\ntransport = \"local\"\nroot = \"/tmp/s{i}\"\n")
        })
        .collect();
    Config::parse(
        &format!("parallel = 3\n{text}"),
        std::path::Path::new("/x.toml"),
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_most_parallel_connections_are_opened_at_once() {
    let (now, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let (n, m) = (now.clone(), most.clone());
    let slow: Connectors = Arc::new(move |_: &ServerConfig| -> Result<Arc<dyn Connector>> {
        Ok(Arc::new(Slow {
            now: n.clone(),
            most: m.clone(),
        }))
    });
    let config = servers(20);
    let pool = Pool::new(slow, config.parallel, None);
    let mut tasks = Vec::new();
    for s in &config.servers {
        let c = pool.connector(s).unwrap();
        tasks.push(tokio::spawn(async move { c.connect().await.map(|_| ()) }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    assert_eq!(most.load(Ordering::SeqCst), 3, "parallel = 3");
    // Connected once, each server's connection is reused: no new connects.
    for s in &config.servers {
        pool.connector(s).unwrap().connect().await.unwrap();
    }
    assert_eq!(most.load(Ordering::SeqCst), 3);
}

/// Always refuses, counting the attempts.
struct Refusing(Arc<AtomicUsize>);

#[async_trait]
impl Connector for Refusing {
    async fn connect(&self) -> Result<Arc<dyn Transport>> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Err(Error::failed("connection refused"))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_is_reported_with_its_error_and_the_wait_doubles() {
    let tries = Arc::new(AtomicUsize::new(0));
    let t = tries.clone();
    let refusing: Connectors = Arc::new(move |_: &ServerConfig| -> Result<Arc<dyn Connector>> {
        Ok(Arc::new(Refusing(t.clone())))
    });
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let config = servers(1);
    let pool = Pool::new(refusing, 1, Some(tx));
    let c = pool.connector(&config.servers[0]).unwrap();
    let mut waits = Vec::new();
    for _ in 0..3 {
        let asked = Instant::now();
        assert!(c.connect().await.is_err());
        let retry = c.retry_at().expect("a next try");
        waits.push(retry - asked);
    }
    assert_eq!(tries.load(Ordering::SeqCst), 3);
    let slack = Duration::from_millis(500);
    assert!(
        waits[0] <= FIRST_BACKOFF + slack && waits[0] >= FIRST_BACKOFF,
        "{waits:?}"
    );
    assert!(
        waits[1] > waits[0] * 3 / 2 && waits[2] > waits[1] * 3 / 2,
        "{waits:?}"
    );
    let mut seen = Vec::new();
    while let Ok((server, h)) = rx.try_recv() {
        seen.push((server, h));
    }
    assert_eq!(seen[0], ("s0".to_string(), Health::Connecting));
    assert!(
        matches!(&seen[1].1, Health::Unreachable { error, .. } if error.contains("connection refused")),
        "{seen:?}"
    );
}
