//! The validators' unit tests.

use super::*;

#[test]
fn domains() {
    for ok in [
        "example.com",
        "a.b-c.d",
        "localhost",
        "xn--bcher-kva.example",
        "A1.io",
    ] {
        assert!(domain(ok).is_ok(), "{ok}");
    }
    for bad in [
        "", ".", "a..b", ".a", "a.", "-a.com", "a-.com", "a/b", "..", "a b", "a;b", "$(id)",
        "a\nb", "ü.com", "a_b.com",
    ] {
        assert!(domain(bad).is_err(), "{bad:?}");
    }
    assert!(domain(&"a".repeat(64)).is_err());
    assert!(domain(&["a"; 130].join(".")).is_err());
}

#[test]
fn branches_follow_check_ref_format() {
    for ok in ["main", "feature/x", "release-1.2", "a.b", "user@host", "ü"] {
        assert!(branch(ok).is_ok(), "{ok}");
    }
    for bad in [
        "",
        "-x",
        "a..b",
        "a b",
        "a~1",
        "a^",
        "a:b",
        "a?",
        "a*",
        "a[",
        "a\\b",
        "/a",
        "a/",
        "a//b",
        "a.",
        ".a",
        "a/.b",
        "a.lock",
        "a/b.lock/c",
        "@",
        "a@{1}",
        "a\nb",
        "a\u{7f}",
        "$(touch x)",
    ] {
        assert!(branch(bad).is_err(), "{bad:?}");
    }
    // The same verdicts as git itself, where git is installed.
    for b in [
        "main",
        "feature/x",
        "a..b",
        "-x",
        "a.lock",
        "a b",
        ".a",
        "x/y.z",
    ] {
        if let Ok(out) = std::process::Command::new("git")
            .args(["check-ref-format", "--branch", b])
            .output()
        {
            assert_eq!(out.status.success(), branch(b).is_ok(), "{b:?}");
        }
    }
}

#[test]
fn repositories() {
    for ok in [
        "/srv/repos/app.git",
        "https://github.com/o/r.git",
        "ssh://git@host:22/o/r.git",
        "git@github.com:o/r.git",
        "host:repo",
        "file:///srv/r",
    ] {
        assert!(repository(ok).is_ok(), "{ok}");
    }
    for bad in [
        "",
        "relative/path",
        "-uhttps://x",
        "--upload-pack=touch /tmp/x",
        "/a b",
        "/a\nb",
        "ext::sh -c touch% /tmp/pwned",
        "foo://bar",
        ":path",
        "a/b:c",
    ] {
        assert!(repository(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn shared_entries() {
    for ok in [
        "storage",
        ".env",
        "vendor",
        "node_modules",
        "config/app.php",
        "public/uploads/",
    ] {
        assert!(shared_entry(ok).is_ok(), "{ok}");
    }
    for bad in [
        "",
        "/etc",
        "..",
        "a/../b",
        "a//b",
        "-rf",
        "a b",
        "$(x)",
        ".",
        ".git",
        "deployment.log",
    ] {
        assert!(shared_entry(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn roots_names_versions() {
    assert!(root_path("/srv/flip").is_ok());
    assert!(root_path("/srv/with space").is_ok());
    assert!(root_path("srv").is_err());
    assert!(root_path("/srv/../etc").is_err());
    assert!(root_path("/a\nb").is_err());
    assert!(server_name("web-1.prod_a").is_ok());
    assert!(server_name("a/b").is_err());
    assert!(server_name("-a").is_err());
    assert!(php_version("8.3").is_ok());
    assert!(php_version("8.3;id").is_err());
    assert!(php_version("8..3").is_err());
}

#[test]
fn nginx_paths() {
    for ok in [
        "/run/php/php8.3-fpm.sock",
        "/home/deploy/example.com/public",
        "/a/b+c@d",
    ] {
        assert!(nginx_path(ok).is_ok(), "{ok}");
    }
    for bad in [
        "run/php.sock",
        "/a b",
        "/a;b",
        "/a$b",
        "/a\"b",
        "/a{b}",
        "/a/../b",
        "/a\nb",
        "/a#b",
        "/a'b",
    ] {
        assert!(nginx_path(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn health_urls() {
    for ok in [
        "http://127.0.0.1/health",
        "https://example.com:8443/up?full=1",
        "http://[::1]:8080/",
        "http://user@localhost/x",
    ] {
        assert!(health_url(ok).is_ok(), "{ok}");
    }
    for bad in [
        "",
        "ftp://x/",
        "http://",
        "http:///path",
        "http://a b/",
        "http://a/\n",
        "http://a/\"x",
        "http://a/`id`",
        "http://a/$(id)<",
        "http://a/{x}",
        "-http://a/",
        "127.0.0.1/health",
    ] {
        assert!(health_url(bad).is_err(), "{bad:?}");
    }
    assert_eq!(url_host("http://127.0.0.1:8080/h"), Some("127.0.0.1"));
    assert_eq!(url_host("http://u:p@[::1]:80/"), Some("[::1]"));
    assert_eq!(url_host("https://example.com"), Some("example.com"));
}

#[test]
fn ssh_hosts_and_users() {
    for ok in ["web1.example.com", "10.0.0.1", "::1", "alias_1"] {
        assert!(ssh_host(ok).is_ok(), "{ok}");
    }
    for bad in ["", "-oProxyCommand=x", "a b", "a\tb", "a\nb", "a\0b"] {
        assert!(ssh_host(bad).is_err(), "{bad:?}");
    }
    for ok in ["deploy", "a.b_c-d", "u1"] {
        assert!(ssh_user(ok).is_ok(), "{ok}");
    }
    for bad in ["", "-l", "a b", "a@b", "a;b", "ü"] {
        assert!(ssh_user(bad).is_err(), "{bad:?}");
    }
}
