//! The TOML configuration: servers and their sites. Parsing is strict (unknown keys are errors) and
//! every error names the file, the line and what is expected.
//!
//! Three steps, one file each: `raw` deserializes the file as written (plain serde structs that
//! refuse unknown keys), `check` turns that into the typed [`Config`] in one pass (defaults
//! filled in, every value validated), and this module holds the typed model and its lookups.

mod check;
pub mod nginx_template;
mod notify;
mod raw;
pub mod rollout;

pub use notify::{Notify, NotifyEvent, NotifyFormat};
pub use rollout::{Pause, Pauses, Reach, Rollout};

pub use check::jump_address;

use crate::error::{Error, Result};
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub const DEFAULT_SCRIPT: &str = "git fetch && git pull";
/// Where `flipdeck diff` looks for database migrations unless a site says `migrations = "path"`.
pub const DEFAULT_MIGRATIONS: &str = "database/migrations";
/// Data that outlives releases, linked from `shared/` into each.
pub const DEFAULT_SHARED: [&str; 2] = ["storage/", ".env"];
/// Dependency folders: each release has its own, started as a copy of the live release's.
pub const DEFAULT_CACHED: [&str; 2] = ["vendor", "node_modules"];
pub const DEFAULT_KEEP: u32 = 14;
pub const DEFAULT_NGINX_SITES_DIR: &str = "/etc/nginx/sites-enabled";
pub const DEFAULT_NGINX_TEST: &str = "sudo nginx -t";
pub const DEFAULT_NGINX_RELOAD: &str = "sudo nginx -s reload";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TransportKind {
    Ssh,
    Local,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HostKeyPolicy {
    Strict,
    AcceptNew,
}

/// The reload `php_version = V` implies when `reload_command` is not set.
pub fn php_reload_command(version: &str) -> String {
    format!("sudo service php{version}-fpm reload")
}

/// How `writable` paths are made writable for the web server's user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WritableMode {
    /// `setfacl`: the web user (and the login user) get rwX, also as the default ACL of folders.
    Acl,
    /// The web user's group owns the paths, group-writable, folders setgid.
    Group,
    /// Everyone may write (`chmod -R a+rwX`).
    Chmod,
}

impl WritableMode {
    pub fn as_str(self) -> &'static str {
        match self {
            WritableMode::Acl => "acl",
            WritableMode::Group => "group",
            WritableMode::Chmod => "chmod",
        }
    }
}

/// The paths the web server writes (Laravel's `storage` and `bootstrap/cache`).
pub const DEFAULT_WRITABLE: [&str; 2] = ["storage", "bootstrap/cache"];
pub const DEFAULT_WEB_USER: &str = "www-data";

/// What `writable_mode` turns on: these paths, made writable for `user`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Writable {
    pub paths: Vec<String>,
    pub mode: WritableMode,
    pub user: String,
}

/// A validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub path: PathBuf,
    pub servers: Vec<ServerConfig>,
    /// Secrets hidden from script output (the built-in patterns unless `redact` is set).
    pub redactor: crate::redact::Redactor,
    /// How many servers a command for a bare domain works on at once (`parallel`, default 10);
    /// also how many connections the dashboard opens at once.
    pub parallel: usize,
    /// How often the dashboard reads every server (`refresh_s`, default 5 s; `None`: never).
    pub refresh: Option<std::time::Duration>,
    /// The dashboard's colours (`theme`), and per-element overrides (`[colors]`).
    pub theme: ThemeName,
    pub colors: Vec<(String, String)>,
    /// The dashboard's remapped keys (`[keys]`), checked against its keymap when it starts.
    pub keys: Vec<KeyBinding>,
    /// The `[[notify]]` webhooks, in file order.
    pub notify: Vec<Notify>,
}

/// The dashboard's built-in colour themes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ThemeName {
    #[default]
    Dark,
    Light,
    /// No colour: bold, dim and reverse only (as with `NO_COLOR`).
    Mono,
}

/// The screen elements `[colors]` can set.
pub const COLOR_ELEMENTS: &[&str] = &[
    "ok", "error", "warn", "step", "notice", "key", "dim", "border", "focus", "active",
];

/// One `[keys]` entry: an action of the dashboard and the keys that now ask for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyBinding {
    pub action: String,
    pub keys: Vec<String>,
    /// Where it is in the file, for the error if the dashboard refuses it.
    pub line: usize,
}

