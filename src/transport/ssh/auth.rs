//! Public-key authentication, in OpenSSH's order: the configured identity file, every key of the
//! ssh-agent, then the default key files. A key file with a user certificate (`certificate_file`,
//! or `KEY-cert.pub` beside it) is offered as the certificate first, then as the plain key; the
//! agent's certificates are offered like its keys.

use super::{ClientHandler, SshError, SshParams};
use russh::client::{AuthResult, Handle};
use russh::keys::agent::AgentIdentity;
use russh::keys::agent::client::AgentClient;
use russh::keys::{Certificate, HashAlg, PrivateKey, PrivateKeyWithHashAlg, PublicKey};
use std::path::{Path, PathBuf};
use std::sync::Arc;

type Session = Handle<ClientHandler>;

/// Tries every configured way in turn; the error lists them all.
pub(super) async fn authenticate(
    session: &mut Session,
    params: &SshParams,
) -> Result<(), SshError> {
    let mut log = Tried::default();
    if let Some(path) = &params.identity_file
        && log.key_file(session, params, path, true).await?
    {
        return Ok(());
    }
    if let Some(socket) = &params.agent_socket
        && log.agent(session, params, socket).await?
    {
        return Ok(());
    }
    for path in &params.default_identity_files {
        if log.key_file(session, params, path, false).await? {
            return Ok(());
        }
    }
    Err(log.into_error(params))
}

/// What was tried so far, for the error message.
#[derive(Default)]
struct Tried {
    methods: Vec<String>,
    /// The first encrypted key skipped: the likely intended one.
    encrypted: Option<PathBuf>,
}

impl Tried {
    /// Returns whether the server accepted the key. A missing default key is silently skipped.
    async fn key_file(
        &mut self,
        session: &mut Session,
        params: &SshParams,
        path: &Path,
        required: bool,
    ) -> Result<bool, SshError> {
        let key = match load_key(path) {
            Ok(k) => k,
            Err(LoadError::Encrypted) => {
                self.methods
                    .push(format!("key {} (encrypted, skipped)", path.display()));
                self.encrypted.get_or_insert_with(|| path.to_path_buf());
                return Ok(false);
            }
            Err(LoadError::NotFound) if !required => return Ok(false),
            Err(LoadError::NotFound) => return Err(key_read_error(path, "no such file")),
            Err(LoadError::Other(reason)) => return Err(key_read_error(path, &reason)),
        };
        let key = Arc::new(key);
        if let Some((cert_path, cert)) = certificate_for(params, path, key.public_key()) {
            let label = format!("certificate {}", cert_path.display());
            match session
                .authenticate_openssh_cert(params.user.clone(), key.clone(), cert)
                .await
            {
                Ok(result) if self.verdict(result.success(), label) => return Ok(true),
                Ok(_) => {}
                Err(e) => {
                    return Err(self.broke(
                        params,
                        format!("certificate {}", cert_path.display()),
                        e,
                    ));
                }
            }
        }
        let label = format!("key {}", path.display());
        let hash = rsa_hash(session, key.algorithm().is_rsa()).await;
        let key = PrivateKeyWithHashAlg::new(key, hash);
        match session
            .authenticate_publickey(params.user.clone(), key)
            .await
        {
            Ok(result) => Ok(self.verdict(result.success(), label)),
            Err(e) => Err(self.broke(params, label, e)),
        }
    }

    async fn agent(
        &mut self,
        session: &mut Session,
        params: &SshParams,
        socket: &Path,
    ) -> Result<bool, SshError> {
        let label = format!("ssh-agent at {}", socket.display());
        let (mut agent, mut keys, mut certs) = match agent_keys(socket).await {
            Ok(found) => found,
            Err(e) => return Ok(self.verdict(false, format!("{label} (unusable: {e})"))),
        };
        if params.identities_only {
            let mine = identity_public_keys(params);
            keys.retain(|k| mine.iter().any(|m| m.key_data() == k.key_data()));
            certs.retain(|c| mine.iter().any(|m| m.key_data() == c.public_key()));
        }
        // A configured certificate whose key only the agent holds.
        if let Some(cert) = params
            .certificate_file
            .as_deref()
            .and_then(|p| Certificate::read_file(p).ok())
            .filter(|c| keys.iter().any(|k| k.key_data() == c.public_key()))
        {
            certs.insert(0, cert);
        }
        let offered = keys.len() + certs.len();
        for cert in certs {
            let hash = rsa_hash(session, cert.algorithm().is_rsa()).await;
            let user = params.user.clone();
            match session
                .authenticate_certificate_with(user, cert, hash, &mut agent)
                .await
            {
                Ok(AuthResult::Success) => return Ok(true),
                Ok(AuthResult::Failure { .. }) | Err(russh::AgentAuthError::Key(_)) => {}
                Err(e) => return Err(self.broke(params, label, e)),
            }
        }
        for key in &keys {
            let hash = rsa_hash(session, key.algorithm().is_rsa()).await;
            let user = params.user.clone();
            match session
                .authenticate_publickey_with(user, key.clone(), hash, &mut agent)
                .await
            {
                Ok(AuthResult::Success) => return Ok(true),
                Ok(AuthResult::Failure { .. }) => {}
                // The agent declined to sign (e.g. a confirm-only key): try the next one.
                Err(russh::AgentAuthError::Key(_)) => {}
                Err(e) => return Err(self.broke(params, label, e)),
            }
        }
        Ok(self.verdict(false, format!("{label} ({offered} keys)")))
    }

