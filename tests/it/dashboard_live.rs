//! A dashboard left open (tmux, the real binary): what happens elsewhere shows up without a key,
//! a lost server says so and comes back, refusals come before dialogs, the quit dialog survives
//! its jobs ending, ASCII without a UTF-8 locale, remapped keys.

use crate::support::tmux::{self, Tmux, WAIT, exit_code};
use crate::support::{DOMAIN, Harness, TransportKind};
use std::time::Duration;

/// The config's `refresh_s` in these tests.
const REFRESH_S: u64 = 1;
/// How soon a change made on the server must be on screen, counted from the change itself:
/// `refresh_s` + 1 s, with room for a loaded machine (an exec's login shell can be slow to
/// start on a shared one).
const SEEN_WITHIN: Duration = Duration::from_secs(4 * (REFRESH_S + 1));

/// Waits (up to `WAIT`) until `what` holds on the server, and returns when it did.
fn server_state(what: &str, ok: impl Fn() -> bool) -> std::time::Instant {
    let deadline = std::time::Instant::now() + WAIT;
    while !ok() {
        assert!(
            std::time::Instant::now() < deadline,
            "{what} never happened"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    std::time::Instant::now()
}

/// Puts `top` (top-level keys) before the harness's config.
fn with_top(h: &Harness, top: &str) {
    let text = std::fs::read_to_string(&h.config).unwrap();
    std::fs::write(&h.config, format!("{top}\n{text}")).unwrap();
}

/// Runs the dashboard in a UTF-8 locale, then `env`.
fn dashboard(h: &Harness, env: &str, width: u16, height: u16) -> Tmux {
    tmux::dashboard(h, &format!("LANG=C.UTF-8 {env}"), "", width, height)
}

/// The table's row of deployment `id`.
fn row(screen: &str, id: i64) -> Option<String> {
    screen
        .lines()
        .filter_map(|l| l.split('│').nth(3).map(str::trim))
        .find(|cell| cell.starts_with(&format!("#{id} ")))
        .map(str::to_string)
}

#[test]
fn cli_deploys_and_rollbacks_show_up_without_a_key() {
    if tmux::available() {
        cli_changes_show_up(Harness::local());
    }
}

#[test]
fn cli_deploys_and_rollbacks_over_ssh_show_up_without_a_key() {
    if tmux::available()
        && let Some(h) = Harness::ssh()
    {
        cli_changes_show_up(h);
    }
}

/// A CLI deploy and a CLI rollback from a second shell, with the dashboard open on `h`.
fn cli_changes_show_up(h: Harness) {
    h.write_config("deployment_script = \"true\"");
    with_top(&h, &format!("refresh_s = {REFRESH_S}"));
    h.ok(&["deploy", DOMAIN]);
    let t = dashboard(&h, "", 120, 30);
    t.wait_for("● connected", WAIT);
    t.wait_for("#1 ", WAIT);

    // A CLI deploy from a second shell: its lock shows while it builds, its row appears, the
    // lock goes when it ends.
    // The build goes on once the dashboard has shown the lock (at most 60 s).
    let gate = h.dir.path().join("lock-seen");
    h.write_config(&format!(
        "deployment_script = \"\"\"\necho slow\ni=0; while [ ! -e '{}' ] && [ $i -lt 1200 ]; do i=$((i + 1)); sleep 0.05; done\n\"\"\"",
        gate.display()
    ));
    with_top(&h, &format!("refresh_s = {REFRESH_S}"));
    let mut cli = h.spawn(&["deploy", DOMAIN]);
    let locked = server_state("the CLI's lock", || h.lock_dir().exists());
    t.wait_until(
        "[locked] and #2 updating, its holder named",
        SEEN_WITHIN,
        |s| {
            s.contains("[locked]")
                && row(s, 2).is_some_and(|r| r.contains("updating"))
                && s.contains("locked by")
        },
    );
    println!("lock seen {:?} after it was taken", locked.elapsed());
    std::fs::write(&gate, "").unwrap();
    assert!(cli.wait().unwrap().success());
    let done = std::time::Instant::now();
    let s = t.wait_until("#2 live, no lock", SEEN_WITHIN, |s| {
        row(s, 2).is_some_and(|r| r.contains("✓ success") && r.contains("Active"))
            && !s.contains("[locked]")
    });
    assert!(!s.contains("● updating"), "{s}");
    println!("the deploy's end seen {:?} after it ended", done.elapsed());

    // A CLI rollback: the Active badge moves back to #1 by itself.
    h.ok(&["rollback", DOMAIN]);
    let done = std::time::Instant::now();
    t.wait_until("#1 active again", SEEN_WITHIN, |s| {
        row(s, 1).is_some_and(|r| r.contains("Active"))
            && row(s, 2).is_some_and(|r| !r.contains("Active"))
    });
    println!("the rollback seen {:?} after it ended", done.elapsed());
    t.keys(&["q"]);
    assert_eq!(exit_code(&h).as_deref(), Some("0"));
}

#[test]
fn a_stopped_sshd_shows_unreachable_and_reconnects_when_started() {
    if !tmux::available() {
        return;
    }
    let Some(mut h) = Harness::ssh() else { return };
    h.write_config("deployment_script = \"true\"");
    with_top(&h, &format!("refresh_s = {REFRESH_S}"));
    h.ok(&["deploy", DOMAIN]);
    let t = dashboard(&h, "", 100, 30);
    t.wait_for("● connected", WAIT);
    let TransportKind::Ssh(sshd) = &mut h.transport else {
        unreachable!()
    };
    sshd.stop();
    // Seen at the next read or keepalive, which a loaded machine may delay: twice the wait.
    // With the next try shown (a capture may be mid-frame).
    t.wait_until("✗ unreachable, retry", WAIT * 2, |s| {
        s.contains("✗ unreachable") && s.contains("retry")
    });
    // It lasts: no toast fading takes it away.
    std::thread::sleep(Duration::from_secs(3));
    let s = t.screen();
    assert!(s.contains("✗ unreachable"), "{s}");
    assert!(s.contains("server unreachable"), "the table says so: {s}");
    // d refuses at once, naming the reason.
    t.keys(&["d"]);
    let s = t.wait_for("cannot deploy", WAIT);
    assert!(!s.contains("Deploy example.com on"), "no dialog: {s}");
    let TransportKind::Ssh(sshd) = &mut h.transport else {
        unreachable!()
    };
    sshd.restart();
    // The backoff is at most a minute.
    t.wait_for("● connected", Duration::from_secs(70));
    t.keys(&["q"]);
    assert_eq!(exit_code(&h).as_deref(), Some("0"));
}

#[test]
fn d_on_a_site_locked_elsewhere_opens_no_dialog() {
    if !tmux::available() {
        return;
    }
    let h = Harness::local();
    let (_live, mut held) = h.deploy_held_in_script();
    with_top(&h, &format!("refresh_s = {REFRESH_S}"));
    let t = dashboard(&h, "", 100, 30);
    t.wait_for("[locked]", WAIT);
    t.keys(&["d"]);
    let s = t.wait_for("cannot deploy: web1/example.com is locked by", WAIT);
    assert!(!s.contains("Deploy example.com on web1"), "{s}");
    // The holder in one line: who, what and since when.
    assert!(s.contains("(deploy #2"), "{s}");
    held.kill().unwrap();
    let _ = held.wait();
    t.keys(&["q"]);
    assert_eq!(exit_code(&h).as_deref(), Some("0"));
}

#[test]
fn quitting_after_the_job_ended_under_the_dialog_quits() {
    if !tmux::available() {
        return;
    }
    let h = Harness::local();
    h.write_config("deployment_script = \"true\"");
    h.ok(&["deploy", DOMAIN]);
    // The build ends when the test says so (a file appears), not after a sleep a loaded machine
    // could outlast before the dialog opens.
    let done = h.dir.path().join("build-may-end");
    h.write_config(&format!(
        "deployment_script = \"\"\"\necho short-build\nwhile [ ! -e '{}' ]; do sleep 0.1; done\n\"\"\"",
        done.display()
    ));
    let t = dashboard(&h, "", 80, 24);
    t.wait_for("#1 ", WAIT);
    t.keys(&["d", "y"]);
    t.wait_for("short-build", WAIT);
    t.keys(&["q"]);
    t.wait_for("Quit?", WAIT);
    std::fs::write(&done, "").unwrap();
    // The job ends while the dialog is open: it says so.
    t.wait_for("No job is running any more", WAIT);
    t.keys(&["y"]);
    assert_eq!(exit_code(&h).as_deref(), Some("0"));
    assert_eq!(h.list()[0]["status"], "success");
}

#[test]
fn lang_c_renders_ascii() {
    if !tmux::available() {
        return;
    }
    let h = Harness::local();
    h.write_config("deployment_script = \"true\"");
    h.ok(&["deploy", DOMAIN]);
    let t = dashboard(&h, "LANG=C", 100, 30);
    let s = t.wait_for("+ success", WAIT);
    assert!(s.contains("+ Servers -"), "ASCII borders: {s}");
    assert!(s.lines().all(|l| l.is_ascii()), "{s}");
    t.keys(&["q"]);
    assert_eq!(exit_code(&h).as_deref(), Some("0"));
    // --ascii does the same in a UTF-8 locale.
    let t = tmux::dashboard(&h, "LANG=C.UTF-8", "--ascii", 100, 30);
    let s = t.wait_for("+ success", WAIT);
    assert!(s.lines().all(|l| l.is_ascii()), "{s}");
    t.keys(&["q"]);
    assert_eq!(exit_code(&h).as_deref(), Some("0"));
}

#[test]
fn remapped_keys_work_and_the_help_shows_them() {
    if !tmux::available() {
        return;
    }
    let h = Harness::local();
    h.write_config("deployment_script = \"true\"");
    h.ok(&["deploy", DOMAIN]);
    with_top(&h, "[keys]\ndeploy = \"D\"\nhelp = [\"?\", \"F1\"]");
    let t = dashboard(&h, "", 100, 34);
    t.wait_for("#1 ", WAIT);
    // `d` no longer deploys: had it opened the dialog, the help key would not open the help.
    t.keys(&["d", "F1"]);
    t.wait_until("the help with D", WAIT, |s| {
        s.contains(" Keys ") && s.contains("D  deploy the selected site")
    });
    // Apart: Esc and a key at once read as Alt and that key.
    t.keys(&["Escape"]);
    t.wait_until("the help closed", WAIT, |s| !s.contains(" Keys "));
    t.keys(&["D"]);
    t.wait_for("Deploy example.com on web1", WAIT);
    t.keys(&["Escape"]);
    t.wait_until("the dialog closed", WAIT, |s| {
        !s.contains("Deploy example.com on")
    });
    t.keys(&["q"]);
    assert_eq!(exit_code(&h).as_deref(), Some("0"));
}

/// Runs flipdeck expecting exit code 2; its stderr.
fn config_error(h: &Harness, args: &[&str]) -> String {
    let out = h.run(args);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn keys_that_are_not_actions_or_clash_are_config_errors_with_the_line() {
    let h = Harness::local();
    with_top(&h, "refresh_s = 5\n[keys]\nlaunch = \"x\"");
    let err = config_error(&h, &[]);
    assert!(
        err.contains("line 3") && err.contains("keys.launch is not an action"),
        "{err}"
    );
    h.write_config("");
    with_top(&h, "[keys]\ndeploy = \"r\"");
    let err = config_error(&h, &[]);
    assert!(
        err.contains("line 2") && err.contains("keys.deploy takes a key that rollback has"),
        "{err}"
    );
    h.write_config("");
    with_top(&h, "refresh_s = -1");
    let err = config_error(&h, &["status"]);
    assert!(err.contains("line 1") && err.contains("refresh_s"), "{err}");
}
