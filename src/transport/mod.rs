//! Where commands run. A `Transport` executes one shell script per call and streams its output line by
//! line while it runs. The engine only ever talks to this trait, so the local shell and SSH are
//! interchangeable.

pub mod connect;
pub mod local;
pub mod pool;
pub mod ssh;

use async_trait::async_trait;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};

pub use connect::{Connector, Connectors, LocalConnector};
pub use local::LocalTransport;
pub use ssh::{HostKeyPolicy, SshError, SshParams, SshTransport};

/// Which stream a line of output came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Stream {
    Stdout,
    Stderr,
}

/// How a remote command ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExitStatus {
    Code(i32),
    /// Killed by a signal (name as reported, e.g. "KILL" or "9").
    Signal(String),
}

impl ExitStatus {
    pub fn success(&self) -> bool {
        matches!(self, ExitStatus::Code(0))
    }
}

impl std::fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExitStatus::Code(c) => write!(f, "exit code {c}"),
            ExitStatus::Signal(s) => write!(f, "killed by signal {s}"),
        }
    }
}

/// One line of output, without its trailing newline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputLine {
    pub stream: Stream,
    pub line: String,
}

/// The pseudo-terminal an interactive session asks for: the local terminal's type and size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pty {
    pub term: String,
    pub cols: u16,
    pub rows: u16,
}

/// What an interactive session is sent while it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShellInput {
    /// Keystrokes (raw bytes).
    Data(Vec<u8>),
    /// The local terminal's new size.
    Resize { cols: u16, rows: u16 },
}

/// A failure of the transport itself (as opposed to the command failing).
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// Could not start the command or lost the connection while it ran.
    #[error("{0}")]
    Failed(String),
    /// The connection dropped while the command was running; whether it finished is unknown.
    #[error("connection lost: {0}")]
    ConnectionLost(String),
}

#[async_trait]
pub trait Transport: Send + Sync {
    /// A short human description, e.g. "local" or "deploy@127.0.0.1:2222".
    fn describe(&self) -> String;

    /// Whether the connection is still up, as far as can be told without a round trip (a pool
    /// reuses a connection only while this holds). The local shell always is.
    fn is_alive(&self) -> bool {
        true
    }

    /// More commands will follow on this connection (a warm pool's): get ready for the next one
    /// ahead of time (SSH: a channel opened in the background, one round trip less per exec).
    fn keep_ready(&self) {}

    /// Runs `script` with `sh -c` semantics (POSIX sh), feeding `stdin` if given, and sends every output
    /// line to `out` as soon as it is complete. Returns when the command has exited and all its output
    /// has been sent. Dropping the returned future must stop the command (kill it) promptly.
    async fn exec(
        &self,
        script: &str,
        stdin: Option<Vec<u8>>,
        out: UnboundedSender<OutputLine>,
    ) -> Result<ExitStatus, TransportError> {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        if let Some(data) = stdin {
            let _ = tx.send(data);
        }
        drop(tx);
        self.exec_fed(script, rx, out).await
    }

    /// Like `exec`, but stdin is fed from `stdin` as chunks arrive while the command runs, and
    /// closed when the sender is dropped: a script can wait for data the caller only has later
    /// (a deploy's log, once the switch is done), which saves a round trip.
    async fn exec_fed(
        &self,
        script: &str,
        stdin: UnboundedReceiver<Vec<u8>>,
        out: UnboundedSender<OutputLine>,
    ) -> Result<ExitStatus, TransportError>;

    /// Runs `script` (POSIX sh) on a pseudo-terminal, as an interactive session: `input` is fed
    /// to it as it comes (keys, resizes), everything it writes goes to `output` as raw bytes.
    /// Returns the script's exit status. Only a remote target has one: the local transport's
    /// shell is started by the caller on its own terminal.
    async fn interactive(
        &self,
        script: &str,
        pty: Pty,
        input: UnboundedReceiver<ShellInput>,
        output: UnboundedSender<Vec<u8>>,
    ) -> Result<ExitStatus, TransportError> {
        let _ = (script, pty, input, output);
        Err(TransportError::Failed(format!(
            "{} has no terminal sessions",
            self.describe()
        )))
    }

    /// The login user's home directory on the target (the default `root`).
    async fn home_dir(&self) -> Result<String, TransportError> {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let status = self.exec("printf '%s\\n' \"$HOME\"", None, tx).await?;
        let mut home = String::new();
        while let Ok(l) = rx.try_recv() {
            if l.stream == Stream::Stdout && home.is_empty() {
                home = l.line;
            }
        }
        if !status.success() || !home.starts_with('/') {
            return Err(TransportError::Failed(format!(
                "could not read $HOME on {} ({status})",
                self.describe()
            )));
        }
        Ok(home)
    }
}
