//! Quoting values for POSIX sh. Every value that reaches a shell goes through `quote`, even after
//! validation: validation keeps nonsense out, quoting keeps what is left literal.

/// Wraps `s` in single quotes, so sh reads it back byte for byte.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        if c == '\'' {
            out.push_str("'\\''");
        } else {
            out.push(c);
        }
    }
    out.push('\'');
    out
}

#[cfg(test)]
mod tests {
    use super::quote;
    use std::process::Command;

    fn roundtrip(s: &str) -> String {
        let out = Command::new("sh")
            .arg("-c")
            .arg(format!("printf '%s' {}", quote(s)))
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap()
    }

    #[test]
    fn quoting_is_literal_in_sh() {
        for s in [
            "plain",
            "",
            "it's",
            "''",
            "$(touch /tmp/x)",
            "`id`",
            "a b\tc\nd",
            "; rm -rf / #",
            "\\'\\",
            "-n",
            "ünïcødé ☃",
            "$HOME ${HOME} $((1+1))",
        ] {
            assert_eq!(roundtrip(s), s, "value {s:?}");
        }
    }

    #[test]
    fn quote_shape() {
        assert_eq!(quote("a'b"), "'a'\\''b'");
    }
}
