//! The nginx server block `provision` writes, and the script that installs it: write beside the
//! old file, test the whole nginx config, and only then reload; a failed test restores the old file.

use super::Engine;
use super::events::Action;
use super::job::Job;
use super::layout::Layout;
use super::protocol::{NginxReport, Params};
use super::scripts::{self, Prelude};
use crate::config::{NginxServer, NginxSite, SiteRef};
use crate::error::{Error, Result};
use crate::transport::Transport;
use crate::validate;
use std::sync::Arc;

const TEMPLATE: &str = include_str!("../../assets/nginx-site.conf");

/// The server block for a site. Every value is checked to be literal in nginx's syntax.
pub fn render(layout: &Layout, site: &NginxSite) -> Result<String, String> {
    let root = format!("{}/public", layout.live());
    validate::nginx_path(&root).map_err(|w| format!("the document root {root:?} {w}"))?;
    validate::nginx_path(&site.php_fpm_socket)
        .map_err(|w| format!("php_fpm_socket {:?} {w}", site.php_fpm_socket))?;
    validate::domain(&layout.domain).map_err(|w| format!("domain {w}"))?;
    let out = TEMPLATE
        .replace("{{listen}}", &site.listen.to_string())
        .replace("{{domain}}", &layout.domain)
        .replace("{{root}}", &root)
        .replace("{{php_fpm_socket}}", &site.php_fpm_socket);
    debug_assert!(!out.contains("{{"), "every placeholder is filled");
    Ok(out)
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
    use crate::config::Listen;

    fn site(listen: Listen) -> NginxSite {
        NginxSite {
            listen,
            php_fpm_socket: "/run/php/php8.3-fpm.sock".into(),
        }
    }

    #[test]
    fn renders_the_realpath_root_block() {
        let l = Layout::new(Some("/home/deploy"), "example.com");
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
