//! From a configured `transport = "ssh"` server to SSH connection parameters and a connector.

use crate::config::{self, ServerConfig};
use crate::engine::Connector;
use crate::error::{Error, Result};
use crate::target::Target;
use crate::target::ssh::{self, HostKeyPolicy, SshParams, SshTarget};
use async_trait::async_trait;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub struct SshConnector {
    pub params: SshParams,
}

#[async_trait]
impl Connector for SshConnector {
    async fn connect(&self) -> Result<Arc<dyn Target>> {
        let target = SshTarget::connect(&self.params)
            .await
            .map_err(|e| Error::failed(e.to_string()))?;
        Ok(Arc::new(target))
    }
}

pub fn connector_for(server: &ServerConfig) -> Result<Arc<dyn Connector>> {
    Ok(Arc::new(SshConnector {
        params: params_for(server)?,
    }))
}

/// `~/x` → `$HOME/x`; other paths unchanged.
pub fn expand_tilde(p: &Path) -> PathBuf {
    match p.strip_prefix("~") {
        Ok(rest) => config::home_dir().join(rest),
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
    let ssh_config = config::home_dir().join(".ssh/config");
    let resolved = ssh::resolve_alias(
        host,
        c.port,
        c.user.clone(),
        c.identity_file.as_deref().map(expand_tilde),
        &ssh_config,
    )
    .map_err(|e| Error::usage(e.to_string()))?;
    let user = resolved.user.unwrap_or_else(local_user);
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

fn local_user() -> String {
    std::env::var("USER")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "root".to_string())
}
