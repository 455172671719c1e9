//! Host aliases from an OpenSSH client config file (usually `~/.ssh/config`), parsed by the
//! `ssh2-config` crate. Only HostName, User, Port and IdentityFile are taken from it.

use super::SshError;
use ssh2_config::{ParseRule, SshConfig};
use std::io::BufReader;
use std::path::{Path, PathBuf};

/// Where to connect, after applying the ssh config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedHost {
    pub host: String,
    pub port: u16,
    /// `None` when neither the caller nor the config names one; the caller picks the default.
    pub user: Option<String>,
    pub identity_file: Option<PathBuf>,
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
        });
    };
    // OpenSSH lower-cases the name it matches Host patterns against.
    let params = config.query(host.to_ascii_lowercase());
    let host_name = params
        .host_name
        .map(|h| expand_tokens(&h, &[('h', host)]))
        .unwrap_or_else(|| host.to_string());
    let user = user.or(params.user);
    let identity_file = identity_file.or_else(|| {
        let first = params.identity_file?.into_iter().next()?;
        let tokens = [
            ('h', host_name.as_str()),
            ('r', user.as_deref().unwrap_or("")),
        ];
        Some(PathBuf::from(expand_tokens(
            &first.to_string_lossy(),
            &tokens,
        )))
    });
    Ok(ResolvedHost {
        port: port.or(params.port).unwrap_or(22),
        host: host_name,
        user,
        identity_file,
    })
}

fn load(path: &Path) -> Result<Option<SshConfig>, SshError> {
    let err = |reason: String| SshError::Config {
        path: path.to_path_buf(),
        reason,
    };
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(err(e.to_string())),
    };
    // Keywords this parser does not know (Match, ControlMaster...) must not make aliases unusable.
    let rules = ParseRule::ALLOW_UNKNOWN_FIELDS | ParseRule::ALLOW_UNSUPPORTED_FIELDS;
    SshConfig::default()
        .parse(&mut BufReader::new(file), rules)
        .map(Some)
        .map_err(|e| err(e.to_string()))
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
    fn missing_config_keeps_the_input() {
        let r = resolve_alias("h", None, None, None, Path::new("/nonexistent/cfg")).unwrap();
        assert_eq!(r.host, "h");
        assert_eq!(r.port, 22);
        assert_eq!(r.user, None);
    }
}
