//! The fault matrix: each step of a deploy made to fail in the ways that apply, then the same
//! checks every time: the live path is a symlink to a complete release (or absent, as before), the
//! history agrees with the server after `status`, no lock and no half release are left, and the
//! next deploy succeeds.

use crate::support::faults::{Mount, deployed, settle_and_check};
use crate::support::{DOMAIN, Harness};
use std::process::Command;
use std::time::Duration;

#[test]
fn fetch_fails_for_an_unreachable_repository() {
    let (h, live) = deployed();
    h.write_config(&format!(
        "repository = \"{}\"\ndeployment_script = \"true\"",
        h.dir.path().join("gone.git").display()
    ));
    h.expect(&["deploy", DOMAIN], 1);
    h.write_config("deployment_script = \"true\"");
    settle_and_check(&h, Some(&live));
}

#[test]
fn clone_fails_for_a_missing_branch() {
    let (h, live) = deployed();
    h.expect(&["deploy", DOMAIN, "--branch", "no-such-branch"], 1);
    settle_and_check(&h, Some(&live));
}

#[test]
fn shared_links_fail_when_a_shared_path_is_in_the_way() {
    let (h, live) = deployed();
    // `vendor` must be a directory, but something made it a file below a file.
    h.write_config("shared = [\"storage/framework/cache\"]\ndeployment_script = \"true\"");
    std::fs::remove_dir_all(h.base().join("shared/storage")).ok();
    std::fs::write(h.base().join("shared/storage"), "not a directory").unwrap();
    h.expect(&["deploy", DOMAIN], 1);
    std::fs::remove_file(h.base().join("shared/storage")).unwrap();
    settle_and_check(&h, Some(&live));
}

#[test]
fn every_script_line_can_fail() {
    for n in 1..=3 {
        let (h, live) = deployed();
        let lines: Vec<String> = (1..=3)
            .map(|i| {
                if i == n {
                    "exit 9".to_string()
                } else {
                    format!("echo line{i}")
                }
            })
            .collect();
        h.write_config(&format!(
            "deployment_script = \"\"\"\n{}\n\"\"\"",
            lines.join("\n")
        ));
        let out = h.expect(&["deploy", DOMAIN], 1);
        // One script: the lines before the failing one ran, the ones after did not, and the
        // failure names the command.
        for i in (1..=3).filter(|&i| i != n) {
            assert_eq!(
                out.contains(&format!("  | line{i}")),
                i < n,
                "line{i}: {out}"
            );
        }
        assert!(out.contains("(exit code 9) at `exit 9`"), "{out}");
        settle_and_check(&h, Some(&live));
    }
}

#[test]
fn flipdeck_killed_during_the_lock_the_script_and_the_reload() {
    // Killed at three points: while waiting for the lock step to finish (a slow `mkdir` is not
    // possible, so right after it starts), in the deploy script, and in the reload after the switch.
    for (extra, pause_ms) in [
        ("deployment_script = \"sleep 3\"", 0u64),
        ("deployment_script = \"sleep 3\"", 800),
        (
            "server:reload_command = \"sleep 3\"\ndeployment_script = \"true\"",
            800,
        ),
    ] {
        let (h, live) = deployed();
        h.write_config(extra);
        let mut child = h.spawn(&["deploy", DOMAIN]);
        h.wait_building(1);
        std::thread::sleep(Duration::from_millis(pause_ms));
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        // The orphaned script stops at its next write to the dead flipdeck, or finishes.
        std::thread::sleep(Duration::from_secs(4));
        let after_switch = extra.contains("reload");
        h.write_config("deployment_script = \"true\"");
        // Killed after the switch, the new release is live and complete: recovery keeps it.
        settle_and_check(&h, if after_switch { None } else { Some(&live) });
    }
}

