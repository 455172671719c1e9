//! What the client answers during a connection: whether the server's key (or host certificate)
//! is acceptable, per known_hosts and the policy, and the channels the server may open back (the
//! forwarded agent, only when forwarding was asked for).

use super::*;

/// Decides whether a server key is acceptable, per known_hosts and the policy.
pub(super) struct HostVerifier {
    server: String,
    host: String,
    port: u16,
    known_hosts: PathBuf,
    policy: HostKeyPolicy,
}

impl HostVerifier {
    pub(super) fn from_params(params: &SshParams) -> Self {
        HostVerifier {
            server: params.name.clone(),
            host: params.host.clone(),
            port: params.port,
            known_hosts: params.known_hosts_file.clone(),
            policy: params.host_key_policy,
        }
    }

    /// A host certificate: signed by a CA that an `@cert-authority` line trusts for this host,
    /// valid now, for this host name, with neither the CA nor the key `@revoked`. A certificate
    /// of a CA not trusted here counts as its plain key.
    fn verify_certificate(&self, cert: &Certificate) -> Result<(), SshError> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let key = PublicKey::new(cert.public_key().clone(), "");
        match known_hosts::check_host_certificate(
            &self.known_hosts,
            &self.host,
            self.port,
            cert,
            now,
        )? {
            HostCertStatus::Trusted => Ok(()),
            HostCertStatus::NoAuthority => self.verify(&key),
            HostCertStatus::Revoked { line, key } => {
                Err(self.refusal(HostKeyStatus::Revoked { line }, &key))
            }
            HostCertStatus::Invalid(reason) => Err(SshError::HostCertificateInvalid {
                server: self.server.clone(),
                address: format!("{}:{}", self.host, self.port),
                reason,
            }),
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

    pub(super) fn refusal(&self, status: HostKeyStatus, key: &PublicKey) -> SshError {
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

pub(super) enum HostCheck {
    Verify(HostVerifier),
    /// Only record the key and stop the handshake (for `flipdeck trust`).
    Capture(Arc<Mutex<Option<PublicKey>>>),
}

/// russh's callbacks for one connection.
pub(crate) struct ClientHandler {
    check: HostCheck,
    pub(super) lost: Arc<Mutex<Option<String>>>,
    /// The agent the server may open channels to (only with forwarding on).
    forward_to: Option<PathBuf>,
}

impl ClientHandler {
    pub(super) fn new(check: HostCheck, forward_to: Option<PathBuf>) -> Self {
        ClientHandler {
            check,
            lost: Arc::default(),
            forward_to,
        }
    }

    /// Checks the host key against `params`' known_hosts; forwards the agent if asked to.
    pub(super) fn verifying(params: &SshParams) -> Self {
        let forward_to = params.agent_socket.clone().filter(|_| params.forward_agent);
        ClientHandler::new(
            HostCheck::Verify(HostVerifier::from_params(params)),
            forward_to,
        )
    }

    /// Whether to ask for a host certificate: known_hosts trusts a CA for this host.
    pub(super) fn wants_certificates(&self) -> bool {
        match &self.check {
            HostCheck::Verify(v) => {
                known_hosts::has_cert_authority(&v.known_hosts, &v.host, v.port)
            }
            HostCheck::Capture(_) => false,
        }
    }
}

/// Carries one agent channel the server opened (a `git clone` on the server asking for a
/// signature) to the local agent, both ways, until either side closes.
async fn bridge_agent(channel: russh::Channel<Msg>, socket: PathBuf) {
    let Ok(mut agent) = tokio::net::UnixStream::connect(&socket).await else {
        let _ = channel.close().await;
        return;
    };
    let mut stream = channel.into_stream();
    let _ = tokio::io::copy_bidirectional(&mut stream, &mut agent).await;
}

impl client::Handler for ClientHandler {
    type Error = SshError;

    /// Runs during key exchange, after russh verified the server's signature and before any
    /// authentication: returning an error here means no key or password is ever offered.
    async fn check_server_key(&mut self, key: &PublicKeyOrCertificate) -> Result<bool, SshError> {
        match (&self.check, key) {
            (HostCheck::Verify(verifier), PublicKeyOrCertificate::Certificate(cert)) => {
                verifier.verify_certificate(cert).map(|()| true)
            }
            (HostCheck::Verify(verifier), key) => verifier.verify(&key.public_key()).map(|()| true),
            (HostCheck::Capture(slot), key) => {
                *lock(slot) = Some(key.public_key());
                Ok(false)
            }
        }
    }

    /// Only while forwarding is on for this connection; otherwise the channel is refused.
    async fn server_channel_open_agent_forward(
        &mut self,
        channel: russh::Channel<Msg>,
        reply: ChannelOpenHandle,
        _session: &mut client::Session,
    ) -> Result<(), SshError> {
        let Some(socket) = self.forward_to.clone() else {
            drop(reply);
            return Ok(());
        };
        reply.accept().await;
        tokio::spawn(bridge_agent(channel, socket));
        Ok(())
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
