//! The shared `.env` as text: read the way Laravel's parser (vlucas/phpdotenv 5) reads it, changed
//! a key at a time without touching the other lines, written with quoting that parser reads back
//! to the same value, and shown or compared without ever showing a value (see `render`, `diff`).
//! Nothing here knows servers or terminals.

mod diff;
mod edit;
mod quote;
mod render;

pub use diff::{Change, Diff, diff};
pub use edit::{set, unset};
pub use quote::{check_key, check_value, quote_value};
pub use render::{redacted, redacted_line};

/// One logical line of the file (a double-quoted value may span several physical lines).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    Blank,
    /// `# …`: kept as written (`text` is the whole line).
    Comment(String),
    /// `[export ]KEY=VALUE`: `value` as the parser reads it (quotes removed, escapes resolved).
    Assign {
        key: String,
        value: String,
    },
    /// What the parser would refuse (a missing quote, a bad name): shown by number only.
    Invalid,
}

/// A parsed file: each logical line with the physical text it came from (newlines included).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EnvFile {
    pub lines: Vec<(Line, String)>,
}

impl EnvFile {
    /// Reads `text` line by line; nothing is refused, a line that does not parse is `Invalid`.
    pub fn parse(text: &str) -> EnvFile {
        let mut lines = Vec::new();
        let mut rest = text;
        while !rest.is_empty() {
            let first = physical(rest);
            let (line, raw_len) = match parse_entry(first) {
                Entry::Done(l) => (l, first.len()),
                Entry::OpenQuote => {
                    // A double-quoted value may go on over the next lines until its closing quote.
                    let mut len = first.len();
                    let mut found = None;
                    while len < rest.len() {
                        len += physical(&rest[len..]).len();
                        if let Entry::Done(l) = parse_entry(&rest[..len]) {
                            found = Some(l);
                            break;
                        }
                    }
                    match found {
                        Some(l) => (l, len),
                        None => (Line::Invalid, first.len()),
                    }
                }
            };
            lines.push((line, rest[..raw_len].to_string()));
            rest = &rest[raw_len..];
        }
        EnvFile { lines }
    }

    /// The keys in file order, each once (its first assignment: the one Laravel's immutable
    /// loader keeps), with its value.
    pub fn entries(&self) -> Vec<(&str, &str)> {
        let mut seen = std::collections::HashSet::new();
        self.lines
            .iter()
            .filter_map(|(l, _)| match l {
                Line::Assign { key, value } if seen.insert(key.as_str()) => {
                    Some((key.as_str(), value.as_str()))
                }
                _ => None,
            })
            .collect()
    }

    /// The value the application sees for `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries()
            .into_iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v)
    }

    /// The numbers (from 1) of the logical lines that do not parse.
    pub fn invalid_lines(&self) -> Vec<usize> {
        let mut n = 0;
        let mut out = Vec::new();
        for (l, raw) in &self.lines {
            n += 1;
            if *l == Line::Invalid {
                out.push(n);
            }
            n += raw.matches('\n').count().saturating_sub(1);
        }
        out
    }

    pub fn text(&self) -> String {
        self.lines.iter().map(|(_, raw)| raw.as_str()).collect()
    }
}

/// The first physical line of `s`, with its newline.
fn physical(s: &str) -> &str {
    match s.find('\n') {
        Some(i) => &s[..=i],
        None => s,
    }
}

enum Entry {
    Done(Line),
    /// A double-quoted value whose closing quote is not on this line (yet).
    OpenQuote,
}

/// A key as the parser accepts it when reading (phpdotenv allows dots too); keys flipdeck writes
/// are stricter (`check_key`).
fn readable_key(k: &str) -> bool {
    !k.is_empty()
        && k.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.')
}

fn parse_entry(text: &str) -> Entry {
    let body = text.trim_end_matches(['\n', '\r']);
    let trimmed = body.trim();
    if trimmed.is_empty() {
        return Entry::Done(Line::Blank);
    }
    if trimmed.starts_with('#') {
        return Entry::Done(Line::Comment(body.to_string()));
    }
    let Some((name, value)) = trimmed.split_once('=') else {
        return Entry::Done(Line::Invalid);
    };
    let mut name = name.trim();
    if let Some(n) = name.strip_prefix("export")
        && n.starts_with([' ', '\t'])
    {
        name = n.trim_start();
    }
    if !readable_key(name) {
        return Entry::Done(Line::Invalid);
    }
    match parse_value(value.trim()) {
        Value::Ok(v) => Entry::Done(Line::Assign {
            key: name.to_string(),
            value: v,
        }),
        Value::Open => Entry::OpenQuote,
        Value::Bad => Entry::Done(Line::Invalid),
    }
}

enum Value {
    Ok(String),
    Open,
    Bad,
}

/// phpdotenv's value automaton: unquoted (no inner whitespace, `#` starts a comment), single
/// quoted (literal), double quoted (`\"`, `\\`, `\$`, `\n`, `\r`, `\t`, `\f`, `\v`); after a
/// closing quote only whitespace and a comment may follow.
fn parse_value(v: &str) -> Value {
    let mut out = String::new();
    let mut chars = v.chars();
    match v.chars().next() {
        None => return Value::Ok(out),
        Some('\'') => {
            chars.next();
            loop {
                match chars.next() {
                    None => return Value::Bad,
                    Some('\'') => break,
                    Some(c) => out.push(c),
                }
            }
        }
        Some('"') => {
            chars.next();
            loop {
                match chars.next() {
                    None => return Value::Open,
                    Some('"') => break,
                    Some('\\') => match chars.next() {
                        None => return Value::Open,
                        Some(c @ ('"' | '\\' | '$')) => out.push(c),
                        Some('n') => out.push('\n'),
                        Some('r') => out.push('\r'),
                        Some('t') => out.push('\t'),
                        Some('f') => out.push('\x0c'),
                        Some('v') => out.push('\x0b'),
                        Some(_) => return Value::Bad,
                    },
                    Some(c) => out.push(c),
                }
            }
        }
        Some(_) => {
            let mut seen_space = false;
            for c in chars.by_ref() {
                if c == '#' {
                    return Value::Ok(out);
                }
                if c.is_whitespace() {
                    seen_space = true;
                } else if seen_space {
                    return Value::Bad;
                } else {
                    out.push(c);
                }
            }
            return Value::Ok(out);
        }
    }
    // After the closing quote: whitespace, then nothing or a comment.
    let tail = chars.as_str().trim_start();
    if tail.is_empty() || tail.starts_with('#') {
        Value::Ok(out)
    } else {
        Value::Bad
    }
}

#[cfg(test)]
mod tests;
