//! The SSH target: one russh connection per job, one channel per script.
//!
//! Host keys are checked against an OpenSSH known_hosts file before anything else happens;
//! authentication uses public keys only (identity file, ssh-agent, default keys).

mod auth;
mod config;
mod exec;
mod known_hosts;

pub use config::{ResolvedHost, resolve_alias};
pub use known_hosts::{
    HostKeyStatus, append_known_host, check_known_host, host_pattern, known_host_line,
};
pub use russh::keys::PublicKey;

use super::{ExitStatus, OutputLine, Transport, TransportError};
use async_trait::async_trait;
use exec::Ending;
use russh::client::{self, DisconnectReason, Handle};
use russh::keys::{Algorithm, HashAlg, PublicKeyOrCertificate};
use std::borrow::Cow;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};

/// With nothing heard from the server for this long, a keepalive is sent...
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(5);
/// ...and after this many unanswered ones the connection is declared dead (about 20 s in all).
const KEEPALIVE_MAX: usize = 3;
/// Unacknowledged sent data fails the socket after this long (a peer gone while we write).
const TCP_USER_TIMEOUT: Duration = Duration::from_secs(30);

/// What to do with a server whose host key is not in known_hosts yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostKeyPolicy {
    /// Refuse to connect.
    Strict,
    /// Record the key and connect (a changed key is still refused).
    AcceptNew,
}

/// Everything needed to open a connection.
#[derive(Debug, Clone)]
pub struct SshParams {
    /// The server's name in flipdeck, used in hints such as `flipdeck trust NAME`.
    pub name: String,
    pub host: String,
    pub port: u16,
    pub user: String,
    pub identity_file: Option<PathBuf>,
    pub known_hosts_file: PathBuf,
    pub host_key_policy: HostKeyPolicy,
    /// Bounds the TCP connect, the handshake and authentication together.
    pub connect_timeout: Duration,
    /// The ssh-agent to ask for keys (`new` takes `SSH_AUTH_SOCK`).
    pub agent_socket: Option<PathBuf>,
    /// Keys tried after the agent, when they exist (`new`: ~/.ssh/id_ed25519, id_ecdsa, id_rsa).
    pub default_identity_files: Vec<PathBuf>,
}

impl SshParams {
    /// OpenSSH's defaults: ~/.ssh/known_hosts, strict host keys, the agent from the environment.
    pub fn new(host: &str, port: u16, user: &str) -> Self {
        let ssh_dir = crate::paths::home_dir().join(".ssh");
        let agent_socket = std::env::var_os("SSH_AUTH_SOCK")
            .filter(|s| !s.is_empty())
            .map(PathBuf::from);
        SshParams {
            name: host.to_string(),
            host: host.to_string(),
            port,
            user: user.to_string(),
            identity_file: None,
            known_hosts_file: ssh_dir.join("known_hosts"),
            host_key_policy: HostKeyPolicy::Strict,
            connect_timeout: Duration::from_secs(10),
            agent_socket,
            default_identity_files: ["id_ed25519", "id_ecdsa", "id_rsa"]
                .iter()
                .map(|f| ssh_dir.join(f))
                .collect(),
        }
    }

    fn address(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// Why a connection could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum SshError {
    #[error("cannot connect to {host}:{port}: {reason}")]
    Connect {
        host: String,
        port: u16,
        reason: String,
    },
    #[error("timed out after {after:?} connecting to {address}")]
    Timeout { address: String, after: Duration },
    #[error(
        "the host key of {server} ({address}) is not known: {key_type} {fingerprint}; if this fingerprint is right, run `flipdeck trust {server}`"
    )]
    HostKeyUnknown {
        server: String,
        address: String,
        key_type: String,
        fingerprint: String,
    },
    #[error(
        "the host key of {server} ({address}) has CHANGED to {fingerprint}, which does not match line {line} of {}; someone may be intercepting the connection, so nothing was run (if the change is expected, delete that line)",
        known_hosts.display()
    )]
    HostKeyChanged {
        server: String,
        address: String,
        fingerprint: String,
        known_hosts: PathBuf,
        line: usize,
    },
    #[error(
        "the host key of {server} ({address}), {fingerprint}, is revoked at line {line} of {}",
        known_hosts.display()
    )]
    HostKeyRevoked {
        server: String,
        address: String,
        fingerprint: String,
        known_hosts: PathBuf,
        line: usize,
    },
    #[error("cannot read {}: {reason}", path.display())]
    KnownHostsRead { path: PathBuf, reason: String },
    #[error("cannot record the host key in {}: {reason}", path.display())]
    KnownHostsWrite { path: PathBuf, reason: String },
    #[error("authentication failed for {user}@{host}; tried: {}", methods.join(", "))]
    Auth {
        user: String,
        host: String,
        methods: Vec<String>,
    },
    #[error(
        "the key {} is encrypted and no ssh-agent offered it; load it with `ssh-add {}` and try again",
        path.display(), path.display()
    )]
    EncryptedKeyNoAgent { path: PathBuf },
    #[error("cannot read the key {}: {reason}", path.display())]
    KeyRead { path: PathBuf, reason: String },
    #[error("cannot read the ssh config {}: {reason}", path.display())]
    Config { path: PathBuf, reason: String },
    #[error("SSH protocol error: {0}")]
    Protocol(String),
}

