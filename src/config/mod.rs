//! The TOML configuration: servers and their sites. Parsing is strict (unknown keys are errors) and
//! every error names the file, the line and what is expected.

mod web;

pub use web::{HealthCheck, Listen, NginxServer, NginxSite, Probe};

use crate::error::{Error, Result};
use crate::validate;
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Duration;
use toml::Spanned;

pub const DEFAULT_SCRIPT: &str = "git fetch && git pull";
pub const DEFAULT_SHARED: [&str; 4] = ["storage", ".env", "vendor", "node_modules"];
pub const DEFAULT_KEEP: u32 = 14;

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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    servers: Vec<RawServer>,
    /// Regular expressions hidden in script output; `[]` turns redaction off.
    redact: Option<Spanned<Vec<String>>>,
    /// How many servers a command works on at once.
    parallel: Option<Spanned<i64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawServer {
    name: Spanned<String>,
    #[serde(default)]
    transport: Option<TransportKind>,
    root: Option<Spanned<String>>,
    php_version: Option<Spanned<String>>,
    reload_command: Option<String>,
    host: Option<Spanned<String>>,
    port: Option<u16>,
    user: Option<Spanned<String>>,
    identity_file: Option<PathBuf>,
    known_hosts_file: Option<PathBuf>,
    host_key_policy: Option<HostKeyPolicy>,
    connect_timeout_s: Option<Spanned<u64>>,
    php_fpm_config: Option<Spanned<String>>,
    nginx_sites_dir: Option<Spanned<String>>,
    nginx_test_command: Option<Spanned<String>>,
    nginx_reload_command: Option<String>,
    #[serde(default)]
    sites: Vec<RawSite>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSite {
    domain: Spanned<String>,
    repository: Option<Spanned<String>>,
    branch: Option<Spanned<String>>,
    deployment_script: Option<String>,
    shared: Option<Spanned<Vec<String>>>,
    keep: Option<Spanned<i64>>,
    nginx: Option<bool>,
    listen: Option<Spanned<toml::Value>>,
    php_fpm_socket: Option<Spanned<String>>,
    health_check: Option<Spanned<web::RawHealthCheck>>,
}

/// A validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub path: PathBuf,
    pub servers: Vec<ServerConfig>,
    /// Secrets hidden from script output (the built-in patterns unless `redact` is set).
    pub redactor: crate::redact::Redactor,
    /// How many servers a command for a bare domain works on at once (`parallel`, default 10).
    pub parallel: usize,
}

#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub name: String,
    pub transport: TransportKind,
    /// `None` for SSH servers without an explicit root: the login user's home.
    pub root: Option<String>,
    /// The command run after a switch; `None` = no reload.
    pub reload_command: Option<String>,
    /// The PHP-FPM main config, read by `provision` to warn about reloads that cut requests.
    pub php_fpm_config: Option<String>,
    pub nginx: NginxServer,
    pub ssh: SshConfig,
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
    pub connect_timeout: Duration,
}

#[derive(Debug, Clone)]
pub struct SiteConfig {
    pub domain: String,
    pub repository: Option<String>,
    pub branch: String,
    pub deployment_script: String,
    pub shared: Vec<String>,
    pub keep: u32,
    /// `Some` when `provision` writes an nginx server block for the site.
    pub nginx: Option<NginxSite>,
    pub health_check: Option<HealthCheck>,
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
}

// Kept here too so `config::default_db_path()` and the like still resolve; they live in `paths`.
pub use crate::paths::{default_config_path, default_db_path, home_dir};

