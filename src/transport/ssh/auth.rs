//! Public-key authentication, in OpenSSH's order: the configured identity file, every key of the
//! ssh-agent, then the default key files.

use super::{ClientHandler, SshError, SshParams};
use russh::client::{AuthResult, Handle};
use russh::keys::agent::AgentIdentity;
use russh::keys::agent::client::AgentClient;
use russh::keys::{HashAlg, PrivateKey, PrivateKeyWithHashAlg, PublicKey};
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
        let label = format!("key {}", path.display());
        let hash = rsa_hash(session, key.algorithm().is_rsa()).await;
        let key = PrivateKeyWithHashAlg::new(Arc::new(key), hash);
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
        let (mut agent, keys) = match agent_keys(socket).await {
            Ok(found) => found,
            Err(e) => return Ok(self.verdict(false, format!("{label} (unusable: {e})"))),
        };
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
        Ok(self.verdict(false, format!("{label} ({} keys)", keys.len())))
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

/// The agent's plain keys. Certificates would need the server to trust a CA: not supported.
async fn agent_keys(
    socket: &Path,
) -> Result<(AgentClient<tokio::net::UnixStream>, Vec<PublicKey>), russh::keys::Error> {
    let mut agent = AgentClient::connect_uds(socket).await?;
    let keys = agent
        .request_identities()
        .await?
        .into_iter()
        .filter_map(|id| match id {
            AgentIdentity::PublicKey { key, .. } => Some(key),
            AgentIdentity::Certificate { .. } => None,
        })
        .collect();
    Ok((agent, keys))
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
