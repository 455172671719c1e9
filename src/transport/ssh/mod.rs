//! The SSH target: one russh connection per job, one channel per script.
//!
//! Host keys (and host certificates, through `@cert-authority`) are checked against an OpenSSH
//! known_hosts file before anything else happens; authentication uses public keys and user
//! certificates only (identity file, ssh-agent, default keys). A connection can go through
//! bastions (each hop a direct-tcpip channel of the one before, verified and authenticated the
//! same way) and can forward the operator's agent for the job.

mod auth;
mod config;
mod error;
mod exec;
mod handler;
mod known_hosts;
mod shell;

pub use config::{ResolvedHost, resolve_alias};
pub use error::SshError;
pub use known_hosts::{
    HostCertStatus, HostKeyStatus, append_known_host, check_host_certificate, check_known_host,
    host_pattern, known_host_line,
};
pub use russh::keys::Certificate;
pub use russh::keys::PublicKey;

use super::{ExitStatus, OutputLine, Transport, TransportError};
use async_trait::async_trait;
use exec::Ending;
use handler::{ClientHandler, HostCheck, HostVerifier};
use russh::client::{self, ChannelOpenHandle, DisconnectReason, Handle, Msg};
use russh::keys::{Algorithm, HashAlg, PublicKeyOrCertificate};
use std::borrow::Cow;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};

/// With nothing heard from the server for this long, a keepalive is sent (`ServerAliveInterval`
/// changes it)...
pub const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(5);
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
    /// A user certificate for the identity file or an agent key; `None`: `KEY-cert.pub` beside
    /// each key file, when there is one.
    pub certificate_file: Option<PathBuf>,
    /// Offer only the agent's keys that belong to an identity file (`IdentitiesOnly`).
    pub identities_only: bool,
    /// Forward the agent at `agent_socket` to the server on every channel of this connection.
    pub forward_agent: bool,
    /// How long a silent server waits before a keepalive.
    pub keepalive_interval: Duration,
    /// The bastions to go through, first hop first.
    pub jump: Vec<Hop>,
}

/// One bastion on the way: how it is named in errors, and how to reach it.
#[derive(Debug, Clone)]
pub struct Hop {
    pub label: String,
    pub params: SshParams,
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
            certificate_file: None,
            identities_only: false,
            forward_agent: false,
            keepalive_interval: KEEPALIVE_INTERVAL,
            jump: Vec::new(),
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
/// Bastions on the way are verified as for any connection.
pub async fn fetch_host_key(params: &SshParams) -> Result<HostKeyInfo, SshError> {
    let slot = Arc::new(Mutex::new(None));
    let handler = ClientHandler::new(HostCheck::Capture(slot.clone()), None);
    let outcome = tokio::time::timeout(params.connect_timeout, reach(params, handler)).await;
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
    /// The bastions' sessions, which carry this one: kept open as long as it is.
    _hops: Vec<Handle<ClientHandler>>,
    forward_agent: bool,
    label: String,
    /// Why the connection ended, as the connection task last saw it.
    lost: Arc<Mutex<Option<String>>>,
    /// With [`Transport::keep_ready`]: a session channel opened ahead for the next exec.
    spare: Arc<exec::Spare>,
}

impl SshTransport {
    /// Opens one connection: TCP, host key check (before anything else), then authentication.
    pub async fn connect(params: &SshParams) -> Result<SshTransport, SshError> {
        let work = async {
            let handler = ClientHandler::verifying(params);
            let lost = handler.lost.clone();
            let (hops, mut session) = reach(params, handler).await?;
            auth::authenticate(&mut session, params).await?;
            let via: String = params
                .jump
                .iter()
                .map(|h| format!(" via {}", h.label))
                .collect();
            Ok(SshTransport {
                session: Arc::new(session),
                _hops: hops,
                forward_agent: params.forward_agent && params.agent_socket.is_some(),
                label: format!("{}@{}{via}", params.user, params.address()),
                lost,
                spare: Arc::default(),
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

    fn keep_ready(&self) {
        self.spare.enable(&self.session);
    }

    async fn exec_fed(
        &self,
        script: &str,
        stdin: UnboundedReceiver<Vec<u8>>,
        out: UnboundedSender<OutputLine>,
    ) -> Result<ExitStatus, TransportError> {
        let channel = self.spare.take(&self.session);
        let ending = exec::run(
            &self.session,
            channel,
            script,
            stdin,
            out,
            self.forward_agent,
        )
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

    async fn interactive(
        &self,
        script: &str,
        pty: super::Pty,
        input: UnboundedReceiver<super::ShellInput>,
        output: UnboundedSender<Vec<u8>>,
    ) -> Result<ExitStatus, TransportError> {
        match shell::run(&self.session, script, pty, input, output)
            .await
            .map_err(|e| self.channel_error(e))?
        {
            shell::Ended::Exited(status) => Ok(status),
            shell::Ended::Refused => Err(TransportError::Failed(format!(
                "{} refused the terminal session",
                self.label
            ))),
            shell::Ended::Lost => Err(self.lost_error()),
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

/// Through every bastion (each verified and authenticated; an error names the hop), then the
/// handshake with the server itself. The bastions' sessions are returned to be kept open.
async fn reach(
    params: &SshParams,
    handler: ClientHandler,
) -> Result<(Vec<Handle<ClientHandler>>, Handle<ClientHandler>), SshError> {
    let mut hops: Vec<Handle<ClientHandler>> = Vec::with_capacity(params.jump.len());
    for hop in &params.jump {
        let session = async {
            let mut session = handshake(
                &hop.params,
                hops.last(),
                ClientHandler::verifying(&hop.params),
            )
            .await?;
            auth::authenticate(&mut session, &hop.params).await?;
            Ok(session)
        }
        .await
        .map_err(|e| SshError::Hop {
            hop: hop.label.clone(),
            source: Box::new(e),
        })?;
        hops.push(session);
    }
    let session = handshake(params, hops.last(), handler).await?;
    Ok((hops, session))
}

/// TCP connect (or a direct-tcpip channel of the bastion `via`) plus the SSH handshake (key
/// exchange and host key check).
async fn handshake(
    params: &SshParams,
    via: Option<&Handle<ClientHandler>>,
    handler: ClientHandler,
) -> Result<Handle<ClientHandler>, SshError> {
    let certificates = handler.wants_certificates();
    let config = Arc::new(client_config(params, certificates));
    match via {
        None => {
            let stream = tcp_connect(&params.host, params.port).await?;
            client::connect_stream(config, stream, handler).await
        }
        Some(bastion) => {
            let channel = bastion
                .channel_open_direct_tcpip(params.host.clone(), params.port.into(), "127.0.0.1", 0)
                .await
                .map_err(|e| SshError::Connect {
                    host: params.host.clone(),
                    port: params.port,
                    reason: format!("the bastion could not open a channel to it ({e})"),
                })?;
            client::connect_stream(config, channel.into_stream(), handler).await
        }
    }
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

/// `certificates`: also ask for a host certificate (known_hosts trusts a CA for this host).
fn client_config(params: &SshParams, certificates: bool) -> client::Config {
    let order = host_key_order(params);
    let host_key_certificates = if certificates {
        Cow::Owned(order.clone())
    } else {
        Cow::Borrowed(&[][..])
    };
    client::Config {
        keepalive_interval: Some(params.keepalive_interval),
        keepalive_max: KEEPALIVE_MAX,
        // A deploy script may print nothing for many minutes; keepalives tell a dead peer apart.
        inactivity_timeout: None,
        nodelay: true,
        preferred: russh::Preferred {
            key: Cow::Owned(order),
            host_key_certificates,
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