#[test]
fn disk_full_during_the_build() {
    let h = Harness::local();
    let Some(m) = Mount::tmpfs(&h.root, "size=4m") else {
        return;
    };
    h.write_config("deployment_script = \"true\"");
    h.ok(&["deploy", DOMAIN]);
    let mut live = h.live_release().unwrap();
    h.commit("public/big.bin", &"0123456789abcdef".repeat(40_000));
    // Full at once (the lock's owner file meets it), then with room for the lock but not the
    // new checkout (the fetch or the clone meets it).
    for leave in [0u64, 200_000] {
        let avail = Command::new("df")
            .args(["--output=avail", "-B1"])
            .arg(&h.root)
            .output()
            .unwrap();
        let avail: u64 = String::from_utf8_lossy(&avail.stdout)
            .lines()
            .nth(1)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let filler = h.root.join("filler");
        let fill = format!(
            "head -c {} /dev/urandom > '{}'",
            avail.saturating_sub(leave),
            filler.display()
        );
        let _ = Command::new("sh").arg("-c").arg(fill).status();
        let out = h.run(&["deploy", DOMAIN]);
        assert_eq!(out.status.code(), Some(1), "{out:?}");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let failed = stdout
            .lines()
            .find(|l| l.starts_with("!!! "))
            .unwrap_or("?");
        println!("{leave} bytes free: {failed}");
        assert_eq!(h.live_release().as_deref(), Some(live.as_str()));
        std::fs::remove_file(&filler).unwrap();
        settle_and_check(&h, None);
        live = h.live_release().unwrap();
    }
    drop(m);
}

#[test]
fn write_refused_during_the_build() {
    let h = Harness::local();
    let Some(m) = Mount::tmpfs(&h.root, "size=16m") else {
        return;
    };
    h.write_config("deployment_script = \"true\"");
    h.ok(&["deploy", DOMAIN]);
    let live = h.live_release().unwrap();
    m.remount("ro");
    let out = h.run(&["deploy", DOMAIN]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_eq!(
        h.live_release().as_deref(),
        Some(live.as_str()),
        "the live site is untouched"
    );
    m.remount("rw");
    settle_and_check(&h, Some(&live));
    drop(m);
}

#[test]
fn the_history_database_disk_fills_mid_deploy() {
    let h = Harness::local();
    let dbdir = h.dir.path().join("dbfs");
    std::fs::create_dir_all(&dbdir).unwrap();
    let Some(m) = Mount::tmpfs(&dbdir, "size=16m") else {
        return;
    };
    let db = dbdir.join("history.db");
    let run = |args: &[&str]| h.cmd(args).env("FLIPDECK_DB", &db).output().unwrap();
    h.write_config("deployment_script = \"true\"");
    assert!(run(&["deploy", DOMAIN]).status.success());
    h.write_config("deployment_script = \"sleep 2\"");
    let child = h
        .cmd(&["deploy", DOMAIN])
        .env("FLIPDECK_DB", &db)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    h.wait_building(1);
    // The build runs; the history's disk fills up before the success can be recorded.
    let filler = dbdir.join("filler");
    let _ = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "head -c 20000000 /dev/zero > '{}'",
            filler.display()
        ))
        .status();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1), "recording failed: {out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("database"),
        "{out:?}"
    );
    std::fs::remove_file(&filler).unwrap();
    // The server went ahead; its release log tells the next `status` how it ended.
    let status = run(&["status"]);
    assert!(status.status.success(), "{status:?}");
    let list: serde_json::Value =
        serde_json::from_slice(&run(&["list", DOMAIN, "--json"]).stdout).unwrap();
    let newest = &list[0];
    assert_eq!(newest["status"], "success", "{list}");
    assert_eq!(newest["is_active"], true);
    assert!(
        newest["deployment_path"]
            .as_str()
            .unwrap()
            .ends_with(&h.live_release().unwrap())
    );
    assert!(!h.lock_dir().exists());
    drop(m);
}

/// `chattr +i` on the history's files, undone on drop (an immutable file refuses writes even
/// from root and through descriptors already open).
struct Immutable(Vec<std::path::PathBuf>);

