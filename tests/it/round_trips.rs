//! How many connections and execs each operation costs, on the engine the CLI runs: a deploy, a
//! rollback and a prune are one connection and one exec each, with or without a configured root.

use crate::support::counting::CountingConnector;
use crate::support::{DOMAIN, Harness};
use async_trait::async_trait;
use flipdeck::config::Config;
use flipdeck::engine::{DeployOptions, Engine, Provisioned, PruneOptions, RollbackOptions};
use flipdeck::store::{Status, Store};
use flipdeck::transport::{Connector, LocalConnector};
use flipdeck::transport::{ExitStatus, LocalTransport, OutputLine, Transport, TransportError};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};
use tokio_util::sync::CancellationToken;

fn engine(db: &Path) -> Engine {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move { while rx.recv().await.is_some() {} });
    Engine::new(
        Arc::new(Store::open(db).unwrap()),
        tx,
        flipdeck::transport::connect::direct(),
    )
}

/// Provision, deploys (one of them pruning), a rollback and a prune, each counted.
/// A deploy with the default options, never cancelled.
async fn deploy(
    engine: &Engine,
    site: &flipdeck::config::SiteRef<'_>,
    c: &dyn Connector,
) -> flipdeck::error::Result<flipdeck::engine::Deployed> {
    engine
        .deploy(site, c, DeployOptions::default(), CancellationToken::new())
        .await
}

async fn count_every_operation(h: &Harness, connector: Arc<dyn Connector>) {
    h.write_config("keep = 3\nserver:reload_command = \"true\"");
    let config = Config::load(&h.config).unwrap();
    let site = config.find_site(DOMAIN).unwrap();
    let engine = engine(&h.db);
    let c = CountingConnector::new(connector);
    engine.provision(&site, &c).await.unwrap();
    assert_eq!(c.take(), (1, 1), "provision: layout and the initial deploy");
    for i in 0..3 {
        h.commit("public/index.php", &format!("<?php echo 'v{i}';\n"));
        let d = deploy(&engine, &site, &c).await.unwrap();
        assert_eq!(c.take(), (1, 1), "deploy {i}");
        // The fourth release (with provision's) is one too many: pruned in the same exec.
        assert_eq!(d.pruned.len(), usize::from(i == 2), "deploy {i} pruned");
    }
    assert_eq!(h.releases().len(), 3);
    engine
        .rollback(&site, &c, RollbackOptions::default())
        .await
        .unwrap();
    assert_eq!(c.take(), (1, 1), "rollback");
    let p = PruneOptions {
        keep: Some(1),
        dry_run: false,
    };
    let pruned = engine.prune(&site, &c, p).await.unwrap();
    assert_eq!(c.take(), (1, 1), "prune");
    // The newest and the live one (rolled back to) are kept, the oldest goes.
    assert_eq!(pruned.deleted.len(), 1);
    assert_eq!(h.releases().len(), 2);
}

#[tokio::test]
async fn one_connection_one_exec_local() {
    let h = Harness::local();
    count_every_operation(&h, Arc::new(LocalConnector)).await;
}

#[tokio::test]
async fn one_connection_one_exec_ssh() {
    let Some(h) = Harness::ssh() else { return };
    h.write_config("");
    let config = Config::load(&h.config).unwrap();
    let connector =
        flipdeck::transport::connect::connector_for(config.find_site(DOMAIN).unwrap().server);
    count_every_operation(&h, connector.unwrap()).await;
}

/// Provisioning is one exec, whether it makes the initial deployment or finds a release live.
async fn provision_in_one_exec(h: &Harness, connector: Arc<dyn Connector>) {
    let config = Config::load(&h.config).unwrap();
    let site = config.find_site(DOMAIN).unwrap();
    let engine = engine(&h.db);
    let c = CountingConnector::new(connector);
    let first = engine.provision(&site, &c).await.unwrap();
    assert!(matches!(first, Provisioned::Initial(_)));
    assert_eq!(c.take(), (1, 1), "layout and the initial deployment");
    assert!(h.live_release().is_some());
    let again = engine.provision(&site, &c).await.unwrap();
    assert!(matches!(again, Provisioned::Already { .. }));
    assert_eq!(c.take(), (1, 1), "a site provisioned already");
    assert_eq!(
        h.list().len(),
        1,
        "no record of a deployment that did not begin"
    );
}

