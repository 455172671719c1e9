//! Holding a deploy at one exact step: a wrapper for a real command (git, mkdir, ln, mv, cp...)
//! placed first on the server's PATH. The first call whose arguments match a pattern stops before
//! running the real command until the test says go, so the test can inject its fault (kill
//! flipdeck, drop the connection, fill or freeze the disk) while that step is under way. Every
//! other call, and that one once released, runs the real command unchanged.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub struct Pause {
    state: PathBuf,
    wrapper: PathBuf,
}

/// The directory put first on PATH for the harness's server (it may stay empty).
pub fn dir(base: &Path) -> PathBuf {
    let d = base.join("pause-bin");
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The real program behind `name` on this machine's PATH.
fn real(name: &str, skip: &Path) -> PathBuf {
    std::env::var("PATH")
        .unwrap()
        .split(':')
        .map(|d| Path::new(d).join(name))
        .find(|p| !p.starts_with(skip) && p.is_file())
        .unwrap_or_else(|| panic!("{name} is not installed"))
}

impl Pause {
    /// Wraps `command` in `bin`; its first call whose arguments match the shell glob `pattern`
    /// (matched against " ARGS ", so `*--local *` finds an option) waits at most 60 s for `go`.
    pub fn install(bin: &Path, command: &str, pattern: &str) -> Pause {
        let state = bin.join(format!(".{command}.state"));
        std::fs::create_dir_all(&state).unwrap();
        let wrapper = bin.join(command);
        let real = real(command, bin);
        let s = state.display();
        // Spaces are literal in the glob (a case pattern ends at an unquoted blank).
        let pattern = pattern.replace(' ', "\\ ");
        let script = format!(
            "#!/bin/sh\n\
             case \" $* \" in\n\
             {pattern}) if mkdir '{s}/taken' 2>/dev/null; then\n\
                 : > '{s}/reached'\n\
                 i=0\n\
                 while [ ! -e '{s}/go' ] && [ $i -lt 1200 ]; do sleep 0.05; i=$((i+1)); done\n\
               fi ;;\n\
             esac\n\
             exec '{}' \"$@\"\n",
            real.display()
        );
        std::fs::write(&wrapper, script).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
        Pause { state, wrapper }
    }

    /// Waits until the step is reached; `child` (flipdeck) must not have ended first.
    pub fn wait_reached(&self, child: &mut std::process::Child) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !self.state.join("reached").exists() {
            if let Ok(Some(st)) = child.try_wait() {
                let mut out = String::new();
                use std::io::Read;
                if let Some(mut o) = child.stdout.take() {
                    let _ = o.read_to_string(&mut out);
                }
                if let Some(mut e) = child.stderr.take() {
                    let _ = e.read_to_string(&mut out);
                }
                panic!("flipdeck ended ({st}) before the paused step:\n{out}");
            }
            assert!(Instant::now() < deadline, "the paused step was not reached");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Lets the held command run.
    pub fn release(&self) {
        std::fs::write(self.state.join("go"), "").unwrap();
    }
}

impl Drop for Pause {
    fn drop(&mut self) {
        self.release();
        let _ = std::fs::remove_file(&self.wrapper);
    }
}
