//! flipdeck through its library API: the engine the CLI runs, an SSH connector to the test
//! server, and a counting wrapper that says how many connections and execs each operation cost.

use crate::counting::CountingConnector;
use crate::sshd::TestSshd;
use flipdeck::config::Config;
use flipdeck::engine::{DeployOptions, Engine, EventKind, PruneOptions, RollbackOptions};
use flipdeck::store::Store;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

pub const DOMAIN: &str = "bench.test";

/// One measured operation.
pub struct Sample {
    pub took: Duration,
    pub connections: usize,
    pub execs: usize,
    /// Each script step and how long it took on the server, in order.
    pub steps: Vec<(String, Duration)>,
    /// Each connect and exec, as the client saw it.
    pub calls: Vec<(&'static str, Duration)>,
}

pub struct Flip {
    pub root: PathBuf,
    pub config: Config,
    pub engine: Engine,
    pub connector: CountingConnector,
    steps: Arc<Mutex<Vec<(String, Duration)>>>,
}

impl Flip {
    /// A site on the test server with its root (the server side) and history DB under `dir`.
    pub fn new(dir: &Path, sshd: &TestSshd, known: &Path, repo: &Path) -> Flip {
        Self::new_at(dir, sshd, sshd.port, known, repo, "")
    }

    /// `new`, with `extra` lines in the site's table (`source = "push"`, say).
    pub fn with_site(dir: &Path, sshd: &TestSshd, known: &Path, repo: &Path, extra: &str) -> Flip {
        Self::new_at(dir, sshd, sshd.port, known, repo, extra)
    }

    /// The same, reaching the server at `port` (a latency proxy in front of it), with `extra`
    /// lines in the site's table.
    pub fn new_at(
        dir: &Path,
        sshd: &TestSshd,
        port: u16,
        known: &Path,
        repo: &Path,
        extra: &str,
    ) -> Flip {
        let root = dir.join("srv");
        std::fs::create_dir_all(&root).unwrap();
        let text = format!(
            r#"[[servers]]
name = "bench"
host = "{host}"
port = {port}
user = "{user}"
identity_file = "{key}"
known_hosts_file = "{known}"
root = "{root}"

[[servers.sites]]
domain = "{DOMAIN}"
repository = "{repo}"
branch = "main"
keep = 14
{extra}
"#,
            host = sshd.address,
            user = sshd.user,
            key = sshd.client_key.display(),
            known = known.display(),
            root = root.display(),
            repo = repo.display(),
        );
        Self::from_config(dir, root, &text)
    }

    /// A site `DOMAIN` from a whole config `text` (servers, bastions), its server side at `root`.
    pub fn from_config(dir: &Path, root: PathBuf, text: &str) -> Flip {
        let config = Config::parse(text, &dir.join("config.toml")).expect("bench config");
        let store = Arc::new(Store::open(&dir.join("history.db")).unwrap());
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<flipdeck::engine::Event>();
        // Only step timings are kept; draining the rest keeps memory flat, as a CLI printer would.
        let steps = Arc::new(Mutex::new(Vec::new()));
        let sink = steps.clone();
        tokio::spawn(async move {
            while let Some(ev) = rx.recv().await {
                if let EventKind::StepFinished { step, elapsed, .. } = ev.kind {
                    sink.lock().unwrap().push((step, elapsed));
                }
            }
        });
        let site = config.find_site(DOMAIN).unwrap();
        let connector = CountingConnector::new(
            flipdeck::transport::connect::connector_for(site.server).expect("connector"),
        );
        Flip {
            root,
            engine: Engine::new(store, tx, flipdeck::transport::connect::direct()),
            config,
            connector,
            steps,
        }
    }

    pub fn base(&self) -> PathBuf {
        self.root.join("deployments").join(DOMAIN)
    }

    fn start(&self) -> Instant {
        self.connector.take();
        self.connector.take_timings();
        self.steps.lock().unwrap().clear();
        Instant::now()
    }

    /// Ends a measurement. Step events trail the result by a few microseconds: yield for them.
    async fn sample(&self, started: Instant) -> Sample {
        let took = started.elapsed();
        let (connections, execs) = self.connector.take();
        tokio::time::sleep(Duration::from_millis(5)).await;
        Sample {
            took,
            connections,
            execs,
            steps: std::mem::take(&mut *self.steps.lock().unwrap()),
            calls: self.connector.take_timings(),
        }
    }

    pub async fn deploy(&self) -> Sample {
        let site = self.config.find_site(DOMAIN).unwrap();
        let t = self.start();
        let opts = DeployOptions::default();
        self.engine
            .deploy(&site, &self.connector, opts, CancellationToken::new())
            .await
            .expect("flipdeck deploy");
        self.sample(t).await
    }

    pub async fn provision(&self) -> Sample {
        let site = self.config.find_site(DOMAIN).unwrap();
        let t = self.start();
        self.engine
            .provision(&site, &self.connector)
            .await
            .expect("flipdeck provision");
        self.sample(t).await
    }

    pub async fn rollback(&self) -> Sample {
        let site = self.config.find_site(DOMAIN).unwrap();
        let t = self.start();
        self.engine
            .rollback(&site, &self.connector, RollbackOptions::default())
            .await
            .expect("flipdeck rollback");
        self.sample(t).await
    }

    /// `status` for the site: the engine's refresh (read the server, bring the history in line).
    #[allow(dead_code)] // benches/history.rs measures it
    pub async fn status(&self) -> Sample {
        let site = self.config.find_site(DOMAIN).unwrap();
        let t = self.start();
        self.engine
            .refresh(&site, &self.connector)
            .await
            .expect("flipdeck status");
        self.sample(t).await
    }

    /// Prunes down to `keep` releases; returns the sample and how many were deleted.
    pub async fn prune(&self, keep: usize) -> (Sample, usize) {
        let site = self.config.find_site(DOMAIN).unwrap();
        let t = self.start();
        let opts = PruneOptions {
            keep: Some(keep),
            dry_run: false,
        };
        let p = self
            .engine
            .prune(&site, &self.connector, opts)
            .await
            .expect("flipdeck prune");
        (self.sample(t).await, p.deleted.len())
    }

    /// One connection and a `true`: the russh counterpart of `ssh host true`.
    pub async fn connect_true(&self) -> Sample {
        use flipdeck::transport::Connector;
        let t = self.start();
        let target = self.connector.connect().await.expect("connect");
        let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
        let status = target.exec("true", None, tx).await.expect("exec");
        assert!(status.success());
        drop(target);
        self.sample(t).await
    }

    /// The site's history row id.
    pub fn site_id(&self) -> i64 {
        self.engine
            .store
            .find_site("bench", DOMAIN)
            .unwrap()
            .expect("site row")
            .id
    }
}
