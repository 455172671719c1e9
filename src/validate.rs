//! Validation of every user value that ends up in a path or a command, so that none can escape
//! the site's directory or change a command (docs/design.md §8). Each check returns a sentence
//! saying what is expected, for config and CLI errors alike.

/// A DNS host name: dot-separated labels of letters, digits and hyphens.
pub fn domain(s: &str) -> Result<(), String> {
    const WHAT: &str = "a DNS host name (letters, digits, hyphens and dots, e.g. example.com)";
    if s.is_empty() || s.len() > 253 {
        return Err(format!("must be {WHAT}, 1 to 253 characters"));
    }
    for label in s.split('.') {
        if label.is_empty() {
            return Err(format!(
                "must be {WHAT}: empty label (leading, trailing or double dot)"
            ));
        }
        if label.len() > 63 {
            return Err(format!("must be {WHAT}: label longer than 63 characters"));
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Err(format!("must be {WHAT}"));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(format!(
                "must be {WHAT}: a label cannot start or end with a hyphen"
            ));
        }
    }
    Ok(())
}

/// A server name: used in `SERVER/DOMAIN`, so no slash; letters, digits, `.`, `_`, `-`.
pub fn server_name(s: &str) -> Result<(), String> {
    let ok = !s.is_empty()
        && s.len() <= 64
        && !s.starts_with(['-', '.'])
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err("must be 1 to 64 letters, digits, '.', '_' or '-', not starting with '-' or '.'".into())
    }
}

/// A branch name under git's ref-name rules (`git check-ref-format --branch`).
pub fn branch(s: &str) -> Result<(), String> {
    let bad = |why: &str| Err(format!("is not a valid git branch name: {why}"));
    if s.is_empty() {
        return bad("empty");
    }
    if s.len() > 255 {
        return bad("longer than 255 characters");
    }
    if s.starts_with('-') {
        return bad("starts with '-'");
    }
    if s == "@" {
        return bad("'@' alone");
    }
    if let Some(c) = s
        .chars()
        .find(|c| c.is_control() || c.is_whitespace() || "~^:?*[\\".contains(*c))
    {
        return bad(&format!("contains {c:?}"));
    }
    if s.contains("..") || s.contains("@{") || s.contains("//") {
        return bad("contains '..', '@{' or '//'");
    }
    if s.starts_with('/') || s.ends_with('/') || s.ends_with('.') {
        return bad("starts or ends with '/', or ends with '.'");
    }
    for part in s.split('/') {
        if part.starts_with('.') || part.ends_with(".lock") {
            return bad("a component starts with '.' or ends with '.lock'");
        }
    }
    Ok(())
}

/// A repository: an absolute path, a URL (`scheme://...`) or an scp-like `user@host:path`.
pub fn repository(s: &str) -> Result<(), String> {
    const WHAT: &str =
        "must be an absolute path, a URL (https://, ssh://, git://, file://) or user@host:path";
    if s.is_empty() || s.len() > 2048 {
        return Err(format!("{WHAT}, 1 to 2048 characters"));
    }
    if s.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(format!("{WHAT}, without spaces or control characters"));
    }
    if s.starts_with('-') {
        return Err(format!("{WHAT}; it cannot start with '-'"));
    }
    if s.starts_with('/') {
        return Ok(());
    }
    if let Some((scheme, rest)) = s.split_once("://") {
        let known = ["https", "http", "ssh", "git", "file", "git+ssh", "ssh+git"];
        if known.contains(&scheme) && !rest.is_empty() {
            return Ok(());
        }
        return Err(format!("{WHAT}; unknown scheme {scheme:?}"));
    }
    // scp-like: [user@]host:path, where host has no '/' (git's own rule for telling it from a path).
    if let Some((host, path)) = s.split_once(':') {
        let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
        if !host.is_empty() && !host.contains('/') && !path.is_empty() {
            return Ok(());
        }
    }
    Err(WHAT.to_string())
}

/// An entry of `shared`: a relative path inside the release, made of plain components.
pub fn shared_entry(s: &str) -> Result<(), String> {
    const WHAT: &str = "must be a relative path of letters, digits, '.', '_', '-' and '/' \
                        (e.g. storage or .env), without '..' or empty components";
    let trimmed = s.strip_suffix('/').unwrap_or(s);
    let ok = !trimmed.is_empty()
        && trimmed.len() <= 255
        && !trimmed.starts_with('-')
        && trimmed
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'/'))
        && trimmed
            .split('/')
            .all(|c| !c.is_empty() && c != "." && c != "..")
        && trimmed != "deployment.log"
        && !trimmed.starts_with(".git/")
        && trimmed != ".git";
    if ok { Ok(()) } else { Err(WHAT.to_string()) }
}

/// The deployment root on the server: an absolute path without `..` or control characters.
pub fn root_path(s: &str) -> Result<(), String> {
    let ok = s.starts_with('/')
        && s.len() <= 1024
        && !s.chars().any(|c| c.is_control())
        && !s.split('/').any(|c| c == "..");
    if ok {
        Ok(())
    } else {
        Err("must be an absolute path without '..' or control characters".into())
    }
}

/// A PHP version such as `8.3`.
pub fn php_version(s: &str) -> Result<(), String> {
    let ok = !s.is_empty()
        && s.len() <= 16
        && s.split('.')
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    if ok {
        Ok(())
    } else {
        Err("must be a version number such as \"8.3\"".into())
    }
}

/// A path written into an nginx config (document root, FastCGI socket): absolute, and only
/// characters nginx reads literally, so no quoting, `$variable` or `;` can change its meaning.
pub fn nginx_path(s: &str) -> Result<(), String> {
    let ok = s.starts_with('/')
        && s.len() <= 1024
        && s.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'/' | b'.' | b'_' | b'-' | b'+' | b'@')
        })
        && !s.split('/').any(|c| c == "..");
    if ok {
        Ok(())
    } else {
        Err(
            "must be an absolute path of letters, digits and '/', '.', '_', '-', '+', '@' \
             (it goes into an nginx config)"
                .into(),
        )
    }
}

/// A health-check URL: `http://` or `https://`, a host, and only the characters RFC 3986 allows
/// (so no whitespace, quotes or control characters reach curl or wget).
pub fn health_url(s: &str) -> Result<(), String> {
    const WHAT: &str = "must be an http:// or https:// URL with a host, without spaces, quotes \
                        or control characters";
    let allowed = |b: u8| b.is_ascii_alphanumeric() || b"-._~:/?#[]@!$&'()*+,;=%".contains(&b);
    let ok = (s.starts_with("http://") || s.starts_with("https://"))
        && s.len() <= 2048
        && s.bytes().all(allowed)
        && url_host(s).is_some_and(|h| !h.is_empty());
    if ok { Ok(()) } else { Err(WHAT.into()) }
}

/// The host of an `http(s)://` URL (without port or user info; IPv6 keeps its brackets).
pub fn url_host(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if host_port.starts_with('[') {
        return host_port.find(']').map(|i| &host_port[..=i]);
    }
    Some(host_port.split(':').next().unwrap_or(""))
}

#[cfg(test)]
mod tests {
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
}
