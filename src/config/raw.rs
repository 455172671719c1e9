//! The config file as written: plain serde structs mirroring the TOML, refusing unknown keys.
//! Nothing here fills in a default or judges a value; that is [`super::check`]'s job. A value is
//! wrapped in `Spanned` where a check reports an error at its line.
//!
//! What serde says about a wrong type or an unknown key is shown to the user as it is, so the
//! struct names (`expected struct RawSite`), the field order (`expected one of ...`) and the
//! field types (`expected u16`, `expected i64`) are part of the error texts: change them only
//! together with the messages they produce.

use super::{HostKeyPolicy, TransportKind, WritableMode};
use crate::error::{Error, Result};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use toml::Spanned;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig {
    #[serde(default)]
    pub servers: Vec<RawServer>,
    /// Regular expressions hidden in script output; `[]` turns redaction off.
    pub redact: Option<Spanned<Vec<String>>>,
    /// How many servers a command works on at once.
    pub parallel: Option<Spanned<i64>>,
    /// Seconds between the dashboard's reads of every server; 0 turns them off.
    pub refresh_s: Option<Spanned<i64>>,
    /// The dashboard's colours: "dark", "light" or "mono".
    pub theme: Option<Spanned<String>>,
    /// Per-element colour overrides of the theme.
    pub colors: Option<std::collections::BTreeMap<String, Spanned<String>>>,
    /// The dashboard's keys: action = "KEY" or ["KEY", ...].
    pub keys: Option<std::collections::BTreeMap<String, Spanned<toml::Value>>>,
    /// `[[notify]]`: webhooks told of deploys, rollbacks and failures.
    pub notify: Option<Vec<Spanned<RawNotify>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawServer {
    pub name: Spanned<String>,
    #[serde(default)]
    pub transport: Option<TransportKind>,
    pub root: Option<Spanned<String>>,
    pub php_version: Option<Spanned<String>>,
    pub reload_command: Option<String>,
    pub host: Option<Spanned<String>>,
    pub port: Option<u16>,
    pub user: Option<Spanned<String>>,
    pub identity_file: Option<PathBuf>,
    pub known_hosts_file: Option<PathBuf>,
    pub host_key_policy: Option<HostKeyPolicy>,
    pub connect_timeout_s: Option<Spanned<u64>>,
    /// Forward the operator's ssh-agent to the server for the job.
    pub forward_agent: Option<bool>,
    /// Bastions: a server name, `[user@]host[:port]`, or a list of them (a chain, first hop first).
    pub jump: Option<Spanned<RawJump>>,
    /// A user certificate for `identity_file` (or for a key of the agent).
    pub certificate_file: Option<PathBuf>,
    pub php_fpm_config: Option<Spanned<String>>,
    pub nginx_sites_dir: Option<Spanned<String>>,
    pub nginx_test_command: Option<Spanned<String>>,
    pub nginx_reload_command: Option<String>,
    pub stage: Option<Spanned<String>>,
    pub protected: Option<bool>,
    #[serde(default)]
    pub sites: Vec<RawSite>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSite {
    pub domain: Spanned<String>,
    pub repository: Option<Spanned<String>>,
    pub branch: Option<Spanned<String>>,
    pub deployment_script: Option<String>,
    pub shared: Option<Spanned<Vec<String>>>,
    pub cached: Option<Spanned<Vec<String>>>,
    pub writable: Option<Spanned<Vec<String>>>,
    pub writable_mode: Option<WritableMode>,
    pub web_user: Option<Spanned<String>>,
    pub keep: Option<Spanned<i64>>,
    pub nginx: Option<bool>,
    /// A port (integer or string) or an address with a port, told apart by the check.
    pub listen: Option<Spanned<toml::Value>>,
    pub php_fpm_socket: Option<Spanned<String>>,
    /// The kind of site and its server block's keys: `"php"`, `"static"` or `"proxy"`.
    pub kind: Option<Spanned<String>>,
    pub web_root: Option<Spanned<String>>,
    /// A proxy site's service: one address or a list of them.
    pub upstream: Option<Spanned<RawStrings>>,
    /// A local file, read when the config is loaded.
    pub nginx_template: Option<Spanned<String>>,
    pub nginx_directives: Option<Spanned<RawStrings>>,
    pub ssl_certificate: Option<Spanned<String>>,
    pub ssl_certificate_key: Option<Spanned<String>>,
    pub ssl_listen: Option<Spanned<toml::Value>>,
    pub health_check: Option<Spanned<RawHealthCheck>>,
    pub protected: Option<bool>,
    pub after_switch: Option<Spanned<String>>,
    pub after_rollback: Option<Spanned<String>>,
    pub on_failure: Option<Spanned<String>>,
    pub require_env: Option<bool>,
    /// Where the repository keeps its database migrations (`flipdeck diff`).
    pub migrations: Option<Spanned<String>>,
    /// `[servers.sites.commands]`: `NAME = "shell command"`.
    pub commands: Option<Spanned<std::collections::BTreeMap<String, String>>>,
    /// Where the code comes from: "server" (the default), "push" or "artifact".
    pub source: Option<Spanned<String>>,
    /// `source = "artifact"`: the command that builds the artifact on the operator's machine.
    pub build: Option<Spanned<String>>,
    /// `source = "artifact"`: the folder of the built worktree that becomes the release.
    pub artifact_dir: Option<Spanned<String>>,
    /// A fleet's stepped rollout: `{ canary = 1, batches = ["50%", "100%"], pause = "manual" }`.
    pub rollout: Option<Spanned<RawRollout>>,
    // The watch after the switch (see `engine::aftercare`).
    /// Seconds to watch the site after a deploy's switch (0: off).
    pub watch_s: Option<Spanned<i64>>,
    /// The site's nginx access log on the server.
    pub access_log: Option<Spanned<String>>,
    /// The application's log, relative to the release (`storage/logs/laravel.log`).
    pub app_log: Option<Spanned<String>>,
    /// `auto_revert = { errors_5xx_per_s = N, for_s = M }`.
    pub auto_revert: Option<Spanned<RawAutoRevert>>,
}

/// `rollout = { ... }`. Its errors point at the whole inline table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRollout {
    pub canary: Option<i64>,
    /// Each a share (`"50%"`) or a number of servers (`3`, or `"3"`).
    pub batches: Option<Vec<toml::Value>>,
    /// `"manual"`, a duration (`"30s"`), or one of those per wait.
    pub pause: Option<RawStrings>,
}

/// `auto_revert = { ... }`: its errors point at the whole inline table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAutoRevert {
    pub errors_5xx_per_s: Option<f64>,
    pub for_s: Option<i64>,
}

