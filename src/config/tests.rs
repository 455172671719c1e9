//! The config's unit tests: parsing, defaults, lookups (here) and the web-server keys (`web`).

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
shared = ["storage", ".env", "vendor", "node_modules"] # the spec's list: all linked
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
    assert_eq!(
        s.sites[0].shared,
        ["storage", ".env", "vendor", "node_modules"]
    );
    assert!(
        s.sites[0].cached.is_empty(),
        "what a config shares is not cached too"
    );
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
    let e = parse(&EXAMPLE.replace("\"/srv/repos/app.git\"", "\"--upload-pack=x\"")).unwrap_err();
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
fn data_is_shared_and_dependency_folders_are_cached_by_default() {
    let base = "[[servers]]\nname = \"w\"\ntransport = \"local\"\nroot = \"/srv\"\n[[servers.sites]]\ndomain = \"example.com\"\n";
    let c = parse(base).unwrap();
    let s = &c.servers[0].sites[0];
    assert_eq!(s.shared, ["storage/", ".env"]);
    assert_eq!(s.cached, ["vendor", "node_modules"]);
    let c = parse(&format!("{base}shared = [\"storage\", \"node_modules\"]\n")).unwrap();
    assert_eq!(c.servers[0].sites[0].cached, ["vendor"]);
    let c = parse(&format!("{base}cached = [\"vendor/\", \"public/build\"]\n")).unwrap();
    assert_eq!(c.servers[0].sites[0].cached, ["vendor", "public/build"]);
    let e = parse(&format!("{base}cached = [\"storage/cache\"]\n")).unwrap_err();
    assert_eq!(
        e.to_string(),
        "config /etc/f.toml line 7: servers[0].sites[0].cached entry \"storage/cache\" is also shared (\"storage/\"): a path is either shared (one copy for every release) or cached (one per release)"
    );
    let e = parse(&format!("{base}cached = [\"../x\"]\n")).unwrap_err();
    assert!(
        e.to_string()
            .contains("cached entry \"../x\" must be a relative path"),
        "{e}"
    );
}

#[test]
fn domains_are_looked_up_case_insensitively() {
    let c = parse(&EXAMPLE.replace("example.com", "app.example.test")).unwrap();
    assert_eq!(
        c.find_site("App.Example.Test").unwrap().key(),
        "web1/app.example.test"
    );
    assert_eq!(
        c.find_site("web1/APP.example.test").unwrap().key(),
        "web1/app.example.test"
    );
    let twice = format!("{EXAMPLE}[[servers.sites]]\ndomain = \"Example.COM\"\n");
    let e = parse(&twice).unwrap_err();
    assert!(
        e.to_string().contains("is configured twice on this server"),
        "{e}"
    );
}

#[test]
fn shared_kinds() {
    assert!(SiteConfig::shared_is_file(".env"));
    assert!(SiteConfig::shared_is_file("config/app.php"));
    assert!(!SiteConfig::shared_is_file("storage"));
    assert!(!SiteConfig::shared_is_file("public/v1.2/"));
}

#[test]
fn stages_and_protection() {
    let c = parse(
        "[[servers]]\nname = \"p\"\ntransport = \"local\"\nroot = \"/srv\"\nstage = \"production\"\nprotected = true\n\
         [[servers.sites]]\ndomain = \"a.com\"\n\
         [[servers]]\nname = \"s\"\ntransport = \"local\"\nroot = \"/srv\"\nstage = \"staging\"\n\
         [[servers.sites]]\ndomain = \"a.com\"\n[[servers.sites]]\ndomain = \"b.com\"\nprotected = true\n",
    )
    .unwrap();
    let prot: Vec<(String, bool)> = c.sites().map(|s| (s.key(), s.protected())).collect();
    assert_eq!(
        prot,
        [
            ("p/a.com".to_string(), true),
            ("s/a.com".to_string(), false),
            ("s/b.com".to_string(), true)
        ]
    );
    let mut staging = c.clone();
    staging.retain_stage("staging").unwrap();
    assert_eq!(staging.find_sites("a.com").unwrap().len(), 1);
    let e = c.clone().retain_stage("qa").unwrap_err();
    assert_eq!(e.exit_code(), 2);
    assert!(e.to_string().contains("stages: production, staging"), "{e}");
    let e = parse("[[servers]]\nname = \"p\"\ntransport = \"local\"\nroot = \"/srv\"\nstage = \"pro duction\"\n")
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "config /etc/f.toml line 5: servers[0].stage must be 1 to 64 letters, digits, '.', '_' or '-', not starting with '-' or '.'"
    );
    let e = parse(
        "[[servers]]\nname = \"p\"\ntransport = \"local\"\nroot = \"/srv\"\nprotected = \"yes\"\n",
    )
    .unwrap_err()
    .to_string();
    assert!(e.starts_with("config /etc/f.toml line 5"), "{e}");
}

