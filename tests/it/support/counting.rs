//! A `Connector` wrapper that counts connections and exec calls, so tests and the speed bench can
//! check how many round trips an operation costs. Shared by `tests/` and `benches/speed.rs`.
#![allow(dead_code)] // each user takes a different part

use async_trait::async_trait;
use flipdeck::error::Result;
use flipdeck::transport::Connector;
use flipdeck::transport::{ExitStatus, OutputLine, Transport, TransportError};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};

#[derive(Default)]
struct Counts {
    connections: AtomicUsize,
    execs: AtomicUsize,
    /// Wall time of each connect and exec, in order.
    timings: Mutex<Vec<(&'static str, Duration)>>,
}

impl Counts {
    fn time(&self, what: &'static str, since: Instant) {
        let took = since.elapsed();
        self.timings.lock().unwrap().push((what, took));
    }
}

pub struct CountingConnector {
    inner: Arc<dyn Connector>,
    counts: Arc<Counts>,
}

impl CountingConnector {
    pub fn new(inner: Arc<dyn Connector>) -> CountingConnector {
        CountingConnector {
            inner,
            counts: Arc::default(),
        }
    }

    /// `(connections, exec calls)` since the last call, and resets both.
    pub fn take(&self) -> (usize, usize) {
        (
            self.counts.connections.swap(0, Ordering::SeqCst),
            self.counts.execs.swap(0, Ordering::SeqCst),
        )
    }

    /// How long each connect and exec took since the last call; resets them.
    pub fn take_timings(&self) -> Vec<(&'static str, Duration)> {
        std::mem::take(&mut *self.counts.timings.lock().unwrap())
    }
}

#[async_trait]
impl Connector for CountingConnector {
    async fn connect(&self) -> Result<Arc<dyn Transport>> {
        self.counts.connections.fetch_add(1, Ordering::SeqCst);
        let t = Instant::now();
        let inner = self.inner.connect().await?;
        self.counts.time("connect", t);
        Ok(Arc::new(CountingTarget {
            inner,
            counts: self.counts.clone(),
        }))
    }
}

struct CountingTarget {
    inner: Arc<dyn Transport>,
    counts: Arc<Counts>,
}

#[async_trait]
impl Transport for CountingTarget {
    fn describe(&self) -> String {
        self.inner.describe()
    }

    // `exec` is the trait's: it goes through here, so every kind of call is counted once.
    async fn exec_fed(
        &self,
        script: &str,
        stdin: UnboundedReceiver<Vec<u8>>,
        out: UnboundedSender<OutputLine>,
    ) -> std::result::Result<ExitStatus, TransportError> {
        self.counts.execs.fetch_add(1, Ordering::SeqCst);
        let t = Instant::now();
        let r = self.inner.exec_fed(script, stdin, out).await;
        self.counts.time("exec", t);
        r
    }

    // `home_dir` is left to the trait's default too, so it counts as an exec.
}
