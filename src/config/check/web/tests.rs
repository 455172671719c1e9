//! The kinds of site and their server block's keys: `kind`, `web_root`, `upstream`,
//! `nginx_template`, `nginx_directives` and TLS.

use crate::config::{Config, Listen, SiteKind, Tls, Upstream};
use crate::error::Result;
use std::path::Path;

fn parse_at(config: &Path, site: &str) -> Result<Config> {
    let t = format!(
        "[[servers]]\nname = \"w\"\ntransport = \"local\"\nroot = \"/srv\"\n\
         [[servers.sites]]\ndomain = \"example.com\"\n{site}\n"
    );
    Config::parse(&t, config)
}

fn parse(site: &str) -> Result<Config> {
    parse_at(Path::new("/c.toml"), site)
}

fn nginx(site: &str) -> crate::config::NginxSite {
    parse(site).unwrap().servers[0].sites[0]
        .nginx
        .clone()
        .unwrap()
}

/// The error for `site`, which must name the line.
fn error(site: &str) -> String {
    let e = parse(site).unwrap_err();
    assert_eq!(e.exit_code(), 2);
    let e = e.to_string();
    assert!(e.contains("/c.toml line "), "{e}");
    e
}

#[test]
fn kinds_and_their_defaults() {
    let n = nginx("nginx = true\nkind = \"static\"");
    assert_eq!(n.kind, SiteKind::Static);
    assert_eq!(n.web_root, "public");
    assert_eq!(n.php_fpm_socket(), None);
    let n = nginx("nginx = true\nkind = \"static\"\nweb_root = \"build/site/\"");
    assert_eq!(n.web_root, "build/site");
    let n = nginx("nginx = true\nkind = \"proxy\"\nupstream = \"127.0.0.1:3000\"");
    assert_eq!(
        n.kind,
        SiteKind::Proxy {
            upstream: vec![Upstream::Tcp("127.0.0.1:3000".into())]
        }
    );
    let n = nginx(
        "nginx = true\nkind = \"proxy\"\nupstream = [\"[::1]:3000\", \"app.internal:3001\", \"unix:/run/app.sock\"]",
    );
    assert_eq!(
        n.kind,
        SiteKind::Proxy {
            upstream: vec![
                Upstream::Tcp("[::1]:3000".into()),
                Upstream::Tcp("app.internal:3001".into()),
                Upstream::Unix("/run/app.sock".into()),
            ]
        }
    );
    assert_eq!(
        nginx("nginx = true\nkind = \"php\"\nphp_fpm_socket = \"/s\"").php_fpm_socket(),
        Some("/s")
    );
}

#[test]
fn directives_take_a_string_or_a_list() {
    let n = nginx("nginx = true\nkind = \"static\"\nnginx_directives = \"gzip on;\"");
    assert_eq!(n.directives, ["gzip on;"]);
    let n = nginx(
        "nginx = true\nkind = \"static\"\nnginx_directives = [\"client_max_body_size 64m;\", \"location /x { return 204; }\"]",
    );
    assert_eq!(n.directives.len(), 2);
}

#[test]
fn tls_keys() {
    let n = nginx(
        "nginx = true\nkind = \"static\"\nssl_certificate = \"/etc/ssl/a.pem\"\nssl_certificate_key = \"/etc/ssl/a.key\"",
    );
    assert_eq!(
        n.tls,
        Some(Tls {
            certificate: "/etc/ssl/a.pem".into(),
            certificate_key: "/etc/ssl/a.key".into(),
            listen: Listen::Port(443),
        })
    );
    assert_eq!(n.listen, Listen::Port(80));
    let n = nginx(
        "nginx = true\nkind = \"static\"\nssl_certificate = \"/a\"\nssl_certificate_key = \"/b\"\nlisten = \"127.0.0.1:8080\"\nssl_listen = \"127.0.0.1:8443\"",
    );
    assert_eq!(n.tls.unwrap().listen.to_string(), "127.0.0.1:8443");
}

