//! The nginx config `provision` writes for a site (its kind's built-in server block or the site's
//! own template, filled in), and the script that installs it: write beside the old file, test the
//! whole nginx config, and only then reload; a failed test restores the old file.

use super::Engine;
use super::events::Action;
use super::job::Job;
use super::layout::Layout;
use super::protocol::{NginxReport, Params};
use super::scripts::{self, Prelude};
use crate::config::nginx_template;
use crate::config::{NginxServer, NginxSite, SiteKind, SiteRef};
use crate::error::{Error, Result};
use crate::transport::Transport;
use crate::validate;
use std::sync::Arc;

/// The built-in server blocks' bodies, one per kind; [`builtin`] frames them.
const PHP: &str = include_str!("../../assets/nginx/php.conf");
const STATIC: &str = include_str!("../../assets/nginx/static.conf");
const PROXY: &str = include_str!("../../assets/nginx/proxy.conf");

/// Left in the rendered file for `nginx.sh`, which knows the server's nginx version: the first
/// becomes ` http2` on the TLS `listen` (nginx 1.9.5 to 1.25.0), the second `http2 on;` (1.25.1
/// and later); both go away on an older nginx.
const H2_LISTEN: &str = "@flipdeck_http2_listen@";
const H2_DIRECTIVE: &str = "@flipdeck_http2@";

/// The built-in template for `site`: a server block per kind, and with TLS a second one on
/// `listen` that redirects to it.
pub fn builtin(site: &NginxSite) -> String {
    let body = match site.kind {
        SiteKind::Php { .. } => PHP,
        SiteKind::Static => STATIC,
        SiteKind::Proxy { .. } => PROXY,
    };
    let mut t = String::new();
    let listen = if site.tls.is_some() {
        t.push_str(
            "server {\n    listen {{listen}};\n    server_name {{domain}};\n    \
             return 301 {{https_url}}$request_uri;\n}\n\n",
        );
        "{{ssl_listen}};\n    {{http2}}\n    server_name {{domain}};\n    \
         ssl_certificate {{ssl_certificate}};\n    ssl_certificate_key {{ssl_certificate_key}};"
    } else {
        "{{listen}};\n    server_name {{domain}};"
    };
    t.push_str(&format!("server {{\n    listen {listen}\n\n{body}"));
    if !site.directives.is_empty() {
        t.push_str("\n    # nginx_directives\n    {{directives}}\n");
    }
    t.push_str("}\n");
    t
}

/// The name of a proxy site's `upstream` block: unique per domain on one nginx.
pub fn upstream_name(domain: &str) -> String {
    format!("flipdeck.{domain}")
}