#[tokio::test]
async fn provision_is_one_exec_local() {
    let h = Harness::local();
    provision_in_one_exec(&h, Arc::new(LocalConnector)).await;
}

#[tokio::test]
async fn provision_is_one_exec_ssh() {
    let Some(h) = Harness::ssh() else { return };
    h.write_config("");
    let config = Config::load(&h.config).unwrap();
    let connector =
        flipdeck::transport::connect::connector_for(config.find_site(DOMAIN).unwrap().server);
    provision_in_one_exec(&h, connector.unwrap()).await;
}

/// The local shell with another `$HOME`: a server whose login user's home is `home`.
struct HomeConnector(PathBuf);

struct HomeTarget(String);

#[async_trait]
impl Connector for HomeConnector {
    async fn connect(&self) -> flipdeck::error::Result<Arc<dyn Transport>> {
        Ok(Arc::new(HomeTarget(self.0.display().to_string())))
    }
}

#[async_trait]
impl Transport for HomeTarget {
    fn describe(&self) -> String {
        format!("local with HOME={}", self.0)
    }

    async fn exec_fed(
        &self,
        script: &str,
        stdin: UnboundedReceiver<Vec<u8>>,
        out: UnboundedSender<OutputLine>,
    ) -> Result<ExitStatus, TransportError> {
        let script = format!(
            "HOME={}; export HOME\n{script}",
            flipdeck::shell::quote(&self.0)
        );
        LocalTransport.exec_fed(&script, stdin, out).await
    }
}

/// An SSH server without `root`: the config the scripts get has no root and no home.
fn config_without_root(h: &Harness) -> Config {
    let text = format!(
        "[[servers]]\nname = \"web1\"\nhost = \"127.0.0.1\"\n\n[[servers.sites]]\ndomain = \"{DOMAIN}\"\nrepository = \"{}\"\ndeployment_script = \"true\"\n",
        h.repo.display()
    );
    let config = Config::parse(&text, &h.config).unwrap();
    assert!(config.servers[0].root.is_none());
    config
}

#[tokio::test]
async fn the_login_home_is_read_by_the_first_script() {
    let h = Harness::local();
    let config = config_without_root(&h);
    let site = config.find_site(DOMAIN).unwrap();
    let home = h.dir.path().join("home");
    std::fs::create_dir(&home).unwrap();
    let engine = engine(&h.db);
    let c = CountingConnector::new(Arc::new(HomeConnector(home.clone())));
    let d = deploy(&engine, &site, &c).await.unwrap();
    assert_eq!(c.take(), (1, 1), "no round trip of its own for $HOME");
    let release = home.join("deployments").join(DOMAIN).join(&d.release);
    assert!(release.join("deployment.log").is_file());
    assert_eq!(
        std::fs::read_link(home.join(DOMAIN)).unwrap(),
        Path::new("deployments").join(DOMAIN).join(&d.release)
    );
    let stored = engine.store.get(d.deployment_id).unwrap().unwrap();
    assert_eq!(
        stored.deployment_path.as_deref(),
        Some(release.to_str().unwrap())
    );
    assert_eq!(
        stored.log_file_path.as_deref(),
        Some(release.join("deployment.log").to_str().unwrap())
    );
    deploy(&engine, &site, &c).await.unwrap();
    engine
        .rollback(&site, &c, RollbackOptions::default())
        .await
        .unwrap();
    assert_eq!(c.take(), (2, 2));
    assert_eq!(
        std::fs::read_link(home.join(DOMAIN)).unwrap(),
        Path::new("deployments").join(DOMAIN).join(&d.release)
    );
}

#[tokio::test]
async fn a_home_that_cannot_be_the_root_is_refused() {
    let h = Harness::local();
    let config = config_without_root(&h);
    let site = config.find_site(DOMAIN).unwrap();
    let engine = engine(&h.db);
    let c = CountingConnector::new(Arc::new(HomeConnector("relative/home".into())));
    let err = deploy(&engine, &site, &c).await.unwrap_err();
    assert!(err.to_string().contains("set root"), "{}", err.to_string());
    assert!(!h.dir.path().join("relative").exists());
    let d = &engine.store.list(1, None).unwrap()[0];
    assert_eq!(d.status, Status::Failed);
    assert_eq!(d.deployment_path, None);
}