    fn verdict(&mut self, accepted: bool, label: String) -> bool {
        if !accepted {
            self.methods.push(label);
        }
        accepted
    }

    /// The connection failed mid-authentication (e.g. the server's MaxAuthTries was reached).
    fn broke(&mut self, params: &SshParams, label: String, e: impl std::fmt::Display) -> SshError {
        self.methods
            .push(format!("{label} (connection failed: {e})"));
        self.encrypted = None;
        std::mem::take(self).into_error(params)
    }

    fn into_error(mut self, params: &SshParams) -> SshError {
        if let Some(path) = self.encrypted {
            return SshError::EncryptedKeyNoAgent { path };
        }
        if self.methods.is_empty() {
            self.methods
                .push("nothing (no identity file, no ssh-agent, no default key)".into());
        }
        SshError::Auth {
            user: params.user.clone(),
            host: params.host.clone(),
            methods: self.methods,
        }
    }
}

type AgentKeys = (
    AgentClient<tokio::net::UnixStream>,
    Vec<PublicKey>,
    Vec<Certificate>,
);

/// The agent's plain keys and its certificates.
async fn agent_keys(socket: &Path) -> Result<AgentKeys, russh::keys::Error> {
    let mut agent = AgentClient::connect_uds(socket).await?;
    let (mut keys, mut certs) = (Vec::new(), Vec::new());
    for id in agent.request_identities().await? {
        match id {
            AgentIdentity::PublicKey { key, .. } => keys.push(key),
            AgentIdentity::Certificate { certificate, .. } => certs.push(certificate),
        }
    }
    Ok((agent, keys, certs))
}

/// The user certificate for the key file `path` (whose public key is `public`): the configured
/// `certificate_file` when it certifies this key, else `PATH-cert.pub` when there is one.
fn certificate_for(
    params: &SshParams,
    path: &Path,
    public: &PublicKey,
) -> Option<(PathBuf, Certificate)> {
    let beside = PathBuf::from(format!("{}-cert.pub", path.display()));
    [params.certificate_file.clone(), Some(beside)]
        .into_iter()
        .flatten()
        .find_map(|p| {
            let cert = Certificate::read_file(&p).ok()?;
            (cert.public_key() == public.key_data()).then_some((p, cert))
        })
}

/// The public keys of the identity files (from `KEY.pub`, or the key itself when unencrypted):
/// with `IdentitiesOnly`, the only agent keys offered.
fn identity_public_keys(params: &SshParams) -> Vec<PublicKey> {
    params
        .identity_file
        .iter()
        .chain(&params.default_identity_files)
        .filter_map(|p| {
            let pub_file = PathBuf::from(format!("{}.pub", p.display()));
            russh::keys::load_public_key(&pub_file)
                .ok()
                .or_else(|| load_key(p).ok().map(|k| k.public_key().clone()))
        })
        .collect()
}

enum LoadError {
    NotFound,
    Encrypted,
    Other(String),
}

fn load_key(path: &Path) -> Result<PrivateKey, LoadError> {
    crate::permissions::check_private_key(path).map_err(LoadError::Other)?;
    match russh::keys::load_secret_key(path, None) {
        Ok(k) => Ok(k),
        Err(russh::keys::Error::KeyIsEncrypted) => Err(LoadError::Encrypted),
        Err(russh::keys::Error::IO(e)) if e.kind() == std::io::ErrorKind::NotFound => {
            Err(LoadError::NotFound)
        }
        Err(e) => Err(LoadError::Other(e.to_string())),
    }
}

fn key_read_error(path: &Path, reason: &str) -> SshError {
    SshError::KeyRead {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    }
}

/// For RSA keys, the best signature hash the server announced (SHA-1 only if it says nothing).
async fn rsa_hash(session: &Session, is_rsa: bool) -> Option<HashAlg> {
    if !is_rsa {
        return None;
    }
    session
        .best_supported_rsa_hash()
        .await
        .ok()
        .flatten()
        .flatten()
}
