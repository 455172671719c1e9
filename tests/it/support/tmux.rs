//! Drives a real terminal: the binary runs inside a tmux session; keys go in with send-keys and the
//! screen comes back with capture-pane.

use std::process::Command;
use std::time::{Duration, Instant};

pub struct Tmux {
    pub session: String,
    socket: String,
}

/// Whether tmux is here; in CI its absence is a failure, elsewhere a printed skip.
pub fn available() -> bool {
    let ok = Command::new("tmux")
        .arg("-V")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !ok {
        super::cannot_run(
            "tmux is required in CI (apt-get install tmux)",
            "install tmux to run the terminal end-to-end tests",
        );
    }
    ok
}

impl Tmux {
    /// Starts `cmd` (a shell command line) in a detached session of the given size.
    pub fn start(cmd: &str, width: u16, height: u16) -> Tmux {
        let id = format!("fd{}-{}", std::process::id(), rand_suffix());
        let t = Tmux {
            session: id.clone(),
            socket: format!("flipdeck-test-{id}"),
        };
        let status = t
            .tmux()
            .args([
                "new-session",
                "-d",
                "-s",
                &id,
                "-x",
                &width.to_string(),
                "-y",
                &height.to_string(),
            ])
            .arg(format!("export LANG=C.UTF-8; unset LC_ALL LC_CTYPE; {cmd}"))
            .status()
            .expect("tmux runs");
        assert!(status.success(), "tmux new-session failed");
        t
    }

    /// tmux in a UTF-8 locale whatever the tests' own (it would show `_` for what it thinks the
    /// terminal cannot draw); a command that wants another locale sets it itself.
    fn tmux(&self) -> Command {
        let mut c = Command::new("tmux");
        c.args(["-L", &self.socket])
            .env("LANG", "C.UTF-8")
            .env_remove("LC_ALL");
        c
    }

    /// Sends keys in tmux's notation (`Enter`, `Tab`, `C-c`, or literal text).
    pub fn keys(&self, keys: &[&str]) {
        let status = self
            .tmux()
            .args(["send-keys", "-t", &self.session])
            .args(keys)
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Resizes the session's window (its programs get SIGWINCH).
    pub fn resize(&self, width: u16, height: u16) {
        let status = self
            .tmux()
            .args([
                "resize-window",
                "-t",
                &self.session,
                "-x",
                &width.to_string(),
            ])
            .args(["-y", &height.to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    pub fn screen(&self) -> String {
        let out = self
            .tmux()
            .args(["capture-pane", "-p", "-t", &self.session])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// With `FLIPDECK_SCREENSHOT=DIR` set, writes the screen with its colours to `DIR/NAME.ansi`
    /// for `scripts/screenshot.py` (the README's still pictures come from the tests' real states).
    pub fn screenshot(&self, name: &str) {
        let Some(dir) = std::env::var_os("FLIPDECK_SCREENSHOT") else {
            return;
        };
        let out = self
            .tmux()
            .args(["capture-pane", "-p", "-e", "-t", &self.session])
            .output()
            .unwrap();
        let path = std::path::Path::new(&dir).join(format!("{name}.ansi"));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(&path, &out.stdout).unwrap();
        eprintln!("screenshot: {}", path.display());
    }

    /// Waits until the screen contains `text`, panicking with the screen after `timeout`.
    pub fn wait_for(&self, text: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let s = self.screen();
            if s.contains(text) {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {text:?}; screen:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Tmux {
    /// Waits until the screen satisfies `ok`, panicking with the screen after `timeout`.
    pub fn wait_until(&self, what: &str, timeout: Duration, ok: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let s = self.screen();
            if ok(&s) {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; screen:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// How long the dashboard tests wait for a screen or an exit.
pub const WAIT: Duration = Duration::from_secs(20);

/// Runs the dashboard on the harness's config and history, with `env` (`VAR=value ...`) and
/// `args` before it; its exit code lands in `exit-code` beside the config (see `exit_code`).
pub fn dashboard(h: &super::Harness, env: &str, args: &str, width: u16, height: u16) -> Tmux {
    let cmd = format!(
        "{env} FLIPDECK_CONFIG='{}' FLIPDECK_DB='{}' '{}' {args}; echo $? > '{}'; sleep 60",
        h.config.display(),
        h.db.display(),
        env!("CARGO_BIN_EXE_flipdeck"),
        h.dir.path().join("exit-code").display()
    );
    Tmux::start(&cmd, width, height)
}

/// The dashboard's exit code, once it has exited (`None` if it has not within `WAIT`); read
/// once: a second dashboard of the same harness writes its own.
pub fn exit_code(h: &super::Harness) -> Option<String> {
    let file = h.dir.path().join("exit-code");
    let deadline = Instant::now() + WAIT;
    while Instant::now() < deadline {
        // The shell creates the file before it writes the code: only a whole line counts (an
        // empty read under load read as a wrong exit code).
        if let Ok(s) = std::fs::read_to_string(&file)
            && s.ends_with('\n')
        {
            let _ = std::fs::remove_file(&file);
            return Some(s.trim().to_string());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.tmux().args(["kill-server"]).output();
    }
}

fn rand_suffix() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0)
}