impl Config {
    pub fn load(path: &Path) -> Result<Config> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::usage(format!(
                "cannot read config {}: {e}; create one with `flipdeck init` or pass --config FILE",
                path.display()
            ))
        })?;
        Config::parse(&text, path)
    }

    pub fn parse(text: &str, path: &Path) -> Result<Config> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| {
            let line = e.span().map(|s| line_of(text, s.start));
            let what = e.message().trim_end().replace('\n', " ");
            match line {
                Some(l) => {
                    // The offending line itself shows which key is meant.
                    let src = text.lines().nth(l - 1).unwrap_or("").trim();
                    Error::config(path, Some(l), format!(" (`{src}`): {what}"))
                }
                None => Error::config(path, None, format!(": {what}")),
            }
        })?;
        let err = |span: std::ops::Range<usize>, key: &str, why: &str| {
            Error::config(
                path,
                Some(line_of(text, span.start)),
                format!(": {key} {why}"),
            )
        };
        let mut servers: Vec<ServerConfig> = Vec::new();
        for (i, s) in raw.servers.into_iter().enumerate() {
            let at = format!("servers[{i}]");
            validate::server_name(s.name.get_ref())
                .map_err(|w| err(s.name.span(), &format!("{at}.name"), &w))?;
            if servers.iter().any(|o| &o.name == s.name.get_ref()) {
                return Err(err(s.name.span(), &format!("{at}.name"), "is used twice"));
            }
            let transport = s.transport.unwrap_or(TransportKind::Ssh);
            let root = match &s.root {
                Some(r) => {
                    validate::root_path(r.get_ref())
                        .map_err(|w| err(r.span(), &format!("{at}.root"), &w))?;
                    Some(r.get_ref().trim_end_matches('/').to_string())
                        .map(|r| if r.is_empty() { "/".to_string() } else { r })
                }
                None if transport == TransportKind::Local => {
                    return Err(err(
                        s.name.span(),
                        &format!("{at}.root"),
                        "is required for transport = \"local\" (an absolute path)",
                    ));
                }
                None => None,
            };
            if transport == TransportKind::Ssh && s.host.is_none() {
                return Err(err(
                    s.name.span(),
                    &format!("{at}.host"),
                    "is required for transport = \"ssh\" (a host name, address or ~/.ssh/config alias)",
                ));
            }
            if let Some(h) = &s.host {
                let v = h.get_ref();
                if v.is_empty()
                    || v.starts_with('-')
                    || v.chars().any(|c| c.is_whitespace() || c.is_control())
                {
                    return Err(err(
                        h.span(),
                        &format!("{at}.host"),
                        "must be a host name or address",
                    ));
                }
            }
            if let Some(u) = &s.user {
                let v = u.get_ref();
                if v.is_empty()
                    || v.starts_with('-')
                    || !v
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
                {
                    return Err(err(
                        u.span(),
                        &format!("{at}.user"),
                        "must be a user name (letters, digits, '.', '_', '-')",
                    ));
                }
            }
            if let Some(v) = &s.php_version {
                validate::php_version(v.get_ref())
                    .map_err(|w| err(v.span(), &format!("{at}.php_version"), &w))?;
            }
            let reload_command = match (&s.reload_command, &s.php_version) {
                (Some(c), _) if c.trim().is_empty() => None,
                (Some(c), _) => Some(c.clone()),
                (None, Some(v)) => Some(format!("sudo service php{}-fpm reload", v.get_ref())),
                (None, None) => None,
            };
            let connect_timeout = match &s.connect_timeout_s {
                Some(t) if *t.get_ref() == 0 || *t.get_ref() > 600 => {
                    return Err(err(
                        t.span(),
                        &format!("{at}.connect_timeout_s"),
                        "must be 1 to 600 seconds",
                    ));
                }
                Some(t) => Duration::from_secs(*t.get_ref()),
                None => Duration::from_secs(10),
            };
            let nginx = web::nginx_server(
                s.nginx_sites_dir.as_ref(),
                s.nginx_test_command.as_ref(),
                s.nginx_reload_command.as_deref(),
                &at,
                &err,
            )?;
            let php_version = s.php_version.as_ref().map(|v| v.get_ref().as_str());
            let php_fpm_config =
                web::php_fpm_config(s.php_fpm_config.as_ref(), php_version, &at, &err)?;
            let mut sites: Vec<SiteConfig> = Vec::new();
            for (j, site) in s.sites.into_iter().enumerate() {
                let at = format!("{at}.sites[{j}]");
                let d = site.domain.get_ref();
                validate::domain(d)
                    .map_err(|w| err(site.domain.span(), &format!("{at}.domain"), &w))?;
                if sites.iter().any(|o| &o.domain == d) {
                    return Err(err(
                        site.domain.span(),
                        &format!("{at}.domain"),
                        "is configured twice on this server",
                    ));
                }
                if let Some(r) = &site.repository {
                    validate::repository(r.get_ref())
                        .map_err(|w| err(r.span(), &format!("{at}.repository"), &w))?;
                }
                if let Some(b) = &site.branch {
                    validate::branch(b.get_ref())
                        .map_err(|w| err(b.span(), &format!("{at}.branch"), &w))?;
                }
                let shared = match &site.shared {
                    Some(list) => {
                        for e in list.get_ref() {
                            validate::shared_entry(e).map_err(|w| {
                                err(
                                    list.span(),
                                    &format!("{at}.shared"),
                                    &format!("entry {e:?} {w}"),
                                )
                            })?;
                        }
                        list.get_ref().clone()
                    }
                    None => DEFAULT_SHARED.iter().map(|s| s.to_string()).collect(),
                };
                let keep = match &site.keep {
                    Some(k) if *k.get_ref() < 1 || *k.get_ref() > 10_000 => {
                        return Err(err(
                            k.span(),
                            &format!("{at}.keep"),
                            "must be a whole number from 1 to 10000",
                        ));
                    }
                    Some(k) => *k.get_ref() as u32,
                    None => DEFAULT_KEEP,
                };
                let site_nginx = match site.nginx {
                    Some(true) => Some(web::nginx_site(
                        site.listen.as_ref(),
                        site.php_fpm_socket.as_ref(),
                        php_version,
                        &site.domain,
                        &at,
                        &err,
                    )?),
                    _ => None,
                };
                let health_check = match &site.health_check {
                    Some(h) => Some(web::health_check(h, &at, &err)?),
                    None => None,
                };
                sites.push(SiteConfig {
                    domain: d.clone(),
                    repository: site.repository.map(|r| r.into_inner()),
                    branch: site
                        .branch
                        .map_or_else(|| "main".to_string(), |b| b.into_inner()),
                    deployment_script: site
                        .deployment_script
                        .unwrap_or_else(|| DEFAULT_SCRIPT.to_string()),
                    shared,
                    keep,
                    nginx: site_nginx,
                    health_check,
                });
            }
            servers.push(ServerConfig {
                name: s.name.into_inner(),
                transport,
                root,
                reload_command,
                php_fpm_config,
                nginx,
                ssh: SshConfig {
                    host: s.host.map(|h| h.into_inner()),
                    port: s.port,
                    user: s.user.map(|u| u.into_inner()),
                    identity_file: s.identity_file,
                    known_hosts_file: s.known_hosts_file,
                    host_key_policy: s.host_key_policy.unwrap_or(HostKeyPolicy::Strict),
                    connect_timeout,
                },
                sites,
            });
        }
        let redactor = match &raw.redact {
            None => crate::redact::Redactor::default(),
            Some(list) => crate::redact::Redactor::from_patterns(list.get_ref())
                .map_err(|w| err(list.span(), "redact", &w))?,
        };
        let parallel = match &raw.parallel {
            Some(p) if !(1..=100).contains(p.get_ref()) => {
                return Err(err(
                    p.span(),
                    "parallel",
                    "must be a whole number from 1 to 100",
                ));
            }
            Some(p) => *p.get_ref() as usize,
            None => 10,
        };
        Ok(Config {
            path: path.to_path_buf(),
            servers,
            redactor,
            parallel,
        })
    }

    pub fn sites(&self) -> impl Iterator<Item = SiteRef<'_>> {
        self.servers.iter().flat_map(|server| {
            server
                .sites
                .iter()
                .map(move |site| SiteRef { server, site })
        })
    }

    /// Resolves `SERVER/DOMAIN` to its site, or a bare `DOMAIN` to every server's site of that
    /// name (a fleet).
    pub fn find_sites(&self, spec: &str) -> Result<Vec<SiteRef<'_>>> {
        let matches: Vec<SiteRef<'_>> = match spec.split_once('/') {
            Some((server, domain)) => self
                .sites()
                .filter(|s| s.server.name == server && s.site.domain == domain)
                .collect(),
            None => self.sites().filter(|s| s.site.domain == spec).collect(),
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