#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub name: String,
    pub transport: TransportKind,
    /// `None` for SSH servers without an explicit root: the login user's home.
    pub root: Option<String>,
    /// The command run after a switch; `None` = no reload.
    /// `php_version`, e.g. `8.3`: it implies the default reload and PHP-FPM paths.
    pub php_version: Option<String>,
    pub reload_command: Option<String>,
    /// The PHP-FPM main config, read by `provision` to warn about reloads that cut requests.
    pub php_fpm_config: Option<String>,
    pub nginx: NginxServer,
    pub ssh: SshConfig,
    /// `stage = "production"`: the dashboard groups servers by it, `--stage` picks them.
    pub stage: Option<String>,
    /// `protected = true`: every site on it asks for its domain before a deploy or rollback.
    pub protected: bool,
    pub sites: Vec<SiteConfig>,
}

#[derive(Debug, Clone)]
pub struct SshConfig {
    pub host: Option<String>,
    pub port: Option<u16>,
    pub user: Option<String>,
    pub identity_file: Option<PathBuf>,
    pub known_hosts_file: Option<PathBuf>,
    pub host_key_policy: HostKeyPolicy,
    /// `None`: not set (`ConnectTimeout` from `~/.ssh/config`, else 10 s).
    pub connect_timeout: Option<Duration>,
    /// `None`: not set (`ForwardAgent` from `~/.ssh/config`, else off).
    pub forward_agent: Option<bool>,
    /// The bastions to go through, first hop first; empty: `ProxyJump` from `~/.ssh/config`, if any.
    pub jump: Vec<Jump>,
    pub certificate_file: Option<PathBuf>,
}

/// One bastion on the way to a server.
#[derive(Debug, Clone)]
pub enum Jump {
    /// Another configured server, reached with its own settings (`name` is its name).
    Server { name: String, ssh: Box<SshConfig> },
    /// `[user@]host[:port]`, with the jumping server's known_hosts file and policy (and its
    /// `~/.ssh/config` entry applied to `host`).
    Address {
        user: Option<String>,
        host: String,
        port: Option<u16>,
    },
}

#[derive(Debug, Clone)]
pub struct SiteConfig {
    pub domain: String,
    pub repository: Option<String>,
    pub branch: String,
    pub deployment_script: String,
    pub shared: Vec<String>,
    /// Dependency folders (`vendor`, `node_modules`): per release, each started as a copy of the
    /// live release's before the deploy script runs.
    pub cached: Vec<String>,
    /// `Some` with `writable_mode`: provision and every deploy make these paths writable.
    pub writable: Option<Writable>,
    pub keep: u32,
    /// `Some` when `provision` writes an nginx server block for the site.
    pub nginx: Option<NginxSite>,
    pub health_check: Option<HealthCheck>,
    /// `protected = true`: a deploy or rollback asks for the domain first.
    pub protected: bool,
    /// The site's hooks: POSIX sh scripts run on the server at fixed moments of a deploy or a
    /// rollback (see `assets/remote/deploy.sh`).
    pub hooks: Hooks,
    /// `require_env = true`: keys the new release's `.env.example` has and the shared `.env`
    /// lacks fail the build, instead of a warning.
    pub require_env: bool,
    /// The repository's folder of database migrations (`flipdeck diff` names those added or
    /// removed); default `database/migrations`.
    pub migrations: String,
    /// The site's named commands (`flipdeck run SITE NAME`), by name.
    pub commands: Vec<(String, String)>,
    /// Where a new release's code comes from (`source`, `build`, `artifact_dir`).
    pub source: CodeSource,
    /// A fleet's stepped rollout (`rollout = { ... }`); `None`: every server switches at once.
    pub rollout: Option<Rollout>,
    /// The watch after the switch (`watch_s`, `access_log`, `app_log`, `auto_revert`).
    pub watch: Watch,
}

/// What a deploy watches after its switch, and when it reverts by itself (see
/// `engine::aftercare`).
#[derive(Debug, Clone, PartialEq)]
pub struct Watch {
    /// `watch_s`: seconds to watch after the switch; 0 = no watch.
    pub seconds: u32,
    /// `access_log`: the site's nginx access log on the server (nginx's `combined` format).
    pub access_log: String,
    /// `app_log`: the application's log, relative to the release.
    pub app_log: Option<String>,
    pub auto_revert: Option<AutoRevert>,
}

/// `auto_revert = { errors_5xx_per_s = N, for_s = M }`: revert when the 5xx rate stays at or
/// above N per second for M seconds in a row.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AutoRevert {
    pub errors_5xx_per_s: f64,
    pub for_s: u32,
}

/// Where flipdeck's nginx templates write a site's access log (`access_log`'s default).
pub fn default_access_log(domain: &str) -> String {
    format!("/var/log/nginx/{domain}.access.log")
}