/// The exact texts of config errors, one per kind of mistake. serde's own words are part of them
/// (the raw structs' names, their field order and types), so a change to `raw.rs` shows here.
#[test]
fn error_texts_are_pinned() {
    let cases = [
        (
            "[[servers]]\nname = \"w\"\ntransport = \"local\"\nroot = \"/srv\"\nbogus = 1\n",
            "config /c.toml line 5 (`bogus = 1`): unknown field `bogus`, expected one of `name`, `transport`, `root`, `php_version`, `reload_command`, `host`, `port`, `user`, `identity_file`, `known_hosts_file`, `host_key_policy`, `connect_timeout_s`, `forward_agent`, `jump`, `certificate_file`, `php_fpm_config`, `nginx_sites_dir`, `nginx_test_command`, `nginx_reload_command`, `stage`, `protected`, `sites`",
        ),
        (
            "bogus = 1\n[[servers]]\nname = \"w\"\ntransport = \"local\"\nroot = \"/srv\"\n[[servers.sites]]\ndomain = \"example.com\"\n",
            "config /c.toml line 1 (`bogus = 1`): unknown field `bogus`, expected one of `servers`, `redact`, `parallel`, `refresh_s`, `theme`, `colors`, `keys`, `notify`",
        ),
        (
            "[[servers]]\nname = \"a\"\n",
            "config /c.toml line 2: servers[0].host is required for transport = \"ssh\" (a host name, address or ~/.ssh/config alias)",
        ),
        (
            "[[servers]]\nname = \"a\"\ntransport = \"local\"\n",
            "config /c.toml line 2: servers[0].root is required for transport = \"local\" (an absolute path)",
        ),
        (
            "[[servers]]\nhost = \"h\"\n",
            "config /c.toml line 1 (`[[servers]]`): missing field `name`",
        ),
        (
            "[[servers]]\nname = \"a\"\ntransport = \"carrier-pigeon\"\nroot = \"/x\"\n",
            "config /c.toml line 3 (`transport = \"carrier-pigeon\"`): unknown variant `carrier-pigeon`, expected `ssh` or `local`",
        ),
        (
            "[[servers]]\nname = \"a\"\nhost = \"h\"\nport = 70000\n",
            "config /c.toml line 4 (`port = 70000`): invalid value: integer `70000`, expected u16",
        ),
        (
            "[[servers]]\nname = \"w\"\ntransport = \"local\"\nroot = \"/srv\"\n[[servers.sites]]\ndomain = \"example.com\"\nkeep = 0\n",
            "config /c.toml line 7: servers[0].sites[0].keep must be a whole number from 1 to 10000",
        ),
        (
            "[[servers]]\nname = \"w\"\ntransport = \"local\"\nroot = \"/srv\"\n[[servers.sites]]\ndomain = \"example.com\"\nkeep = \"3\"\n",
            "config /c.toml line 7 (`keep = \"3\"`): invalid type: string \"3\", expected i64",
        ),
        (
            "[[servers]]\nname = \"a\"\nhost = \"h\"\n[[servers]]\nname = \"a\"\nhost = \"h\"\n",
            "config /c.toml line 5: servers[1].name is used twice",
        ),
        (
            "[[servers]]\nname = \"w\"\ntransport = \"local\"\nroot = \"/srv\"\n[[servers.sites]]\ndomain = \"example.com\"\n[[servers.sites]]\ndomain = \"example.com\"\n",
            "config /c.toml line 8: servers[0].sites[1].domain is configured twice on this server",
        ),
        (
            "[[servers]]\nname = \"w\"\ntransport = \"local\"\nroot = \"/srv\"\n[[servers.sites]]\ndomain = \"example.com\"\nshared = [\"storage\", \"../etc\"]\n",
            "config /c.toml line 7: servers[0].sites[0].shared entry \"../etc\" must be a relative path of letters, digits, '.', '_', '-' and '/' (e.g. storage or .env), without '..' or empty components",
        ),
        (
            "[[servers]]\nname = \"w\"\ntransport = \"local\"\nroot = \"/srv\"\n[[servers.sites]]\ndomain = \"example.com\"\nhealth_check = \"curl\"\n",
            "config /c.toml line 7 (`health_check = \"curl\"`): invalid type: string \"curl\", expected struct RawHealthCheck",
        ),
        (
            "[[servers]]\nname = \"w\"\ntransport = \"local\"\nroot = \"/srv\"\n[[servers.sites]]\ndomain = \"example.com\"\nhealth_check = { url = \"http://a/\", bogus = 1 }\n",
            "config /c.toml line 7 (`health_check = { url = \"http://a/\", bogus = 1 }`): unknown field `bogus`, expected one of `url`, `command`, `expect_status`, `timeout_s`, `retries`, `interval_s`",
        ),
        (
            "[[servers]]\nname = \"w\"\ntransport = \"local\"\nroot = \"/srv\"\n[[servers.sites]]\ndomain = \"example.com\"\nhealth_check = { url = \"http://a/\", expect_status = 99 }\n",
            "config /c.toml line 7: servers[0].sites[0].health_check expect_status must be a whole number from 100 to 599",
        ),
        (
            "[[servers]]\nname = \"w\"\ntransport = \"local\"\nroot = \"/srv\"\n[[servers.sites]]\ndomain = \"example.com\"\nauto_revert = { errors_5xx_per_s = 2, for_s = 10 }\n",
            "config /c.toml line 7: servers[0].sites[0].auto_revert needs watch_s of at least for_s (10 s): the watch after the switch is when it can revert (watch_s is 0)",
        ),
        (
            "[[servers]]\nname = \"w\"\ntransport = \"local\"\nroot = \"/srv\"\n[[servers.sites]]\ndomain = \"example.com\"\nwatch_s = 30\nauto_revert = { errors_5xx_per_s = 0, for_s = 10 }\n",
            "config /c.toml line 8: servers[0].sites[0].auto_revert errors_5xx_per_s must be a number above 0",
        ),
        (
            "[[servers]]\nname = \"w\"\ntransport = \"local\"\nroot = \"/srv\"\n[[servers.sites]]\ndomain = \"example.com\"\nwatch_s = 30\nauto_revert = { errors_5xx_per_s = 2.5, for_s = 0 }\n",
            "config /c.toml line 8: servers[0].sites[0].auto_revert for_s must be a whole number of seconds from 1",
        ),
        (
            "[[servers]]\nname = \"w\"\ntransport = \"local\"\nroot = \"/srv\"\n[[servers.sites]]\ndomain = \"example.com\"\nwatch_s = 30\nauto_revert = { errors_5xx_per_s = 2.5 }\n",
            "config /c.toml line 8: servers[0].sites[0].auto_revert needs for_s (seconds in a row at that rate)",
        ),
        (
            "[[servers]]\nname = \"w\"\ntransport = \"local\"\nroot = \"/srv\"\n[[servers.sites]]\ndomain = \"example.com\"\nwatch_s = -1\n",
            "config /c.toml line 7: servers[0].sites[0].watch_s must be a whole number of seconds from 0 (no watch) to 86400",
        ),
        (
            "[[servers]]\nname = \"w\"\ntransport = \"local\"\nroot = \"/srv\"\n[[servers.sites]]\ndomain = \"example.com\"\napp_log = \"../../etc/shadow\"\n",
            "config /c.toml line 7: servers[0].sites[0].app_log must be a relative path of letters, digits, '.', '_', '-' and '/' (e.g. storage or .env), without '..' or empty components",
        ),
        (
            "[[servers]]\nname = \"w\"\ntransport = \"local\"\nroot = \"/srv\"\n[[servers.sites]]\ndomain = \"example.com\"\naccess_log = \"/var/log/x;y\"\n",
            "config /c.toml line 7: servers[0].sites[0].access_log must be an absolute path of letters, digits and '/', '.', '_', '-', '+', '@' (it goes into an nginx config)",
        ),
        (
            "servers = [1]\n",
            "config /c.toml line 1 (`servers = [1]`): invalid type: integer `1`, expected struct RawServer",
        ),
        (
            "[[servers]]\nname = \"a\"\nhost = \"h\"\nsites = [1]\n",
            "config /c.toml line 4 (`sites = [1]`): invalid type: integer `1`, expected struct RawSite",
        ),
        (
            "[[servers]]\nname = \"w\"\ntransport = \"local\"\nroot = \"/srv\"\n[[servers.sites]]\ndomain = \"example.com\"\nnginx = true\n",
            "config /c.toml line 6: servers[0].sites[0].php_fpm_socket is required for nginx = true when the server has no php_version (e.g. \"/run/php/php8.3-fpm.sock\"); a site without PHP is kind = \"static\" or \"proxy\"",
        ),
        (
            "[[servers]]\nname = \"w\"\ntransport = \"local\"\nroot = \"/srv\"\nnginx_test_command = \" \"\n",
            "config /c.toml line 5: servers[0].nginx_test_command cannot be empty: an untested nginx config is never reloaded",
        ),
        (
            "[[servers]]\nname = \"a\"\nhost = \"h\"\nconnect_timeout_s = 0\n",
            "config /c.toml line 4: servers[0].connect_timeout_s must be 1 to 600 seconds",
        ),
        (
            "parallel = 0\n[[servers]]\nname = \"w\"\ntransport = \"local\"\nroot = \"/srv\"\n[[servers.sites]]\ndomain = \"example.com\"\n",
            "config /c.toml line 1: parallel must be a whole number from 1 to 100",
        ),
        (
            "refresh_s = 3601\n",
            "config /c.toml line 1: refresh_s must be a whole number of seconds from 0 (off) to 3600",
        ),
        (
            "theme = \"solarized\"\n",
            "config /c.toml line 1: theme must be \"dark\", \"light\" or \"mono\"",
        ),
        (
            "[colors]\nok = \"green\"\nfocus = \"bright pink\"\n",
            "config /c.toml line 3: colors.focus must be a colour name (red, lightblue, darkgray, …), \"#rrggbb\" or an index 0-255",
        ),
        (
            "[colors]\nbackground = \"red\"\n",
            "config /c.toml line 2: colors.background is not an element; the elements are ok, error, warn, step, notice, key, dim, border, focus, active",
        ),
        (
            "[keys]\ndeploy = 4\n",
            "config /c.toml line 2: keys.deploy must be a key (\"d\", \"ctrl-d\", \"F5\") or a list of keys",
        ),
        (
            "[[servers]\n",
            "config /c.toml line 1 (`[[servers]`): unclosed array table, expected `]`",
        ),
        (
            "[[servers]]\nname = \"a\"\nhost = \"h\"\nuser = \"a b\"\nphp_version = \"x\"\nconnect_timeout_s = 0\n",
            "config /c.toml line 4: servers[0].user must be a user name (letters, digits, '.', '_', '-')",
        ),
        (
            "[[servers]]\nname = \"w\"\ntransport = \"local\"\nroot = \"/srv\"\n[[servers.sites]]\ndomain = \"example.com\"\nrepository = \"x\"\nbranch = \"..\"\nshared = [\"/\"]\nkeep = 0\nnginx = true\nlisten = 0\nhealth_check = {}\n",
            "config /c.toml line 7: servers[0].sites[0].repository must be an absolute path, a URL (https://, ssh://, git://, file://) or user@host:path",
        ),
        (
            "[[servers]]\nname = \"a\"\nhost = \"h\"\njump = \"b\"\n[[servers]]\nname = \"b\"\nhost = \"g\"\njump = [\"a\"]\n",
            "config /c.toml line 8: servers[1].jump goes round in a loop through \"a\"",
        ),
        (
            "[[servers]]\nname = \"a\"\nhost = \"h\"\njump = \"ops@bastion:99999\"\n",
            "config /c.toml line 4: servers[0].jump entry \"ops@bastion:99999\" must end in a port from 1 to 65535",
        ),
        (
            "[[servers]]\nname = \"a\"\nhost = \"h\"\njump = []\n",
            "config /c.toml line 4: servers[0].jump must name at least one bastion",
        ),
        (
            "[[servers]]\nname = \"a\"\nhost = \"h\"\njump = 3\n",
            "config /c.toml line 4 (`jump = 3`): a string or a list of strings",
        ),
        (
            "[[servers]]\nname = \"l\"\ntransport = \"local\"\nroot = \"/srv\"\n[[servers]]\nname = \"a\"\nhost = \"h\"\njump = \"l\"\n",
            "config /c.toml line 8: servers[1].jump names \"l\", which is not an SSH server",
        ),
        (
            "parallel = 0\nredact = [\"(\"]\n[[servers]]\nname = \"a/b\"\n",
            "config /c.toml line 4: servers[0].name must be 1 to 64 letters, digits, '.', '_' or '-', not starting with '-' or '.'",
        ),
    ];
    for (text, want) in cases {
        let e = Config::parse(text, Path::new("/c.toml")).unwrap_err();
        assert_eq!(e.to_string(), want, "{text}");
        assert_eq!(e.exit_code(), 2);
    }
}

