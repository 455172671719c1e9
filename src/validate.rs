//! Validation of every user value that ends up in a path or a command. Values are checked against
//! what they may be before use, and quoted anyway, so a config or a flag can neither point outside
//! a site nor add a shell word (docs/design.md §8). Each check returns a sentence saying what is
//! expected, for config and CLI errors alike.

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

/// The name of a site command (`flipdeck run SITE NAME`): a lower-case word, since it is typed
/// on command lines and is a TOML key.
pub fn command_name(s: &str) -> Result<(), String> {
    let ok = s.len() <= 64
        && s.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err("must be 1 to 64 lower-case letters, digits, '_' or '-', starting with a letter or a digit".into())
    }
}

/// A server's `stage` (`production`, `staging`): the same words as a server name, since it is
/// typed after `--stage` and shown in the dashboard's tree.
pub fn stage(s: &str) -> Result<(), String> {
    server_name(s)
}

/// An SSH `host`: a name, an address or a `~/.ssh/config` alias. It is handed to the SSH
/// client, so it cannot start with `-` or hold whitespace or control characters.
pub fn ssh_host(s: &str) -> Result<(), String> {
    if s.is_empty() || s.starts_with('-') || s.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err("must be a host name or address".into());
    }
    Ok(())
}

/// An SSH login `user`: letters, digits, `.`, `_`, `-`, not starting with `-`.
pub fn ssh_user(s: &str) -> Result<(), String> {
    let ok = !s.is_empty()
        && !s.starts_with('-')
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err("must be a user name (letters, digits, '.', '_', '-')".into())
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

/// A ref to deploy (`deploy --ref`): a tag, a branch or another ref by git's
/// check-ref-format rules (those of `branch`), or a commit id (hex, which those rules allow).
pub fn git_ref(s: &str) -> Result<(), String> {
    branch(s).map_err(|w| {
        w.replace(
            "git branch name",
            "git ref (a tag, a branch or a commit id)",
        )
    })
}

/// A commit id as `--commit` takes it: 7 to 64 hex digits.
pub fn commit_id(s: &str) -> Result<(), String> {
    if (7..=64).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(())
    } else {
        Err("is not a commit id (7 to 64 hex digits)".to_string())
    }
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
mod tests;