#[tokio::test]
async fn cancelling_after_the_switch_switches_back() {
    let h = Harness::local();
    h.write_config("deployment_script = \"true\"");
    h.ok(&["deploy", DOMAIN]);
    let before = h.live_release().unwrap();
    // The reload after the switch hangs: cancelling then (as Ctrl-C or SIGTERM do) ends the
    // deploy at once and puts the release that was live back.
    let reloading = h.dir.path().join("reloading");
    h.write_config(&format!(
        "deployment_script = \"true\"\nserver:reload_command = \"touch '{}'; sleep 47.25\"",
        reloading.display()
    ));
    let config = Config::load(&h.config).unwrap();
    let site = config.find_site(DOMAIN).unwrap();
    // Cancelled once the engine has read the reload step's marker and the reload runs (a
    // loaded machine may run the reload before the engine reads the marker).
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let engine = Engine::new(
        Arc::new(Store::open(&h.db).unwrap()),
        tx,
        flipdeck::transport::connect::direct(),
    );
    let cancel = CancellationToken::new();
    let deploy = engine.deploy(
        &site,
        &LocalConnector,
        DeployOptions::default(),
        cancel.clone(),
    );
    let canceller = async {
        while let Some(e) = rx.recv().await {
            if matches!(&e.kind, flipdeck::engine::events::EventKind::StepStarted { step } if step == "reload")
            {
                break;
            }
        }
        while !reloading.exists() {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        cancel.cancel();
        // Kept open (unbounded: nothing backs up) until the deploy has ended.
        rx
    };
    // Bounded: a deploy that failed before its reload would leave the canceller waiting.
    let (d, _rx) = tokio::time::timeout(std::time::Duration::from_secs(120), async {
        tokio::join!(deploy, canceller)
    })
    .await
    .expect("the deploy reached its reload and ended within 120 s");
    let err = d.expect_err("a cancelled deploy fails").to_string();
    assert!(err.contains("cancelled during reload"), "{err}");
    // It says where the site is now.
    assert!(
        err.contains(&format!("; switched back to {before}")),
        "{err}"
    );
    assert_eq!(h.live_release(), Some(before.clone()), "switched back");
    let list = engine.store.list(1, None).unwrap();
    assert_eq!(list[0].status, Status::Failed);
    assert_eq!(h.releases(), vec![before], "no half release");
    assert!(!h.lock_dir().exists());
    // The reload it started was stopped: nothing of the job is left running.
    let left = std::process::Command::new("pgrep")
        .args(["-f", "sleep 47.25"])
        .output()
        .unwrap();
    assert!(
        left.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&left.stdout)
    );
}

/// The CLI against a real sshd through the latency proxy (`support/latency.rs`): for each
/// operation, its connections and round trips, at several round-trip times.
mod through_the_proxy {
    use crate::support::latency::{LatencyProxy, Tally};
    use crate::support::{DOMAIN, Harness, TransportKind, sshd::TestSshd};
    use std::time::{Duration, Instant};

    /// The sandbox's server reached through a proxy: known_hosts names the proxy's port, and so
    /// does the config [`configure`] writes.
    pub(crate) fn behind_proxy(rtt: Duration) -> Option<(Harness, LatencyProxy)> {
        let sshd = TestSshd::start()?;
        let proxy = LatencyProxy::start(&format!("{}:{}", sshd.address, sshd.port), rtt);
        let (port, key) = (sshd.port, sshd.known_hosts_line.clone());
        let h = Harness::new(TransportKind::Ssh(sshd));
        let line = key.replace(&format!(":{port} "), &format!(":{} ", proxy.port));
        std::fs::write(h.dir.path().join("known_hosts"), format!("{line}\n")).unwrap();
        Some((h, proxy))
    }

