//! The local target: scripts run through `sh -c` on this machine.

use super::{ExitStatus, OutputLine, Stream, Transport, TransportError};
use async_trait::async_trait;
use std::process::Stdio;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWriteExt, BufReader};
use tokio::process::Command;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};

#[derive(Debug, Clone, Default)]
pub struct LocalTransport;

/// Kills the whole process group when dropped, so cancelling a job also stops the deploy script's
/// children (git, composer...), not only the `sh` that started them.
struct GroupKiller(Option<i32>);

impl Drop for GroupKiller {
    fn drop(&mut self) {
        if let Some(pgid) = self.0 {
            // SAFETY: plain syscall; a stale pgid at worst yields ESRCH.
            unsafe {
                libc::kill(-pgid, libc::SIGKILL);
            }
        }
    }
}

pub(crate) async fn pump_lines<R: AsyncRead + Unpin>(
    reader: R,
    stream: Stream,
    out: UnboundedSender<OutputLine>,
) {
    let mut reader = BufReader::new(reader);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match reader.read_until(b'\n', &mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(_) => {
                if buf.last() == Some(&b'\n') {
                    buf.pop();
                }
                if buf.last() == Some(&b'\r') {
                    buf.pop();
                }
                let line = String::from_utf8_lossy(&buf).into_owned();
                let _ = out.send(OutputLine { stream, line });
            }
        }
    }
}

#[async_trait]
impl Transport for LocalTransport {
    fn describe(&self) -> String {
        "local".to_string()
    }

    async fn exec_fed(
        &self,
        script: &str,
        mut stdin: UnboundedReceiver<Vec<u8>>,
        out: UnboundedSender<OutputLine>,
    ) -> Result<ExitStatus, TransportError> {
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        let mut child = cmd
            .spawn()
            .map_err(|e| TransportError::Failed(format!("cannot start sh: {e}")))?;
        let mut guard = GroupKiller(child.id().map(|p| p as i32));
        if let Some(mut pipe) = child.stdin.take() {
            tokio::spawn(async move {
                while let Some(data) = stdin.recv().await {
                    if pipe.write_all(&data).await.is_err() {
                        return;
                    }
                }
                let _ = pipe.shutdown().await;
            });
        }
        let so = tokio::spawn(pump_lines(
            child.stdout.take().expect("piped"),
            Stream::Stdout,
            out.clone(),
        ));
        let se = tokio::spawn(pump_lines(
            child.stderr.take().expect("piped"),
            Stream::Stderr,
            out,
        ));
        let status = child
            .wait()
            .await
            .map_err(|e| TransportError::Failed(format!("waiting for sh: {e}")))?;
        // The command has exited: from here on nothing is killed (a script may start a daemon on
        // purpose). A background child still holding the pipes open must not hang the job, so the
        // rest of the output is drained for a moment only.
        guard.0 = None;
        let drain = async {
            let _ = so.await;
            let _ = se.await;
        };
        let _ = tokio::time::timeout(std::time::Duration::from_secs(2), drain).await;
        use std::os::unix::process::ExitStatusExt;
        Ok(match (status.code(), status.signal()) {
            (Some(c), _) => ExitStatus::Code(c),
            (None, Some(s)) => ExitStatus::Signal(s.to_string()),
            _ => ExitStatus::Code(-1),
        })
    }
}
