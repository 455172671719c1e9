//! The dashboard in a real terminal (tmux): deploy and roll back by keys only, then check the
//! screen and the filesystem.

use crate::support::tmux::{self, Tmux, WAIT, exit_code};
use crate::support::{DOMAIN, Harness};
use std::time::Duration;

/// Runs the dashboard; its exit code lands in `exit-code` beside the config.
fn dashboard(h: &Harness, width: u16, height: u16) -> Tmux {
    tmux::dashboard(h, "", "", width, height)
}

#[test]
fn deploy_then_rollback_by_keys_only() {
    if !tmux::available() {
        return;
    }
    let h = Harness::local();
    // The script goes on once the gate exists (at most 60 s): the test opens it once it has
    // seen the log stream mid-build.
    let gate = h.dir.path().join("gate");
    h.write_config(&format!(
        "deployment_script = \"\"\"\necho building-now\ni=0; while [ ! -e '{}' ] && [ $i -lt 1200 ]; do i=$((i + 1)); sleep 0.05; done\necho built-ok\n\"\"\"",
        gate.display()
    ));
    std::fs::write(&gate, "").unwrap();
    h.ok(&["deploy", DOMAIN]);
    std::fs::remove_file(&gate).unwrap();
    let first = h.live_release().unwrap();
    h.commit("public/index.php", "<?php echo 'v2';\n");

    let t = dashboard(&h, 100, 30);
    t.wait_for("#1", WAIT);
    t.keys(&["d"]);
    // The whole dialog (a capture may be mid-frame).
    t.wait_until("the deploy dialog", WAIT, |s| {
        s.contains("Deploy example.com on web1") && s.contains("branch: main")
    });
    t.keys(&["y"]);
    // The new deployment is selected and its log streams while it runs.
    t.wait_for("Log #2", WAIT);
    let s = t.wait_until("the log mid-build", WAIT, |s| {
        s.contains("building-now") && s.contains("● updating")
    });
    assert!(!s.contains("built-ok"), "streamed before the end: {s}");
    std::fs::write(&gate, "").unwrap();
    t.wait_for("deployed web1/example.com", WAIT);
    let second = h.live_release().unwrap();
    assert_ne!(second, first);
    assert_eq!(
        std::fs::read_to_string(h.live().join("public/index.php")).unwrap(),
        "<?php echo 'v2';\n"
    );

    // Table: the newest is selected; move to #1 and roll back.
    t.keys(&["Tab", "j", "r"]);
    t.wait_until("the rollback dialog", WAIT, |s| {
        s.contains("Roll back example.com on web1")
            && s.contains("from: #2")
            && s.contains("to: #1")
    });
    t.keys(&["y"]);
    t.wait_for("rolled back web1/example.com to #1", WAIT);
    assert_eq!(h.live_release().unwrap(), first);
    assert_eq!(
        std::fs::read_to_string(h.live().join("public/index.php")).unwrap(),
        "<?php echo 'v1';\n"
    );

    // The active row moved; r on it explains why not.
    t.keys(&["r"]);
    t.wait_for("already the active", WAIT);
    t.keys(&["q"]);
    assert_eq!(exit_code(&h).as_deref(), Some("0"));
    assert!(!h.lock_dir().exists());
}

#[test]
fn quitting_during_a_deploy_cancels_it_cleanly() {
    if !tmux::available() {
        return;
    }
    let h = Harness::local();
    h.write_config("deployment_script = \"true\"");
    h.ok(&["deploy", DOMAIN]);
    let live = h.live_release().unwrap();
    h.write_config("deployment_script = \"\"\"\necho long-build\nsleep 60\n\"\"\"");
    let t = dashboard(&h, 80, 24);
    t.wait_for("#1", WAIT);
    t.keys(&["d", "y"]);
    t.wait_for("long-build", WAIT);
    t.keys(&["q"]);
    t.wait_for("Quit?", WAIT);
    t.keys(&["y"]);
    assert_eq!(exit_code(&h).as_deref(), Some("0"));
    assert_eq!(h.live_release(), Some(live.clone()));
    assert_eq!(h.releases(), vec![live]);
    assert!(!h.lock_dir().exists(), "lock released");
    let d = &h.list()[0];
    assert_eq!(d["status"], "failed");
    let log = h.ok(&["log", &d["id"].to_string()]);
    assert!(log.contains("cancelled"), "{log}");
}

#[test]
fn sigterm_restores_the_terminal() {
    if !tmux::available() {
        return;
    }
    let h = Harness::local();
    let t = dashboard(&h, 80, 24);
    t.wait_for("Servers", WAIT);
    let pid = std::process::Command::new("pgrep")
        .args(["-f", &format!("^{}$", env!("CARGO_BIN_EXE_flipdeck"))])
        .output()
        .unwrap();
    let pids = String::from_utf8_lossy(&pid.stdout).to_string();
    for p in pids.split_whitespace() {
        // Only our dashboard: its environment names this test's config.
        let env = std::fs::read(format!("/proc/{p}/environ")).unwrap_or_default();
        if String::from_utf8_lossy(&env).contains(&h.config.display().to_string()) {
            unsafe { libc::kill(p.parse().unwrap(), libc::SIGTERM) };
        }
    }
    assert_eq!(exit_code(&h).as_deref(), Some("0"));
    let s = t.screen();
    assert!(!s.contains("Servers"), "alternate screen left: {s}");
}

/// CPU ticks (user + system) a process has used so far.
fn cpu_ticks(pid: &str) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the command name (which is in parentheses and may contain spaces).
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
}

#[test]
fn an_idle_dashboard_does_not_redraw_in_a_loop() {
    if !tmux::available() {
        return;
    }
    let h = Harness::local();
    h.write_config("deployment_script = \"true\"");
    h.ok(&["deploy", DOMAIN]);
    let t = dashboard(&h, 80, 24);
    t.wait_for("#1", WAIT);
    std::thread::sleep(Duration::from_secs(1));
    let pids = std::process::Command::new("pgrep")
        .args(["-f", &format!("^{}$", env!("CARGO_BIN_EXE_flipdeck"))])
        .output()
        .unwrap();
    let pid = String::from_utf8_lossy(&pids.stdout)
        .split_whitespace()
        .find(|p| {
            String::from_utf8_lossy(
                &std::fs::read(format!("/proc/{p}/environ")).unwrap_or_default(),
            )
            .contains(&h.config.display().to_string())
        })
        .expect("the dashboard process")
        .to_string();
    let before = cpu_ticks(&pid);
    std::thread::sleep(Duration::from_secs(3));
    let used = cpu_ticks(&pid) - before;
    // 3 s is 300 ticks of one core at the usual 100 Hz; a redraw loop would use most of them.
    assert!(used < 30, "idle dashboard used {used} CPU ticks in 3 s");
    t.keys(&["q"]);
    assert_eq!(exit_code(&h).as_deref(), Some("0"));
}