/// A site's hooks; `None`: not set (nothing runs).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Hooks {
    /// After a deploy's switch and reload, before the health check; a failure switches back.
    pub after_switch: Option<String>,
    /// After a rollback's switch, and after a deploy's switch back; a failure is a warning.
    pub after_rollback: Option<String>,
    /// After a failed deploy has been cleaned up; a failure is a warning.
    pub on_failure: Option<String>,
}

/// Where a site's code comes from (`source = ...`; see `engine::source`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum CodeSource {
    /// The server fetches `repository` into its cache (the default).
    #[default]
    Server,
    /// `repository` is a path on the operator's machine; the server's cache is sent the objects
    /// it lacks over the deploy's connection.
    Push,
    /// The operator's machine builds a tree (`build`, in a clean worktree; `dir`, a folder of
    /// it, or all of it but `.git`) and sends it as a tar; the server needs no git.
    Artifact {
        build: Option<String>,
        dir: Option<String>,
    },
}

impl CodeSource {
    pub fn as_str(&self) -> &'static str {
        match self {
            CodeSource::Server => "server",
            CodeSource::Push => "push",
            CodeSource::Artifact { .. } => "artifact",
        }
    }
}

/// A site together with the server it lives on.
#[derive(Debug, Clone)]
pub struct SiteRef<'a> {
    pub server: &'a ServerConfig,
    pub site: &'a SiteConfig,
}

impl SiteRef<'_> {
    /// `SERVER/DOMAIN`, the unambiguous name of a site.
    pub fn key(&self) -> String {
        format!("{}/{}", self.server.name, self.site.domain)
    }

    /// Whether a deploy or rollback must be confirmed by typing the domain (the site or its
    /// server is `protected`).
    pub fn protected(&self) -> bool {
        self.site.protected || self.server.protected
    }
}

// Kept here too so `config::default_db_path()` and the like still resolve; they live in `paths`.
pub use crate::paths::{default_config_path, default_db_path, home_dir};

impl Config {
    pub fn load(path: &Path) -> Result<Config> {
        crate::permissions::check_config(path).map_err(Error::usage)?;
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::usage(format!(
                "cannot read config {}: {e}; create one with `flipdeck init` or pass --config FILE",
                path.display()
            ))
        })?;
        Config::parse(&text, path)
    }

    pub fn parse(text: &str, path: &Path) -> Result<Config> {
        let raw = raw::parse(text, path)?;
        check::Check::new(text, path).config(raw)
    }

    pub fn sites(&self) -> impl Iterator<Item = SiteRef<'_>> {
        self.servers.iter().flat_map(|server| {
            server
                .sites
                .iter()
                .map(move |site| SiteRef { server, site })
        })
    }

    /// Keeps only the servers of `stage` (`--stage`); a stage no server has is a usage error.
    pub fn retain_stage(&mut self, stage: &str) -> Result<()> {
        if !self
            .servers
            .iter()
            .any(|s| s.stage.as_deref() == Some(stage))
        {
            let mut known: Vec<&str> = self
                .servers
                .iter()
                .filter_map(|s| s.stage.as_deref())
                .collect();
            known.dedup();
            return Err(Error::usage(format!(
                "no server of stage {stage:?} in {}; stages: {}",
                self.path.display(),
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            )));
        }
        self.servers.retain(|s| s.stage.as_deref() == Some(stage));
        Ok(())
    }

    /// Resolves `SERVER/DOMAIN` to its site, or a bare `DOMAIN` to every server's site of that
    /// name (a fleet).
    pub fn find_sites(&self, spec: &str) -> Result<Vec<SiteRef<'_>>> {
        let matches: Vec<SiteRef<'_>> = match spec.split_once('/') {
            Some((server, domain)) => self
                .sites()
                .filter(|s| s.server.name == server && s.site.domain.eq_ignore_ascii_case(domain))
                .collect(),
            // DNS names are case-insensitive: `App.Example.Test` is `app.example.test`.
            None => self
                .sites()
                .filter(|s| s.site.domain.eq_ignore_ascii_case(spec))
                .collect(),
        };
        if matches.is_empty() {
            let known: Vec<String> = self.sites().map(|s| s.key()).collect();
            return Err(Error::usage(format!(
                "no site {spec:?} in {}; configured sites: {}",
                self.path.display(),
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            )));
        }
        Ok(matches)
    }

    /// Resolves `DOMAIN` or `SERVER/DOMAIN` to exactly one site.
    pub fn find_site(&self, spec: &str) -> Result<SiteRef<'_>> {
        let mut matches = self.find_sites(spec)?;
        if matches.len() == 1 {
            return Ok(matches.remove(0));
        }
        Err(Error::usage(format!(
            "site {spec:?} is configured on several servers; name one of: {}",
            matches
                .iter()
                .map(|s| s.key())
                .collect::<Vec<_>>()
                .join(", ")
        )))
    }
}

