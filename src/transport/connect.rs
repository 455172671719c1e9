//! Connectors, and from a configured server to one: the one place that knows which transport a
//! `transport = "..."` setting means and how the SSH parameters are put together. The transports
//! themselves (`local`, `ssh`) know nothing of the config or of flipdeck's errors.

use super::LocalTransport;
use super::ssh::{self, Hop, HostKeyPolicy, ResolvedHost, SshParams, SshTransport};
use crate::config::{self, Jump, ServerConfig, SshConfig, TransportKind};
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
/// then OpenSSH's defaults; bastions (`jump`, else `ProxyJump`) likewise, each hop first.
pub fn params_for(server: &ServerConfig) -> Result<SshParams> {
    ssh_params(&server.name, &server.ssh)
}

fn ssh_params(name: &str, c: &SshConfig) -> Result<SshParams> {
    ssh_params_via(name, c, &mut Vec::new())
}

/// `chain`: the hosts being reached, outermost first, to refuse a `ProxyJump` loop.
fn ssh_params_via(name: &str, c: &SshConfig, chain: &mut Vec<String>) -> Result<SshParams> {
    let host = c
        .host
        .as_deref()
        .ok_or_else(|| Error::usage(format!("server {name} has no host")))?;
    enter(chain, host, c.port)?;
    let params = ssh_params_of(name, host, c, chain);
    chain.pop();
    params
}

/// OpenSSH's limit on how many hops a jump may chain, loops aside.
const MAX_HOPS: usize = 16;

/// Refuses a host (and port, as written) already on the way (a `ProxyJump` loop) or a chain
/// too long.
fn enter(chain: &mut Vec<String>, host: &str, port: Option<u16>) -> Result<()> {
    let mut key = host.to_ascii_lowercase();
    if let Some(port) = port {
        key = format!("{key}:{port}");
    }
    if chain.contains(&key) || chain.len() >= MAX_HOPS {
        let mut path = chain.clone();
        path.push(key);
        return Err(Error::usage(format!(
            "the bastions form a loop or a chain longer than {MAX_HOPS}: {} (check jump and \
             ProxyJump in ~/.ssh/config)",
            path.join(" -> ")
        )));
    }
    chain.push(key);
    Ok(())
}

fn ssh_params_of(
    name: &str,
    host: &str,
    c: &SshConfig,
    chain: &mut Vec<String>,
) -> Result<SshParams> {
    let resolved = resolve(host, c.port, c.user.clone(), c.identity_file.as_deref())?;
    let mut params = from_resolved(name, &resolved, c);
    params.connect_timeout = c
        .connect_timeout
        .or(resolved.connect_timeout)
        .unwrap_or(DEFAULT_CONNECT_TIMEOUT);
    params.forward_agent = c.forward_agent.or(resolved.forward_agent).unwrap_or(false);
    if let Some(cert) = &c.certificate_file {
        params.certificate_file = Some(expand_tilde(cert));
    }
    params.jump = if c.jump.is_empty() {
        hops(name, c, &proxy_jump(host, &resolved)?, chain)?
    } else {
        hops(name, c, &c.jump, chain)?
    };
    Ok(params)
}

/// The `ProxyJump` of `host` in ~/.ssh/config, as jump entries.
fn proxy_jump(host: &str, resolved: &ResolvedHost) -> Result<Vec<Jump>> {
    resolved
        .proxy_jump
        .iter()
        .map(|e| {
            config::jump_address(e).map_err(|why| {
                Error::usage(format!("ProxyJump for {host} in ~/.ssh/config: {why}"))
            })
        })
        .collect()
}

const DEFAULT_CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

fn resolve(
    host: &str,
    port: Option<u16>,
    user: Option<String>,
    identity_file: Option<&Path>,
) -> Result<ResolvedHost> {
    let ssh_config = crate::paths::home_dir().join(".ssh/config");
    ssh::resolve_alias(
        host,
        port,
        user,
        identity_file.map(expand_tilde),
        &ssh_config,
    )
    .map_err(|e| Error::usage(e.to_string()))
}

/// What the resolved host and the server's own settings (`c`: known_hosts and its policy) give.
fn from_resolved(name: &str, resolved: &ResolvedHost, c: &SshConfig) -> SshParams {
    // OpenSSH's default login: the local user; `root` when even that is unknown.
    let user = resolved
        .user
        .clone()
        .or_else(crate::paths::local_user)
        .unwrap_or_else(|| "root".to_string());
    let mut params = SshParams::new(&resolved.host, resolved.port, &user);
    params.name = name.to_string();
    params.identity_file = resolved.identity_file.as_deref().map(expand_tilde);
    params.certificate_file = resolved.certificate_file.as_deref().map(expand_tilde);
    params.identities_only = resolved.identities_only;
    if let Some(agent) = &resolved.identity_agent {
        params.agent_socket = agent_socket(agent);
    }
    if let Some(interval) = resolved.server_alive_interval {
        params.keepalive_interval = interval;
    }
    if let Some(k) = &c.known_hosts_file {
        params.known_hosts_file = expand_tilde(k);
    }
    params.host_key_policy = match c.host_key_policy {
        config::HostKeyPolicy::Strict => HostKeyPolicy::Strict,
        config::HostKeyPolicy::AcceptNew => HostKeyPolicy::AcceptNew,
    };
    if let Some(t) = resolved.connect_timeout {
        params.connect_timeout = t;
    }
    params
}

/// `IdentityAgent`: `none`, `SSH_AUTH_SOCK` (or another `$VARIABLE`), or a socket path.
fn agent_socket(value: &str) -> Option<PathBuf> {
    if value.eq_ignore_ascii_case("none") {
        return None;
    }
    let var = value.strip_prefix('$').unwrap_or(value);
    if value.starts_with('$') || var == "SSH_AUTH_SOCK" {
        return std::env::var_os(var)
            .filter(|s| !s.is_empty())
            .map(PathBuf::from);
    }
    Some(expand_tilde(Path::new(value)))
}

/// The hops to `name` (whose settings are `c`), first hop first. A configured server brings its
/// own bastions before itself, and so does an address with a `ProxyJump` of its own in
/// ~/.ssh/config (as OpenSSH follows it); an address is verified with `name`'s known_hosts and
/// policy, so `flipdeck trust NAME` is what records its key.
fn hops(name: &str, c: &SshConfig, jump: &[Jump], chain: &mut Vec<String>) -> Result<Vec<Hop>> {
    let mut list = Vec::new();
    for j in jump {
        match j {
            Jump::Server { name: bastion, ssh } => {
                let mut params = ssh_params_via(bastion, ssh, chain)?;
                list.append(&mut params.jump);
                params.forward_agent = false;
                list.push(Hop {
                    label: bastion.clone(),
                    params,
                });
            }
            Jump::Address { user, host, port } => {
                enter(chain, host, *port)?;
                let resolved = resolve(host, *port, user.clone(), None)?;
                let own = hops(name, c, &proxy_jump(host, &resolved)?, chain);
                chain.pop();
                list.append(&mut own?);
                let params = from_resolved(name, &resolved, c);
                list.push(Hop {
                    label: format!("{}@{}:{}", params.user, params.host, params.port),
                    params,
                });
            }
        }
    }
    Ok(list)
}