impl Immutable {
    fn set(files: Vec<std::path::PathBuf>) -> Option<Immutable> {
        let ok = Command::new("chattr")
            .arg("+i")
            .args(&files)
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| Immutable(files))
    }

    fn unsupported() {
        crate::support::cannot_run(
            "CI runs as root on a filesystem with chattr (e2fsprogs)",
            "needs root, chattr (e2fsprogs) and ext4 or a loop device",
        );
    }
}

impl Drop for Immutable {
    fn drop(&mut self) {
        let _ = Command::new("chattr").arg("-i").args(&self.0).status();
    }
}

#[test]
fn the_history_database_refuses_writes_mid_deploy() {
    let h = Harness::local();
    // The history on a filesystem with `chattr`: the sandbox's own, or else a small ext4.
    let probe = h.dir.path().join("probe");
    std::fs::write(&probe, "").unwrap();
    let dbdir = h.dir.path().join("dbfs");
    std::fs::create_dir_all(&dbdir).unwrap();
    let _ext4 = match Immutable::set(vec![probe.clone()]) {
        Some(p) => {
            drop(p);
            None
        }
        None => match Mount::ext4(&dbdir) {
            Some(m) => Some(m),
            None => return Immutable::unsupported(),
        },
    };
    let db = dbdir.join("history.db");
    let spawn = |args: &[&str]| {
        h.cmd(args)
            .env("FLIPDECK_DB", &db)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    h.write_config("deployment_script = \"true\"");
    assert!(spawn(&["deploy", DOMAIN]).wait().unwrap().success());
    h.write_config("deployment_script = \"sleep 2\"");
    let child = spawn(&["deploy", DOMAIN]);
    h.wait_building(1);
    // The build runs; the history's files stop taking writes before the success is recorded.
    let files: Vec<_> = ["history.db", "history.db-wal"]
        .iter()
        .map(|f| dbdir.join(f))
        .filter(|p| p.exists())
        .collect();
    let Some(frozen) = Immutable::set(files) else {
        let _ = child.wait_with_output();
        return Immutable::unsupported();
    };
    let out = child.wait_with_output().unwrap();
    drop(frozen);
    assert_eq!(out.status.code(), Some(1), "recording failed: {out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("is live, but recording it in the history database failed"),
        "{out:?}"
    );
    // The server went ahead; its release log tells the next `status` how it ended.
    let live = h.live_release().unwrap();
    assert!(spawn(&["status"]).wait().unwrap().success());
    let list = spawn(&["list", DOMAIN, "--json"])
        .wait_with_output()
        .unwrap();
    let list: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    let newest = &list[0];
    assert_eq!(newest["status"], "success", "{newest}");
    assert_eq!(newest["is_active"], true);
    assert!(newest["deployment_path"].as_str().unwrap().ends_with(&live));
    assert!(!h.lock_dir().exists());
}

#[test]
fn flipdeck_killed_during_a_rollback() {
    let (h, _) = deployed();
    h.ok(&["deploy", DOMAIN]);
    h.write_config("server:reload_command = \"sleep 3\"\ndeployment_script = \"true\"");
    let mut child = h.spawn(&["rollback", DOMAIN]);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !h.lock_dir().exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "the rollback did not start"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(500));
    let _ = child.kill(); // SIGKILL
    let _ = child.wait();
    std::thread::sleep(Duration::from_secs(4));
    // Wherever the switch got to, the next status makes history and server agree.
    h.write_config("deployment_script = \"true\"");
    settle_and_check(&h, None);
}

#[test]
fn commit_capture_fails() {
    let (h, live) = deployed();
    // The deploy script breaks the checkout: `git rev-parse HEAD` then fails.
    h.write_config("deployment_script = \"rm -rf .git\"");
    let out = h.expect(&["deploy", DOMAIN], 1);
    assert!(out.contains("!!! commit failed"), "{out}");
    settle_and_check(&h, Some(&live));
}