/// 1-based line number of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())]
        .bytes()
        .filter(|&b| b == b'\n')
        .count()
        + 1
}

impl SiteConfig {
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

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = r#"
[[servers]]
name = "web1"
transport = "local"            # "ssh" (default; next issue) or "local"
root = "/srv/flip"             # ssh default: the login user's home; required for local
php_version = "8.3"            # optional: reload = "sudo service php8.3-fpm reload"
# reload_command = "..."       # optional, overrides the above; "" = no reload

[[servers.sites]]
domain = "example.com"
repository = "/srv/repos/app.git"   # git URL, scp-like address or absolute path
branch = "main"
deployment_script = "git fetch && git pull"          # the spec's default
shared = ["storage", ".env", "vendor", "node_modules"] # the spec's default
keep = 14                                              # the spec's default
"#;

    fn parse(t: &str) -> Result<Config> {
        Config::parse(t, Path::new("/etc/f.toml"))
    }

    #[test]
    fn the_issue_example_parses() {
        let c = parse(EXAMPLE).unwrap();
        let s = &c.servers[0];
        assert_eq!(s.transport, TransportKind::Local);
        assert_eq!(s.root.as_deref(), Some("/srv/flip"));
        assert_eq!(
            s.reload_command.as_deref(),
            Some("sudo service php8.3-fpm reload")
        );
        assert_eq!(s.sites[0].keep, 14);
        assert_eq!(s.sites[0].shared, DEFAULT_SHARED);
        assert_eq!(c.find_site("web1/example.com").unwrap().site.branch, "main");
    }

