//! Host aliases from an OpenSSH client config file (usually `~/.ssh/config`), parsed by the
//! `ssh2-config` crate (which reads `Include`). The keywords flipdeck honours are the fields of
//! [`ResolvedHost`]; the README has the table. `Match host` blocks are read as `Host` blocks; any
//! other `Match` block is skipped, since the crate has no `Match`. That holds in included files
//! too: each `Include` is pointed at a rewritten copy of the files it names (see [`prepare`]).

use super::SshError;
use ssh2_config::{ParseRule, SshConfig};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Where to connect, after applying the ssh config.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ResolvedHost {
    pub host: String,
    pub port: u16,
    /// `None` when neither the caller nor the config names one; the caller picks the default.
    pub user: Option<String>,
    pub identity_file: Option<PathBuf>,
    /// `CertificateFile`.
    pub certificate_file: Option<PathBuf>,
    /// `ForwardAgent`.
    pub forward_agent: Option<bool>,
    /// `ProxyJump`, first hop first (`none` gives an empty list).
    pub proxy_jump: Vec<String>,
    /// `IdentitiesOnly yes`.
    pub identities_only: bool,
    /// `IdentityAgent`: a socket path, `SSH_AUTH_SOCK`, or `none`.
    pub identity_agent: Option<String>,
    /// `ConnectTimeout`.
    pub connect_timeout: Option<Duration>,
    /// `ServerAliveInterval`.
    pub server_alive_interval: Option<Duration>,
}

/// Applies the `Host` blocks of `ssh_config_path` that match `host` (first value wins, as in
/// OpenSSH). Explicit arguments win over the config. A missing config file is not an error.
pub fn resolve_alias(
    host: &str,
    port: Option<u16>,
    user: Option<String>,
    identity_file: Option<PathBuf>,
    ssh_config_path: &Path,
) -> Result<ResolvedHost, SshError> {
    let Some(config) = load(ssh_config_path)? else {
        return Ok(ResolvedHost {
            host: host.to_string(),
            port: port.unwrap_or(22),
            user,
            identity_file,
            ..ResolvedHost::default()
        });
    };
    // OpenSSH lower-cases the name it matches Host patterns against.
    let params = config.query(host.to_ascii_lowercase());
    let host_name = params
        .host_name
        .map(|h| expand_tokens(&h, &[('h', host)]))
        .unwrap_or_else(|| host.to_string());
    let user = user.or(params.user);
    let tokens = [
        ('h', host_name.as_str()),
        ('r', user.as_deref().unwrap_or("")),
    ];
    let expand = |p: &Path| PathBuf::from(expand_tokens(&p.to_string_lossy(), &tokens));
    let identity_file = identity_file.or_else(|| {
        let first = params.identity_file?.into_iter().next()?;
        Some(expand(&first))
    });
    let certificate_file = params.certificate_file.as_deref().map(expand);
    let unsupported = |key: &str| {
        params
            .unsupported_fields
            .get(key)
            .and_then(|args| args.first())
            .cloned()
    };
    let proxy_jump = match params.proxy_jump {
        Some(hops) if hops.iter().any(|h| h.eq_ignore_ascii_case("none")) => Vec::new(),
        Some(hops) => hops,
        None => Vec::new(),
    };
    Ok(ResolvedHost {
        port: port.or(params.port).unwrap_or(22),
        user,
        identity_file,
        certificate_file,
        forward_agent: params.forward_agent,
        proxy_jump,
        identities_only: unsupported("identitiesonly")
            .is_some_and(|v| v.eq_ignore_ascii_case("yes")),
        identity_agent: unsupported("identityagent"),
        connect_timeout: params.connect_timeout,
        server_alive_interval: params.server_alive_interval.filter(|d| !d.is_zero()),
        host: host_name,
    })
}

