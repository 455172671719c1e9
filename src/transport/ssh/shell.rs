//! An interactive session on one SSH channel (`flipdeck ssh`): a pseudo-terminal of the local
//! terminal's size and type, the caller's keystrokes forwarded as they come, the terminal's new
//! size on each resize, everything the remote side writes handed back as raw bytes, and the
//! remote command's exit status at the end.

use super::super::{ExitStatus, Pty, ShellInput};
use super::ClientHandler;
use super::exec::shell_quote;
use russh::client::Handle;
use russh::{ChannelMsg, Pty as Mode};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};

/// How the session ended, as far as the channel can tell.
pub(super) enum Ended {
    Exited(ExitStatus),
    /// The server refused the pty or the command.
    Refused,
    /// The channel went away without an exit status.
    Lost,
}

/// Runs `script` (POSIX sh, whatever the login shell is) on a pty.
pub(super) async fn run(
    session: &Handle<ClientHandler>,
    script: &str,
    pty: Pty,
    mut input: UnboundedReceiver<ShellInput>,
    output: UnboundedSender<Vec<u8>>,
) -> Result<Ended, russh::Error> {
    let mut channel = session.channel_open_session().await?;
    // The local terminal is in raw mode: the remote line discipline does the echo and the keys.
    let modes = [(Mode::ECHO, 1), (Mode::ICANON, 1), (Mode::ISIG, 1)];
    channel
        .request_pty(
            true,
            &pty.term,
            u32::from(pty.cols),
            u32::from(pty.rows),
            0,
            0,
            &modes,
        )
        .await?;
    channel
        .exec(true, format!("exec sh -c {}", shell_quote(script)))
        .await?;
    let mut exit = None;
    let mut input_open = true;
    loop {
        tokio::select! {
            msg = channel.wait() => match msg {
                Some(ChannelMsg::Data { data }) | Some(ChannelMsg::ExtendedData { data, .. }) => {
                    let _ = output.send(data.to_vec());
                }
                Some(ChannelMsg::ExitStatus { exit_status }) => {
                    exit = Some(ExitStatus::Code(exit_status as i32));
                }
                Some(ChannelMsg::ExitSignal { signal_name, .. }) => {
                    exit = Some(ExitStatus::Signal(format!("{signal_name:?}")));
                }
                Some(ChannelMsg::Failure) => return Ok(Ended::Refused),
                Some(ChannelMsg::Close) | None => break,
                Some(_) => {}
            },
            got = input.recv(), if input_open => match got {
                Some(ShellInput::Data(bytes)) => channel.data(&bytes[..]).await?,
                Some(ShellInput::Resize { cols, rows }) => {
                    channel.window_change(u32::from(cols), u32::from(rows), 0, 0).await?
                }
                None => {
                    input_open = false;
                    channel.eof().await?;
                }
            },
        }
    }
    Ok(match exit {
        Some(status) => Ended::Exited(status),
        None => Ended::Lost,
    })
}
