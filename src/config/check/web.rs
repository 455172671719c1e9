//! The checks of the web-server keys: how a server's nginx is tested and reloaded, a site's nginx
//! server block (its kind, template, directives and TLS), the PHP-FPM paths, and the per-site
//! health check.

use super::Check;
use crate::config::nginx_template;
use crate::config::raw::{RawHealthCheck, RawServer, RawSite};
use crate::config::{
    DEFAULT_NGINX_RELOAD, DEFAULT_NGINX_SITES_DIR, DEFAULT_NGINX_TEST, HealthCheck, Listen,
    NginxServer, NginxSite, NginxTemplate, Probe, SiteKind, Tls, Upstream,
};
use crate::error::Result;
use crate::validate;
use std::net::SocketAddr;
use std::path::Path;
use toml::Spanned;

impl Check<'_> {
    /// The server's `nginx_*` keys. An empty test command is refused: nginx is reloaded only
    /// after its configuration passed the test.
    pub(super) fn nginx_server(&self, at: &str, s: &RawServer) -> Result<NginxServer> {
        let sites_dir = match &s.nginx_sites_dir {
            Some(d) => {
                self.valid(
                    Some(d),
                    &format!("{at}.nginx_sites_dir"),
                    validate::root_path,
                )?;
                d.get_ref().trim_end_matches('/').to_string()
            }
            None => DEFAULT_NGINX_SITES_DIR.to_string(),
        };
        let test_command = match &s.nginx_test_command {
            Some(t) if t.get_ref().trim().is_empty() => {
                return Err(self.err(
                    t.span(),
                    &format!("{at}.nginx_test_command"),
                    "cannot be empty: an untested nginx config is never reloaded",
                ));
            }
            Some(t) => t.get_ref().clone(),
            None => DEFAULT_NGINX_TEST.to_string(),
        };
        let reload_command = match s.nginx_reload_command.as_deref() {
            Some(c) if c.trim().is_empty() => None,
            Some(c) => Some(c.to_string()),
            None => Some(DEFAULT_NGINX_RELOAD.to_string()),
        };
        Ok(NginxServer {
            sites_dir,
            test_command,
            reload_command,
        })
    }

    /// The PHP-FPM main config: as configured, else Debian's path for `php_version`.
    pub(super) fn php_fpm_config(
        &self,
        at: &str,
        path: Option<&Spanned<String>>,
        php_version: Option<&str>,
    ) -> Result<Option<String>> {
        self.valid(path, &format!("{at}.php_fpm_config"), validate::root_path)?;
        Ok(match (path, php_version) {
            (Some(p), _) => Some(p.get_ref().clone()),
            (None, Some(v)) => Some(format!("/etc/php/{v}/fpm/php-fpm.conf")),
            (None, None) => None,
        })
    }

    /// A site's server block (`nginx = true`): `listen`, the kind and what it needs (the PHP-FPM
    /// socket, which defaults from the server's `php_version`; a proxy's `upstream`), the served
    /// folder, the site's own template and directives, and TLS.
    pub(super) fn nginx_site(
        &self,
        at: &str,
        site: &RawSite,
        php_version: Option<&str>,
    ) -> Result<NginxSite> {
        let listen = self.listen(&format!("{at}.listen"), site.listen.as_ref())?;
        let kind_name = site.kind.as_ref().map_or("php", |k| k.get_ref().as_str());
        let kind_key = format!("{at}.kind");
        if let Some(k) = site
            .kind
            .as_ref()
            .filter(|_| !matches!(kind_name, "php" | "static" | "proxy"))
        {
            return Err(self.err(
                k.span(),
                &kind_key,
                "must be \"php\" (PHP-FPM), \"static\" (files) or \"proxy\" (a service)",
            ));
        }
        let socket_key = format!("{at}.php_fpm_socket");
        let not_for = |key: &str, span: std::ops::Range<usize>, why: &str| {
            self.err(span, &format!("{at}.{key}"), why)
        };
        if kind_name != "proxy"
            && let Some(u) = &site.upstream
        {
            return Err(not_for(
                "upstream",
                u.span(),
                &format!(
                    "applies to kind = \"proxy\" only (this site is kind \"{kind_name}\", \
                     served by {})",
                    if kind_name == "static" {
                        "nginx from its files"
                    } else {
                        "PHP-FPM"
                    }
                ),
            ));
        }
        if kind_name != "php"
            && let Some(s) = &site.php_fpm_socket
        {
            return Err(not_for(
                "php_fpm_socket",
                s.span(),
                &format!("applies to kind = \"php\" only: a {kind_name} site has no PHP-FPM"),
            ));
        }
        let kind = match kind_name {
            "php" => SiteKind::Php {
                php_fpm_socket: match (&site.php_fpm_socket, php_version) {
                    (Some(s), _) => {
                        self.valid(Some(s), &socket_key, validate::nginx_path)?;
                        s.get_ref().clone()
                    }
                    (None, Some(v)) => format!("/run/php/php{v}-fpm.sock"),
                    (None, None) => {
                        return Err(self.err(
                            site.domain.span(),
                            &socket_key,
                            "is required for nginx = true when the server has no php_version \
                             (e.g. \"/run/php/php8.3-fpm.sock\"); a site without PHP is \
                             kind = \"static\" or \"proxy\"",
                        ));
                    }
                },
            },
            "static" => SiteKind::Static,
            "proxy" => {
                let Some(u) = &site.upstream else {
                    return Err(self.err(
                        site.kind.as_ref().expect("proxy is set").span(),
                        &kind_key,
                        "= \"proxy\" needs upstream = \"127.0.0.1:3000\" (or \
                         \"unix:/run/app.sock\"): where the site's service listens",
                    ));
                };
                let key = format!("{at}.upstream");
                let list = u.get_ref().to_vec();
                if list.is_empty() {
                    return Err(self.err(u.span(), &key, "must name at least one address"));
                }
                let mut upstream = Vec::new();
                for e in &list {
                    let a = parse_upstream(e)
                        .map_err(|why| self.err(u.span(), &key, &format!("entry {e:?} {why}")))?;
                    if upstream.contains(&a) {
                        return Err(self.err(u.span(), &key, &format!("names {e:?} twice")));
                    }
                    upstream.push(a);
                }
                SiteKind::Proxy { upstream }
            }
            _ => unreachable!("checked above"),
        };
        let web_root = match &site.web_root {
            Some(w) if kind_name == "proxy" && site.nginx_template.is_none() => {
                return Err(not_for(
                    "web_root",
                    w.span(),
                    "has no effect on a proxy site's built-in server block, which serves no \
                     files; use it in your own nginx_template as {{root}}",
                ));
            }
            Some(w) => {
                let key = format!("{at}.web_root");
                self.valid(Some(w), &key, web_root)?;
                w.get_ref().trim_end_matches('/').to_string()
            }
            None => "public".to_string(),
        };
        let directives = match &site.nginx_directives {
            Some(d) => {
                let list = d.get_ref().to_vec();
                for e in &list {
                    nginx_template::directive(e).map_err(|why| {
                        self.err(
                            d.span(),
                            &format!("{at}.nginx_directives"),
                            &format!("entry {e:?} {why}"),
                        )
                    })?;
                }
                list
            }
            None => Vec::new(),
        };
        let tls = self.tls(at, site, listen)?;
        let mut out = NginxSite {
            listen,
            kind,
            web_root,
            template: None,
            directives,
            tls,
            access_log: self.access_log(at, site)?,
        };
        if let Some(t) = &site.nginx_template {
            out.template = Some(self.template(&format!("{at}.nginx_template"), t, &out)?);
        }
        Ok(out)
    }

    /// `listen` or `ssl_listen`: a port or an address with a port.
    fn listen(&self, key: &str, value: Option<&Spanned<toml::Value>>) -> Result<Listen> {
        match value {
            Some(l) => parse_listen(l.get_ref()).ok_or_else(|| {
                self.err(
                    l.span(),
                    key,
                    "must be a port (80) or an address with a port (\"127.0.0.1:8080\", \"[::1]:8080\")",
                )
            }),
            None => Ok(Listen::Port(80)),
        }
    }

    /// `ssl_certificate` and `ssl_certificate_key` (both or neither), and `ssl_listen`.
    fn tls(&self, at: &str, site: &RawSite, listen: Listen) -> Result<Option<Tls>> {
        let key = |k: &str| format!("{at}.{k}");
        for (k, v) in [
            ("ssl_certificate", &site.ssl_certificate),
            ("ssl_certificate_key", &site.ssl_certificate_key),
        ] {
            self.valid(v.as_ref(), &key(k), validate::nginx_path)?;
        }
        match (&site.ssl_certificate, &site.ssl_certificate_key) {
            (Some(c), Some(k)) => {
                let ssl_listen = match &site.ssl_listen {
                    Some(_) => self.listen(&key("ssl_listen"), site.ssl_listen.as_ref())?,
                    None => Listen::Port(443),
                };
                if ssl_listen.port() == listen.port() {
                    let span = site.ssl_listen.as_ref().map_or(c.span(), |l| l.span());
                    return Err(self.err(
                        span,
                        &key("ssl_listen"),
                        &format!(
                            "is on port {}, which listen already redirects from: give them \
                             different ports",
                            listen.port()
                        ),
                    ));
                }
                Ok(Some(Tls {
                    certificate: c.get_ref().clone(),
                    certificate_key: k.get_ref().clone(),
                    listen: ssl_listen,
                }))
            }
            (Some(c), None) => Err(self.err(
                c.span(),
                &key("ssl_certificate"),
                "needs ssl_certificate_key, the certificate's private key on the server",
            )),
            (None, Some(k)) => Err(self.err(
                k.span(),
                &key("ssl_certificate_key"),
                "needs ssl_certificate, the certificate (chain) on the server",
            )),
            (None, None) => match &site.ssl_listen {
                Some(l) => Err(self.err(
                    l.span(),
                    &key("ssl_listen"),
                    "needs ssl_certificate and ssl_certificate_key",
                )),
                None => Ok(None),
            },
        }
    }

    /// `nginx_template`: a file on this machine (`~/` is the home directory, a relative path is
    /// relative to the config file's folder), read now and checked against the site.
    fn template(
        &self,
        key: &str,
        path: &Spanned<String>,
        site: &NginxSite,
    ) -> Result<NginxTemplate> {
        let p = path.get_ref();
        let file = match p.strip_prefix("~/") {
            Some(rest) => crate::paths::home_dir().join(rest),
            None => match self.path.parent() {
                Some(dir) => dir.join(p),
                None => Path::new(p).to_path_buf(),
            },
        };
        let bad = |why: String| self.err(path.span(), key, &why);
        let meta = std::fs::metadata(&file)
            .map_err(|e| bad(format!("cannot be read: {}: {e}", file.display())))?;
        if meta.len() > 1 << 20 {
            return Err(bad(format!("{} is larger than 1 MiB", file.display())));
        }
        let text = std::fs::read_to_string(&file)
            .map_err(|e| bad(format!("cannot be read: {}: {e}", file.display())))?;
        nginx_template::check(&text, site)
            .map_err(|why| bad(format!("{} {why}", file.display())))?;
        Ok(NginxTemplate {
            path: p.clone(),
            text,
        })
    }

    /// The keys of a server block on a site without one: refused, since nothing would read them.
    pub(super) fn no_nginx_keys(&self, at: &str, site: &RawSite) -> Result<()> {
        let spans = [
            ("kind", site.kind.as_ref().map(|v| v.span())),
            ("web_root", site.web_root.as_ref().map(|v| v.span())),
            ("upstream", site.upstream.as_ref().map(|v| v.span())),
            (
                "nginx_template",
                site.nginx_template.as_ref().map(|v| v.span()),
            ),
            (
                "nginx_directives",
                site.nginx_directives.as_ref().map(|v| v.span()),
            ),
            (
                "ssl_certificate",
                site.ssl_certificate.as_ref().map(|v| v.span()),
            ),
            (
                "ssl_certificate_key",
                site.ssl_certificate_key.as_ref().map(|v| v.span()),
            ),
            ("ssl_listen", site.ssl_listen.as_ref().map(|v| v.span())),
        ];
        match spans.into_iter().find_map(|(k, s)| s.map(|s| (k, s))) {
            Some((k, span)) => Err(self.err(
                span,
                &format!("{at}.{k}"),
                "describes the nginx server block flipdeck writes: set nginx = true",
            )),
            None => Ok(()),
        }
    }

    /// `health_check = { ... }`: exactly one of `url` and `command`, and the attempt numbers in
    /// range. Every error is at the table's line and names the key inside it.
    pub(super) fn health_check(
        &self,
        at: &str,
        raw: &Spanned<RawHealthCheck>,
    ) -> Result<HealthCheck> {
        let key = format!("{at}.health_check");
        let bad = |why: &str| self.err(raw.span(), &key, why);
        let h = raw.get_ref();
        let int = |v: Option<i64>, name: &str, lo: i64, hi: i64, default: i64| -> Result<i64> {
            match v {
                Some(n) if n < lo || n > hi => Err(bad(&format!(
                    "{name} must be a whole number from {lo} to {hi}"
                ))),
                Some(n) => Ok(n),
                None => Ok(default),
            }
        };
        let probe = match (&h.url, &h.command) {
            (Some(url), None) => {
                validate::health_url(url).map_err(|w| bad(&format!("url {w}")))?;
                let expect_status = int(h.expect_status, "expect_status", 100, 599, 200)? as u16;
                Probe::Url {
                    url: url.clone(),
                    expect_status,
                }
            }
            (None, Some(cmd)) if !cmd.trim().is_empty() => {
                if h.expect_status.is_some() {
                    return Err(bad(
                        "expect_status applies to a url check, not to a command",
                    ));
                }
                Probe::Command(cmd.clone())
            }
            (None, Some(_)) => return Err(bad("command cannot be empty")),
            _ => {
                return Err(bad(
                    "needs exactly one of url = \"http://...\" or command = \"...\"",
                ));
            }
        };
        Ok(HealthCheck {
            probe,
            timeout_s: int(h.timeout_s, "timeout_s", 1, 300, 5)? as u32,
            retries: int(h.retries, "retries", 1, 20, 3)? as u32,
            interval_s: int(h.interval_s, "interval_s", 0, 60, 1)? as u32,
        })
    }
}