    /// `Harness::write_config`, with the server's port replaced by the proxy's.
    pub(crate) fn configure(h: &Harness, proxy: &LatencyProxy, extra: &str) {
        h.write_config(extra);
        let TransportKind::Ssh(sshd) = &h.transport else {
            unreachable!()
        };
        let text = std::fs::read_to_string(&h.config).unwrap();
        let from = format!("port = {}\n", sshd.port);
        assert!(text.contains(&from));
        let text = text.replace(&from, &format!("port = {}\n", proxy.port));
        std::fs::write(&h.config, text).unwrap();
    }

    /// What one CLI run cost: the proxy's tally once its connections are closed, and the time.
    pub(crate) fn cost(h: &Harness, proxy: &LatencyProxy, args: &[&str]) -> (Tally, Duration) {
        let before = proxy.tally();
        let t = Instant::now();
        h.ok(args);
        let took = t.elapsed();
        assert!(
            proxy.wait_closed(Duration::from_secs(10)),
            "{args:?} left a connection open"
        );
        (proxy.tally() - before, took)
    }

    /// Data round trips (the TCP handshake adds one) of a CLI run, at every RTT: version
    /// exchange and KEXINIT, key exchange, authentication (service request and signed key in one
    /// go), channel open, exec (OpenSSH opens the channel's window once the command runs), the
    /// script on stdin and its result. A deploy also sends its log once the switch is done.
    pub(crate) const CLI_ROLLBACK: usize = 6;
    pub(crate) const CLI_DEPLOY: usize = CLI_ROLLBACK + 1;

    #[test]
    fn round_trips_per_cli_operation_at_every_rtt() {
        let Some((h, proxy)) = behind_proxy(Duration::ZERO) else {
            return;
        };
        configure(&h, &proxy, "deployment_script = \"true\"");
        h.ok(&["deploy", DOMAIN]);
        // At 0 ms, data sent at the same instant both ways can look like one more round trip:
        // only the connections are checked there.
        for rtt_ms in [0u64, 20, 60] {
            proxy.set_rtt(Duration::from_millis(rtt_ms));
            let (deploy, td) = cost(&h, &proxy, &["deploy", DOMAIN]);
            let (rollback, tr) = cost(&h, &proxy, &["rollback", DOMAIN]);
            println!(
                "{rtt_ms} ms RTT: deploy {} round trips in {td:.2?}, rollback {} in {tr:.2?}",
                deploy.round_trips, rollback.round_trips
            );
            assert_eq!((deploy.connections, rollback.connections), (1, 1));
            if rtt_ms > 0 {
                assert_eq!(deploy.round_trips, CLI_DEPLOY, "deploy at {rtt_ms} ms");
                assert_eq!(
                    rollback.round_trips, CLI_ROLLBACK,
                    "rollback at {rtt_ms} ms"
                );
            }
        }
    }

    /// What a bastion adds on the way: its version exchange, key exchange, authentication and
    /// the direct-tcpip channel to the server (then the server's connection goes through it).
    pub(crate) const JUMP_SET_UP: usize = 4;
    /// ...and, on the outer hop, up to two more: the server's version line and its KEXINIT come
    /// back separately through the bastion (russh sends its KEXINIT only once it has the
    /// server's version), which the proxy sees as one or two more exchanges.
    pub(crate) const JUMP_HANDSHAKE_SLACK: usize = 2;