fn load(path: &Path) -> Result<Option<SshConfig>, SshError> {
    let err = |reason: String| SshError::Config {
        path: path.to_path_buf(),
        reason,
    };
    let text = match std::fs::read(path) {
        Ok(b) => String::from_utf8_lossy(&b).into_owned(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(err(e.to_string())),
    };
    // Keywords this parser does not know (ControlMaster...) must not make aliases unusable.
    let rules = ParseRule::ALLOW_UNKNOWN_FIELDS | ParseRule::ALLOW_UNSUPPORTED_FIELDS;
    let home = crate::paths::home_dir();
    let scratch = tempfile::tempdir().map_err(|e| err(format!("a scratch directory: {e}")))?;
    let mut copies = 0;
    let text = prepare(&text, &home, scratch.path(), 0, &mut copies).map_err(err)?;
    SshConfig::default()
        .home_dir(home)
        .parse(&mut text.as_bytes(), rules)
        .map(Some)
        .map_err(|e| err(e.to_string()))
}

/// OpenSSH's limit on nested `Include`s (it also stops a file including itself).
const MAX_INCLUDE_DEPTH: usize = 16;

/// `text` with `Match` lines rewritten ([`match_as_host`]) and each `Include` naming rewritten
/// copies (in `scratch`) of the files it matches, in the same order, so the parser still does
/// the including (with its scoping of an `Include` inside a `Host` block). An `Include` that
/// matches nothing is dropped, as OpenSSH ignores it.
fn prepare(
    text: &str,
    home: &Path,
    scratch: &Path,
    depth: usize,
    copies: &mut usize,
) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    for line in match_as_host(text).lines() {
        let words: Vec<&str> = line
            .split(|c: char| c.is_whitespace() || c == '=')
            .filter(|w| !w.is_empty())
            .collect();
        if !words
            .first()
            .is_some_and(|w| w.eq_ignore_ascii_case("include"))
        {
            out.push_str(line);
            out.push('\n');
            continue;
        }
        if depth >= MAX_INCLUDE_DEPTH {
            return Err(format!(
                "Include nested deeper than {MAX_INCLUDE_DEPTH} files (a file including itself?)"
            ));
        }
        let mut paths = Vec::new();
        for arg in &words[1..] {
            for file in include_matches(arg, home)? {
                let included =
                    std::fs::read(&file).map_err(|e| format!("Include {}: {e}", file.display()))?;
                let included = String::from_utf8_lossy(&included);
                let copy_text = prepare(&included, home, scratch, depth + 1, copies)?;
                *copies += 1;
                let copy = scratch.join(format!("include-{copies}.conf"));
                std::fs::write(&copy, copy_text).map_err(|e| format!("{}: {e}", copy.display()))?;
                paths.push(copy.display().to_string());
            }
        }
        if !paths.is_empty() {
            out.push_str(&format!("Include {}\n", paths.join(" ")));
        }
    }
    Ok(out)
}

/// The files an `Include` argument names, as OpenSSH resolves it: absolute, `~/`, or relative
/// to `~/.ssh`; a glob pattern, matched in sorted order.
fn include_matches(arg: &str, home: &Path) -> Result<Vec<PathBuf>, String> {
    let escaped = glob::Pattern::escape(&home.display().to_string());
    let pattern = if arg.starts_with('/') {
        arg.to_string()
    } else if let Some(rest) = arg.strip_prefix("~/") {
        format!("{escaped}/{rest}")
    } else {
        format!("{escaped}/.ssh/{arg}")
    };
    let files = glob::glob(&pattern).map_err(|e| format!("Include {arg}: {e}"))?;
    Ok(files
        .filter_map(|f| f.ok())
        .filter(|f| f.is_file())
        .collect())
}

/// A name no host has: the `Host` pattern standing in for a `Match` block that cannot be read.
const NEVER: &str = "flipdeck-unsupported-match.invalid";

/// `Match host a,b` becomes `Host a b`, `Match all` becomes `Host *`; any other `Match` block
/// (exec, user, canonical...) becomes a block for no host, so its lines apply nowhere rather than
/// to the block before it.
fn match_as_host(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        let mut words = line.split(|c: char| c.is_whitespace() || c == '=');
        let words: Vec<&str> = words.by_ref().filter(|w| !w.is_empty()).collect();
        if words
            .first()
            .is_some_and(|w| w.eq_ignore_ascii_case("match"))
        {
            let criteria = &words[1..];
            let host = match criteria {
                [all] if all.eq_ignore_ascii_case("all") => "*".to_string(),
                [kw, list] if kw.eq_ignore_ascii_case("host") => list.replace(',', " "),
                _ => NEVER.to_string(),
            };
            out.push_str("Host ");
            out.push_str(&host);
        } else {
            out.push_str(line);
        }
        out.push('\n');
    }
    out
}