/// `web_root`: a folder inside the release, as a relative path nginx reads literally. The
/// release's top is refused: it holds `deployment.log`, which must never be served.
fn web_root(s: &str) -> Result<(), String> {
    let t = s.trim_end_matches('/');
    let ok = !t.is_empty()
        && !t.starts_with('/')
        && t.len() <= 255
        && t.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'/' | b'.' | b'_' | b'-' | b'+' | b'@')
        })
        && t.split('/').all(|c| !c.is_empty() && c != "." && c != "..");
    if ok {
        Ok(())
    } else {
        Err(
            "must be a folder inside the release, as a relative path of letters, digits and \
             '/', '.', '_', '-', '+', '@' (e.g. \"public\" or \"dist\"); not the release's top, \
             which holds deployment.log"
                .into(),
        )
    }
}

/// One `upstream` entry: `host:port` (an IP address, IPv6 in brackets, or a DNS name) or
/// `unix:/path`.
fn parse_upstream(s: &str) -> Result<Upstream, String> {
    const WHAT: &str = "must be host:port (\"127.0.0.1:3000\", \"[::1]:3000\", \
                        \"app.internal:3000\") or unix:/absolute/path";
    if let Some(path) = s.strip_prefix("unix:") {
        validate::nginx_path(path).map_err(|w| format!("has a socket path that {w}"))?;
        return Ok(Upstream::Unix(path.to_string()));
    }
    if let Ok(a) = s.parse::<SocketAddr>() {
        return if a.port() == 0 {
            Err(format!("{WHAT}, with a port from 1 to 65535"))
        } else {
            Ok(Upstream::Tcp(a.to_string()))
        };
    }
    let (host, port) = s.rsplit_once(':').ok_or_else(|| WHAT.to_string())?;
    let port_ok = port.parse::<u16>().is_ok_and(|p| p > 0) && !port.starts_with('+');
    if !port_ok || validate::domain(host).is_err() || host.parse::<std::net::IpAddr>().is_ok() {
        return Err(WHAT.to_string());
    }
    Ok(Upstream::Tcp(format!("{host}:{port}")))
}

/// `listen` as a port (an integer or a numeric string) or an address with a port; port 0 is
/// refused in either form.
fn parse_listen(v: &toml::Value) -> Option<Listen> {
    match v {
        toml::Value::Integer(p) => u16::try_from(*p).ok().filter(|p| *p > 0).map(Listen::Port),
        toml::Value::String(s) => match s.parse::<u16>() {
            Ok(p) if p > 0 => Some(Listen::Port(p)),
            Ok(_) => None,
            Err(_) => s
                .parse::<SocketAddr>()
                .ok()
                .filter(|a| a.port() > 0)
                .map(Listen::Addr),
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests;