#[test]
fn kind_errors_name_the_key_and_the_fix() {
    let st = "nginx = true\nkind = \"static\"\n";
    let cert = "ssl_certificate = \"/a\"\nssl_certificate_key = \"/b\"\n";
    for (site, want) in [
        (
            "nginx = true\nkind = \"node\"",
            "line 8: servers[0].sites[0].kind must be \"php\" (PHP-FPM), \"static\" (files) or \"proxy\" (a service)",
        ),
        (
            "nginx = true\nupstream = \"127.0.0.1:1\"\nkind = \"Proxy\"",
            "line 9: servers[0].sites[0].kind must be \"php\"",
        ),
        (
            "nginx = true\nkind = \"proxy\"",
            "line 8: servers[0].sites[0].kind = \"proxy\" needs upstream = \"127.0.0.1:3000\"",
        ),
        (
            "nginx = true\nphp_fpm_socket = \"/s\"\nupstream = \"127.0.0.1:3000\"",
            "line 9: servers[0].sites[0].upstream applies to kind = \"proxy\" only (this site is kind \"php\", served by PHP-FPM)",
        ),
        (
            &format!("{st}php_fpm_socket = \"/run/php.sock\""),
            "line 9: servers[0].sites[0].php_fpm_socket applies to kind = \"php\" only: a static site has no PHP-FPM",
        ),
        (
            "nginx = true\nkind = \"proxy\"\nupstream = \"127.0.0.1:3000\"\nweb_root = \"dist\"",
            "web_root has no effect on a proxy site's built-in server block",
        ),
        (
            "nginx = true",
            "a site without PHP is kind = \"static\" or \"proxy\"",
        ),
        (&format!("{st}web_root = \".\""), "not the release's top"),
        (
            &format!("{st}web_root = \"/srv/www\""),
            "web_root must be a folder inside the release",
        ),
        (&format!("{st}web_root = \"a/../..\""), "web_root must be"),
        (&format!("{st}web_root = \"a b\""), "web_root must be"),
        (
            "kind = \"static\"",
            "line 7: servers[0].sites[0].kind describes the nginx server block flipdeck writes: set nginx = true",
        ),
        (
            "ssl_certificate = \"/a\"",
            "ssl_certificate describes the nginx server block",
        ),
        (
            &format!("{st}nginx_directives = \"gzip on\""),
            "nginx_directives entry \"gzip on\" must end with `;`",
        ),
        (
            &format!("{st}nginx_directives = [\"}} server {{ listen 1;\"]"),
            "did not open",
        ),
        (
            &format!("{st}nginx_directives = 3"),
            "a string or a list of strings",
        ),
        (
            &format!("{st}ssl_certificate = \"/a\""),
            "ssl_certificate needs ssl_certificate_key",
        ),
        (
            &format!("{st}ssl_certificate_key = \"/a\""),
            "ssl_certificate_key needs ssl_certificate",
        ),
        (
            &format!("{st}ssl_listen = 8443"),
            "ssl_listen needs ssl_certificate",
        ),
        (
            &format!("{st}ssl_certificate = \"/a b\"\nssl_certificate_key = \"/b\""),
            "ssl_certificate must be an absolute path",
        ),
        (
            &format!("{st}{cert}ssl_listen = 80"),
            "ssl_listen is on port 80, which listen already redirects from",
        ),
        (
            &format!("{st}{cert}ssl_listen = 0"),
            "ssl_listen must be a port",
        ),
    ] {
        let e = error(site);
        assert!(e.contains(want), "{site}:\n{e}\nwanted: {want}");
    }
    for bad in [
        "127.0.0.1",
        "127.0.0.1:0",
        "127.0.0.1:http",
        "host:70000",
        "unix:relative.sock",
        "unix:/a b",
        "http://127.0.0.1:3000",
        "a;b:80",
        "",
    ] {
        let e = error(&format!(
            "nginx = true\nkind = \"proxy\"\nupstream = [\"{bad}\"]"
        ));
        assert!(e.contains(&format!("upstream entry {bad:?}")), "{bad}: {e}");
    }
    assert!(error("nginx = true\nkind = \"proxy\"\nupstream = []").contains("at least one"));
    assert!(
        error("nginx = true\nkind = \"proxy\"\nupstream = [\"127.0.0.1:1\", \"127.0.0.1:1\"]")
            .contains("twice")
    );
}

#[test]
fn a_template_is_read_beside_the_config_and_its_placeholders_checked() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    let write = |text: &str| std::fs::write(dir.path().join("site.conf"), text).unwrap();
    let st = "nginx = true\nkind = \"static\"\nnginx_template = \"site.conf\"";
    write("server { listen {{listen}}; root {{root}}; }\n");
    let n = parse_at(&config, st).unwrap().servers[0].sites[0]
        .nginx
        .clone()
        .unwrap();
    let t = n.template.unwrap();
    assert_eq!(t.path, "site.conf");
    assert_eq!(t.text, "server { listen {{listen}}; root {{root}}; }\n");

    let err = |site: &str| parse_at(&config, site).unwrap_err().to_string();
    write("server { listen {{port}}; root {{ root }}; {{domain}} }");
    let e = err(st);
    assert!(
        e.contains("line 9: servers[0].sites[0].nginx_template")
            && e.contains(
                "uses unknown placeholders {{port}}, {{ root }} (known: {{domain}}, {{listen}}"
            ),
        "{e}"
    );
    write("server { fastcgi_pass unix:{{php_fpm_socket}}; }");
    assert!(
        err(st).contains("uses {{php_fpm_socket}}, which needs kind = \"php\" (this site is kind \"static\", without TLS)"),
        "{}",
        err(st)
    );
    write("server { listen {{ssl_listen}}; }");
    assert!(err(st).contains("{{ssl_listen}}, which needs ssl_certificate"));
    write("server { listen {{listen}}; }");
    let e = err(&format!("{st}\nnginx_directives = \"gzip on;\""));
    assert!(e.contains("has no {{directives}}"), "{e}");
    std::fs::remove_file(dir.path().join("site.conf")).unwrap();
    let e = err(st);
    assert!(
        e.contains("nginx_template cannot be read") && e.contains("site.conf"),
        "{e}"
    );
    // A proxy site may use web_root in its own template.
    write("upstream-less { proxy_pass http://{{upstream}}; root {{root}}; }");
    let n = parse_at(
        &config,
        "nginx = true\nkind = \"proxy\"\nupstream = \"127.0.0.1:3000\"\nweb_root = \"static\"\nnginx_template = \"site.conf\"",
    )
    .unwrap();
    assert_eq!(
        n.servers[0].sites[0].nginx.as_ref().unwrap().web_root,
        "static"
    );
}
