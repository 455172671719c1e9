//! The server's own release log: `deployments/{domain}/.flipdeck/releases.log`, one JSON object a
//! line, appended by every deploy, rollback and prune, whoever ran it. Other operators' flipdecks
//! read it, so everyone sees the same history (the server is the truth).
//!
//! The engine writes each line's known part (a JSON prefix) into the script; the script completes
//! it with the status, the commit and the time it finished, values that are safe in JSON as they
//! are (a word, a hex SHA, a timestamp).

use serde::{Deserialize, Serialize};

/// Lines read back per refresh (the newest).
pub const TAIL: usize = 2000;

/// One line of the log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// `deploy`, `rollback` or `prune`.
    pub action: String,
    pub release: String,
    #[serde(default)]
    pub branch: Option<String>,
    /// `user@machine`.
    pub who: String,
    #[serde(default)]
    pub started: Option<String>,
    #[serde(default)]
    pub deployment_id: Option<i64>,
    /// `success`, `failed` or `pruned`.
    pub status: String,
    #[serde(default)]
    pub commit: Option<String>,
    #[serde(default)]
    pub completed: Option<String>,
}

#[derive(Serialize)]
struct Known<'a> {
    action: &'a str,
    release: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    branch: Option<&'a str>,
    who: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    started: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    deployment_id: Option<i64>,
}

/// The part of a line the engine knows: a JSON object without its closing brace, ending in a comma.
pub fn prefix(
    action: &str,
    release: &str,
    branch: Option<&str>,
    who: &str,
    started: Option<&str>,
    deployment_id: Option<i64>,
) -> String {
    let known = Known {
        action,
        release,
        branch,
        who,
        started,
        deployment_id,
    };
    let mut json = serde_json::to_string(&known).expect("serializable");
    json.pop(); // the closing brace: the script adds status, commit, completed
    json.push(',');
    json
}

/// `relog PREFIX STATUS COMMIT`: appends a line. Never fails the script: the log is a record of
/// what happened, not a step of it.
pub const SHELL_FN: &str = r#"relog() {
  mkdir -p "$meta" 2>/dev/null
  printf '%s"status":"%s","commit":"%s","completed":"%s"}\n' "$1" "$2" "$3" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" >> "$meta/releases.log" 2>/dev/null || true
}
"#;

/// Prints the newest lines as `relog` markers (for `inspect`).
pub fn read_script() -> String {
    format!(
        "if [ -f \"$meta/releases.log\" ]; then tail -n {TAIL} \"$meta/releases.log\" | while IFS= read -r l; do setv relog \"$l\"; done; fi\n"
    )
}

/// Parses a line; anything malformed (a torn write, a hand edit) is skipped.
pub fn parse(line: &str) -> Option<Entry> {
    let mut e: Entry = serde_json::from_str(line).ok()?;
    if e.commit.as_deref() == Some("") {
        e.commit = None;
    }
    crate::release::ReleaseName::parse(&e.release)?;
    Some(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_completed_by_the_shell_parses_back() {
        let p = prefix(
            "deploy",
            "27112026-040000",
            Some("feat/\"x\""),
            "ops@web",
            Some("2026-11-27T04:00:00.000Z"),
            Some(7),
        );
        let dir = tempfile::tempdir().unwrap();
        let script = format!(
            "meta='{}'\n{SHELL_FN}relog '{}' success 0123abc\nrelog '{}' failed ''\n",
            dir.path().display(),
            p.replace('\'', "'\\''"),
            p.replace('\'', "'\\''")
        );
        let st = std::process::Command::new("sh")
            .arg("-c")
            .arg(script)
            .status()
            .unwrap();
        assert!(st.success());
        let text = std::fs::read_to_string(dir.path().join("releases.log")).unwrap();
        let lines: Vec<Entry> = text.lines().map(|l| parse(l).unwrap()).collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].branch.as_deref(), Some("feat/\"x\""));
        assert_eq!(lines[0].commit.as_deref(), Some("0123abc"));
        assert_eq!(lines[0].status, "success");
        assert_eq!(lines[1].commit, None);
        assert!(lines[1].completed.as_deref().unwrap().ends_with('Z'));
        assert_eq!(parse("{\"torn"), None);
    }
}