/// Expands `%x` tokens from `tokens` and `%%`; unknown tokens are kept as written.
fn expand_tokens(text: &str, tokens: &[(char, &str)]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('%') => out.push('%'),
            Some(t) => match tokens.iter().find(|(k, _)| *k == t) {
                Some((_, v)) => out.push_str(v),
                None => {
                    out.push('%');
                    out.push(t);
                }
            },
            None => out.push('%'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve_with(config: &str, host: &str) -> ResolvedHost {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config");
        std::fs::write(&path, config).unwrap();
        resolve_alias(host, None, None, None, &path).unwrap()
    }

    const CONFIG: &str = "\
Host web-?? !web-99
    HostName %h.internal
    User deploy
    IdentityFile /keys/%h_%r

Host prod
    HostName 10.1.2.3
    Port 2200
    ControlMaster auto

Host *
    User fallback
    Port 2022
";

    #[test]
    fn wildcard_alias_with_tokens() {
        let r = resolve_with(CONFIG, "web-01");
        assert_eq!(r.host, "web-01.internal");
        assert_eq!(r.user.as_deref(), Some("deploy"));
        assert_eq!(r.port, 2022);
        assert_eq!(
            r.identity_file,
            Some(PathBuf::from("/keys/web-01.internal_deploy"))
        );
    }

    #[test]
    fn first_value_wins_and_unknown_keywords_are_ignored() {
        let r = resolve_with(CONFIG, "prod");
        assert_eq!((r.host.as_str(), r.port), ("10.1.2.3", 2200));
        assert_eq!(r.user.as_deref(), Some("fallback"));
    }

    #[test]
    fn negated_pattern_excludes() {
        let r = resolve_with(CONFIG, "web-99");
        assert_eq!(r.host, "web-99");
        assert_eq!(r.user.as_deref(), Some("fallback"));
    }

    #[test]
    fn explicit_values_win() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config");
        std::fs::write(&path, CONFIG).unwrap();
        let r = resolve_alias(
            "prod",
            Some(22),
            Some("me".into()),
            Some("/k".into()),
            &path,
        )
        .unwrap();
        assert_eq!(r.port, 22);
        assert_eq!(r.user.as_deref(), Some("me"));
        assert_eq!(r.identity_file, Some(PathBuf::from("/k")));
        assert_eq!(r.host, "10.1.2.3");
    }

    #[test]
    fn more_keywords_match_blocks_and_include() {
        let dir = tempfile::tempdir().unwrap();
        let extra = dir.path().join("extra.conf");
        std::fs::write(&extra, "Host inc\n    HostName included.example\n").unwrap();
        let config = format!(
            "Include {}\n\
             Host prod\n    ForwardAgent yes\n    ProxyJump ops@bastion:2222,inner\n\
             \x20   IdentitiesOnly yes\n    IdentityAgent none\n    ConnectTimeout 7\n\
             \x20   ServerAliveInterval 9\n    CertificateFile /certs/%r-cert.pub\n    User dep\n\
             Match exec \"true\"\n    User wrong\n\
             Match host web-*,db\n    Port 2201\n",
            extra.display()
        );
        let r = resolve_with(&config, "prod");
        assert_eq!(r.forward_agent, Some(true));
        assert_eq!(r.proxy_jump, ["ops@bastion:2222", "inner"]);
        assert!(r.identities_only);
        assert_eq!(r.identity_agent.as_deref(), Some("none"));
        assert_eq!(r.connect_timeout, Some(Duration::from_secs(7)));
        assert_eq!(r.server_alive_interval, Some(Duration::from_secs(9)));
        assert_eq!(
            r.certificate_file,
            Some(PathBuf::from("/certs/dep-cert.pub"))
        );
        assert_eq!(r.user.as_deref(), Some("dep"));
        assert_eq!(resolve_with(&config, "web-1").port, 2201);
        assert_eq!(resolve_with(&config, "db").port, 2201);
        assert_eq!(resolve_with(&config, "other").user, None);
        assert_eq!(resolve_with(&config, "inc").host, "included.example");
        let none = resolve_with("Host x\n    ProxyJump none\n", "x");
        assert!(none.proxy_jump.is_empty());
    }

    #[test]
    fn match_blocks_inside_included_files() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().display();
        std::fs::write(
            dir.path().join("10-web.conf"),
            format!(
                "Include {d}/nested.conf\n\
                 Match host web-*\n    User webdeploy\n    ProxyJump jump-a\n\
                 Match exec \"false\"\n    User never\n    Include {d}/nested.conf\n"
            ),
        )
        .unwrap();
        std::fs::write(
            dir.path().join("20-prod.conf"),
            "Match host db\n    Port 2299\nMatch all\n    User everyone\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("nested.conf"),
            "Match host inner\n    HostName inner.example\n",
        )
        .unwrap();
        let config = format!(
            "Include {d}/1*.conf\nHost prod\n    Include {d}/2*.conf\nHost *\n    User last\n"
        );
        let web = resolve_with(&config, "web-1");
        assert_eq!(web.user.as_deref(), Some("webdeploy"));
        assert_eq!(web.proxy_jump, ["jump-a"]);
        assert_eq!(
            resolve_with(&config, "other").user.as_deref(),
            Some("last"),
            "a Match exec block applies nowhere"
        );
        // Nested includes are rewritten too.
        assert_eq!(resolve_with(&config, "inner").host, "inner.example");
        // Included inside `Host prod`: its blocks apply to prod only.
        assert_eq!(
            resolve_with(&config, "prod").user.as_deref(),
            Some("everyone")
        );
        let db = resolve_with(&config, "db");
        assert_eq!((db.port, db.user.as_deref()), (22, Some("last")));
        // A file including itself stops at the depth limit, with an error.
        let selfish = dir.path().join("self.conf");
        std::fs::write(&selfish, format!("Include {}\n", selfish.display())).unwrap();
        let e = resolve_alias("x", None, None, None, &selfish).unwrap_err();
        assert!(e.to_string().contains("Include nested deeper"), "{e}");
    }

    #[test]
    fn missing_config_keeps_the_input() {
        let r = resolve_alias("h", None, None, None, Path::new("/nonexistent/cfg")).unwrap();
        assert_eq!(r.host, "h");
        assert_eq!(r.port, 22);
        assert_eq!(r.user, None);
    }
}