/// `jump = "bastion"` or `jump = ["outer", "inner"]`.
#[derive(Debug, Deserialize)]
#[serde(untagged, expecting = "a string or a list of strings")]
pub(super) enum RawJump {
    One(String),
    Chain(Vec<String>),
}

/// A key that takes one string or a list of them (`upstream`, `nginx_directives`).
#[derive(Debug, Deserialize)]
#[serde(untagged, expecting = "a string or a list of strings")]
pub(super) enum RawStrings {
    One(String),
    Many(Vec<String>),
}

impl RawStrings {
    pub(super) fn to_vec(&self) -> Vec<String> {
        match self {
            RawStrings::One(s) => vec![s.clone()],
            RawStrings::Many(v) => v.clone(),
        }
    }
}

/// `health_check = { ... }`. Its errors point at the whole inline table, so its keys carry no
/// spans of their own.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawHealthCheck {
    pub url: Option<String>,
    pub command: Option<String>,
    pub expect_status: Option<i64>,
    pub timeout_s: Option<i64>,
    pub retries: Option<i64>,
    pub interval_s: Option<i64>,
}

/// One `[[notify]]` table: a webhook, its payload format and the events it wants.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawNotify {
    pub url: Spanned<String>,
    pub format: Option<Spanned<String>>,
    pub on: Option<Spanned<Vec<String>>>,
    pub timeout_s: Option<Spanned<i64>>,
    pub headers: Option<Spanned<std::collections::BTreeMap<String, String>>>,
    pub sites: Option<Spanned<Vec<String>>>,
    pub stage: Option<Spanned<String>>,
}

/// Deserializes `text`. A syntax error, a wrong type, an unknown key or a missing field becomes a
/// config error quoting the offending line, since that line shows which key is meant.
pub(super) fn parse(text: &str, path: &Path) -> Result<RawConfig> {
    toml::from_str(text).map_err(|e| {
        let what = e.message().trim_end().replace('\n', " ");
        match e.span().map(|s| line_of(text, s.start)) {
            Some(l) => {
                let src = text.lines().nth(l - 1).unwrap_or("").trim();
                Error::config(path, Some(l), format!(" (`{src}`): {what}"))
            }
            None => Error::config(path, None, format!(": {what}")),
        }
    })
}

/// 1-based line number of a byte offset.
pub(super) fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())]
        .bytes()
        .filter(|&b| b == b'\n')
        .count()
        + 1
}
