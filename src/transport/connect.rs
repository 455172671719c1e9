//! Connectors, and from a configured server to one: the one place that knows which transport a
//! `transport = "..."` setting means and how the SSH parameters are put together. The transports
//! themselves (`local`, `ssh`) know nothing of the config or of flipdeck's errors.

use super::LocalTransport;
use super::ssh::{self, HostKeyPolicy, SshParams, SshTransport};
use crate::config::{self, ServerConfig, TransportKind};
use crate::error::{Error, Result};
use crate::transport::Transport;
use async_trait::async_trait;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Opens connections to a server. A job connects once and reuses the transport for every command;
/// it reconnects only to find out what happened after a lost connection.
#[async_trait]
pub trait Connector: Send + Sync {
    async fn connect(&self) -> Result<Arc<dyn Transport>>;
}

/// The local machine: every "connection" is the same shell.
pub struct LocalConnector;

#[async_trait]
impl Connector for LocalConnector {
    async fn connect(&self) -> Result<Arc<dyn Transport>> {
        Ok(Arc::new(LocalTransport))
    }
}

/// How the engine gets a connector for a configured server: [`direct`] (a new connection per
/// job, the CLI's) or a [`super::pool::Pool`] (one warm connection per server, the dashboard's),
/// or a wrapper (a counting one in the benchmarks).
pub type Connectors = Arc<dyn Fn(&ServerConfig) -> Result<Arc<dyn Connector>> + Send + Sync>;

/// A new connection per job: [`connector_for`] as the engine's `Connectors`.
pub fn direct() -> Connectors {
    Arc::new(connector_for)
}

/// The connector for a configured server.
pub fn connector_for(server: &ServerConfig) -> Result<Arc<dyn Connector>> {
    match server.transport {
        TransportKind::Local => Ok(Arc::new(LocalConnector)),
        TransportKind::Ssh => Ok(Arc::new(SshConnector {
            params: params_for(server)?,
        })),
    }
}

pub struct SshConnector {
    pub params: SshParams,
}

#[async_trait]
impl Connector for SshConnector {
    async fn connect(&self) -> Result<Arc<dyn Transport>> {
        let target = SshTransport::connect(&self.params).await?;
        Ok(Arc::new(target))
    }
}

/// `~/x` → `$HOME/x`; other paths unchanged.
pub fn expand_tilde(p: &Path) -> PathBuf {
    match p.strip_prefix("~") {
        Ok(rest) => crate::paths::home_dir().join(rest),
        Err(_) => p.to_path_buf(),
    }
}

/// The connection parameters: flipdeck's config first, then the host's `~/.ssh/config` entry,
/// then OpenSSH's defaults.
pub fn params_for(server: &ServerConfig) -> Result<SshParams> {
    let c = &server.ssh;
    let host = c
        .host
        .as_deref()
        .ok_or_else(|| Error::usage(format!("server {} has no host", server.name)))?;
    let ssh_config = crate::paths::home_dir().join(".ssh/config");
    let resolved = ssh::resolve_alias(
        host,
        c.port,
        c.user.clone(),
        c.identity_file.as_deref().map(expand_tilde),
        &ssh_config,
    )
    .map_err(|e| Error::usage(e.to_string()))?;
    // OpenSSH's default login: the local user; `root` when even that is unknown.
    let user = resolved
        .user
        .or_else(crate::paths::local_user)
        .unwrap_or_else(|| "root".to_string());
    let mut params = SshParams::new(&resolved.host, resolved.port, &user);
    params.name = server.name.clone();
    params.identity_file = resolved.identity_file.map(|p| expand_tilde(&p));
    if let Some(k) = &c.known_hosts_file {
        params.known_hosts_file = expand_tilde(k);
    }
    params.host_key_policy = match c.host_key_policy {
        config::HostKeyPolicy::Strict => HostKeyPolicy::Strict,
        config::HostKeyPolicy::AcceptNew => HostKeyPolicy::AcceptNew,
    };
    params.connect_timeout = c.connect_timeout;
    Ok(params)
}
