//! Secret redaction: script output is filtered before it is shown, stored in the history or
//! written to `deployment.log`, so a deploy script that echoes a credential does not spread it.

use regex::Regex;
use std::borrow::Cow;

/// What replaces a secret.
pub const MASK: &str = "[redacted]";

/// The built-in patterns: `password=…`, `token: …` and the like (also as JSON, `"password": "…"`),
/// credentials in URLs, `Authorization:` headers and bearer tokens, and the MySQL clients'
/// `-pSECRET`. Each keeps its label and hides the value.
const DEFAULTS: &[(&str, &str)] = &[
    (
        r#"(?i)\b((?:[a-z0-9_]*_)?(?:password|passwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|client[_-]?secret))("?\s*[:=]\s*)("[^"]*"|'[^']*'|\S+)"#,
        "${1}${2}[redacted]",
    ),
    (
        r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s:@]+:[^/\s@]+@",
        "${1}[redacted]@",
    ),
    (
        r#"(?i)\b(authorization"?\s*[:=]\s*"?(?:(?:bearer|basic|token|digest)\s+)?)[^\s",]+"#,
        "${1}[redacted]",
    ),
    // A token after `Bearer` anywhere else (a curl line, an error message); short words are prose.
    (r"(?i)\b(bearer\s+)[A-Za-z0-9._~+/=-]{8,}", "${1}[redacted]"),
    (
        r"\b((?:mysql|mysqldump|mysqladmin|mariadb|mariadb-dump)\b[^\n]*?\s-p)\S+",
        "${1}[redacted]",
    ),
];

#[derive(Debug, Clone)]
pub struct Redactor {
    rules: Vec<(Regex, String)>,
}

impl Default for Redactor {
    fn default() -> Self {
        Redactor {
            rules: DEFAULTS
                .iter()
                .map(|(p, r)| (Regex::new(p).expect("built-in pattern"), r.to_string()))
                .collect(),
        }
    }
}

impl Redactor {
    /// No redaction at all (`redact = []` in the config).
    pub fn none() -> Redactor {
        Redactor { rules: vec![] }
    }

    /// The operator's own patterns, each match hidden whole; errors say which pattern is wrong.
    pub fn from_patterns(patterns: &[String]) -> Result<Redactor, String> {
        let mut rules = Vec::new();
        for p in patterns {
            let re = Regex::new(p)
                .map_err(|e| format!("pattern {p:?} is not a valid regular expression: {e}"))?;
            rules.push((re, MASK.to_string()));
        }
        Ok(Redactor { rules })
    }

    pub fn apply<'a>(&self, line: &'a str) -> Cow<'a, str> {
        let mut out = Cow::Borrowed(line);
        for (re, with) in &self.rules {
            if let Cow::Owned(s) = re.replace_all(&out, with.as_str()) {
                out = Cow::Owned(s);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_hide_values_and_keep_labels() {
        let r = Redactor::default();
        assert_eq!(
            r.apply("DB_PASSWORD=hunter2 ok"),
            "DB_PASSWORD=[redacted] ok"
        );
        assert_eq!(r.apply("api_key: \"abc def\""), "api_key: [redacted]");
        assert_eq!(r.apply("token = 'x y' end"), "token = [redacted] end");
        assert_eq!(
            r.apply("fetching https://deploy:s3cr3t@git.example.com/x.git"),
            "fetching https://[redacted]@git.example.com/x.git"
        );
        assert_eq!(
            r.apply("Cloning into 'release'..."),
            "Cloning into 'release'..."
        );
        assert!(matches!(r.apply("nothing here"), Cow::Borrowed(_)));
    }

    #[test]
    fn defaults_hide_json_bearer_tokens_and_mysql_passwords() {
        let r = Redactor::default();
        assert_eq!(
            r.apply(r#"{"user": "app", "password": "hunter2", "db_token":"x1"}"#),
            r#"{"user": "app", "password": [redacted], "db_token":[redacted]}"#
        );
        assert_eq!(
            r.apply("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.e30.abc"),
            "Authorization: Bearer [redacted]"
        );
        assert_eq!(
            r.apply(r#"curl -H "Authorization: Basic ZGVwbG95OnMzY3IzdA==" https://x"#),
            r#"curl -H "Authorization: Basic [redacted]" https://x"#
        );
        assert_eq!(
            r.apply("got 401 for bearer abcdef0123456789"),
            "got 401 for bearer [redacted]"
        );
        assert_eq!(r.apply("Bearer tokens expire"), "Bearer tokens expire");
        assert_eq!(
            r.apply("mysqldump -u root -pS3cret app > dump.sql"),
            "mysqldump -u root -p[redacted] app > dump.sql"
        );
        assert_eq!(r.apply("mkdir -p storage/logs"), "mkdir -p storage/logs");
        assert_eq!(r.apply("ssh -p2222 host"), "ssh -p2222 host");
    }

    #[test]
    fn own_patterns_hide_the_whole_match() {
        let r = Redactor::from_patterns(&["sk_live_[A-Za-z0-9]+".into()]).unwrap();
        assert_eq!(r.apply("key sk_live_abc123 used"), "key [redacted] used");
        assert!(
            Redactor::from_patterns(&["(".into()])
                .unwrap_err()
                .contains("\"(\"")
        );
        assert_eq!(Redactor::none().apply("password=x"), "password=x");
    }
}
