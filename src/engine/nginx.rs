//! The nginx server block `provision` writes, and the script that installs it: write beside the
//! old file, test the whole nginx config, and only then reload; a failed test restores the old file.

use super::Engine;
use super::events::Action;
use super::job::Job;
use super::layout::Layout;
use super::scripts::Prelude;
use crate::config::{NginxServer, NginxSite, SiteRef};
use crate::error::{Error, Result};
use crate::shell::quote;
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

/// Installs the rendered config read from stdin. Reports `nginx` = unchanged | written | reloaded,
/// or `nginx_invalid` (test failed, old file back, no reload) / `nginx_reload_failed`.
pub fn install(prelude: &Prelude<'_>, nginx: &NginxServer) -> String {
    let mut s = prelude.render();
    s.push_str(&format!(
        r#"step nginx
dir={dir}
conf={conf}
# Hidden names: nginx's `include dir/*` skips dotfiles, so a half-written file is never read.
tmp="$dir/.$domain.conf.flipdeck-$$"
backup="$dir/.$domain.conf.flipdeck-prev"
[ -d "$dir" ] || {{ echo "nginx_sites_dir $dir is not a directory" >&2; exit 1; }}
cat > "$tmp" || {{ rm -f "$tmp"; exit 1; }}
if [ -f "$conf" ] && cmp -s "$tmp" "$conf"; then
  rm -f "$tmp"
  setv nginx unchanged
  exit 0
fi
had=0
if [ -e "$conf" ]; then cp -p "$conf" "$backup" || {{ rm -f "$tmp"; exit 1; }}; had=1; fi
mv -f "$tmp" "$conf" || {{ rm -f "$tmp"; exit 1; }}
setv nginx written
step nginx-test
if ! (eval {test}) </dev/null; then
  if [ $had = 1 ]; then mv -f "$backup" "$conf"; else rm -f "$conf"; fi
  setv nginx_invalid 1
  exit 1
fi
rm -f "$backup"
"#,
        dir = quote(&nginx.sites_dir),
        conf = quote(&conf_path(nginx, &prelude.layout.domain)),
        test = quote(&nginx.test_command),
    ));
    if let Some(reload) = &nginx.reload_command {
        s.push_str(&format!(
            "step nginx-reload\n(eval {}) </dev/null || {{ setv nginx_reload_failed 1; exit 1; }}\nsetv nginx reloaded\n",
            quote(reload)
        ));
    }
    s
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
        let outcome = match (r.status.success(), r.var("nginx")) {
            (true, Some("unchanged")) => Ok(format!("nginx config {conf} is up to date")),
            (true, Some("reloaded")) => {
                Ok(format!("nginx config {conf} written, tested, reloaded"))
            }
            (true, _) => Ok(format!(
                "nginx config {conf} written and tested; nginx_reload_command is off, so reload nginx yourself"
            )),
            (false, _) if r.var("nginx_invalid").is_some() => Err(format!(
                "the nginx config test (`{}`) failed, see its output above; {conf} was restored \
                 and nginx was not reloaded",
                nginx.test_command
            )),
            (false, _) if r.var("nginx_reload_failed").is_some() => Err(format!(
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
    fn renders_the_decisions_9_block() {
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
        let p = Prelude {
            marker: "M",
            layout: &layout,
            token: "t",
            owner: "o",
            who: "u@h",
        };
        let s = install(&p, &nginx);
        assert!(s.contains(r#"dir='/etc/nginx/it'\''s'"#), "{s}");
        assert!(s.contains(r#"conf='/etc/nginx/it'\''s/example.com.conf'"#));
        assert!(s.find("(eval 'nginx -t')").unwrap() < s.find("(eval 'nginx -s reload')").unwrap());
        let none = install(
            &p,
            &NginxServer {
                reload_command: None,
                ..nginx
            },
        );
        assert!(!none.contains("nginx-reload"));
    }
}
