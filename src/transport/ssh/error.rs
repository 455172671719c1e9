//! Why an SSH connection could not be set up: each variant names the server, the hop or the file
//! involved, so the message says what to fix.

use super::*;

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
    #[error("the host certificate of {server} ({address}) is refused: {reason}")]
    HostCertificateInvalid {
        server: String,
        address: String,
        reason: String,
    },
    /// Something failed on the way, at the bastion `hop`.
    #[error("bastion {hop}: {source}")]
    Hop { hop: String, source: Box<SshError> },
    #[error("SSH protocol error: {0}")]
    Protocol(String),
}

impl SshError {
    /// The error itself, without the bastion it happened at.
    pub fn innermost(&self) -> &SshError {
        match self {
            SshError::Hop { source, .. } => source.innermost(),
            e => e,
        }
    }
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
