//! The fault matrix, step by step: each step of deploy, rollback and provision is held at its
//! exact command (`support::pause`) while a fault strikes: flipdeck SIGKILLed, the SSH connection
//! killed, the disk filled, the filesystem made read-only. Then the held command is let go (a
//! process that outlived its flipdeck must not be able to do harm) and the same checks as every
//! fault test follow (`support::faults::settle_and_check`).

use crate::support::faults::{Mount, settle_and_check};
use crate::support::{DOMAIN, Harness};
use std::process::Child;

#[derive(Clone, Copy, PartialEq, Debug)]
enum Fault {
    /// flipdeck SIGKILLed; the next `status` must clean up after it.
    Kill,
    /// The same over SSH: what it left running is on the server.
    KillOverSsh,
    /// The SSH connection dropped (sshd's connection process SIGKILLed, what it ran left
    /// running); flipdeck reconnects and cleans up itself.
    Connection,
    /// No byte and no inode left on the deployment root's filesystem.
    DiskFull,
    /// The deployment root's filesystem remounted read-only.
    ReadOnly,
}

use Fault::*;

#[derive(Clone, Copy, PartialEq)]
enum Action {
    Deploy,
    Rollback,
    Provision,
}

struct Step {
    name: &'static str,
    /// The command held, and the glob its arguments match.
    command: &'static str,
    pattern: &'static str,
    /// Config for the faulty run (`Harness::write_config`).
    config: &'static str,
    action: Action,
    /// Held after the new release went live.
    after_switch: bool,
    faults: &'static [Fault],
}

const ALL: &[Fault] = &[Kill, KillOverSsh, Connection, DiskFull, ReadOnly];
const SCRIPT: &str = "deployment_script = \"true\"";

const STEPS: &[Step] = &[
    Step {
        name: "lock",
        command: "mkdir",
        pattern: "*/.flipdeck/lock *",
        config: SCRIPT,
        action: Action::Deploy,
        after_switch: false,
        faults: ALL,
    },
    Step {
        name: "release directory",
        command: "mkdir",
        pattern: "*/example.com/[0-9]*",
        config: SCRIPT,
        action: Action::Deploy,
        after_switch: false,
        faults: ALL,
    },
    Step {
        name: "cache fetch",
        command: "git",
        pattern: "* fetch *",
        config: SCRIPT,
        action: Action::Deploy,
        after_switch: false,
        faults: ALL,
    },
    Step {
        name: "clone",
        command: "git",
        pattern: "* clone --quiet --local *",
        config: SCRIPT,
        action: Action::Deploy,
        after_switch: false,
        faults: ALL,
    },
    Step {
        name: "shared links",
        command: "ln",
        pattern: "*/shared/*",
        config: SCRIPT,
        action: Action::Deploy,
        after_switch: false,
        faults: ALL,
    },
    Step {
        name: "script line",
        command: "cp",
        pattern: "*copy.php*",
        config: "deployment_script = \"cp public/index.php public/copy.php\"",
        action: Action::Deploy,
        after_switch: false,
        faults: ALL,
    },
    Step {
        name: "commit capture",
        command: "git",
        pattern: "*rev-parse HEAD*",
        config: SCRIPT,
        action: Action::Deploy,
        after_switch: false,
        faults: &[Kill, KillOverSsh, Connection],
    },
    Step {
        name: "switch: new link",
        command: "ln",
        pattern: "*.example.com.flipdeck-[0-9]*",
        config: SCRIPT,
        action: Action::Deploy,
        after_switch: false,
        faults: ALL,
    },
    Step {
        name: "switch: rename",
        command: "mv",
        pattern: "* -T *",
        config: SCRIPT,
        action: Action::Deploy,
        after_switch: false,
        faults: &[Kill, KillOverSsh, Connection, ReadOnly],
    },
    Step {
        name: "reload",
        command: "cp",
        pattern: "*reload.flag*",
        config: "server:reload_command = \"cp /dev/null reload.flag\"\ndeployment_script = \"true\"",
        action: Action::Deploy,
        after_switch: true,
        faults: ALL,
    },
    Step {
        name: "health check",
        command: "cp",
        pattern: "*health.flag*",
        config: "health_check = { command = \"cp public/index.php health.flag\" }\ndeployment_script = \"true\"",
        action: Action::Deploy,
        after_switch: true,
        faults: ALL,
    },
    Step {
        name: "rollback switch",
        command: "ln",
        pattern: "*.example.com.flipdeck-[0-9]*",
        config: SCRIPT,
        action: Action::Rollback,
        after_switch: false,
        faults: ALL,
    },
    Step {
        name: "provision layout",
        command: "mkdir",
        pattern: "*/example.com/shared */.flipdeck *",
        config: SCRIPT,
        action: Action::Provision,
        after_switch: false,
        faults: ALL,
    },
];

