//! Background work for the dashboard: every engine call and every DB read runs in a tokio task and
//! reports back over a channel, so the UI thread never waits on SSH or SQLite.

use super::app::{Effect, Loaded};
use crate::config::Config;
use crate::engine::{self, DeployOptions, Engine, PruneOptions, RollbackOptions, SiteState};
use crate::notify::Outcome;
use crate::transport::pool::Pool;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc::UnboundedSender;
use tokio_util::sync::CancellationToken;

/// How often a server's keeper looks whether its connection is still up (no round trip).
const CHECK: Duration = Duration::from_secs(1);

/// How many deployments the table loads per site (the newest; the full history stays in the DB).
pub const TABLE_LIMIT: usize = 500;

#[derive(Clone)]
pub struct Worker {
    pub config: Arc<Config>,
    pub engine: Arc<Engine>,
    tx: UnboundedSender<Loaded>,
    cancels: Arc<Mutex<HashMap<String, CancellationToken>>>,
    /// The hold of each site whose deploy can be told something (its watch, a stepped rollout), by
    /// `SERVER/DOMAIN`.
    holds: Arc<Mutex<HashMap<String, engine::hold::HoldSender>>>,
    /// One warm connection per server: the engine's connectors, and every job's and refresh's.
    pool: Arc<Pool>,
}

impl Worker {
    /// `engine` must take its connectors from `pool` (`Pool::connectors`), so fleet flows share
    /// the warm connections too.
    pub fn new(
        config: Arc<Config>,
        engine: Arc<Engine>,
        tx: UnboundedSender<Loaded>,
        pool: Arc<Pool>,
    ) -> Worker {
        Worker {
            config,
            engine,
            tx,
            cancels: Arc::default(),
            holds: Arc::default(),
            pool,
        }
    }

    /// Starts one keeper per server: it opens the server's connection (at most `parallel` are
    /// being opened at once), opens it again after a drop, waiting longer after each failure
    /// (the pool's backoff), and every `every` (`refresh_s`; `None`: never) reads all the
    /// server's sites in one exec.
    pub fn keep_servers(&self, every: Option<Duration>) {
        for i in 0..self.config.servers.len() {
            let w = self.clone();
            tokio::spawn(async move { w.keep(i, every).await });
        }
    }

    async fn keep(&self, server: usize, every: Option<Duration>) {
        let server = &self.config.servers[server];
        let Ok(pooled) = self.pool.connector(server) else {
            return;
        };
        let mut offsets: HashMap<String, u64> = HashMap::new();
        let mut last: HashMap<String, SiteState> = HashMap::new();
        let mut next_read = Instant::now();
        loop {
            if let Some(at) = pooled.retry_at() {
                tokio::time::sleep_until(at.into()).await;
            }
            if !pooled.is_up() {
                pooled.notice_drop();
                if crate::transport::Connector::connect(pooled.as_ref())
                    .await
                    .is_err()
                {
                    continue;
                }
                next_read = Instant::now();
            }
            if let Some(every) = every
                && Instant::now() >= next_read
            {
                // A failed read shows as the connection's drop, found on the next check.
                if let Ok(states) = self.engine.watch(server, pooled.as_ref(), &offsets).await {
                    let sites = states
                        .into_iter()
                        .map(|st| {
                            let changed = last.get(&st.domain).is_some_and(|p| changed(p, &st));
                            offsets.insert(st.domain.clone(), st.relog_size);
                            last.insert(st.domain.clone(), st.clone());
                            (format!("{}/{}", server.name, st.domain), st, changed)
                        })
                        .collect();
                    self.send(Loaded::Watched { sites });
                }
                next_read = Instant::now() + every;
            }
            tokio::time::sleep(CHECK).await;
        }
    }

    pub fn run(&self, effect: Effect) {
        if let Effect::CancelAll = effect {
            for t in self
                .cancels
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .values()
            {
                t.cancel();
            }
            return;
        }
        if let Effect::Hold { site, hold } = &effect {
            let holds = self.holds.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(tx) = holds.get(site) {
                let _ = tx.send(*hold);
            }
            return;
        }
        let w = self.clone();
        tokio::spawn(async move { w.perform(effect).await });
    }

    fn send(&self, l: Loaded) {
        let _ = self.tx.send(l);
    }