    #[test]
    fn errors_name_file_line_and_expectation() {
        let bad = EXAMPLE.replace("domain = \"example.com\"", "domain = \"exa mple.com\"");
        let e = parse(&bad).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(
            e.to_string().contains("/etc/f.toml line 10"),
            "{}",
            e.to_string()
        );
        assert!(
            e.to_string().contains("servers[0].sites[0].domain"),
            "{}",
            e.to_string()
        );

        let e = parse(&EXAMPLE.replace("keep = 14", "keep = 14\nkept = 3")).unwrap_err();
        assert!(
            e.to_string().contains("line 16") && e.to_string().contains("kept"),
            "{}",
            e.to_string()
        );

        let e = parse(&EXAMPLE.replace("keep = 14", "keep = 0")).unwrap_err();
        assert!(e.to_string().contains("keep must be"), "{}", e.to_string());

        let e = parse(&EXAMPLE.replace("root = \"/srv/flip\"", "")).unwrap_err();
        assert!(
            e.to_string().contains("root is required"),
            "{}",
            e.to_string()
        );

        let e = parse(&EXAMPLE.replace("branch = \"main\"", "branch = \"a..b\"")).unwrap_err();
        assert!(e.to_string().contains("branch"), "{}", e.to_string());
        let e =
            parse(&EXAMPLE.replace("\"/srv/repos/app.git\"", "\"--upload-pack=x\"")).unwrap_err();
        assert!(e.to_string().contains("repository"), "{}", e.to_string());
        let e = parse("[[servers]]\nname = 3\n").unwrap_err();
        assert!(e.to_string().contains("line 2"), "{}", e.to_string());
    }

    #[test]
    fn defaults_and_ambiguity() {
        let t = r#"
[[servers]]
name = "a"
transport = "local"
root = "/r1/"
reload_command = ""
[[servers.sites]]
domain = "x.com"
[[servers]]
name = "b"
host = "127.0.0.1"
[[servers.sites]]
domain = "x.com"
"#;
        let c = parse(t).unwrap();
        assert_eq!(c.servers[0].root.as_deref(), Some("/r1"));
        assert_eq!(c.servers[0].reload_command, None);
        assert_eq!(c.servers[1].transport, TransportKind::Ssh);
        assert_eq!(c.servers[1].sites[0].deployment_script, DEFAULT_SCRIPT);
        let e = c.find_site("x.com").unwrap_err();
        assert!(e.to_string().contains("a/x.com") && e.to_string().contains("b/x.com"));
        assert_eq!(e.exit_code(), 2);
        assert!(c.find_site("b/x.com").is_ok());
        assert!(c.find_site("nope.com").is_err());
    }

    #[test]
    fn shared_kinds() {
        assert!(SiteConfig::shared_is_file(".env"));
        assert!(SiteConfig::shared_is_file("config/app.php"));
        assert!(!SiteConfig::shared_is_file("storage"));
        assert!(!SiteConfig::shared_is_file("public/v1.2/"));
    }
}