/// The site's config file: a header saying where it comes from, a proxy site's `upstream`
/// block, and the template (the site's own or the built-in one) filled in. Every value is checked
/// to be literal in nginx's syntax.
pub fn render(layout: &Layout, site: &NginxSite) -> Result<String, String> {
    validate::domain(&layout.domain).map_err(|w| format!("domain {w}"))?;
    let live = layout.live();
    let root = format!("{live}/{}", site.web_root);
    validate::nginx_path(&root).map_err(|w| format!("the document root {root:?} {w}"))?;
    validate::nginx_path(&site.access_log)
        .map_err(|w| format!("access_log {:?} {w}", site.access_log))?;
    if let Some(sock) = site.php_fpm_socket() {
        validate::nginx_path(sock).map_err(|w| format!("php_fpm_socket {sock:?} {w}"))?;
    }
    let own = site.template.as_ref();
    for text in own
        .map(|t| t.text.as_str())
        .into_iter()
        .chain(site.directives.iter().map(String::as_str))
    {
        if text.contains("@flipdeck_http2") {
            return Err(
                "the template or nginx_directives contain \"@flipdeck_http2\", \
                        which flipdeck keeps for itself"
                    .into(),
            );
        }
    }
    let template = match own {
        Some(t) => {
            nginx_template::check(&t.text, site)
                .map_err(|w| format!("the template {} {w}", t.path))?;
            t.text.clone()
        }
        None => builtin(site),
    };
    let tls = site.tls.as_ref();
    let body = nginx_template::fill(&template, |name| {
        Some(match name {
            "domain" => layout.domain.clone(),
            "listen" => site.listen.to_string(),
            "live" => live.clone(),
            "root" => root.clone(),
            "kind" => site.kind.name().to_string(),
            "access_log" => site.access_log.clone(),
            "directives" => site.directives.join("\n"),
            "php_fpm_socket" => site.php_fpm_socket()?.to_string(),
            "upstream" => match site.kind {
                SiteKind::Proxy { .. } => upstream_name(&layout.domain),
                _ => return None,
            },
            "ssl_listen" => format!("{} ssl{H2_LISTEN}", tls?.listen),
            "http2" => {
                tls?;
                H2_DIRECTIVE.to_string()
            }
            "ssl_certificate" => tls?.certificate.clone(),
            "ssl_certificate_key" => tls?.certificate_key.clone(),
            "https_url" => match tls?.listen.port() {
                443 => "https://$host".to_string(),
                p => format!("https://$host:{p}"),
            },
            _ => return None,
        })
    })?;
    let from = match own {
        Some(t) => format!("from the template {}", t.path),
        None => "from its built-in template".to_string(),
    };
    let mut out = format!(
        "# Generated by flipdeck {} for {} (kind {}) {from}.\n\
         # `flipdeck provision {}` rewrites this file: change the site's config, not this file.\n\n",
        env!("CARGO_PKG_VERSION"),
        layout.domain,
        site.kind.name(),
        layout.domain,
    );
    if let SiteKind::Proxy { upstream } = &site.kind {
        // max_fails=0: a service restarting is never marked down for a while; each request
        // tries the addresses in turn until one accepts it.
        out.push_str(&format!("upstream {} {{\n", upstream_name(&layout.domain)));
        for u in upstream {
            out.push_str(&format!("    server {u} max_fails=0;\n"));
        }
        out.push_str("}\n\n");
    }
    out.push_str(&body);
    Ok(out)
}

/// The notice when a TLS site is served without http2, from `nginx_http2 = MODE VERSION`.
fn http2_off(reported: &str) -> Option<String> {
    match reported.split_once(' ')? {
        ("off", "unknown") => Some(
            "note: http2 is off: no nginx binary on the server answered `nginx -v` (looked on \
             PATH and in /usr/sbin, /usr/local/sbin, /usr/local/nginx/sbin)"
                .into(),
        ),
        ("off", v) => Some(format!(
            "note: http2 is off: nginx {v} is older than 1.9.5, the first with http2"
        )),
        _ => None,
    }
}

/// Where the site's server block goes.
pub fn conf_path(nginx: &NginxServer, domain: &str) -> String {
    format!("{}/{domain}.conf", nginx.sites_dir)
}

/// The parameters of `nginx.sh`, which installs the rendered config read from stdin. It reports
/// `nginx` = unchanged | written | reloaded, or `nginx_invalid` (test failed, old file back, no
/// reload) / `nginx_reload_failed`.
pub fn params(nginx: &NginxServer, domain: &str) -> Params {
    Params::new()
        .set("nginx_dir", &nginx.sites_dir)
        .set("nginx_conf", &conf_path(nginx, domain))
        .set("nginx_test", &nginx.test_command)
        .set(
            "nginx_reload",
            nginx.reload_command.as_deref().unwrap_or(""),
        )
}

/// The whole install script.
pub fn install(prelude: &Prelude<'_>, nginx: &NginxServer) -> String {
    prelude.script(params(nginx, &prelude.layout.domain), &[scripts::NGINX])
}