impl From<russh::Error> for SshError {
    fn from(e: russh::Error) -> Self {
        SshError::Protocol(e.to_string())
    }
}

impl From<SshError> for TransportError {
    fn from(e: SshError) -> Self {
        TransportError::Failed(e.to_string())
    }
}

/// A server's host key, as shown to a user deciding whether to trust it.
#[derive(Debug, Clone)]
pub struct HostKeyInfo {
    /// e.g. `ssh-ed25519`.
    pub key_type: String,
    /// `SHA256:<base64 without padding>`, as printed by `ssh-keygen -lf`.
    pub fingerprint_sha256: String,
    /// The known_hosts line that would record it.
    pub openssh_line: String,
    pub key: PublicKey,
}

impl HostKeyInfo {
    fn new(params: &SshParams, key: PublicKey) -> Self {
        HostKeyInfo {
            key_type: key.algorithm().as_str().to_string(),
            fingerprint_sha256: fingerprint(&key),
            openssh_line: known_host_line(&params.host, params.port, &key),
            key,
        }
    }
}

fn fingerprint(key: &PublicKey) -> String {
    key.fingerprint(HashAlg::Sha256).to_string()
}

/// Connects only far enough to learn the server's host key (no authentication, nothing run).
pub async fn fetch_host_key(params: &SshParams) -> Result<HostKeyInfo, SshError> {
    let slot = Arc::new(Mutex::new(None));
    let handler = ClientHandler::new(HostCheck::Capture(slot.clone()));
    let outcome = tokio::time::timeout(params.connect_timeout, handshake(params, handler)).await;
    if let Some(key) = lock(&slot).take() {
        return Ok(HostKeyInfo::new(params, key));
    }
    match outcome {
        Err(_) => Err(timeout_error(params)),
        Ok(Err(e)) => Err(e),
        Ok(Ok(_)) => Err(SshError::Protocol("the server sent no host key".into())),
    }
}

/// What `trust_host_key` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrustOutcome {
    AlreadyKnown,
    Added,
}

/// Records `info` (from [`fetch_host_key`]) in the known_hosts file, unless it contradicts a
/// recorded key: a changed key is never overwritten, the user must remove the old line.
pub fn trust_host_key(params: &SshParams, info: &HostKeyInfo) -> Result<TrustOutcome, SshError> {
    let file = &params.known_hosts_file;
    match check_known_host(file, &params.host, params.port, &info.key)? {
        HostKeyStatus::Known => Ok(TrustOutcome::AlreadyKnown),
        HostKeyStatus::Unknown => {
            append_known_host(file, &params.host, params.port, &info.key)?;
            Ok(TrustOutcome::Added)
        }
        status => Err(HostVerifier::from_params(params).refusal(status, &info.key)),
    }
}

/// A connected, authenticated SSH session. Every `exec` is a new channel on it.
pub struct SshTransport {
    session: Arc<Handle<ClientHandler>>,
    label: String,
    /// Why the connection ended, as the connection task last saw it.
    lost: Arc<Mutex<Option<String>>>,
}

