//! The web-server keys: nginx (per server: how its nginx is tested and reloaded; per site: the
//! server block), PHP-FPM, and the per-site health check.

use crate::error::{Error, Result};
use crate::validate;
use serde::Deserialize;
use std::net::SocketAddr;
use std::ops::Range;
use toml::Spanned;

pub const DEFAULT_NGINX_SITES_DIR: &str = "/etc/nginx/sites-enabled";
pub const DEFAULT_NGINX_TEST: &str = "sudo nginx -t";
pub const DEFAULT_NGINX_RELOAD: &str = "sudo nginx -s reload";

/// Builds a config error from a span, the key's path and what is expected.
pub(super) type ErrFn<'a> = dyn Fn(Range<usize>, &str, &str) -> Error + 'a;

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
    pub php_fpm_socket: String,
}

/// nginx's `listen`: a port on every address, or one address and port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listen {
    Port(u16),
    Addr(SocketAddr),
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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawHealthCheck {
    url: Option<String>,
    command: Option<String>,
    expect_status: Option<i64>,
    timeout_s: Option<i64>,
    retries: Option<i64>,
    interval_s: Option<i64>,
}

pub(super) fn nginx_server(
    sites_dir: Option<&Spanned<String>>,
    test: Option<&Spanned<String>>,
    reload: Option<&str>,
    at: &str,
    err: &ErrFn<'_>,
) -> Result<NginxServer> {
    let sites_dir = match sites_dir {
        Some(d) => {
            validate::root_path(d.get_ref())
                .map_err(|w| err(d.span(), &format!("{at}.nginx_sites_dir"), &w))?;
            d.get_ref().trim_end_matches('/').to_string()
        }
        None => DEFAULT_NGINX_SITES_DIR.to_string(),
    };
    let test_command = match test {
        Some(t) if t.get_ref().trim().is_empty() => {
            return Err(err(
                t.span(),
                &format!("{at}.nginx_test_command"),
                "cannot be empty: an untested nginx config is never reloaded",
            ));
        }
        Some(t) => t.get_ref().clone(),
        None => DEFAULT_NGINX_TEST.to_string(),
    };
    let reload_command = match reload {
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
    path: Option<&Spanned<String>>,
    php_version: Option<&str>,
    at: &str,
    err: &ErrFn<'_>,
) -> Result<Option<String>> {
    match (path, php_version) {
        (Some(p), _) => {
            validate::root_path(p.get_ref())
                .map_err(|w| err(p.span(), &format!("{at}.php_fpm_config"), &w))?;
            Ok(Some(p.get_ref().clone()))
        }
        (None, Some(v)) => Ok(Some(format!("/etc/php/{v}/fpm/php-fpm.conf"))),
        (None, None) => Ok(None),
    }
}

pub(super) fn nginx_site(
    listen: Option<&Spanned<toml::Value>>,
    socket: Option<&Spanned<String>>,
    php_version: Option<&str>,
    domain: &Spanned<String>,
    at: &str,
    err: &ErrFn<'_>,
) -> Result<NginxSite> {
    let listen = match listen {
        Some(l) => parse_listen(l.get_ref()).ok_or_else(|| {
            err(
                l.span(),
                &format!("{at}.listen"),
                "must be a port (80) or an address with a port (\"127.0.0.1:8080\", \"[::1]:8080\")",
            )
        })?,
        None => Listen::Port(80),
    };
    let php_fpm_socket = match (socket, php_version) {
        (Some(s), _) => {
            validate::nginx_path(s.get_ref())
                .map_err(|w| err(s.span(), &format!("{at}.php_fpm_socket"), &w))?;
            s.get_ref().clone()
        }
        (None, Some(v)) => format!("/run/php/php{v}-fpm.sock"),
        (None, None) => {
            return Err(err(
                domain.span(),
                &format!("{at}.php_fpm_socket"),
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

pub(super) fn health_check(
    raw: &Spanned<RawHealthCheck>,
    at: &str,
    err: &ErrFn<'_>,
) -> Result<HealthCheck> {
    let key = format!("{at}.health_check");
    let bad = |why: &str| err(raw.span(), &key, why);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use std::path::Path;

    const BASE: &str = "[[servers]]\nname = \"w\"\ntransport = \"local\"\nroot = \"/srv\"\n";

    fn parse(server: &str, site: &str) -> Result<Config> {
        let t = format!("{BASE}{server}\n[[servers.sites]]\ndomain = \"example.com\"\n{site}\n");
        Config::parse(&t, Path::new("/c.toml"))
    }

    fn site(server: &str, site: &str) -> crate::config::SiteConfig {
        parse(server, site).unwrap().servers[0].sites[0].clone()
    }

    #[test]
    fn the_annotated_example_parses() {
        let text = include_str!("../../assets/config.example.toml");
        let c = Config::parse(text, Path::new("config.example.toml")).unwrap();
        let site = &c.servers[0].sites[0];
        assert!(site.nginx.is_some() && site.health_check.is_some());
    }

    #[test]
    fn nginx_defaults() {
        let c = parse("php_version = \"8.3\"", "nginx = true").unwrap();
        let s = &c.servers[0];
        assert_eq!(
            s.nginx,
            NginxServer {
                sites_dir: "/etc/nginx/sites-enabled".into(),
                test_command: "sudo nginx -t".into(),
                reload_command: Some("sudo nginx -s reload".into()),
            }
        );
        assert_eq!(
            s.sites[0].nginx,
            Some(NginxSite {
                listen: Listen::Port(80),
                php_fpm_socket: "/run/php/php8.3-fpm.sock".into(),
            })
        );
        assert_eq!(
            s.php_fpm_config.as_deref(),
            Some("/etc/php/8.3/fpm/php-fpm.conf")
        );
        // Off by default; php_fpm_config only from php_version or the key.
        let c = parse("", "").unwrap();
        assert_eq!(c.servers[0].sites[0].nginx, None);
        assert_eq!(c.servers[0].php_fpm_config, None);
    }

    #[test]
    fn nginx_keys() {
        let server = "nginx_sites_dir = \"/home/d/nginx/\"\nnginx_test_command = \"nginx -t -c /x\"\n\
                      nginx_reload_command = \"\"\nphp_fpm_config = \"/etc/php-fpm.conf\"";
        let c = parse(
            server,
            "nginx = true\nlisten = \"127.0.0.1:8080\"\nphp_fpm_socket = \"/run/php-fpm/www.sock\"",
        )
        .unwrap();
        let s = &c.servers[0];
        assert_eq!(s.nginx.sites_dir, "/home/d/nginx");
        assert_eq!(s.nginx.test_command, "nginx -t -c /x");
        assert_eq!(s.nginx.reload_command, None);
        assert_eq!(s.php_fpm_config.as_deref(), Some("/etc/php-fpm.conf"));
        let n = s.sites[0].nginx.as_ref().unwrap();
        assert_eq!(n.listen, Listen::Addr("127.0.0.1:8080".parse().unwrap()));
        assert_eq!(n.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(n.php_fpm_socket, "/run/php-fpm/www.sock");
        let sock = "php_fpm_socket = \"/s\"";
        for (l, want) in [
            ("8080", Listen::Port(8080)),
            ("\"81\"", Listen::Port(81)),
            ("\"[::1]:80\"", Listen::Addr("[::1]:80".parse().unwrap())),
        ] {
            let s = site("", &format!("nginx = true\n{sock}\nlisten = {l}"));
            assert_eq!(s.nginx.unwrap().listen, want, "{l}");
        }
    }

    #[test]
    fn nginx_errors() {
        let cases = [
            ("", "nginx = true", "php_fpm_socket is required"),
            (
                "",
                "nginx = true\nphp_fpm_socket = \"/a b.sock\"",
                "php_fpm_socket",
            ),
            (
                "",
                "nginx = true\nphp_fpm_socket = \"/a;b\"",
                "php_fpm_socket",
            ),
            (
                "",
                "nginx = true\nphp_fpm_socket = \"/s\"\nlisten = 0",
                "listen",
            ),
            (
                "",
                "nginx = true\nphp_fpm_socket = \"/s\"\nlisten = 70000",
                "listen",
            ),
            (
                "",
                "nginx = true\nphp_fpm_socket = \"/s\"\nlisten = \"host:80\"",
                "listen",
            ),
            (
                "nginx_test_command = \" \"",
                "",
                "nginx_test_command cannot be empty",
            ),
            ("nginx_sites_dir = \"sites\"", "", "nginx_sites_dir"),
            ("php_fpm_config = \"../x\"", "", "php_fpm_config"),
            ("", "nginx = \"yes\"", "nginx"),
        ];
        for (server, s, want) in cases {
            let e = parse(server, s).unwrap_err();
            assert_eq!(e.exit_code(), 2);
            assert!(e.to_string().contains(want), "{server} {s}: {}", e);
            assert!(e.to_string().contains("/c.toml line"), "{}", e.to_string());
        }
    }

    #[test]
    fn health_check_forms() {
        let s = site("", "health_check = { url = \"http://127.0.0.1/health\" }");
        assert_eq!(
            s.health_check,
            Some(HealthCheck {
                probe: Probe::Url {
                    url: "http://127.0.0.1/health".into(),
                    expect_status: 200
                },
                timeout_s: 5,
                retries: 3,
                interval_s: 1,
            })
        );
        let s = site(
            "",
            "health_check = { url = \"https://x.io/up\", expect_status = 204, timeout_s = 2, retries = 1, interval_s = 0 }",
        );
        let h = s.health_check.unwrap();
        assert_eq!((h.timeout_s, h.retries, h.interval_s), (2, 1, 0));
        assert!(matches!(
            h.probe,
            Probe::Url {
                expect_status: 204,
                ..
            }
        ));
        let s = site(
            "",
            "health_check = { command = \"curl -fsS http://127.0.0.1/health\" }",
        );
        assert_eq!(
            s.health_check.unwrap().probe,
            Probe::Command("curl -fsS http://127.0.0.1/health".into())
        );
        assert_eq!(site("", "").health_check, None);
    }

    #[test]
    fn health_check_errors() {
        for (hc, want) in [
            ("{ }", "exactly one of url"),
            (
                "{ url = \"http://a/\", command = \"true\" }",
                "exactly one of url",
            ),
            ("{ url = \"ftp://a/\" }", "url must be"),
            ("{ url = \"http://a/ b\" }", "url must be"),
            ("{ url = \"http://a/'\\n'\" }", "url must be"),
            (
                "{ url = \"http://a/\", expect_status = 99 }",
                "expect_status",
            ),
            ("{ url = \"http://a/\", timeout_s = 0 }", "timeout_s"),
            ("{ url = \"http://a/\", retries = 0 }", "retries"),
            ("{ url = \"http://a/\", interval_s = 61 }", "interval_s"),
            ("{ command = \"\" }", "command cannot be empty"),
            (
                "{ command = \"true\", expect_status = 200 }",
                "expect_status applies",
            ),
            ("{ url = \"http://a/\", bogus = 1 }", "bogus"),
        ] {
            let e = parse("", &format!("health_check = {hc}")).unwrap_err();
            assert!(e.to_string().contains(want), "{hc}: {}", e);
            assert!(e.to_string().contains("line 8"), "{hc}: {}", e);
        }
    }
}
