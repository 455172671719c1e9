//! The checks of the web-server keys: how a server's nginx is tested and reloaded, a site's nginx
//! server block, the PHP-FPM paths, and the per-site health check.

use super::Check;
use crate::config::raw::{RawHealthCheck, RawServer, RawSite};
use crate::config::{
    DEFAULT_NGINX_RELOAD, DEFAULT_NGINX_SITES_DIR, DEFAULT_NGINX_TEST, HealthCheck, Listen,
    NginxServer, NginxSite, Probe,
};
use crate::error::Result;
use crate::validate;
use std::net::SocketAddr;
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

    /// A site's server block (`nginx = true`): `listen` and the PHP-FPM socket, which defaults
    /// from the server's `php_version` and is required without one.
    pub(super) fn nginx_site(
        &self,
        at: &str,
        site: &RawSite,
        php_version: Option<&str>,
    ) -> Result<NginxSite> {
        let listen = match &site.listen {
            Some(l) => parse_listen(l.get_ref()).ok_or_else(|| {
                self.err(
                    l.span(),
                    &format!("{at}.listen"),
                    "must be a port (80) or an address with a port (\"127.0.0.1:8080\", \"[::1]:8080\")",
                )
            })?,
            None => Listen::Port(80),
        };
        let socket_key = format!("{at}.php_fpm_socket");
        let php_fpm_socket = match (&site.php_fpm_socket, php_version) {
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
                     (e.g. \"/run/php/php8.3-fpm.sock\")",
                ));
            }
        };
        Ok(NginxSite {
            listen,
            php_fpm_socket,
        })
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
