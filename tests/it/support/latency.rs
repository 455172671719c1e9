//! A loopback TCP proxy that puts a set round-trip time between a client and a server, and counts
//! the round trips each connection costs. Shared by the tests (`round_trips.rs`) and the benches
//! (`#[path]` from `benches/`).
//!
//! Delay: by default half the RTT on the way to the server and half on the way back
//! ([`Split::Even`]); [`Split::ServerSide`] puts all of it on the way to the server. Every chunk
//! is delivered in order, `rtt/2` after it was read, with no bandwidth limit, so a client that
//! sends several requests without waiting pays one delay, as on a real link. The TCP handshake is
//! simulated too: the server sees the connection (and the client's first bytes) one RTT plus the
//! one-way delay after the client connected, as the ACK of a real handshake would arrive.
//!
//! Round trips: each chunk gets a depth. A chunk from the client is one deeper than the deepest
//! server chunk already delivered to the client when it was read (it may have waited for it); a
//! chunk from the server is as deep as the deepest client chunk already delivered to the server.
//! A connection's round trips are the depth of its deepest server chunk: the length of the
//! longest chain "client sends, waits, server answers", which is what latency multiplies. Data
//! sent without waiting (pipelined requests, a last close nobody answers) adds nothing. The
//! TCP handshake is not in the count (the proxy sees no packets): add one for it.
#![allow(dead_code)] // each user takes a different part

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// Where the round-trip time is spent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Split {
    /// Half on the way to the server, half on the way back.
    Even,
    /// All of it on the way to the server.
    ServerSide,
}

/// What the connections through the proxy cost, summed (see [`LatencyProxy::tally`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    pub connections: usize,
    pub round_trips: usize,
    pub bytes_to_server: usize,
    pub bytes_to_client: usize,
}

impl std::ops::Sub for Tally {
    type Output = Tally;
    fn sub(self, before: Tally) -> Tally {
        Tally {
            connections: self.connections - before.connections,
            round_trips: self.round_trips - before.round_trips,
            bytes_to_server: self.bytes_to_server - before.bytes_to_server,
            bytes_to_client: self.bytes_to_client - before.bytes_to_client,
        }
    }
}

#[derive(Default)]
struct Conn {
    /// Deepest chunk delivered so far, each way.
    delivered_to_server: AtomicUsize,
    delivered_to_client: AtomicUsize,
    round_trips: AtomicUsize,
    bytes_to_server: AtomicUsize,
    bytes_to_client: AtomicUsize,
    closed: AtomicBool,
}

struct Shared {
    upstream: SocketAddr,
    rtt_micros: AtomicU64,
    split: Mutex<Split>,
    conns: Mutex<Vec<Arc<Conn>>>,
}

impl Shared {
    /// (to the server, to the client)
    fn delays(&self) -> (Duration, Duration) {
        let rtt = Duration::from_micros(self.rtt_micros.load(Ordering::SeqCst));
        match *self.split.lock().unwrap() {
            Split::Even => (rtt / 2, rtt - rtt / 2),
            Split::ServerSide => (rtt, Duration::ZERO),
        }
    }
}