/// nginx, PHP-FPM and health-check keys.
mod web {
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
    fn hooks_and_require_env() {
        let s = site(
            "",
            "after_switch = \"php artisan queue:restart\"\nafter_rollback = \"  \"\non_failure = '''\necho \"$FLIPDECK_RELEASE\" ; exit 3\n'''\nrequire_env = true",
        );
        assert_eq!(
            s.hooks.after_switch.as_deref(),
            Some("php artisan queue:restart")
        );
        assert_eq!(s.hooks.after_rollback, None, "a blank hook is no hook");
        assert_eq!(
            s.hooks.on_failure.as_deref(),
            Some("echo \"$FLIPDECK_RELEASE\" ; exit 3\n"),
            "run as written"
        );
        assert!(s.require_env);
        let d = site("", "");
        assert_eq!(d.hooks, crate::config::Hooks::default());
        assert!(!d.require_env);
        let e = parse("", "after_switch = \"a\\u0000b\"")
            .unwrap_err()
            .to_string();
        assert!(e.contains("after_switch") && e.contains("NUL"), "{e}");
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
                kind: crate::config::SiteKind::Php {
                    php_fpm_socket: "/run/php/php8.3-fpm.sock".into()
                },
                web_root: "public".into(),
                template: None,
                directives: Vec::new(),
                tls: None,
                access_log: crate::config::default_access_log(&s.sites[0].domain),
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
        assert_eq!(n.php_fpm_socket(), Some("/run/php-fpm/www.sock"));
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

#[test]
fn jump_names_servers_with_their_own_bastions_or_addresses() {
    let text = "[[servers]]\nname = \"app\"\nhost = \"10.0.0.9\"\nforward_agent = true\njump = [\"inner\", \"ops@[::1]:2222\"]\n\
                [[servers]]\nname = \"inner\"\nhost = \"10.0.0.2\"\njump = \"edge.example\"\n";
    let c = Config::parse(text, Path::new("/c.toml")).unwrap();
    let app = &c.servers[0].ssh;
    assert_eq!(app.forward_agent, Some(true));
    match &app.jump[..] {
        [
            super::Jump::Server { name, ssh },
            super::Jump::Address { user, host, port },
        ] => {
            assert_eq!(name, "inner");
            assert!(
                matches!(&ssh.jump[..], [super::Jump::Address { host, .. }] if host == "edge.example")
            );
            assert_eq!(
                (user.as_deref(), host.as_str(), *port),
                (Some("ops"), "::1", Some(2222))
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn dashboard_keys_have_their_defaults_and_values() {
    let base = "[[servers]]\nname = \"w\"\ntransport = \"local\"\nroot = \"/srv\"\n";
    let c = Config::parse(base, Path::new("/c.toml")).unwrap();
    assert_eq!(c.refresh, Some(std::time::Duration::from_secs(5)));
    assert_eq!(c.theme, super::ThemeName::Dark);
    assert!(c.colors.is_empty() && c.keys.is_empty());
    let text = format!(
        "refresh_s = 0\ntheme = \"mono\"\n[colors]\nok = \"#00ff00\"\n[keys]\ndeploy = \"D\"\nhelp = [\"?\", \"F1\"]\n{base}"
    );
    let c = Config::parse(&text, Path::new("/c.toml")).unwrap();
    assert_eq!(c.refresh, None, "0 turns the reads off");
    assert_eq!(c.theme, super::ThemeName::Mono);
    assert_eq!(c.colors, [("ok".to_string(), "#00ff00".to_string())]);
    assert_eq!(c.keys[0].action, "deploy");
    assert_eq!(c.keys[1].keys, ["?", "F1"]);
    assert_eq!(c.keys[1].line, 7);
}

/// `[[notify]]`: defaults, filters, and each mistake reported at its line without quoting the
/// URL or a header value (both may be secrets).
mod notify {
    use super::*;

    const BASE: &str = "[[servers]]\nname = \"web1\"\ntransport = \"local\"\nroot = \"/srv\"\nstage = \"production\"\n\n[[servers.sites]]\ndomain = \"example.com\"\n\n";

    #[test]
    fn defaults_and_filters() {
        let c = parse(&format!(
            "{BASE}[[notify]]\nurl = \"https://hooks.slack.com/services/T0/B0/secret\"\n\n[[notify]]\nurl = \"http://127.0.0.1:9/h\"\nformat = \"discord\"\non = [\"failure\", \"health\", \"failure\"]\ntimeout_s = 2\nheaders = {{ Authorization = \"Bearer abcdefgh123\" }}\nsites = [\"web1/example.com\"]\nstage = \"production\"\n"
        ))
        .unwrap();
        let (a, b) = (&c.notify[0], &c.notify[1]);
        assert_eq!(a.format, NotifyFormat::Json);
        assert_eq!(a.on, NotifyEvent::ALL);
        assert_eq!(a.timeout, Duration::from_secs(5));
        assert_eq!(a.label(), "notify[0] (https://hooks.slack.com/…)");
        assert!(a.covers("any", "other.test", None));
        assert_eq!(b.format, NotifyFormat::Discord);
        assert_eq!(b.on, [NotifyEvent::Failure, NotifyEvent::Health]);
        assert_eq!(b.timeout, Duration::from_secs(2));
        assert_eq!(b.headers[0].0, "Authorization");
        assert!(b.covers("web1", "Example.com", Some("production")));
        assert!(!b.covers("web2", "example.com", Some("production")));
        assert!(!b.covers("web1", "example.com", Some("staging")));
    }

    #[test]
    fn mistakes_name_the_line() {
        let cases = [
            (
                "[[notify]]\nurl = \"ftp://x.test/secret\"\n",
                "line 11: notify[0].url must be an http:// or https:// URL with a host",
            ),
            (
                "[[notify]]\nurl = \"https:///nohost\"\n",
                "line 11: notify[0].url must be an http:// or https:// URL with a host",
            ),
            (
                "[[notify]]\nurl = \"https://x.test/a b\"\n",
                "line 11: notify[0].url must be a URL without spaces or control characters",
            ),
            (
                "[[notify]]\nurl = \"https://x.test/\"\nformat = \"teams\"\n",
                "line 12: notify[0].format must be \"json\", \"slack\" or \"discord\"",
            ),
            (
                "[[notify]]\nurl = \"https://x.test/\"\non = [\"deploy\", \"deploys\"]\n",
                "line 12: notify[0].on entry \"deploys\" is not an event; the events are deploy, rollback, failure, health, reverted",
            ),
            (
                "[[notify]]\nurl = \"https://x.test/\"\non = []\n",
                "line 12: notify[0].on must name at least one event",
            ),
            (
                "[[notify]]\nurl = \"https://x.test/\"\ntimeout_s = 0\n",
                "line 12: notify[0].timeout_s must be a whole number of seconds from 1 to 60",
            ),
            (
                "[[notify]]\nurl = \"https://x.test/\"\nsites = [\"nope.test\"]\n",
                "line 12: notify[0].sites entry \"nope.test\" is no configured site",
            ),
            (
                "[[notify]]\nurl = \"https://x.test/\"\nstage = \"staging\"\n",
                "line 12: notify[0].stage names a stage no server has",
            ),
            (
                "[[notify]]\nurl = \"https://x.test/\"\nheaders = { \"X-Token\" = \"a\\nb\" }\n",
                "line 12: notify[0].headers.X-Token must be a value without line breaks",
            ),
            ("[[notify]]\nformat = \"json\"\n", "missing field `url`"),
            (
                "[[notify]]\nurl = \"https://x.test/\"\nchannel = \"#ops\"\n",
                "unknown field `channel`, expected one of `url`, `format`, `on`, `timeout_s`, `headers`, `sites`, `stage`",
            ),
        ];
        for (block, want) in cases {
            let e = parse(&format!("{BASE}{block}")).unwrap_err().to_string();
            assert!(e.contains(want), "{block:?}: {e}");
            assert!(!e.contains("secret") && !e.contains("a\\nb"), "{e}");
        }
    }
}

/// `[servers.sites.commands]`.
mod commands {
    use crate::config::Config;
    use std::path::Path;

    const BASE: &str = "[[servers]]\nname = \"w\"\ntransport = \"local\"\nroot = \"/srv\"\n\
                        [[servers.sites]]\ndomain = \"example.com\"\n";

    #[test]
    fn named_commands_are_read_by_name() {
        let t = format!(
            "{BASE}[servers.sites.commands]\nmigrate-status = \"php artisan migrate:status\"\n\
             cache_clear = \"php artisan cache:clear; echo 'done'\"\n"
        );
        let c = Config::parse(&t, Path::new("/c.toml")).unwrap();
        let site = &c.servers[0].sites[0];
        assert_eq!(
            site.commands,
            [
                (
                    "cache_clear".to_string(),
                    "php artisan cache:clear; echo 'done'".to_string()
                ),
                (
                    "migrate-status".to_string(),
                    "php artisan migrate:status".to_string()
                ),
            ]
        );
        assert_eq!(
            site.command("migrate-status"),
            Some("php artisan migrate:status")
        );
        assert_eq!(site.command("nope"), None);
        let bare = Config::parse(BASE, Path::new("/c.toml")).unwrap();
        assert!(bare.servers[0].sites[0].commands.is_empty());
    }

    #[test]
    fn bad_names_and_empty_commands_are_errors_at_the_table() {
        for (entry, why) in [
            ("\"Migrate\" = \"x\"", "name \"Migrate\" must be"),
            ("\"-x\" = \"x\"", "name \"-x\" must be"),
            ("\"a b\" = \"x\"", "name \"a b\" must be"),
            ("\"a;b\" = \"x\"", "name \"a;b\" must be"),
            ("ok = \"  \"", "\"ok\" is empty"),
        ] {
            let t = format!("{BASE}[servers.sites.commands]\n{entry}\n");
            let e = Config::parse(&t, Path::new("/c.toml"))
                .unwrap_err()
                .to_string();
            assert!(
                e.contains("line 7")
                    && e.contains("servers[0].sites[0].commands")
                    && e.contains(why),
                "{entry}: {e}"
            );
        }
        let t = format!("{BASE}[servers.sites.commands]\nn = 3\n");
        let e = Config::parse(&t, Path::new("/c.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 8") && e.contains("string"), "{e}");
    }
}

/// `rollout = { ... }`: each word checked, and the fleet's servers agreeing and big enough.
mod rollout {
    use crate::config::{Config, Pause, Pauses, Reach};
    use std::path::Path;
    use std::time::Duration;

    /// `n` servers with the domain, each with `rollout(i)` added to its site.
    fn fleet(n: usize, rollout: impl Fn(usize) -> String) -> crate::error::Result<Config> {
        let mut t = String::new();
        for i in 0..n {
            t.push_str(&format!(
                "[[servers]]\nname = \"web{}\"\ntransport = \"local\"\nroot = \"/srv/{i}\"\n[[servers.sites]]\ndomain = \"example.com\"\n{}\n",
                i + 1,
                rollout(i)
            ));
        }
        Config::parse(&t, Path::new("/c.toml"))
    }

    #[test]
    fn a_rollout_parses_with_its_defaults() {
        let same =
            |_| "rollout = { batches = [\"50%\", 4], pause = [\"manual\", \"30s\"] }".to_string();
        let c = fleet(4, same).unwrap();
        let r = c.servers[0].sites[0].rollout.clone().unwrap();
        assert_eq!(r.canary, 1);
        assert_eq!(r.batches, [Reach::Percent(50), Reach::Count(4)]);
        assert_eq!(
            r.pauses,
            Pauses::Each(vec![Pause::Manual, Pause::For(Duration::from_secs(30))])
        );
        let c = fleet(2, |_| "rollout = { batches = [\"100%\"] }".to_string()).unwrap();
        let r = c.servers[1].sites[0].rollout.clone().unwrap();
        assert_eq!(r.pauses, Pauses::Every(Pause::Manual));
        assert!(
            fleet(2, |_| String::new()).unwrap().servers[0].sites[0]
                .rollout
                .is_none()
        );
    }

    #[test]
    fn a_fleets_servers_must_agree_on_the_watch() {
        let e = fleet(2, |i| format!("watch_s = {}", 30 * i))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("disagree on watch_s or auto_revert: web2 differ from web1's"),
            "{e}"
        );
        assert!(fleet(2, |_| "watch_s = 30".into()).is_ok());
        // Big pauses are refused, not wrapped around.
        assert!(Pause::parse("307445734561825861m").is_err());
    }

    #[test]
    fn rollout_errors_say_what_is_wrong() {
        let err = |n, r: &str| {
            let r = r.to_string();
            fleet(n, move |_| r.clone()).unwrap_err().to_string()
        };
        let e = err(4, "rollout = { canary = 1 }");
        assert!(e.contains("line 7") && e.contains("needs batches"), "{e}");
        let e = err(4, "rollout = { batches = [\"half\"] }");
        assert!(e.contains("\"half\" is not a batch"), "{e}");
        let e = err(4, "rollout = { batches = [\"100%\"], pause = \"soon\" }");
        assert!(e.contains("\"soon\" is not a pause"), "{e}");
        let e = err(4, "rollout = { batches = [\"100%\"], bogus = 1 }");
        assert!(e.contains("unknown field `bogus`"), "{e}");
        let e = err(4, "rollout = { batches = [\"75%\", \"50%\", \"100%\"] }");
        assert!(e.contains("must grow") && e.contains("example.com"), "{e}");
        let e = err(4, "rollout = { batches = [\"50%\"] }");
        assert!(e.contains("must reach every server"), "{e}");
        let e = err(1, "rollout = { batches = [\"100%\"] }");
        assert!(e.contains("needs a fleet"), "{e}");
        let e = err(
            4,
            "rollout = { batches = [\"50%\", \"100%\"], pause = [\"manual\"] }",
        );
        assert!(e.contains("waits 2 times"), "{e}");
    }

    #[test]
    fn the_servers_of_a_fleet_must_agree() {
        let e = fleet(3, |i| match i {
            0 => "rollout = { batches = [\"100%\"] }".to_string(),
            1 => "rollout = { batches = [\"100%\"], pause = \"30s\" }".to_string(),
            _ => String::new(),
        })
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("disagree on rollout: web2, web3 differ from web1's"),
            "{e}"
        );
    }
}