    /// A deploy of one site (of `git_ref`, when given).
    async fn deploy(&self, site: String, git_ref: Option<String>) {
        let token = CancellationToken::new();
        self.cancels
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(site.clone(), token.clone());
        // What the revert key tells this deploy while it holds its switch.
        let (hold_tx, hold) = engine::hold::channel();
        self.holds
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(site.clone(), hold_tx);
        let r = async {
            let (s, c) = self.resolve(&site)?;
            let started = chrono::Utc::now();
            let r = self
                .engine
                .deploy(
                    &s,
                    c.as_ref(),
                    DeployOptions {
                        git_ref,
                        hold: Some(hold),
                        ..Default::default()
                    },
                    token,
                )
                .await;
            self.notify(Outcome::deploy(&self.engine.store, &s, started, &r));
            let d = r?;
            Ok(format!(
                "deployed {} release {} (#{})",
                s.key(),
                d.release,
                d.deployment_id
            ))
        }
        .await;
        self.cancels
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&site);
        self.holds
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&site);
        self.done(site, r);
    }

    /// A fleet deploy of a domain (of `git_ref`, when given).
    async fn deploy_fleet(&self, domain: String, git_ref: Option<String>) {
        let token = CancellationToken::new();
        let sites = match self.config.find_sites(&domain) {
            Ok(s) => s,
            Err(e) => return self.done(domain, Err(e)),
        };
        let keys: Vec<String> = sites.iter().map(|s| s.key()).collect();
        // One channel for the fleet (its watch, its stepped rollout): `n`, `a` or `x` on any of
        // its servers tells the whole fleet.
        let (hold_tx, hold) = engine::hold::channel();
        for k in &keys {
            self.cancels
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(k.clone(), token.clone());
            self.holds
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(k.clone(), hold_tx.clone());
        }
        let started = chrono::Utc::now();
        let r = self
            .engine
            .deploy_fleet(
                &sites,
                self.config.parallel,
                DeployOptions {
                    git_ref,
                    hold: Some(hold),
                    ..Default::default()
                },
                token,
            )
            .await;
        let store = &self.engine.store;
        self.notify(Outcome::of_fleet(
            &self.config,
            store,
            &sites,
            started,
            &r,
            Outcome::deploy,
        ));
        for k in &keys {
            self.cancels
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(k);
            self.holds
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(k);
        }
        match r {
            Ok(results) => {
                for (key, r) in results {
                    let r = r.map(|d| {
                        format!(
                            "deployed {key} release {} (#{}, fleet)",
                            d.release, d.deployment_id
                        )
                    });
                    self.done(key, r);
                }
            }
            Err(e) => {
                for k in keys {
                    self.done(k, Err(crate::error::Error::failed(e.one_line())));
                }
            }
        }
    }

    async fn perform(&self, effect: Effect) {
        match effect {
            Effect::LoadDeployments(site) => {
                let store = self.engine.store.clone();
                let cfg = self.config.clone();
                let key = site.clone();
                let list = tokio::task::spawn_blocking(move || -> crate::error::Result<_> {
                    let s = cfg.find_site(&key)?;
                    Ok(match store.find_site(&s.server.name, &s.site.domain)? {
                        Some(row) => store.list(row.id, Some(TABLE_LIMIT))?,
                        None => vec![],
                    })
                })
                .await;
                if let Ok(Ok(list)) = list {
                    self.send(Loaded::Deployments { site, list });
                }
            }
            Effect::LoadLog {
                site: _,
                deployment_id,
            } => {
                let text = crate::deployment_log::read(&self.engine, &self.config, deployment_id)
                    .await
                    .map_err(|e| e.one_line());
                self.send(Loaded::Log {
                    deployment_id,
                    text,
                });
            }
            Effect::Deploy(site) => self.deploy(site, None).await,
            Effect::DeployFleet(domain) => self.deploy_fleet(domain, None).await,
            Effect::DeployRef {
                site,
                git_ref,
                fleet: false,
            } => self.deploy(site, Some(git_ref)).await,
            Effect::DeployRef {
                site,
                git_ref,
                fleet: true,
            } => self.deploy_fleet(site, Some(git_ref)).await,
            Effect::Rollback { site, to } => {
                let r = async {
                    let (s, c) = self.resolve(&site)?;
                    let started = chrono::Utc::now();
                    let r = self
                        .engine
                        .rollback(
                            &s,
                            c.as_ref(),
                            RollbackOptions {
                                to: Some(to),
                                to_release: None,
                            },
                        )
                        .await;
                    self.notify(Outcome::rollback(&self.engine.store, &s, started, &r));
                    let r = r?;
                    Ok(format!(
                        "rolled back {} to #{} ({})",
                        s.key(),
                        r.to,
                        r.release
                    ))
                }
                .await;
                self.done(site, r);
            }
            Effect::PrunePreview(site) => {
                let r = self
                    .prune(&site, true)
                    .await
                    .map(|(p, _)| (p.plan, p.kept_live));
                self.send(Loaded::PrunePreview {
                    site,
                    result: r.map_err(|e| e.one_line()),
                });
            }
            Effect::Prune(site) => {
                let r = self
                    .prune(&site, false)
                    .await
                    .map(|(p, key)| format!("pruned {} release(s) of {key}", p.deleted.len()));
                self.done(site, r);
            }
            Effect::Refresh { site, quiet } => {
                let r: crate::error::Result<_> = async {
                    let (s, c) = self.resolve(&site)?;
                    self.engine.refresh(&s, c.as_ref()).await
                }
                .await;
                self.send(Loaded::Refreshed {
                    site,
                    quiet,
                    result: r.map_err(|e| e.one_line()),
                });
            }
            Effect::RunCommand { sites, name } => {
                let token = CancellationToken::new();
                let refs: Vec<crate::config::SiteRef<'_>> = match sites
                    .iter()
                    .map(|k| self.config.find_site(k))
                    .collect::<crate::error::Result<_>>()
                {
                    Ok(r) => r,
                    Err(e) => {
                        for k in sites {
                            self.done(k, Err(crate::error::Error::failed(e.one_line())));
                        }
                        return;
                    }
                };
                for k in &sites {
                    self.cancels
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .insert(k.clone(), token.clone());
                }
                let results = self
                    .engine
                    .run_command_each(&refs, self.config.parallel, &name, token)
                    .await;
                for (key, r) in results {
                    self.cancels
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .remove(&key);
                    let r = r.map(|o| {
                        format!(
                            "{name} ran on {key} in release {} (run c{})",
                            o.release, o.run_id
                        )
                    });
                    self.done(key, r);
                }
            }
            Effect::Outgoing {
                generation,
                site,
                target,
            } => {
                // On the server's warm connection, like every job; nothing of the site changes.
                let r: crate::error::Result<_> = async {
                    let (s, c) = self.resolve(&site)?;
                    Ok(Box::new(self.engine.diff(&s, c.as_ref(), &target).await?))
                }
                .await;
                self.send(Loaded::Outgoing {
                    generation,
                    site,
                    result: r.map_err(|e| e.one_line()),
                });
            }
            // The event loop's own (the terminal's clipboard and mouse).
            Effect::CancelAll
            | Effect::Copy(_)
            | Effect::MouseCapture(_)
            | Effect::EditEnv(_)
            // Told at once by `run`.
            | Effect::Hold { .. } => {}
        }
    }

    /// The `[[notify]]` webhooks about what ended, in a task of their own: the job's end shows
    /// at once, and a notification that did not arrive is a toast when its time is up.
    fn notify(&self, outcomes: impl IntoIterator<Item = Outcome>) {
        let outcomes: Vec<Outcome> = outcomes.into_iter().collect();
        if outcomes.is_empty() || self.config.notify.is_empty() {
            return;
        }
        let w = self.clone();
        tokio::spawn(async move {
            for warning in crate::notify::send_all(&w.config, &w.engine.store, &outcomes).await {
                w.send(Loaded::Notified(warning));
            }
        });
    }

    fn done(&self, site: String, r: crate::error::Result<String>) {
        let (ok, message) = match r {
            Ok(m) => (true, m),
            Err(e) => (false, e.one_line()),
        };
        self.send(Loaded::JobDone { site, ok, message });
    }

    /// Prunes the site with its own `keep` (a dry run for the preview); returns its `SERVER/DOMAIN` too.
    async fn prune(
        &self,
        site: &str,
        dry_run: bool,
    ) -> crate::error::Result<(engine::Pruned, String)> {
        let (s, c) = self.resolve(site)?;
        let opts = PruneOptions {
            keep: None,
            dry_run,
        };
        Ok((self.engine.prune(&s, c.as_ref(), opts).await?, s.key()))
    }

    /// The configured site and its server's warm connection.
    fn resolve(
        &self,
        key: &str,
    ) -> crate::error::Result<(
        crate::config::SiteRef<'_>,
        Arc<dyn crate::transport::Connector>,
    )> {
        let site = self.config.find_site(key)?;
        let connector = self.pool.connector(site.server)?;
        Ok((site, connector))
    }
}

/// Whether a site's state on the server moved since the read before: its live link, its lock,
/// its releases, or new lines in its release log (a deploy, rollback or prune from elsewhere).
fn changed(before: &SiteState, now: &SiteState) -> bool {
    before.live != now.live
        || before.lock != now.lock
        || before.releases != now.releases
        || !now.relog.is_empty()
}
