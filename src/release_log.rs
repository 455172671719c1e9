//! The server's own release log: `deployments/{domain}/.flipdeck/releases.log`, one JSON object a
//! line, appended by every deploy, rollback and prune, whoever ran it. Other operators' flipdecks
//! read it, so everyone sees the same history (the server is the truth).
//!
//! The engine writes each line's known part (a JSON prefix) into the script; the script completes
//! it with the status, the commit and the time it finished, values that are safe in JSON as they
//! are (a word, a hex SHA, a timestamp). The engine writes and reads it, the history imports from
//! it, so it lives apart from both.

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
    fn a_completed_line_parses_back_and_a_torn_one_is_skipped() {
        let p = prefix(
            "deploy",
            "27112026-040000",
            Some("feat/\"x\""),
            "ops@web",
            None,
            Some(7),
        );
        let line = format!(
            "{p}\"status\":\"failed\",\"commit\":\"\",\"completed\":\"2026-11-27T04:00:01Z\"}}"
        );
        let e = parse(&line).unwrap();
        assert_eq!(e.branch.as_deref(), Some("feat/\"x\""));
        assert_eq!(e.deployment_id, Some(7));
        assert_eq!(e.commit, None);
        assert_eq!(parse("{\"torn"), None);
    }
}
