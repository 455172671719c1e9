//! Running one script on one SSH channel: quoting, streaming its output, feeding stdin, and killing
//! it when the caller gives up.

use super::super::{ExitStatus, OutputLine, Stream};
use super::ClientHandler;
use russh::client::{Handle, Msg};
use russh::{Channel, ChannelMsg, ChannelReadHalf, ChannelWriteHalf, Sig};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};
use tokio::sync::watch;
use tokio::task::AbortHandle;

/// Once the command has exited, how long a background child that still holds its output open may
/// keep the job waiting (the same grace as the local target).
const EXIT_DRAIN: Duration = Duration::from_secs(2);
/// How long a cancelled command's clean-up (the `kill` exec) may take.
const KILL_TIMEOUT: Duration = Duration::from_secs(5);
/// Starts the first stderr line that reports the remote process id; that line is not output.
const PID_MARKER: &str = "\u{1}flipdeck-pid ";

type Session = Arc<Handle<ClientHandler>>;

/// How the command on a channel ended, as far as the channel can tell.
pub(super) enum Ending {
    Exited(ExitStatus),
    /// The server refused the exec request.
    Refused,
    /// The channel went away without an exit status: the connection dropped.
    Lost,
}

/// Runs `script` on a new channel of `session` and streams its output to `out`.
///
/// The channel is read by its own task, without back-pressure: russh hands all channels' data over
/// from one connection task, so one unread channel would stall the whole connection.
pub(super) async fn run(
    session: &Session,
    channel: Option<Channel<Msg>>,
    script: &str,
    stdin: UnboundedReceiver<Vec<u8>>,
    out: UnboundedSender<OutputLine>,
    forward_agent: bool,
) -> Result<Ending, russh::Error> {
    let channel = match channel {
        Some(c) => c,
        None => session.channel_open_session().await?,
    };
    let (read, write) = channel.split();
    if forward_agent {
        // Without a reply: a server that refuses forwarding still runs the command, and the
        // command's own error (a clone denied) says what was missing.
        write.agent_forward(false).await?;
    }
    let write = Arc::new(write);
    let (pid_tx, pid_rx) = watch::channel(0);
    let mut guard = KillOnDrop {
        armed: true,
        write: write.clone(),
        session: session.clone(),
        remote_pid: pid_rx,
        reader: None,
        feeder: None,
    };
    // Reading starts before the exec request, so a clean-up always has the pid to wait for.
    let reader = tokio::spawn(drain(read, out, pid_tx));
    guard.reader = Some(reader.abort_handle());
    write.exec(true, remote_command(script)).await?;
    // EOF follows when the caller's sender is gone, data or not: a script reading stdin must not
    // wait forever.
    let feeder = tokio::spawn(feed_stdin(write.clone(), stdin));
    guard.feeder = Some(feeder.abort_handle());
    let drained = reader.await;
    guard.armed = false;
    drop(guard);
    let drained = drained.map_err(|_| russh::Error::Disconnect)?;
    if !drained.closed {
        // Exit seen but output still open (a daemon holds it), or refused: give the channel back.
        let _ = write.close().await;
    }
    Ok(drained.ending)
}

/// A session channel opened ahead of the next exec, once enabled (a warm connection's): the exec
/// then starts with its request, without the channel-open round trip. One at a time; taken, it is
/// replaced in the background. sshd's `MaxSessions` (10) leaves room for it beside the pool's
/// [`crate::transport::pool::CHANNELS`] and a clean-up's `kill`.
#[derive(Default)]
pub(super) struct Spare {
    enabled: AtomicBool,
    opening: AtomicBool,
    ready: Mutex<Option<Channel<Msg>>>,
}

impl Spare {
    pub(super) fn enable(self: &Arc<Self>, session: &Session) {
        self.enabled.store(true, Ordering::SeqCst);
        self.refill(session);
    }

    /// The channel opened ahead, if it is ready (never waits for one).
    pub(super) fn take(self: &Arc<Self>, session: &Session) -> Option<Channel<Msg>> {
        let channel = self.ready.lock().unwrap_or_else(|e| e.into_inner()).take();
        if channel.is_some() {
            self.refill(session);
        }
        channel
    }

    fn refill(self: &Arc<Self>, session: &Session) {
        if !self.enabled.load(Ordering::SeqCst) || self.opening.swap(true, Ordering::SeqCst) {
            return;
        }
        let (spare, session) = (self.clone(), session.clone());
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            self.opening.store(false, Ordering::SeqCst);
            return;
        };
        rt.spawn(async move {
            // A connection gone meanwhile: nothing to keep, the next exec says what happened.
            if let Ok(channel) = session.channel_open_session().await {
                *spare.ready.lock().unwrap_or_else(|e| e.into_inner()) = Some(channel);
            }
            spare.opening.store(false, Ordering::SeqCst);
        });
    }
}

