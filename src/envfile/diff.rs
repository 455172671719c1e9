//! What an edit changes, by key: the operator confirms a change they can read without a single
//! value on their screen.

use super::EnvFile;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Added(String),
    Removed(String),
    Changed(String),
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Diff {
    pub changes: Vec<Change>,
    /// The text differs beyond the keys' values (comments, order, blank lines, quoting).
    pub other_text: bool,
}

impl Diff {
    /// Nothing at all differs.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty() && !self.other_text
    }

    /// One line per change (`+ KEY`, `~ KEY`, `- KEY`), then a note when only the layout
    /// changed.
    pub fn lines(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .changes
            .iter()
            .map(|c| match c {
                Change::Added(k) => format!("+ {k} (added)"),
                Change::Changed(k) => format!("~ {k} (value changed)"),
                Change::Removed(k) => format!("- {k} (removed)"),
            })
            .collect();
        if self.other_text {
            out.push("(comments, order, quoting or blank lines changed)".into());
        }
        out
    }

    /// A one-line summary with keys only, for the server's history: `+NEW ~CHANGED -GONE`.
    pub fn summary(&self) -> String {
        let words: Vec<String> = self
            .changes
            .iter()
            .map(|c| match c {
                Change::Added(k) => format!("+{k}"),
                Change::Changed(k) => format!("~{k}"),
                Change::Removed(k) => format!("-{k}"),
            })
            .collect();
        match (words.is_empty(), self.other_text) {
            (true, true) => "layout only".into(),
            (true, false) => "no change".into(),
            _ => words.join(" "),
        }
    }
}

/// From `old` to `new`, keys in `new`'s order, then the removed ones in `old`'s.
pub fn diff(old: &str, new: &str) -> Diff {
    let (a, b) = (EnvFile::parse(old), EnvFile::parse(new));
    let (ea, eb) = (a.entries(), b.entries());
    let mut changes = Vec::new();
    for (k, v) in &eb {
        match ea.iter().find(|(ka, _)| ka == k) {
            None => changes.push(Change::Added(k.to_string())),
            Some((_, va)) if va != v => changes.push(Change::Changed(k.to_string())),
            _ => {}
        }
    }
    for (k, _) in &ea {
        if !eb.iter().any(|(kb, _)| kb == k) {
            changes.push(Change::Removed(k.to_string()));
        }
    }
    let other_text = changes.is_empty() && old != new;
    Diff {
        changes,
        other_text,
    }
}