impl SshTransport {
    /// Opens one connection: TCP, host key check (before anything else), then authentication.
    pub async fn connect(params: &SshParams) -> Result<SshTransport, SshError> {
        let work = async {
            let handler = ClientHandler::new(HostCheck::Verify(HostVerifier::from_params(params)));
            let lost = handler.lost.clone();
            let mut session = handshake(params, handler).await?;
            auth::authenticate(&mut session, params).await?;
            Ok(SshTransport {
                session: Arc::new(session),
                label: format!("{}@{}", params.user, params.address()),
                lost,
            })
        };
        tokio::time::timeout(params.connect_timeout, work)
            .await
            .map_err(|_| timeout_error(params))?
    }

    /// Whether the connection is still up (as far as keepalives can tell).
    pub fn is_connected(&self) -> bool {
        !self.session.is_closed()
    }

    /// Says goodbye to the server; dropping the target also ends the connection, less politely.
    pub async fn disconnect(&self) {
        let _ = self
            .session
            .disconnect(russh::Disconnect::ByApplication, "", "en")
            .await;
    }

    fn lost_error(&self) -> TransportError {
        let reason = lock(&self.lost)
            .clone()
            .unwrap_or_else(|| "the connection closed".into());
        TransportError::ConnectionLost(format!("{}: {reason}", self.label))
    }

    fn channel_error(&self, e: russh::Error) -> TransportError {
        if self.session.is_closed() {
            self.lost_error()
        } else {
            TransportError::Failed(format!("SSH channel on {}: {e}", self.label))
        }
    }
}

#[async_trait]
impl Transport for SshTransport {
    fn describe(&self) -> String {
        self.label.clone()
    }

    fn is_alive(&self) -> bool {
        self.is_connected()
    }

    async fn exec_fed(
        &self,
        script: &str,
        stdin: UnboundedReceiver<Vec<u8>>,
        out: UnboundedSender<OutputLine>,
    ) -> Result<ExitStatus, TransportError> {
        let ending = exec::run(&self.session, script, stdin, out)
            .await
            .map_err(|e| self.channel_error(e))?;
        match ending {
            Ending::Exited(status) => Ok(status),
            Ending::Refused => Err(TransportError::Failed(format!(
                "{} refused to run the command",
                self.label
            ))),
            Ending::Lost => Err(self.lost_error()),
        }
    }
}

fn timeout_error(params: &SshParams) -> SshError {
    SshError::Timeout {
        address: params.address(),
        after: params.connect_timeout,
    }
}

/// A poisoned lock only means another task panicked mid-update of a plain value: use it anyway.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// TCP connect plus the SSH handshake (key exchange and host key check).
async fn handshake(
    params: &SshParams,
    handler: ClientHandler,
) -> Result<Handle<ClientHandler>, SshError> {
    let stream = tcp_connect(&params.host, params.port).await?;
    let config = Arc::new(client_config(params));
    client::connect_stream(config, stream, handler).await
}

async fn tcp_connect(host: &str, port: u16) -> Result<TcpStream, SshError> {
    let error = |reason: String| SshError::Connect {
        host: host.to_string(),
        port,
        reason,
    };
    let addrs = tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| error(format!("cannot resolve the name: {e}")))?;
    let mut last = "the name has no address".to_string();
    for addr in addrs {
        match TcpStream::connect(addr).await {
            Ok(stream) => {
                tune_socket(&stream);
                return Ok(stream);
            }
            Err(e) => last = e.to_string(),
        }
    }
    Err(error(last))
}

fn tune_socket(stream: &TcpStream) {
    let _ = stream.set_nodelay(true);
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        let ms = TCP_USER_TIMEOUT.as_millis() as libc::c_uint;
        // SAFETY: setsockopt on a socket we own, with a correctly sized value.
        unsafe {
            libc::setsockopt(
                stream.as_raw_fd(),
                libc::IPPROTO_TCP,
                libc::TCP_USER_TIMEOUT,
                (&ms as *const libc::c_uint).cast(),
                std::mem::size_of::<libc::c_uint>() as libc::socklen_t,
            );
        }
    }
}

fn client_config(params: &SshParams) -> client::Config {
    client::Config {
        keepalive_interval: Some(KEEPALIVE_INTERVAL),
        keepalive_max: KEEPALIVE_MAX,
        // A deploy script may print nothing for many minutes; keepalives tell a dead peer apart.
        inactivity_timeout: None,
        nodelay: true,
        preferred: russh::Preferred {
            key: Cow::Owned(host_key_order(params)),
            ..russh::Preferred::DEFAULT
        },
        ..Default::default()
    }
}

