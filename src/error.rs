//! One error type for the library. Each variant says what kind of thing went wrong and carries
//! what a person needs to act on it; `exit_code` maps it to the CLI's exit codes and `suggestion`
//! gives the next command to run, where there is one (the binary's edge shows it apart from the
//! message, so the advice is said once).

use crate::transport::TransportError;
use crate::transport::ssh::SshError;
use std::fmt;
use std::path::PathBuf;

/// Exit code of a failed or refused operation.
pub const EXIT_FAILED: i32 = 1;
/// Exit code of a usage or config error.
pub const EXIT_USAGE: i32 = 2;
/// Exit code of a deploy that the watch after its switch reverted (`auto_revert`, the revert
/// key, Ctrl-C during `deploy --watch`): the release before serves again.
pub const EXIT_REVERTED: i32 = 3;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The user asked for something malformed: bad flags, unknown site, an invalid value.
    #[error("{0}")]
    Usage(String),
    /// The config file is wrong: which file, which line when known, and what was expected.
    #[error("{}", ConfigLocation { file, line: *line, detail })]
    Config {
        file: PathBuf,
        line: Option<usize>,
        /// What follows the location: `: KEY must be …` or ` (`SOURCE LINE`): what toml said`.
        detail: String,
    },
    /// The site's lock is held by another job. `stale`: the holder is a flipdeck of this machine
    /// that is no longer running, so recovering what it left (`Engine::refresh`) makes way.
    #[error("{}", LockedMessage { site, holder, stale: *stale })]
    Locked {
        site: String,
        holder: String,
        stale: bool,
    },
    /// Connecting, verifying the host or logging in over SSH failed.
    #[error("{}", ssh_message(.0))]
    Ssh(#[from] SshError),
    /// A command could not be run or its connection was lost.
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// The local history database failed.
    #[error("history database error: {0}")]
    History(#[from] rusqlite::Error),
    /// The operation ran and failed: a deploy, a check, a remote step.
    #[error("{0}")]
    Failed(String),
    /// A deploy switched, was watched, and was reverted (the release before serves again).
    #[error("{0}")]
    Reverted(String),
}

impl Error {
    pub fn failed(message: impl Into<String>) -> Self {
        Error::Failed(message.into())
    }

    /// `site` (`SERVER/DOMAIN`) has no layout on its server yet (`base` does not exist).
    pub fn not_provisioned(site: &str, base: &str) -> Self {
        Error::Failed(format!(
            "{site} is not provisioned ({base} does not exist): run `flipdeck provision {site}` first"
        ))
    }

    pub fn usage(message: impl Into<String>) -> Self {
        Error::Usage(message.into())
    }

    /// A config error at `line` of `file` (1-based); `detail` follows the location.
    pub fn config(file: &std::path::Path, line: Option<usize>, detail: impl Into<String>) -> Self {
        Error::Config {
            file: file.to_path_buf(),
            line,
            detail: detail.into(),
        }
    }

    /// The CLI's exit code: 2 for what the user must fix in the command or config, else 1.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Usage(_) | Error::Config { .. } => EXIT_USAGE,
            Error::Reverted(_) => EXIT_REVERTED,
            _ => EXIT_FAILED,
        }
    }

    /// Whether this is a lock left by a flipdeck of this machine that is no longer running.
    pub fn is_stale_lock(&self) -> bool {
        matches!(self, Error::Locked { stale: true, .. })
    }

    /// The command that gets a person past this error, where there is one.
    pub fn suggestion(&self) -> Option<String> {
        match self {
            Error::Locked { stale: true, .. } => Some(
                "`flipdeck status` recovers what it left (half release removed, lock released)"
                    .into(),
            ),
            Error::Locked { site, .. } => Some(format!(
                "wait for that job to finish, or if it is stale run `flipdeck unlock {site}`"
            )),
            Error::Ssh(e) => match e.innermost() {
                SshError::HostKeyUnknown { server, .. } => Some(format!(
                    "if this fingerprint is right, run `flipdeck trust {server}`"
                )),
                _ => None,
            },
            Error::Failed(m) => unreadable_repository(m),
            _ => None,
        }
    }
}

/// A deploy whose repository fetch failed (`deployment #N of SITE failed: fetch failed (…)`):
/// the server could not read the repository, most often a private one it has no key for.
fn unreadable_repository(message: &str) -> Option<String> {
    let (head, _) = message.split_once(" failed: fetch failed (")?;
    let site = head.split_once(" of ")?.1;
    Some(format!(
        "the server could not read the repository: for a private one, set `forward_agent = true` for the server (your agent's keys, for the job only) or give the site a deploy key with `flipdeck keygen {site}`"
    ))
}

/// An SSH error without the advice that `suggestion` gives apart.
fn ssh_message(e: &SshError) -> String {
    match e {
        SshError::Hop { hop, source } => format!("bastion {hop}: {}", ssh_message(source)),
        SshError::HostKeyUnknown {
            server,
            address,
            key_type,
            fingerprint,
        } => format!("the host key of {server} ({address}) is not known: {key_type} {fingerprint}"),
        e => e.to_string(),
    }
}

impl Error {
    /// The message and its suggestion on one line, for where there is no room for a report (the
    /// dashboard's toasts).
    pub fn one_line(&self) -> String {
        match self.suggestion() {
            Some(s) => format!("{self}; {s}"),
            None => self.to_string(),
        }
    }
}

struct ConfigLocation<'a> {
    file: &'a PathBuf,
    line: Option<usize>,
    detail: &'a str,
}

impl fmt::Display for ConfigLocation<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "config {}", self.file.display())?;
        if let Some(l) = self.line {
            write!(f, " line {l}")?;
        }
        f.write_str(self.detail)
    }
}

struct LockedMessage<'a> {
    site: &'a str,
    holder: &'a str,
    stale: bool,
}

impl fmt::Display for LockedMessage<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "site {} is locked by {}", self.site, self.holder)?;
        if self.stale {
            f.write_str(", a flipdeck on this machine that is no longer running")?;
        }
        Ok(())
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