impl SiteConfig {
    /// The shell code of the site command `name`.
    pub fn command(&self, name: &str) -> Option<&str> {
        self.commands
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, c)| c.as_str())
    }

    /// Whether a shared entry is a file (`.env`, `config/app.php`) rather than a directory:
    /// a trailing `/` forces a directory; otherwise a dot in the last component means a file.
    pub fn shared_is_file(entry: &str) -> bool {
        if entry.ends_with('/') {
            return false;
        }
        entry
            .rsplit('/')
            .next()
            .is_some_and(|last| last.contains('.'))
    }
}

/// How a server's nginx is managed. Per server: one nginx serves every site on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NginxServer {
    /// The directory nginx includes server blocks from; flipdeck writes `{domain}.conf` there.
    pub sites_dir: String,
    /// Checks the whole configuration; a failure means the new file is taken back.
    pub test_command: String,
    /// `None`: the file is written and tested, and reloading is left to the operator.
    pub reload_command: Option<String>,
}

/// A site's nginx server block (`nginx = true`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NginxSite {
    pub listen: Listen,
    /// What serves the requests (`kind`), with what that kind needs.
    pub kind: SiteKind,
    /// The served folder inside the release (`web_root`, `public` unless set); a plain relative
    /// path. A proxy site's built-in server block serves no files.
    pub web_root: String,
    /// The site's own template (`nginx_template`), read when the config was loaded.
    pub template: Option<NginxTemplate>,
    /// `nginx_directives`: extra lines for the server block, each checked to be whole.
    pub directives: Vec<String>,
    /// `ssl_certificate` and `ssl_certificate_key`: the site is served over TLS.
    pub tls: Option<Tls>,
    /// Where the server block writes its access log (`access_log`; read by the watch).
    pub access_log: String,
}

impl NginxSite {
    /// The PHP-FPM socket nginx passes requests to; only a PHP site has one.
    pub fn php_fpm_socket(&self) -> Option<&str> {
        match &self.kind {
            SiteKind::Php { php_fpm_socket } => Some(php_fpm_socket),
            _ => None,
        }
    }
}

/// `kind`: how nginx serves the site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SiteKind {
    /// PHP behind PHP-FPM (the default).
    Php { php_fpm_socket: String },
    /// Files only: nginx serves the release's `web_root`.
    Static,
    /// A service of the release: nginx proxies to `upstream` (one or more addresses).
    Proxy { upstream: Vec<Upstream> },
}

impl SiteKind {
    pub fn name(&self) -> &'static str {
        match self {
            SiteKind::Php { .. } => "php",
            SiteKind::Static => "static",
            SiteKind::Proxy { .. } => "proxy",
        }
    }
}

/// One address of a proxy site's service, as nginx's `server` takes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Upstream {
    /// `host:port`, the host an IP address (IPv6 in brackets) or a DNS name.
    Tcp(String),
    /// `unix:/path`: the socket's absolute path.
    Unix(String),
}

impl std::fmt::Display for Upstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Upstream::Tcp(a) => write!(f, "{a}"),
            Upstream::Unix(p) => write!(f, "unix:{p}"),
        }
    }
}

/// A site's own nginx template: where it was read from (as written in the config) and its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NginxTemplate {
    pub path: String,
    pub text: String,
}

/// TLS for a site: the certificate files on the server, and the port that serves it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tls {
    pub certificate: String,
    pub certificate_key: String,
    /// `ssl_listen`, 443 unless set; `listen` then only redirects to it.
    pub listen: Listen,
}

/// nginx's `listen`: a port on every address, or one address and port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listen {
    Port(u16),
    Addr(SocketAddr),
}

impl Listen {
    pub fn port(&self) -> u16 {
        match self {
            Listen::Port(p) => *p,
            Listen::Addr(a) => a.port(),
        }
    }
}

impl std::fmt::Display for Listen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Listen::Port(p) => write!(f, "{p}"),
            Listen::Addr(a) => write!(f, "{a}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthCheck {
    pub probe: Probe,
    /// Per attempt, in seconds.
    pub timeout_s: u32,
    /// How many attempts before the check fails (1 = no retry).
    pub retries: u32,
    /// Pause between attempts, in seconds.
    pub interval_s: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    /// An HTTP request made on the server (curl, else wget).
    Url { url: String, expect_status: u16 },
    /// A shell command run on the server, in the live release; exit 0 = healthy.
    Command(String),
}

#[cfg(test)]
mod tests;