#[test]
fn the_switch_fails_when_the_live_path_is_not_a_symlink() {
    let h = Harness::local();
    h.write_config("deployment_script = \"true\"");
    // Someone put a real directory where the live symlink belongs.
    std::fs::create_dir_all(h.live().join("public")).unwrap();
    std::fs::write(h.live().join("public/index.php"), "hand-made").unwrap();
    let out = h.run(&["deploy", DOMAIN]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("is not a symlink"),
        "{out:?}"
    );
    assert_eq!(
        std::fs::read_to_string(h.live().join("public/index.php")).unwrap(),
        "hand-made",
        "untouched"
    );
    assert!(h.releases().is_empty(), "no half release");
    assert!(!h.lock_dir().exists());
    std::fs::remove_dir_all(h.live()).unwrap();
    settle_and_check(&h, None);
}

#[test]
fn a_prune_delete_that_fails_keeps_the_record_and_the_lock_is_released() {
    let (h, _) = deployed();
    for _ in 0..3 {
        h.ok(&["deploy", DOMAIN]);
    }
    let list = h.list();
    let oldest = list.last().unwrap()["deployment_path"]
        .as_str()
        .unwrap()
        .to_string();
    // The oldest release sits on a read-only bind mount: it cannot be deleted.
    let bind = |args: &[&str]| {
        Command::new("mount")
            .args(args)
            .status()
            .is_ok_and(|s| s.success())
    };
    if !bind(&["--bind", &oldest, &oldest]) {
        return crate::support::cannot_run(
            "CI runs as root and must be able to bind-mount",
            "bind mounts need root",
        );
    }
    assert!(bind(&["-o", "remount,ro,bind", &oldest, &oldest]));
    let out = h.run(&["prune", "--keep", "1"]);
    let _ = Command::new("umount").arg("-l").arg(&oldest).status();
    assert_eq!(
        out.status.code(),
        Some(1),
        "a prune that could not delete says so: {out:?}"
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("could not delete"),
        "{out:?}"
    );
    let after = h.list();
    let rec = after
        .iter()
        .find(|d| d["deployment_path"].as_str() == Some(oldest.as_str()));
    assert!(
        rec.is_some(),
        "a release that could not be deleted keeps its path in the history"
    );
    assert!(!h.lock_dir().exists());
    h.ok(&["prune", "--keep", "1"]);
    settle_and_check(&h, None);
}

#[test]
fn disk_full_during_provisioning() {
    let h = Harness::local();
    let Some(m) = Mount::tmpfs(&h.root, "size=1m") else {
        return;
    };
    let filler = h.root.join("filler");
    let _ = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "head -c 2000000 /dev/zero > '{}' 2>/dev/null",
            filler.display()
        ))
        .status();
    h.write_config("deployment_script = \"true\"");
    h.expect(&["provision", DOMAIN], 1);
    assert!(h.live_release().is_none());
    std::fs::remove_file(&filler).unwrap();
    h.ok(&["provision", DOMAIN]);
    settle_and_check(&h, h.live_release().as_deref());
    drop(m);
}