    /// Through a bastion, each hop behind its own proxy: the inner hop sees exactly a direct
    /// rollback's round trips, the outer one those plus the bastion's own set-up.
    #[test]
    fn a_bastion_adds_only_its_own_set_up() {
        let (Some(b), Some(t)) = (TestSshd::start(), TestSshd::start()) else {
            return;
        };
        let rtt = Duration::from_millis(20);
        let outer = LatencyProxy::start(&format!("{}:{}", b.address, b.port), rtt);
        let inner = LatencyProxy::start(&format!("{}:{}", t.address, t.port), rtt);
        let lines = [
            b.known_hosts_line
                .replace(&format!(":{} ", b.port), &format!(":{} ", outer.port)),
            t.known_hosts_line
                .replace(&format!(":{} ", t.port), &format!(":{} ", inner.port)),
        ];
        let bastion_block = b.server_block(
            "bastion",
            &std::path::PathBuf::from("/dev/null"),
            std::path::Path::new("/nonexistent"),
        );
        let h = Harness::new(TransportKind::Ssh(t));
        let known = h.dir.path().join("known_hosts");
        std::fs::write(&known, format!("{}\n{}\n", lines[0], lines[1])).unwrap();
        configure(
            &h,
            &inner,
            "deployment_script = \"true\"\nserver:jump = \"bastion\"",
        );
        let bastion_block = bastion_block
            .replace("/dev/null", &known.display().to_string())
            .replace(
                &format!("port = {}\n", b.port),
                &format!("port = {}\n", outer.port),
            );
        let mut config = std::fs::read_to_string(&h.config).unwrap();
        config.push_str(&bastion_block);
        std::fs::write(&h.config, config).unwrap();
        h.ok(&["deploy", DOMAIN]);
        // The fewest of three rollbacks: a loaded machine can split what the bastion forwards
        // into one more exchange the proxy counts, never merge two (the bound stays as it is).
        let mut best = None;
        for _ in 0..3 {
            h.ok(&["deploy", DOMAIN]);
            let (before_outer, before_inner) = (outer.tally(), inner.tally());
            h.ok(&["rollback", DOMAIN]);
            assert!(outer.wait_closed(Duration::from_secs(10)));
            assert!(inner.wait_closed(Duration::from_secs(10)));
            let (o, i) = (outer.tally() - before_outer, inner.tally() - before_inner);
            if best
                .as_ref()
                .is_none_or(|(b, _): &(Tally, Tally)| o.round_trips < b.round_trips)
            {
                best = Some((o, i));
            }
        }
        let (o, i) = best.expect("three runs");
        println!("through a bastion: outer hop {o:?}, inner hop {i:?}");
        assert_eq!((o.connections, i.connections), (1, 1));
        assert_eq!(i.round_trips, CLI_ROLLBACK, "the server's own connection");
        let least = CLI_ROLLBACK + JUMP_SET_UP;
        assert!(
            (least..=least + JUMP_HANDSHAKE_SLACK).contains(&o.round_trips),
            "the outer hop: the bastion's set-up on top of the server's: {o:?}"
        );
    }

    /// A rollback on the dashboard's warm connection (the pool's, with a channel opened ahead):
    /// the exec request (answered once the command runs), then the script and its result.
    pub(crate) const WARM_ROLLBACK: usize = 2;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_rollback_on_the_warm_connection() {
        use flipdeck::config::Config;
        use flipdeck::engine::{DeployOptions, Engine, RollbackOptions};
        use flipdeck::transport::pool::Pool;
        let Some((h, proxy)) = behind_proxy(Duration::from_millis(20)) else {
            return;
        };
        configure(&h, &proxy, "deployment_script = \"true\"");
        let config = Config::load(&h.config).unwrap();
        let site = config.find_site(DOMAIN).unwrap();
        let pool = Pool::new(flipdeck::transport::connect::direct(), 2, None);
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move { while rx.recv().await.is_some() {} });
        let engine = Engine::new(
            std::sync::Arc::new(flipdeck::store::Store::open(&h.db).unwrap()),
            tx,
            pool.connectors(),
        );
        let c = pool.connector(site.server).unwrap();
        for _ in 0..2 {
            let cancel = tokio_util::sync::CancellationToken::new();
            engine
                .deploy(&site, c.as_ref(), DeployOptions::default(), cancel)
                .await
                .unwrap();
        }
        for rtt_ms in [20u64, 60] {
            proxy.set_rtt(Duration::from_millis(rtt_ms));
            tokio::time::sleep(Duration::from_millis(100)).await;
            let before = proxy.tally();
            engine
                .rollback(&site, c.as_ref(), RollbackOptions::default())
                .await
                .unwrap();
            tokio::time::sleep(Duration::from_millis(50)).await;
            let cost = proxy.tally() - before;
            println!("{rtt_ms} ms RTT: warm rollback {cost:?}");
            assert_eq!(cost.connections, 0, "the warm connection was used");
            assert_eq!(cost.round_trips, WARM_ROLLBACK);
            engine
                .deploy(
                    &site,
                    c.as_ref(),
                    DeployOptions::default(),
                    tokio_util::sync::CancellationToken::new(),
                )
                .await
                .unwrap();
        }
    }
}