/// Host key algorithms with those already recorded for this host first, as OpenSSH does, so a
/// server with several keys presents the one we can check.
fn host_key_order(params: &SshParams) -> Vec<Algorithm> {
    let known =
        known_hosts::known_key_algorithms(&params.known_hosts_file, &params.host, params.port);
    let family = |a: &Algorithm, b: &Algorithm| {
        a == b || matches!((a, b), (Algorithm::Rsa { .. }, Algorithm::Rsa { .. }))
    };
    let mut order = russh::Preferred::DEFAULT.key.to_vec();
    order.sort_by_key(|a| !known.iter().any(|k| family(k, a)));
    order
}

/// Decides whether a server key is acceptable, per known_hosts and the policy.
struct HostVerifier {
    server: String,
    host: String,
    port: u16,
    known_hosts: PathBuf,
    policy: HostKeyPolicy,
}

impl HostVerifier {
    fn from_params(params: &SshParams) -> Self {
        HostVerifier {
            server: params.name.clone(),
            host: params.host.clone(),
            port: params.port,
            known_hosts: params.known_hosts_file.clone(),
            policy: params.host_key_policy,
        }
    }

    fn verify(&self, key: &PublicKey) -> Result<(), SshError> {
        match check_known_host(&self.known_hosts, &self.host, self.port, key)? {
            HostKeyStatus::Known => Ok(()),
            HostKeyStatus::Unknown if self.policy == HostKeyPolicy::AcceptNew => {
                append_known_host(&self.known_hosts, &self.host, self.port, key)
            }
            status => Err(self.refusal(status, key)),
        }
    }

    fn refusal(&self, status: HostKeyStatus, key: &PublicKey) -> SshError {
        let (server, address) = (self.server.clone(), format!("{}:{}", self.host, self.port));
        let (key_type, fingerprint) = (key.algorithm().as_str().to_string(), fingerprint(key));
        let known_hosts = self.known_hosts.clone();
        match status {
            HostKeyStatus::Changed { line } => SshError::HostKeyChanged {
                server,
                address,
                fingerprint,
                known_hosts,
                line,
            },
            HostKeyStatus::Revoked { line } => SshError::HostKeyRevoked {
                server,
                address,
                fingerprint,
                known_hosts,
                line,
            },
            HostKeyStatus::Known | HostKeyStatus::Unknown => SshError::HostKeyUnknown {
                server,
                address,
                key_type,
                fingerprint,
            },
        }
    }
}

enum HostCheck {
    Verify(HostVerifier),
    /// Only record the key and stop the handshake (for `flipdeck trust`).
    Capture(Arc<Mutex<Option<PublicKey>>>),
}

/// russh's callbacks for one connection.
pub(crate) struct ClientHandler {
    check: HostCheck,
    lost: Arc<Mutex<Option<String>>>,
}

impl ClientHandler {
    fn new(check: HostCheck) -> Self {
        ClientHandler {
            check,
            lost: Arc::default(),
        }
    }
}

impl client::Handler for ClientHandler {
    type Error = SshError;

    /// Runs during key exchange, after russh verified the server's signature and before any
    /// authentication: returning an error here means no key or password is ever offered.
    async fn check_server_key(&mut self, key: &PublicKeyOrCertificate) -> Result<bool, SshError> {
        let key = key.public_key();
        match &self.check {
            HostCheck::Verify(verifier) => verifier.verify(&key).map(|()| true),
            HostCheck::Capture(slot) => {
                *lock(slot) = Some(key);
                Ok(false)
            }
        }
    }

    async fn disconnected(&mut self, reason: DisconnectReason<SshError>) -> Result<(), SshError> {
        let text = match &reason {
            DisconnectReason::ReceivedDisconnect(info) => {
                format!("the server disconnected ({})", info.message)
            }
            // russh's own wording ("early eof", "Keepalive timeout") says it best.
            DisconnectReason::Error(SshError::Protocol(m)) => m.clone(),
            DisconnectReason::Error(e) => e.to_string(),
        };
        *lock(&self.lost) = Some(text);
        match reason {
            DisconnectReason::ReceivedDisconnect(_) => Ok(()),
            DisconnectReason::Error(e) => Err(e),
        }
    }
}
