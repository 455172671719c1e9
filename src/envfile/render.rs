//! The file as `env show` prints it without `--reveal`: its shape (keys, comments, blank lines)
//! with every value hidden, including values in commented-out assignments (`#DB_PASSWORD=old`)
//! and in lines that do not parse.

use super::{EnvFile, Line};

/// Every logical line, redacted.
pub fn redacted(text: &str) -> Vec<String> {
    let file = EnvFile::parse(text);
    let mut n = 0;
    let mut out = Vec::new();
    for (l, raw) in &file.lines {
        n += 1;
        out.push(redacted_line(l, n));
        n += raw.matches('\n').count().saturating_sub(1);
    }
    out
}

/// One line, redacted; `n` is its line number (for a line that does not parse).
pub fn redacted_line(l: &Line, n: usize) -> String {
    match l {
        Line::Blank => String::new(),
        Line::Assign { key, value } if value.is_empty() => format!("{key}= (empty)"),
        Line::Assign { key, .. } => format!("{key}=[redacted]"),
        Line::Comment(text) => match commented_assignment(text) {
            Some(key) => format!("#{key}=[redacted]"),
            None => text.clone(),
        },
        Line::Invalid => format!("[line {n} does not parse as KEY=VALUE; not shown]"),
    }
}

/// The key of a commented-out assignment (`# KEY=…`), if the comment is one.
fn commented_assignment(text: &str) -> Option<&str> {
    let rest = text.trim_start().strip_prefix('#')?.trim_start();
    let rest = rest
        .strip_prefix("export ")
        .map(str::trim_start)
        .unwrap_or(rest);
    let (key, _) = rest.split_once('=')?;
    let key = key.trim_end();
    (!key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.'))
    .then_some(key)
}