/// The exec request string. The server hands it to the user's login shell, so the script is
/// re-run by `sh` to get POSIX semantics whatever that shell is.
///
/// A wrapper `sh` first reports its pid on stderr: sshd made it a process group leader, and
/// killing that group is the only way to stop a root login's command, since OpenSSH ignores
/// "signal" requests on sessions without privilege separation (root's).
pub(super) fn remote_command(script: &str) -> String {
    let marker = PID_MARKER.replace('\u{1}', "\\001");
    let wrapper = format!("printf '{marker}%s\\n' \"$$\" >&2; exec sh -c \"$1\" sh");
    format!(
        "exec sh -c {} sh {}",
        shell_quote(&wrapper),
        shell_quote(script)
    )
}

/// Kills the process group `pid` leads (or the process alone, if it leads none).
fn kill_command(pid: u32) -> String {
    format!("kill -9 -{pid} 2>/dev/null || kill -9 {pid} 2>/dev/null")
}

/// Single-quotes `s` for a POSIX shell: `'` becomes `'\''`.
pub(super) fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

async fn feed_stdin(write: Arc<ChannelWriteHalf<Msg>>, mut stdin: UnboundedReceiver<Vec<u8>>) {
    while let Some(data) = stdin.recv().await {
        if !data.is_empty() && write.data(&data[..]).await.is_err() {
            return;
        }
    }
    let _ = write.eof().await;
}

struct Drained {
    ending: Ending,
    /// The server closed the channel (as opposed to us giving up on it).
    closed: bool,
}

async fn drain(
    mut read: ChannelReadHalf,
    out: UnboundedSender<OutputLine>,
    remote_pid: watch::Sender<u32>,
) -> Drained {
    let mut stdout = LineSplitter::new(Stream::Stdout, None);
    let mut stderr = LineSplitter::new(Stream::Stderr, Some(remote_pid));
    let (mut exit, mut refused, mut closed) = (None, false, false);
    while let Some(msg) = next_message(&mut read, exit.is_some()).await {
        match msg {
            ChannelMsg::Data { data } => stdout.push(&data, &out),
            ChannelMsg::ExtendedData { data, ext: 1 } => stderr.push(&data, &out),
            ChannelMsg::ExitStatus { exit_status } => {
                exit = Some(ExitStatus::Code(exit_status as i32))
            }
            ChannelMsg::ExitSignal { signal_name, .. } => {
                exit = Some(ExitStatus::Signal(signal_text(&signal_name)))
            }
            // The exec request is the only one sent with want_reply.
            ChannelMsg::Failure => {
                refused = true;
                break;
            }
            ChannelMsg::Close => {
                closed = true;
                break;
            }
            _ => {}
        }
    }
    stdout.finish(&out);
    stderr.finish(&out);
    let ending = match exit {
        Some(status) => Ending::Exited(status),
        None if refused => Ending::Refused,
        None => Ending::Lost,
    };
    Drained { ending, closed }
}

/// The next message; once the exit status is in, only for a short while.
async fn next_message(read: &mut ChannelReadHalf, exited: bool) -> Option<ChannelMsg> {
    if exited {
        tokio::time::timeout(EXIT_DRAIN, read.wait())
            .await
            .ok()
            .flatten()
    } else {
        read.wait().await
    }
}

fn signal_text(sig: &Sig) -> String {
    let name = match sig {
        Sig::ABRT => "ABRT",
        Sig::ALRM => "ALRM",
        Sig::FPE => "FPE",
        Sig::HUP => "HUP",
        Sig::ILL => "ILL",
        Sig::INT => "INT",
        Sig::KILL => "KILL",
        Sig::PIPE => "PIPE",
        Sig::QUIT => "QUIT",
        Sig::SEGV => "SEGV",
        Sig::TERM => "TERM",
        Sig::USR1 => "USR1",
        Sig::Custom(name) => name,
    };
    name.to_string()
}

/// Cuts a byte stream into lines (without `\n` or `\r\n`), sending each as soon as it is complete.
struct LineSplitter {
    stream: Stream,
    partial: Vec<u8>,
    /// Until the pid line is seen, where to report it.
    pid_slot: Option<watch::Sender<u32>>,
}

impl LineSplitter {
    fn new(stream: Stream, pid_slot: Option<watch::Sender<u32>>) -> Self {
        LineSplitter {
            stream,
            partial: Vec::new(),
            pid_slot,
        }
    }