#[test]
fn connection_killed_during_the_reload() {
    let Some(h) = Harness::ssh() else { return };
    h.write_config("deployment_script = \"true\"");
    h.ok(&["deploy", DOMAIN]);
    let live = h.live_release().unwrap();
    h.write_config("server:reload_command = \"sleep 5\"\ndeployment_script = \"true\"");
    let child = h.spawn(&["deploy", DOMAIN]);
    h.wait_building(1);
    // Past the switch: the new release is live while the reload runs.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while h.live_release().as_deref() == Some(live.as_str()) {
        assert!(
            std::time::Instant::now() < deadline,
            "the switch did not happen"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    let crate::support::TransportKind::Ssh(sshd) = &h.transport else {
        unreachable!()
    };
    assert!(sshd.signal_connections(libc::SIGKILL) > 0);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    // flipdeck reconnected, found its release live mid-reload and switched back.
    assert_eq!(h.live_release().as_deref(), Some(live.as_str()));
    settle_and_check(&h, None);
}

#[test]
fn permission_denied_for_a_non_root_user() {
    // The deploy runs as `nobody`, for whom the site's directory is not writable.
    let runuser = Command::new("runuser")
        .arg("--help")
        .output()
        .is_ok_and(|o| o.status.success());
    let is_root = unsafe { libc::getuid() } == 0;
    if !runuser || !is_root {
        return crate::support::cannot_run(
            "CI runs as root with runuser (util-linux)",
            "needs root and runuser",
        );
    }
    let (h, live) = deployed();
    let open = |p: &std::path::Path| {
        let _ = Command::new("chmod").args(["-R", "a+rwX"]).arg(p).status();
    };
    // nobody may read the repository, write the history, and traverse to the root...
    let _ = Command::new("chmod").arg("755").arg(h.dir.path()).status();
    open(&h.repo);
    open(&h.db);
    let _ = Command::new("chmod").arg("a+rw").arg(h.dir.path()).status();
    for f in ["history.db-wal", "history.db-shm"] {
        if h.dir.path().join(f).exists() {
            let _ = Command::new("chmod")
                .arg("a+rw")
                .arg(h.dir.path().join(f))
                .status();
        }
    }
    // The sandbox is now writable by everyone, so flipdeck would rightly refuse a config in it:
    // nobody reads a copy in a folder of root's, mode 755.
    let cfg_dir = h.dir.path().join("cfg");
    std::fs::create_dir(&cfg_dir).unwrap();
    let _ = Command::new("chmod").arg("755").arg(&cfg_dir).status();
    let config = cfg_dir.join("config.toml");
    std::fs::copy(&h.config, &config).unwrap();
    // ...and run flipdeck: a copy in the sandbox, since the build may sit in a directory only
    // root can enter (a clone in `mktemp -d`).
    let bin = h.dir.path().join("flipdeck");
    std::fs::copy(env!("CARGO_BIN_EXE_flipdeck"), &bin).unwrap();
    let _ = Command::new("chmod").arg("755").arg(&bin).status();
    // ...but the site's directory stays root's, mode 755.
    let out = Command::new("runuser")
        .args([
            "-u",
            "nobody",
            "--",
            "env",
            "HOME=/tmp",
            "GIT_CONFIG_GLOBAL=/dev/null",
        ])
        .arg(format!("FLIPDECK_CONFIG={}", config.display()))
        .arg(format!("FLIPDECK_DB={}", h.db.display()))
        .arg(&bin)
        .args(["deploy", DOMAIN])
        .output()
        .unwrap();
    // The sandbox is root's alone again, for the checks below (and the config in it).
    let _ = Command::new("chmod").arg("755").arg(h.dir.path()).status();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("Permission denied"),
        "{out:?}"
    );
    assert_eq!(h.live_release().as_deref(), Some(live.as_str()));
    settle_and_check(&h, Some(&live));
}

/// Prunes a site whose oldest release is big, and interrupts the prune with `interrupt` while it
/// deletes; then every release must be whole or gone, and the next status and prune clean up.
fn prune_interrupted(h: &Harness, interrupt: impl FnOnce(&mut std::process::Child)) {
    h.write_config("deployment_script = \"true\"");
    for _ in 0..3 {
        h.ok(&["deploy", DOMAIN]);
    }
    let oldest = h.list().last().unwrap()["deployment_path"]
        .as_str()
        .unwrap()
        .to_string();
    let fill = format!("mkdir -p '{oldest}/big' && cd '{oldest}/big' && seq 60000 | xargs touch");
    assert!(
        Command::new("sh")
            .arg("-c")
            .arg(fill)
            .status()
            .unwrap()
            .success()
    );
    let mut child = h.spawn(&["prune", "--keep", "1"]);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !h.lock_dir().exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "the prune did not start"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(150));
    interrupt(&mut child);
    let _ = child.wait();
    std::thread::sleep(Duration::from_secs(3));
    // No release is ever half deleted: each is whole, or gone.
    for r in h.releases() {
        assert!(
            h.base().join(&r).join("public/index.php").is_file(),
            "{r} is whole"
        );
    }
    settle_and_check(h, None);
    // The next prune clears what the interrupted one left behind.
    h.ok(&["prune", "--keep", "1"]);
    let trash = std::fs::read_dir(h.base().join(".flipdeck"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(".trash-"))
        .count();
    assert_eq!(trash, 0);
}

