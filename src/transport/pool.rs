//! One warm connection per server, for a process that stays up (the dashboard): every job and
//! every refresh of a server runs on the same connection, opened once, kept alive by the SSH
//! keepalives, and opened again after it dropped. At most `parallel` connections are being opened
//! at any moment (a semaphore), so hundreds of servers do not trip sshd's `MaxStartups`; at most
//! [`CHANNELS`] commands run at once on one connection (sshd's `MaxSessions` is 10).
//!
//! A connection that reported itself lost (an exec ended with `ConnectionLost`, or its keepalives
//! went unanswered) is never handed out again: the engine's flows connect again after a lost
//! connection to find out what happened, and they get a fresh one. The CLI does not pool: one
//! connection per command ([`super::connect::direct`]).

use super::connect::{Connector, Connectors};
use super::{ExitStatus, OutputLine, Transport, TransportError};
use crate::config::ServerConfig;
use crate::error::Result;
use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};

/// Commands at once on one connection.
pub const CHANNELS: usize = 8;
/// The first wait before connecting again after a failure; it doubles up to [`MAX_BACKOFF`].
pub const FIRST_BACKOFF: Duration = Duration::from_secs(1);
pub const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// How a server's connection stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    Connecting,
    Connected,
    /// The last attempt failed with `error`; the next one is due at `retry_at`.
    Unreachable {
        error: String,
        retry_at: Instant,
    },
}

/// The warm connections of every server, by name.
pub struct Pool {
    direct: Connectors,
    opening: Arc<Semaphore>,
    servers: Mutex<HashMap<String, Arc<Pooled>>>,
    health: Option<UnboundedSender<(String, Health)>>,
}

impl Pool {
    /// A pool opening its connections with `direct`, at most `parallel` at a time; each change of
    /// a server's health is sent on `health`.
    pub fn new(
        direct: Connectors,
        parallel: usize,
        health: Option<UnboundedSender<(String, Health)>>,
    ) -> Arc<Pool> {
        Arc::new(Pool {
            direct,
            opening: Arc::new(Semaphore::new(parallel.max(1))),
            servers: Mutex::default(),
            health,
        })
    }

    /// The pooled connector of `server`, the same one every time.
    pub fn connector(&self, server: &ServerConfig) -> Result<Arc<Pooled>> {
        let mut servers = self.servers.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(p) = servers.get(&server.name) {
            return Ok(p.clone());
        }
        let p = Arc::new(Pooled {
            name: server.name.clone(),
            inner: (self.direct)(server)?,
            opening: self.opening.clone(),
            slot: tokio::sync::Mutex::new(None),
            health: self.health.clone(),
            state: Mutex::new((None, FIRST_BACKOFF)),
            opened: AtomicUsize::new(0),
        });
        servers.insert(server.name.clone(), p.clone());
        Ok(p)
    }

    /// The pool as the engine's `Connectors`.
    pub fn connectors(self: &Arc<Pool>) -> Connectors {
        let pool = self.clone();
        Arc::new(move |server: &ServerConfig| -> Result<Arc<dyn Connector>> {
            Ok(pool.connector(server)?)
        })
    }
}

/// One server's warm connection.
pub struct Pooled {
    name: String,
    inner: Arc<dyn Connector>,
    opening: Arc<Semaphore>,
    /// Held while connecting, so two jobs never open two connections.
    slot: tokio::sync::Mutex<Option<Arc<Warm>>>,
    health: Option<UnboundedSender<(String, Health)>>,
    /// The health last reported, and the wait after the next failure.
    state: Mutex<(Option<Health>, Duration)>,
    opened: AtomicUsize,
}

struct Warm {
    transport: Arc<dyn Transport>,
    lost: AtomicBool,
    channels: Semaphore,
}

impl Warm {
    fn alive(&self) -> bool {
        !self.lost.load(Ordering::Relaxed) && self.transport.is_alive()
    }
}

impl Pooled {
    /// How many connections this server has had opened (the first, then one per drop).
    pub fn opened(&self) -> usize {
        self.opened.load(Ordering::Relaxed)
    }

    /// Whether a live connection is there now (no round trip; a connect in progress is not).
    pub fn is_up(&self) -> bool {
        self.slot
            .try_lock()
            .is_ok_and(|s| s.as_ref().is_some_and(|w| w.alive()))
    }

    /// The health last reported.
    pub fn health(&self) -> Option<Health> {
        self.lock_state().0.clone()
    }

    /// When a background keeper should try again after a failure (`None`: it may now).
    pub fn retry_at(&self) -> Option<Instant> {
        match self.health() {
            Some(Health::Unreachable { retry_at, .. }) if retry_at > Instant::now() => {
                Some(retry_at)
            }
            _ => None,
        }
    }

    /// Says that the connection dropped (a keeper noticed it) when it had been up.
    pub fn notice_drop(&self) {
        if self.health() == Some(Health::Connected) && !self.is_up() {
            self.report(Health::Connecting);
        }
    }

    fn lock_state(&self) -> std::sync::MutexGuard<'_, (Option<Health>, Duration)> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn report(&self, h: Health) {
        let mut st = self.lock_state();
        if st.0.as_ref() != Some(&h) {
            st.0 = Some(h.clone());
            if let Some(tx) = &self.health {
                let _ = tx.send((self.name.clone(), h));
            }
        }
    }
}

#[async_trait]
impl Connector for Pooled {
    async fn connect(&self) -> Result<Arc<dyn Transport>> {
        let mut slot = self.slot.lock().await;
        if let Some(w) = slot.as_ref().filter(|w| w.alive()) {
            return Ok(Arc::new(PooledTransport(w.clone())));
        }
        // A dropped connection is never handed out again.
        *slot = None;
        self.report(Health::Connecting);
        let opened = {
            let _permit = self.opening.acquire().await;
            self.inner.connect().await
        };
        match opened {
            Ok(transport) => {
                self.opened.fetch_add(1, Ordering::Relaxed);
                transport.keep_ready();
                let w = Arc::new(Warm {
                    transport,
                    lost: AtomicBool::new(false),
                    channels: Semaphore::new(CHANNELS),
                });
                *slot = Some(w.clone());
                self.lock_state().1 = FIRST_BACKOFF;
                self.report(Health::Connected);
                Ok(Arc::new(PooledTransport(w)))
            }
            Err(e) => {
                let wait = {
                    let mut st = self.lock_state();
                    let wait = st.1;
                    st.1 = (wait * 2).min(MAX_BACKOFF);
                    wait
                };
                self.report(Health::Unreachable {
                    error: e.one_line(),
                    retry_at: Instant::now() + wait,
                });
                Err(e)
            }
        }
    }
}

/// The warm connection as a job sees it: a lost connection is marked so, and not reused.
struct PooledTransport(Arc<Warm>);

#[async_trait]
impl Transport for PooledTransport {
    fn describe(&self) -> String {
        self.0.transport.describe()
    }

    fn is_alive(&self) -> bool {
        self.0.alive()
    }

    async fn exec_fed(
        &self,
        script: &str,
        stdin: UnboundedReceiver<Vec<u8>>,
        out: UnboundedSender<OutputLine>,
    ) -> Result<ExitStatus, TransportError> {
        let _channel = self.0.channels.acquire().await;
        let r = self.0.transport.exec_fed(script, stdin, out).await;
        if matches!(r, Err(TransportError::ConnectionLost(_))) || !self.0.transport.is_alive() {
            self.0.lost.store(true, Ordering::Relaxed);
        }
        r
    }
}
