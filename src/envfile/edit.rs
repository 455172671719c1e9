//! Changing a file a key at a time: every other line (comments, order, blank lines, the way other
//! values are quoted) stays byte for byte as it was.

use super::{EnvFile, Line, quote_value};

/// `text` with each `(key, value)` set: the key's first assignment is replaced in place (later
/// ones, which Laravel ignores, are removed so no stale copy is left), a new key is appended.
/// Keys and values must have passed `check_key` and `check_value`.
pub fn set(text: &str, pairs: &[(String, String)]) -> String {
    let mut file = EnvFile::parse(text);
    for (key, value) in pairs {
        let line = format!("{key}={}\n", quote_value(value));
        let assigned = Line::Assign {
            key: key.clone(),
            value: value.clone(),
        };
        let mut placed = false;
        file.lines.retain_mut(|(l, raw)| {
            if !matches!(l, Line::Assign { key: k, .. } if k == key) {
                return true;
            }
            if placed {
                return false;
            }
            placed = true;
            *l = assigned.clone();
            *raw = line.clone();
            true
        });
        if !placed {
            if let Some((_, last)) = file.lines.last_mut()
                && !last.ends_with('\n')
            {
                last.push('\n');
            }
            file.lines.push((assigned, line));
        }
    }
    file.text()
}

/// `text` without any assignment of `keys`, and whether each key was there.
pub fn unset(text: &str, keys: &[String]) -> (String, Vec<bool>) {
    let mut file = EnvFile::parse(text);
    let found = keys
        .iter()
        .map(|key| {
            let before = file.lines.len();
            file.lines
                .retain(|(l, _)| !matches!(l, Line::Assign { key: k, .. } if k == key));
            file.lines.len() != before
        })
        .collect();
    (file.text(), found)
}