    fn push(&mut self, mut data: &[u8], out: &UnboundedSender<OutputLine>) {
        while let Some(i) = data.iter().position(|&b| b == b'\n') {
            self.partial.extend_from_slice(&data[..i]);
            self.emit(out);
            data = &data[i + 1..];
        }
        self.partial.extend_from_slice(data);
    }

    /// A last line without a newline still counts.
    fn finish(&mut self, out: &UnboundedSender<OutputLine>) {
        if !self.partial.is_empty() {
            self.emit(out);
        }
    }

    fn emit(&mut self, out: &UnboundedSender<OutputLine>) {
        if self.partial.last() == Some(&b'\r') {
            self.partial.pop();
        }
        let line = String::from_utf8_lossy(&self.partial).into_owned();
        self.partial.clear();
        if self.take_pid(&line) {
            return;
        }
        // Nobody listening any more is no reason to stop draining the channel.
        let _ = out.send(OutputLine {
            stream: self.stream,
            line,
        });
    }
}

impl LineSplitter {
    /// Whether `line` was the pid report (login scripts may print to stderr before it).
    fn take_pid(&mut self, line: &str) -> bool {
        let Some(pid) = line.strip_prefix(PID_MARKER).and_then(|p| p.parse().ok()) else {
            return false;
        };
        match self.pid_slot.take() {
            Some(slot) => {
                slot.send_replace(pid);
                true
            }
            None => false,
        }
    }
}

/// Armed while the command runs: dropping the exec future kills the remote command's process
/// group and closes the channel.
struct KillOnDrop {
    armed: bool,
    write: Arc<ChannelWriteHalf<Msg>>,
    session: Session,
    /// 0 until the wrapper reports its pid; closed if the channel ends first.
    remote_pid: watch::Receiver<u32>,
    reader: Option<AbortHandle>,
    feeder: Option<AbortHandle>,
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Some(feeder) = self.feeder.take() {
            feeder.abort();
        }
        if !self.armed {
            return;
        }
        let cleanup = kill_and_close(
            self.write.clone(),
            self.session.clone(),
            self.remote_pid.clone(),
            self.reader.take(),
        );
        // Drop cannot await: the clean-up runs as a task of its own.
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(cleanup);
        }
    }
}

/// The reader keeps draining meanwhile: a future dropped right after the exec request has not
/// seen the pid yet, and the connection must not stall on an unread channel.
async fn kill_and_close(
    write: Arc<ChannelWriteHalf<Msg>>,
    session: Session,
    mut remote_pid: watch::Receiver<u32>,
    reader: Option<AbortHandle>,
) {
    // The standard way; enough for non-root logins.
    let _ = write.signal(Sig::KILL).await;
    let kill = async {
        let pid = *remote_pid.wait_for(|&pid| pid != 0).await.ok()?;
        kill_group(&session, pid).await.ok()
    };
    let _ = tokio::time::timeout(KILL_TIMEOUT, kill).await;
    let _ = write.close().await;
    if let Some(reader) = reader {
        reader.abort();
    }
}

/// Runs `kill` on a channel of its own and waits for it to finish.
async fn kill_group(session: &Session, pid: u32) -> Result<(), russh::Error> {
    let mut channel = session.channel_open_session().await?;
    channel.exec(false, kill_command(pid)).await?;
    channel.eof().await?;
    while let Some(msg) = channel.wait().await {
        if matches!(msg, ChannelMsg::Close) {
            break;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_survives_single_quotes() {
        assert_eq!(shell_quote("echo 'a'"), r"'echo '\''a'\'''");
        let cmd = remote_command("true");
        assert!(
            cmd.starts_with("exec sh -c 'printf '\\''\\001flipdeck-pid %s"),
            "{cmd}"
        );
        assert!(cmd.ends_with("exec sh -c \"$1\" sh' sh 'true'"), "{cmd}");
    }

    #[test]
    fn lines_split_across_chunks() {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let (pid_tx, pid) = watch::channel(0);
        let mut s = LineSplitter::new(Stream::Stderr, Some(pid_tx));
        s.push(b"ab", &tx);
        s.push(
            b"c\r\n\x01flipdeck-pid 42\nd\n\x01flipdeck-pid 43\n\ne",
            &tx,
        );
        s.finish(&tx);
        let mut lines = Vec::new();
        while let Ok(l) = rx.try_recv() {
            lines.push(l.line);
        }
        assert_eq!(lines, ["abc", "d", "\u{1}flipdeck-pid 43", "", "e"]);
        assert_eq!(*pid.borrow(), 42);
    }
}
