//! `env edit`'s private copy: the file goes into a fresh folder only the user can enter (0700),
//! as a 0600 file, the editor runs on it, and the folder is removed as soon as the editor exits
//! (before any question is asked), on an error, and on SIGTERM or SIGHUP; Ctrl-C belongs to the
//! editor while it runs. A SIGTERM or SIGHUP is passed on to the editor and flipdeck waits for it
//! to end before removing the folder: an editor still running (vim preserving its swap file)
//! would otherwise write the secrets back into a folder nobody removes, and keep the terminal.

use crate::error::{Error, Result};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;

/// The editor to run: `$EDITOR`, else `$VISUAL`, else `vi`.
pub fn editor() -> String {
    ["EDITOR", "VISUAL"]
        .iter()
        .filter_map(|v| std::env::var(v).ok())
        .find(|v| !v.trim().is_empty())
        .unwrap_or_else(|| "vi".into())
}

/// Lets the user edit `content` and returns what they saved.
pub async fn edit(content: &[u8]) -> Result<Vec<u8>> {
    let dir = tempfile::Builder::new()
        .prefix("flipdeck-env-")
        .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o700))
        .tempdir()
        .map_err(|e| Error::failed(format!("cannot make a private folder for the copy: {e}")))?;
    let path = dir.path().join(".env");
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)?;
        f.write_all(content)?;
        f.sync_all()
    };
    write().map_err(|e| Error::failed(format!("cannot write the private copy: {e}")))?;
    let editor = editor();
    // The editor is the user's own command line (`code -w`, `vim -n`), run by sh as git runs it,
    // but with `exec`: the process flipdeck waits for and signals is the editor itself, not a
    // shell the editor would outlive (dash does not exec a `-c` command's last word by itself).
    let mut child = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(editor_command(&editor))
        .arg("sh")
        .arg(&path)
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| Error::failed(format!("cannot start the editor {editor:?}: {e}")))?;
    use tokio::signal::unix::{SignalKind, signal};
    let (mut int, mut term, mut hup) = (
        signal(SignalKind::interrupt()).map_err(io)?,
        signal(SignalKind::terminate()).map_err(io)?,
        signal(SignalKind::hangup()).map_err(io)?,
    );
    let status = loop {
        let stop = tokio::select! {
            s = child.wait() => break s.map_err(io)?,
            // The terminal sends Ctrl-C to the editor too: it decides what that means.
            _ = int.recv() => continue,
            _ = term.recv() => libc::SIGTERM,
            _ = hup.recv() => libc::SIGHUP,
        };
        stop_editor(&mut child, stop).await;
        remove(dir);
        return Err(Error::failed(
            "stopped while editing; the private copy is removed, nothing was written",
        ));
    };
    let edited = std::fs::read(&path);
    remove(dir);
    if !status.success() {
        return Err(Error::failed(format!(
            "the editor {editor:?} exited with {status}; nothing was written"
        )));
    }
    edited.map_err(|e| Error::failed(format!("cannot read the edited copy back: {e}")))
}

/// The `sh -c` line that runs `editor` on the file (`$1`): with `exec` when it is one simple
/// command. A line `exec` would change (`TERM=xterm vim`, `vim; clear`) runs as written.
fn editor_command(editor: &str) -> String {
    let simple = !editor.contains([';', '&', '|', '\n', '(', '`'])
        && !editor
            .split_whitespace()
            .next()
            .is_some_and(|w| w.contains('='));
    match simple {
        true => format!("exec {editor} \"$1\""),
        false => format!("{editor} \"$1\""),
    }
}

/// Passes the stop on to the editor and waits for it to end; one that is still running after a
/// few seconds is killed.
async fn stop_editor(child: &mut tokio::process::Child, signal: libc::c_int) {
    if let Some(pid) = child.id() {
        // SAFETY: kill(2) on our own child's pid, which `wait` has not reaped yet.
        unsafe { libc::kill(pid as libc::pid_t, signal) };
    }
    let grace = std::time::Duration::from_secs(5);
    if tokio::time::timeout(grace, child.wait()).await.is_err() {
        let _ = child.kill().await;
    }
}

/// Removes the private folder. A process the editor left behind may still be writing into it;
/// a removal that found the folder not empty is tried again.
fn remove(dir: tempfile::TempDir) {
    let path = dir.keep();
    for _ in 0..20 {
        match std::fs::remove_dir_all(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                std::thread::sleep(std::time::Duration::from_millis(50))
            }
            _ => return,
        }
    }
}

fn io(e: std::io::Error) -> Error {
    Error::failed(format!("while editing: {e}"))
}

#[cfg(test)]
mod tests {
    use super::editor_command;

    #[test]
    fn a_simple_editor_is_execed_and_any_other_line_runs_as_written() {
        assert_eq!(editor_command("vim"), "exec vim \"$1\"");
        assert_eq!(editor_command("code -w"), "exec code -w \"$1\"");
        assert_eq!(editor_command("TERM=xterm vim"), "TERM=xterm vim \"$1\"");
        assert_eq!(editor_command("vim; clear"), "vim; clear \"$1\"");
    }
}