#[test]
fn flipdeck_killed_during_a_prune() {
    let h = Harness::local();
    prune_interrupted(&h, |child| {
        let _ = child.kill(); // SIGKILL
    });
}

#[test]
fn connection_killed_during_a_prune() {
    let Some(h) = Harness::ssh() else { return };
    let crate::support::TransportKind::Ssh(sshd) = &h.transport else {
        unreachable!()
    };
    prune_interrupted(&h, |_| {
        sshd.drop_connections();
    });
}

#[test]
fn health_check_faults_beyond_a_bad_status() {
    // A port nothing listens on: the request is refused.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    for (check, why) in [
        (
            "health_check = { command = \"sleep 5\", timeout_s = 1, retries = 1 }".to_string(),
            "command timed out after 1s".to_string(),
        ),
        (
            "health_check = { command = \"exit 7\", retries = 2, interval_s = 0 }".to_string(),
            "command exited with code 7".to_string(),
        ),
        (
            format!(
                "health_check = {{ url = \"http://127.0.0.1:{closed}/\", timeout_s = 1, retries = 1 }}"
            ),
            format!("no HTTP response from http://127.0.0.1:{closed}/ within 1s (expected 200)"),
        ),
    ] {
        let (h, live) = deployed();
        h.write_config(&format!("deployment_script = \"true\"\n{check}"));
        let out = h.run(&["deploy", DOMAIN]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{out:?}");
        assert!(
            stderr.contains(&format!("health check failed: {why}; switched back to")),
            "{check}: {stderr}"
        );
        settle_and_check(&h, Some(&live));
    }
}

#[test]
fn flipdeck_killed_during_a_prune_over_ssh() {
    let Some(h) = Harness::ssh() else { return };
    prune_interrupted(&h, |child| {
        let _ = child.kill(); // SIGKILL
    });
}

#[test]
fn a_deploy_after_a_killed_one_recovers_it_first() {
    let (h, _) = deployed();
    h.write_config("deployment_script = \"sleep 3\"");
    h.deploy_killed_while_building(1);
    let killed = h.list()[0]["id"].clone();
    // No `status` first: the deploy sees the dead flipdeck's lock, recovers, and goes ahead.
    h.write_config("deployment_script = \"true\"");
    let out = h.ok(&["deploy", DOMAIN]);
    assert!(
        out.contains(&format!("deployment #{killed} was interrupted")),
        "{out}"
    );
    let list = h.list();
    let rec = list.iter().find(|d| d["id"] == killed).unwrap();
    assert_eq!(rec["status"], "failed");
    assert_eq!(list[0]["status"], "success");
    assert_eq!(list[0]["is_active"], true);
    h.wait_quiet();
    settle_and_check(&h, None);
}

#[test]
fn a_prune_and_a_rollback_after_a_killed_deploy_recover_it_first() {
    for then in [&["prune", "--keep", "1"][..], &["rollback", DOMAIN][..]] {
        let (h, _) = deployed();
        h.ok(&["deploy", DOMAIN]);
        h.write_config("deployment_script = \"sleep 3\"");
        h.deploy_killed_while_building(2);
        h.write_config("deployment_script = \"true\"");
        let out = h.ok(then);
        assert!(out.contains("was interrupted"), "{then:?}: {out}");
        h.wait_quiet();
        settle_and_check(&h, None);
    }
}