fn output(child: Child) -> (Option<i32>, String) {
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "--- stdout\n{}\n--- stderr\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), text)
}

/// One cell: `step` held, `fault` injected, then the checks.
fn cell(step: &Step, fault: Fault) {
    println!("== {} × {fault:?}", step.name);
    let h = match fault {
        Connection | KillOverSsh => match Harness::ssh() {
            Some(h) => h,
            None => return,
        },
        _ => Harness::local(),
    };
    let mount = match fault {
        DiskFull | ReadOnly => match Mount::tmpfs(&h.root, "size=32m,nr_inodes=4000") {
            Some(m) => Some(m),
            None => return,
        },
        _ => None,
    };
    h.write_config(SCRIPT);
    let before = match step.action {
        Action::Provision => None,
        Action::Deploy => {
            h.ok(&["deploy", DOMAIN]);
            h.live_release()
        }
        Action::Rollback => {
            h.ok(&["deploy", DOMAIN]);
            h.ok(&["deploy", DOMAIN]);
            h.live_release()
        }
    };
    h.write_config(step.config);
    let pause = h.pause_at(step.command, step.pattern);
    let args: &[&str] = match step.action {
        Action::Deploy => &["deploy", DOMAIN],
        Action::Rollback => &["rollback", DOMAIN],
        Action::Provision => &["provision", DOMAIN],
    };
    let mut child = h.spawn(args);
    pause.wait_reached(&mut child);
    let context = format!("{} × {fault:?}", step.name);
    match fault {
        Kill | KillOverSsh => {
            let _ = child.kill(); // SIGKILL
            let _ = child.wait();
            // The held command's process outlives flipdeck; the next status must stop it before
            // it cleans up, or, once let go, it would carry on against a cleaned-up site.
            h.write_config(SCRIPT);
            h.ok(&["status"]);
            pause.release();
        }
        Connection => {
            let crate::support::TransportKind::Ssh(sshd) = &h.transport else {
                unreachable!()
            };
            assert!(sshd.drop_connections() > 0);
            let (code, out) = output(child);
            assert_eq!(code, Some(1), "{context}: {out}");
            pause.release();
        }
        DiskFull | ReadOnly => {
            let m = mount.as_ref().unwrap();
            if fault == DiskFull {
                m.fill();
            } else {
                m.remount("ro");
            }
            pause.release();
            let (code, out) = output(child);
            println!("{out}");
            assert_ne!(code, Some(0), "{context}: {out}");
            if !step.after_switch {
                assert_eq!(code, Some(1), "{context}: {out}");
            }
            if fault == DiskFull {
                m.unfill();
            } else {
                m.remount("rw");
            }
        }
    }
    h.wait_quiet();
    drop(pause);
    h.write_config(SCRIPT);
    // Held before the switch, the site is as it was; after it, either release may be live, but
    // history and server agree.
    let expect = if step.after_switch && fault != Connection {
        None
    } else {
        before.as_deref()
    };
    if step.action == Action::Provision {
        assert_eq!(h.live_release(), None, "{context}");
    }
    settle_and_check(&h, expect);
    drop(mount);
}

/// `FAULT_STEP=name` runs only the steps whose name contains it (when chasing one cell).
fn column(fault: Fault) {
    let only = std::env::var("FAULT_STEP").unwrap_or_default();
    for step in STEPS
        .iter()
        .filter(|s| s.faults.contains(&fault) && s.name.contains(&only))
    {
        cell(step, fault);
    }
}

#[test]
fn every_step_with_flipdeck_killed() {
    column(Kill);
}

#[test]
fn every_step_with_flipdeck_killed_over_ssh() {
    column(KillOverSsh);
}

#[test]
fn every_step_with_the_connection_killed() {
    column(Connection);
}

#[test]
fn every_step_with_the_disk_full() {
    column(DiskFull);
}

#[test]
fn every_step_with_the_filesystem_read_only() {
    column(ReadOnly);
}