/// A proxy on a loopback port of its own, forwarding to one upstream address. It runs on a
/// runtime of its own, so blocking callers (a CLI run with `Command::output`) do not stall it.
pub struct LatencyProxy {
    pub address: String,
    pub port: u16,
    shared: Arc<Shared>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl LatencyProxy {
    /// On 127.0.0.1, `rtt` evenly split, to `upstream` (`host:port`).
    pub fn start(upstream: &str, rtt: Duration) -> LatencyProxy {
        Self::start_on("127.0.0.1", upstream, rtt, Split::Even)
    }

    pub fn start_on(listen: &str, upstream: &str, rtt: Duration, split: Split) -> LatencyProxy {
        let upstream: SocketAddr = upstream.parse().expect("upstream ip:port");
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("latency-proxy")
            .enable_all()
            .build()
            .unwrap();
        // Bound here, not with `block_on`: the caller may be inside a runtime of its own.
        let listener = std::net::TcpListener::bind((listen, 0)).expect("bind the proxy");
        listener.set_nonblocking(true).unwrap();
        let listener = {
            let _in = runtime.enter();
            TcpListener::from_std(listener).unwrap()
        };
        let port = listener.local_addr().unwrap().port();
        let shared = Arc::new(Shared {
            upstream,
            rtt_micros: AtomicU64::new(rtt.as_micros() as u64),
            split: Mutex::new(split),
            conns: Mutex::default(),
        });
        runtime.spawn(accept_loop(listener, shared.clone()));
        LatencyProxy {
            address: listen.to_string(),
            port,
            shared,
            runtime: Some(runtime),
        }
    }

    /// `address:port`, to point a client at.
    pub fn addr(&self) -> String {
        format!("{}:{}", self.address, self.port)
    }

    /// Applies from the next chunk on, to open connections too.
    pub fn set_rtt(&self, rtt: Duration) {
        self.shared
            .rtt_micros
            .store(rtt.as_micros() as u64, Ordering::SeqCst);
    }

    pub fn rtt(&self) -> Duration {
        Duration::from_micros(self.shared.rtt_micros.load(Ordering::SeqCst))
    }

    /// Every connection so far, summed; subtract an earlier tally for one operation's cost.
    pub fn tally(&self) -> Tally {
        self.tally_from(0)
    }

    /// The connections from the `first`-th on (`tally().connections` taken earlier): what was
    /// opened since, leaving out connections that stay open (a warm pool's keepalives).
    pub fn tally_from(&self, first: usize) -> Tally {
        let conns = self.shared.conns.lock().unwrap();
        let conns = &conns[first.min(conns.len())..];
        let mut t = Tally {
            connections: conns.len(),
            ..Tally::default()
        };
        for c in conns.iter() {
            t.round_trips += c.round_trips.load(Ordering::SeqCst);
            t.bytes_to_server += c.bytes_to_server.load(Ordering::SeqCst);
            t.bytes_to_client += c.bytes_to_client.load(Ordering::SeqCst);
        }
        t
    }

    /// Connections still open.
    pub fn open(&self) -> usize {
        let conns = self.shared.conns.lock().unwrap();
        conns
            .iter()
            .filter(|c| !c.closed.load(Ordering::SeqCst))
            .count()
    }

    /// Waits (up to `limit`) until no connection is open; whether that happened.
    pub fn wait_closed(&self, limit: Duration) -> bool {
        self.wait_open_at_most(0, limit)
    }

    /// Waits (up to `limit`) until at most `n` connections are open; whether that happened.
    pub fn wait_open_at_most(&self, n: usize, limit: Duration) -> bool {
        let t = Instant::now();
        while self.open() > n {
            if t.elapsed() > limit {
                return false;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        true
    }
}

impl Drop for LatencyProxy {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    while let Ok((client, _)) = listener.accept().await {
        let conn = Arc::new(Conn::default());
        shared.conns.lock().unwrap().push(conn.clone());
        tokio::spawn(relay(client, shared.clone(), conn));
    }
}

/// One chunk on its way: when to hand it over, and how deep it is.
struct Chunk {
    at: tokio::time::Instant,
    depth: usize,
    data: Vec<u8>,
}

async fn relay(client: TcpStream, shared: Arc<Shared>, conn: Arc<Conn>) {
    let _ = client.set_nodelay(true);
    let accepted = tokio::time::Instant::now();
    let (up_delay, down_delay) = shared.delays();
    let rtt = up_delay + down_delay;
    // The server sees the connection when the handshake's last ACK would arrive.
    let seen = accepted + rtt + up_delay;
    let (client_read, client_write) = client.into_split();
    let (up_tx, up_rx) = mpsc::unbounded_channel();
    let (down_tx, down_rx) = mpsc::unbounded_channel();
    let reader_up = tokio::spawn(read_side(
        client_read,
        up_tx,
        conn.clone(),
        Direction::ToServer,
        shared.clone(),
        Some(accepted + rtt),
    ));
    let writer_down = tokio::spawn(write_side(
        client_write,
        down_rx,
        conn.clone(),
        Direction::ToClient,
    ));
    tokio::time::sleep_until(seen).await;
    let server = match TcpStream::connect(shared.upstream).await {
        Ok(s) => s,
        Err(_) => {
            reader_up.abort();
            writer_down.abort();
            conn.closed.store(true, Ordering::SeqCst);
            return;
        }
    };
    let _ = server.set_nodelay(true);
    let (server_read, server_write) = server.into_split();
    let reader_down = tokio::spawn(read_side(
        server_read,
        down_tx,
        conn.clone(),
        Direction::ToClient,
        shared,
        None,
    ));
    let writer_up = tokio::spawn(write_side(
        server_write,
        up_rx,
        conn.clone(),
        Direction::ToServer,
    ));
    let _ = tokio::join!(reader_up, writer_down, reader_down, writer_up);
    conn.closed.store(true, Ordering::SeqCst);
}

/// `LATENCY_TRACE=1` prints every chunk with its depth: where the round trips go.
fn tracing() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| std::env::var_os("LATENCY_TRACE").is_some())
}

#[derive(Clone, Copy)]
enum Direction {
    ToServer,
    ToClient,
}

async fn read_side(
    mut from: tokio::net::tcp::OwnedReadHalf,
    to: mpsc::UnboundedSender<Chunk>,
    conn: Arc<Conn>,
    dir: Direction,
    shared: Arc<Shared>,
    not_before: Option<tokio::time::Instant>,
) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let now = tokio::time::Instant::now();
        let depth = match dir {
            Direction::ToServer => {
                conn.bytes_to_server.fetch_add(n, Ordering::SeqCst);
                1 + conn.delivered_to_client.load(Ordering::SeqCst)
            }
            Direction::ToClient => {
                conn.bytes_to_client.fetch_add(n, Ordering::SeqCst);
                let d = conn.delivered_to_server.load(Ordering::SeqCst);
                conn.round_trips.fetch_max(d, Ordering::SeqCst);
                d
            }
        };
        if tracing() {
            let arrow = match dir {
                Direction::ToServer => "->",
                Direction::ToClient => "<-",
            };
            let port = shared.upstream.port();
            eprintln!("latency proxy to :{port}: {arrow} depth {depth}, {n} bytes");
        }
        // Read for each chunk: a new RTT applies to open connections too, from their next chunk
        // (which may then overtake a slower one: order is kept, so it waits for it).
        let delay = match dir {
            Direction::ToServer => shared.delays().0,
            Direction::ToClient => shared.delays().1,
        };
        let start = not_before.map_or(now, |t| t.max(now));
        let chunk = Chunk {
            at: start + delay,
            depth,
            data: buf[..n].to_vec(),
        };
        if to.send(chunk).is_err() {
            break;
        }
    }
}

async fn write_side(
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut from: mpsc::UnboundedReceiver<Chunk>,
    conn: Arc<Conn>,
    dir: Direction,
) {
    while let Some(chunk) = from.recv().await {
        tokio::time::sleep_until(chunk.at).await;
        // Recorded before the write: the answer it provokes must see it.
        let delivered = match dir {
            Direction::ToServer => &conn.delivered_to_server,
            Direction::ToClient => &conn.delivered_to_client,
        };
        delivered.fetch_max(chunk.depth, Ordering::SeqCst);
        if to.write_all(&chunk.data).await.is_err() {
            return;
        }
    }
    let _ = to.shutdown().await;
}
