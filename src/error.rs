//! One error type for the whole crate, carrying the exit code the CLI must use.

use std::fmt;

/// Exit codes of the CLI: 1 = the operation failed or was refused, 2 = usage or config error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// A deploy failed, a rollback was refused, a lock is held, the target is unreachable...
    Failed,
    /// The user asked for something malformed: bad flags, bad config, unknown site.
    Usage,
    /// The site is locked by a flipdeck of this machine that is no longer running: recovering it
    /// (`Engine::refresh`) makes way.
    DeadLock,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
}

impl Error {
    pub fn failed(message: impl Into<String>) -> Self {
        Error {
            kind: ErrorKind::Failed,
            message: message.into(),
        }
    }

    pub fn usage(message: impl Into<String>) -> Self {
        Error {
            kind: ErrorKind::Usage,
            message: message.into(),
        }
    }

    pub fn exit_code(&self) -> i32 {
        match self.kind {
            ErrorKind::Failed | ErrorKind::DeadLock => 1,
            ErrorKind::Usage => 2,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        Error::failed(format!("history database error: {e}"))
    }
}

impl From<crate::transport::TransportError> for Error {
    fn from(e: crate::transport::TransportError) -> Self {
        Error::failed(e.to_string())
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