impl Engine {
    /// Writes, tests and reloads the site's server block (provisioning's last step).
    pub(super) async fn install_nginx(
        &self,
        site: &SiteRef<'_>,
        target: Arc<dyn Transport>,
        layout: Layout,
        nginx_site: &NginxSite,
    ) -> Result<()> {
        let nginx = &site.server.nginx;
        let conf = conf_path(nginx, &site.site.domain);
        let text = render(&layout, nginx_site).map_err(|w| {
            Error::failed(format!(
                "cannot write the nginx config of {}: {w}",
                site.key()
            ))
        })?;
        let mut job = Job::new(self, site.key(), target, layout, Action::Provision);
        let script = install(&job.prelude(), nginx);
        let r = job
            .run(&script, Some(text.into_bytes()), None)
            .await
            .map_err(|_| Error::failed(format!("connection lost while writing {conf}")))?;
        let rep: NginxReport = r.report();
        if matches!(nginx_site.kind, SiteKind::Proxy { .. })
            && site.site.hooks.after_switch.is_none()
        {
            job.notice(
                "warning: kind = \"proxy\" without after_switch: after each deploy the service \
                 keeps running the release it was started from; restart it in after_switch (and \
                 after_rollback), see the README's Kinds of site",
            );
        }
        if let Some(w) = rep.http2.as_deref().and_then(http2_off) {
            job.notice(w);
        }
        let outcome = match (r.status.success(), rep.nginx.as_deref()) {
            (true, Some("unchanged")) => Ok(format!("nginx config {conf} is up to date")),
            (true, Some("reloaded")) => {
                Ok(format!("nginx config {conf} written, tested, reloaded"))
            }
            (true, _) => Ok(format!(
                "nginx config {conf} written and tested; nginx_reload_command is off, so reload nginx yourself"
            )),
            (false, _) if rep.invalid => Err(format!(
                "the nginx config test (`{}`) failed, see its output above; {conf} was restored \
                 and nginx was not reloaded",
                nginx.test_command
            )),
            (false, _) if rep.reload_failed => Err(format!(
                "{conf} passed the test but the reload (`{}`) failed",
                nginx.reload_command.as_deref().unwrap_or_default()
            )),
            (false, _) => Err(format!("writing {conf} failed ({})", r.status)),
        };
        match outcome {
            Ok(msg) => {
                job.finish(true, msg);
                Ok(())
            }
            Err(msg) => {
                job.finish(false, msg.clone());
                Err(Error::failed(format!("provisioning {}: {msg}", site.key())))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Listen, NginxTemplate, Tls, Upstream};

    fn site(listen: Listen) -> NginxSite {
        NginxSite {
            listen,
            kind: SiteKind::Php {
                php_fpm_socket: "/run/php/php8.3-fpm.sock".into(),
            },
            web_root: "public".into(),
            template: None,
            directives: Vec::new(),
            tls: None,
            access_log: "/var/log/nginx/example.com.access.log".into(),
        }
    }

    fn tls() -> Option<Tls> {
        Some(Tls {
            certificate: "/etc/ssl/a.pem".into(),
            certificate_key: "/etc/ssl/a.key".into(),
            listen: Listen::Port(443),
        })
    }

    fn layout() -> Layout {
        Layout::new(Some("/home/deploy"), "example.com")
    }

    /// Asserts that `conf` holds `block` exactly, indentation included.
    fn has_block(conf: &str, block: &str) {
        assert!(conf.contains(block), "missing\n{block}\nin\n{conf}");
    }

    #[test]
    fn the_header_names_the_version_and_the_command_not_a_source_file() {
        let conf = render(&layout(), &site(Listen::Port(80))).unwrap();
        let head: Vec<&str> = conf.lines().take(2).collect();
        assert_eq!(
            head,
            [
                format!(
                    "# Generated by flipdeck {} for example.com (kind php) from its built-in template.",
                    env!("CARGO_PKG_VERSION")
                )
                .as_str(),
                "# `flipdeck provision example.com` rewrites this file: change the site's config, not this file."
            ]
        );
        assert!(!conf.contains("assets/"), "{conf}");
    }

    #[test]
    fn a_static_site_serves_its_web_root_without_php() {
        let mut s = site(Listen::Port(80));
        s.kind = SiteKind::Static;
        s.web_root = "dist".into();
        let conf = render(&layout(), &s).unwrap();
        for want in [
            "root /home/deploy/example.com/dist;",
            "index index.html index.htm;",
            "try_files $uri $uri/ =404;",
            "location ~ /\\.(?!well-known) {",
        ] {
            assert!(conf.contains(want), "{want}\n{conf}");
        }
        assert!(!conf.contains("fastcgi") && !conf.contains("php"), "{conf}");
    }

    #[test]
    fn a_proxy_site_has_its_upstream_block_and_proxy_headers() {
        let mut s = site(Listen::Port(80));
        s.kind = SiteKind::Proxy {
            upstream: vec![
                Upstream::Tcp("127.0.0.1:3000".into()),
                Upstream::Unix("/run/app.sock".into()),
            ],
        };
        let conf = render(&layout(), &s).unwrap();
        has_block(
            &conf,
            "upstream flipdeck.example.com {\n    server 127.0.0.1:3000 max_fails=0;\n    \
             server unix:/run/app.sock max_fails=0;\n}\n",
        );
        for want in [
            "proxy_pass http://flipdeck.example.com;",
            "proxy_http_version 1.1;",
            "proxy_set_header Host $host;",
            "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
            "proxy_set_header X-Forwarded-Proto $scheme;",
            "proxy_set_header Upgrade $http_upgrade;",
            "proxy_set_header Connection $flipdeck_connection;",
            "proxy_next_upstream error timeout;",
        ] {
            assert!(conf.contains(want), "{want}\n{conf}");
        }
        assert!(
            !conf.contains("root ") && !conf.contains("fastcgi"),
            "{conf}"
        );
        // The upstream block is outside the server block (http context).
        assert!(conf.find("upstream ").unwrap() < conf.find("server {").unwrap());
    }

    #[test]
    fn tls_redirects_plain_http_and_leaves_http2_to_the_server() {
        let mut s = site(Listen::Port(80));
        s.tls = tls();
        s.directives = vec![
            "client_max_body_size 64m;".into(),
            "location /x {\n    return 204;\n}".into(),
        ];
        let conf = render(&layout(), &s).unwrap();
        has_block(
            &conf,
            "server {\n    listen 80;\n    server_name example.com;\n    \
             return 301 https://$host$request_uri;\n}\n",
        );
        has_block(
            &conf,
            &format!(
                "server {{\n    listen 443 ssl{H2_LISTEN};\n    {H2_DIRECTIVE}\n    \
                 server_name example.com;\n    ssl_certificate /etc/ssl/a.pem;\n    \
                 ssl_certificate_key /etc/ssl/a.key;\n"
            ),
        );
        // The directives go into the TLS server block, indented, before its end.
        has_block(
            &conf,
            "    # nginx_directives\n    client_max_body_size 64m;\n    location /x {\n        \
             return 204;\n    }\n}\n",
        );
        assert!(conf.trim_end().ends_with('}'));
        s.tls.as_mut().unwrap().listen = Listen::Addr("127.0.0.1:8443".parse().unwrap());
        let conf = render(&layout(), &s).unwrap();
        assert!(
            conf.contains("return 301 https://$host:8443$request_uri;"),
            "{conf}"
        );
        assert!(conf.contains("listen 127.0.0.1:8443 ssl"), "{conf}");
        assert_eq!(http2_off("listen 1.22.1"), None);
        assert!(
            http2_off("off 1.8.0")
                .unwrap()
                .contains("nginx 1.8.0 is older")
        );
        assert!(http2_off("off unknown").unwrap().contains("nginx -v"));
    }

    #[test]
    fn an_own_template_is_filled_and_named_in_the_header() {
        let mut s = site(Listen::Addr("127.0.0.1:8080".parse().unwrap()));
        s.directives = vec!["gzip on;".into()];
        s.template = Some(NginxTemplate {
            path: "nginx/app.conf".into(),
            text:
                "server {\n    listen {{listen}};\n    server_name {{domain}} www.{{domain}};\n    \
                   root {{root}};\n    # {{kind}} {{live}}\n    location / {\n        \
                   fastcgi_pass unix:{{php_fpm_socket}};\n    }\n    {{directives}}\n}\n"
                    .into(),
        });
        let conf = render(&layout(), &s).unwrap();
        assert!(
            conf.lines()
                .next()
                .unwrap()
                .ends_with("(kind php) from the template nginx/app.conf."),
            "{conf}"
        );
        for want in [
            "listen 127.0.0.1:8080;",
            "server_name example.com www.example.com;",
            "root /home/deploy/example.com/public;",
            "# php /home/deploy/example.com",
            "fastcgi_pass unix:/run/php/php8.3-fpm.sock;",
            "    gzip on;\n}",
        ] {
            assert!(conf.contains(want), "{want}\n{conf}");
        }
        // A placeholder this site does not define is refused here too.
        s.template.as_mut().unwrap().text = "{{upstream}} {{directives}}".into();
        let e = render(&layout(), &s).unwrap_err();
        assert!(
            e.contains("{{upstream}}") && e.contains("kind = \"proxy\""),
            "{e}"
        );
        s.template.as_mut().unwrap().text = "@flipdeck_http2@ {{directives}}".into();
        assert!(
            render(&layout(), &s)
                .unwrap_err()
                .contains("keeps for itself")
        );
    }

    #[test]
    fn renders_the_realpath_root_block() {
        let l = layout();
        let conf = render(&l, &site(Listen::Port(80))).unwrap();
        for want in [
            "listen 80;",
            "server_name example.com;",
            "root /home/deploy/example.com/public;",
            "index index.php;",
            "try_files $uri $uri/ /index.php?$query_string;",
            "fastcgi_pass unix:/run/php/php8.3-fpm.sock;",
        ] {
            assert!(conf.contains(want), "{want}\n{conf}");
        }
        // SCRIPT_FILENAME and DOCUMENT_ROOT come after the include, so they override it.
        let inc = conf.find("include fastcgi_params;").unwrap();
        let sf = conf
            .find("fastcgi_param SCRIPT_FILENAME $realpath_root$fastcgi_script_name;")
            .unwrap();
        let dr = conf
            .find("fastcgi_param DOCUMENT_ROOT $realpath_root;")
            .unwrap();
        assert!(inc < sf && inc < dr);
        assert!(!conf.contains("{{"));
        let conf = render(&l, &site(Listen::Addr("127.0.0.1:8080".parse().unwrap()))).unwrap();
        assert!(conf.contains("listen 127.0.0.1:8080;"), "{conf}");
    }

    #[test]
    fn refuses_values_nginx_would_read_differently() {
        for root in ["/srv/with space", "/srv/$x", "/srv/a;b"] {
            let e = render(
                &Layout::new(Some(root), "example.com"),
                &site(Listen::Port(80)),
            );
            assert!(e.unwrap_err().contains("document root"), "{root}");
        }
    }

    #[test]
    fn install_script_quotes_and_orders_test_before_reload() {
        let nginx = NginxServer {
            sites_dir: "/etc/nginx/it's".into(),
            test_command: "nginx -t".into(),
            reload_command: Some("nginx -s reload".into()),
        };
        let layout = Layout::new(Some("/srv"), "example.com");
        let owner = "u@h pid=1".parse().unwrap();
        let p = Prelude {
            marker: "M",
            trace: "T ",
            layout: &layout,
            token: "t",
            owner: &owner,
            who: "u@h",
        };
        let s = install(&p, &nginx);
        assert!(s.contains(r#"nginx_dir='/etc/nginx/it'\''s'"#), "{s}");
        assert!(s.contains(r#"nginx_conf='/etc/nginx/it'\''s/example.com.conf'"#));
        assert!(s.contains("nginx_test='nginx -t'\nnginx_reload='nginx -s reload'\n"));
        // The script tests before it reloads, and only reloads with a command.
        assert!(
            scripts::NGINX.find(r#"(eval "$nginx_test")"#).unwrap()
                < scripts::NGINX.find(r#"(eval "$nginx_reload")"#).unwrap()
        );
        assert!(scripts::NGINX.contains(r#"if [ -n "$nginx_reload" ]; then"#));
        let none = install(
            &p,
            &NginxServer {
                reload_command: None,
                ..nginx
            },
        );
        assert!(none.contains("nginx_reload=''\n"));
    }
}
