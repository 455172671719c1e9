//! The protocol against the scripts themselves: the keys they report, the lock owner line they
//! read, and `lib.sh`'s functions run in `sh` against a temporary directory.

use super::*;
use crate::engine::scripts;
use crate::shell::quote;
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

/// A script made of the parameters every script gets (marker `::m::`, root `root`, domain
/// `a.io`), `extra`, `lib.sh` and `body`.
pub(crate) fn lib_script_at(root: &str, extra: Params, body: &str) -> String {
    let params = Params::new()
        .set("M", "::m::")
        .set("token", "tok-1")
        .set(
            "owner",
            "ops@here pid=1 action=deploy since=now token=tok-1",
        )
        .set("job_env", JOB_ENV)
        .set("root", root)
        .set("home_root", "")
        .set("domain", "a.io");
    scripts::assemble(&(params.as_str().to_string() + extra.as_str()), &[body])
}

pub(crate) fn lib_script(extra: Params, body: &str) -> String {
    lib_script_at("/nonexistent-flipdeck-root", extra, body)
}

/// Runs `body` after `lib.sh` with the root `root`: (exit code, stdout, stderr).
fn sh(root: &Path, extra: Params, body: &str) -> (i32, String, String) {
    let script = lib_script_at(&root.display().to_string(), extra, body);
    let out = Command::new("sh").arg("-c").arg(script).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The keys `setv KEY` reports in a script's text.
fn reported_keys(text: &str) -> BTreeSet<String> {
    let mut keys = BTreeSet::new();
    for line in text.lines() {
        let line = line.trim_start();
        if line.starts_with('#') {
            continue;
        }
        let mut rest = line;
        while let Some(i) = rest.find("setv ") {
            let before = &rest[..i];
            rest = &rest[i + 5..];
            // `setv() {` defines it; a word ending in "setv" is not a call.
            if before.ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_') {
                continue;
            }
            let key: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !key.is_empty() {
                keys.insert(key);
            }
        }
    }
    keys
}

#[test]
fn every_reported_key_is_known_and_every_known_key_is_reported() {
    let mut reported = BTreeSet::new();
    for (name, text) in scripts::FILES {
        // The files on disk are the ones compiled in.
        let on_disk = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("assets/remote")
                .join(name),
        )
        .unwrap();
        assert_eq!(&on_disk, text, "{name}");
        reported.extend(reported_keys(text));
    }
    let known: BTreeSet<String> = Key::ALL.iter().map(|k| k.as_str().to_string()).collect();
    assert_eq!(
        reported.difference(&known).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "reported by a script but unknown to the parser"
    );
    assert_eq!(
        known.difference(&reported).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "known to the parser but reported by no script"
    );
    for k in Key::ALL {
        assert_eq!(Key::parse(k.as_str()), Some(*k));
    }
}

#[test]
fn every_file_of_assets_remote_is_compiled_in() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/remote");
    let mut on_disk: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".sh"))
        .collect();
    on_disk.sort();
    let mut known: Vec<String> = scripts::FILES.iter().map(|(n, _)| n.to_string()).collect();
    known.sort();
    assert_eq!(on_disk, known);
}

/// The exit codes the Rust side names are the ones the scripts use.
#[test]
fn exit_codes_match_the_scripts() {
    let all: String = scripts::FILES.iter().map(|(_, t)| *t).collect();
    for code in [
        LOCK_HELD,
        BAD_HOME,
        FLEET_ABORTED,
        FLEET_REVERTED,
        FLEET_REVERT_FAILED,
    ] {
        assert!(
            all.contains(&format!("exit {code}\n")) || all.contains(&format!("exit {code};")),
            "exit {code}"
        );
    }
    assert!(all.contains(&format!("trap 'exit {INTERRUPTED}' INT TERM HUP")));
    assert!(scripts::DEPLOY.contains(&format!("printf '%s {READY}\\n' \"$M\"")));
    assert!(scripts::DEPLOY.contains(&format!("printf '%s {GATE}\\n' \"$M\"")));
}

#[test]
fn marker_lines() {
    let m = "::m::";
    assert_eq!(Marker::parse(m, "::m:: ready"), Some(Marker::Ready));
    assert_eq!(Marker::parse(m, "::m:: gate"), Some(Marker::Gate));
    assert_eq!(
        Marker::parse(m, "::m:: step script 1/2: echo a b"),
        Some(Marker::Step("script 1/2: echo a b"))
    );
    assert_eq!(
        Marker::parse(m, "::m:: set health_failed HTTP 500 from x"),
        Some(Marker::Set {
            key: Key::HealthFailed,
            value: "HTTP 500 from x"
        })
    );
    assert_eq!(
        Marker::parse(m, "::m:: set prev"),
        Some(Marker::Set {
            key: Key::Prev,
            value: ""
        })
    );
    assert_eq!(
        Marker::parse(m, "::m:: set nonsense 1"),
        Some(Marker::Other)
    );
    assert_eq!(Marker::parse(m, "::m:: ready now"), Some(Marker::Other));
    assert_eq!(Marker::parse(m, "plain output"), None);
}

#[test]
fn reports_take_the_last_value_and_collect_lists() {
    let mut v = Vars::default();
    v.push(Key::Commit, "a");
    v.push(Key::Commit, "b");
    v.push(Key::Pruned, "r1");
    v.push(Key::Pruned, "r2");
    v.push(Key::Switched, "1");
    v.push(Key::Prev, "");
    let d: DeployReport = v.report();
    assert_eq!(d.commit.as_deref(), Some("b"));
    assert_eq!(d.prune.pruned, ["r1", "r2"]);
    assert!(d.switch.switched && !d.switch.switched_back && !d.built);
    assert_eq!(d.switch.prev.as_deref(), Some(""));
}

/// The owner line as written before this type existed, byte for byte, both ways.
#[test]
fn lock_owner_line_round_trips() {
    let line = "ops@web1 pid=4242 action=deploy deployment=17 since=2026-11-27T04:00:00.000Z token=4242-3-00ff";
    let o: LockOwner = line.parse().unwrap();
    assert_eq!(o.who, "ops@web1");
    assert_eq!(o.host(), Some("web1"));
    assert_eq!(o.pid, Some(4242));
    assert_eq!(o.deployment, Some(17));
    assert_eq!(o.token.as_deref(), Some("4242-3-00ff"));
    assert_eq!(o.to_string(), line);
    let no_deployment = "ops@web1 pid=1 action=prune since=t token=x";
    assert_eq!(
        no_deployment.parse::<LockOwner>().unwrap().to_string(),
        no_deployment
    );
    let odd: LockOwner = "unknown (the lock has no owner file yet)".parse().unwrap();
    assert_eq!((odd.host(), odd.pid), (None, None));
    assert!("".parse::<LockOwner>().is_err());
}

#[test]
fn take_lock_and_unlock_go_by_token() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let lock = root.join("deployments/a.io/.flipdeck/lock");
    let (code, _, err) = sh(root, Params::new(), "take_lock\n");
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        std::fs::read_to_string(lock.join("owner")).unwrap(),
        "ops@here pid=1 action=deploy since=now token=tok-1\n"
    );
    // Held: another job is refused with the holder, and cannot unlock it.
    let other = "token=tok-2\nowner='ops@there pid=2 token=tok-2'\n";
    let (code, out, _) = sh(root, Params::new(), &format!("{other}take_lock\n"));
    assert_eq!(code, LOCK_HELD);
    assert!(
        out.contains("::m:: set holder ops@here pid=1 action=deploy since=now token=tok-1"),
        "{out}"
    );
    sh(root, Params::new(), &format!("{other}unlock\n"));
    assert!(lock.exists());
    sh(root, Params::new(), "unlock\n");
    assert!(!lock.exists());
}

#[test]
fn switch_then_back_and_stale_switch_links() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let base = root.join("deployments/a.io");
    for r in ["r1", "r2"] {
        std::fs::create_dir_all(base.join(r)).unwrap();
    }
    let live = root.join("a.io");
    let target = |p: &Path| std::fs::read_link(p).unwrap().display().to_string();
    let (code, out, err) = sh(root, Params::new(), "switch deployments/a.io/r1\n");
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("::m:: set prev \n") && out.contains("set switched 1"));
    assert_eq!(target(&live), "deployments/a.io/r1");
    // Switch to r2, then back through the prepared link: r1 again, nothing left beside.
    let (code, out, err) = sh(
        root,
        Params::new(),
        "switch deployments/a.io/r2\nreadlink \"$live\"\nswitch_back\n",
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("set prev deployments/a.io/r1\n"), "{out}");
    assert!(
        out.ends_with("set switched 1\ndeployments/a.io/r2\n"),
        "{out}"
    );
    assert_eq!(target(&live), "deployments/a.io/r1");
    // The way back is consumed by switching back; a leftover one (a killed switch) is stale.
    let names = || {
        let mut n: Vec<String> = std::fs::read_dir(root)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        n.sort();
        n
    };
    assert_eq!(names(), ["a.io", "deployments"]);
    for leftover in [
        ".a.io.flipdeck-123",
        ".a.io.flipdeck-back-77",
        ".a.io.flipdeck-x",
    ] {
        std::os::unix::fs::symlink("deployments/a.io/r2", root.join(leftover)).unwrap();
    }
    sh(root, Params::new(), "clear_switch_links\n");
    assert_eq!(names(), [".a.io.flipdeck-x", "a.io", "deployments"]);
    // Back with nothing live before: the live link goes.
    std::fs::remove_file(&live).unwrap();
    let (code, _, _) = sh(
        root,
        Params::new(),
        "switch deployments/a.io/r2\nswitch_back\n",
    );
    assert_eq!(code, 0);
    assert!(std::fs::symlink_metadata(&live).is_err());
    // A real directory where the live link belongs is never replaced.
    std::fs::create_dir(&live).unwrap();
    let (code, _, err) = sh(root, Params::new(), "switch deployments/a.io/r1\n");
    assert_eq!(code, 1);
    assert!(err.contains("exists and is not a symlink"), "{err}");
}

#[test]
fn link_shared_seeds_from_the_release_and_links_relatively() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let base = root.join("deployments/a.io");
    let rel = base.join("r1");
    std::fs::create_dir_all(rel.join("storage/logs")).unwrap();
    std::fs::write(rel.join("storage/logs/keep"), "x").unwrap();
    std::fs::create_dir_all(rel.join("config")).unwrap();
    std::fs::write(rel.join("config/app.php"), "<?php").unwrap();
    std::fs::create_dir_all(base.join("shared")).unwrap();
    let body = format!(
        "rel={}\nlink_shared storage dir\nlink_shared config/app.php file\nlink_shared .env file\nlink_shared vendor dir\n",
        quote(&rel.display().to_string())
    );
    let (code, _, err) = sh(root, Params::new(), &body);
    assert_eq!(code, 0, "{err}");
    let shared = base.join("shared");
    // Seeded from the release's own copy.
    assert_eq!(
        std::fs::read_to_string(shared.join("storage/logs/keep")).unwrap(),
        "x"
    );
    assert_eq!(
        std::fs::read_to_string(shared.join("config/app.php")).unwrap(),
        "<?php"
    );
    // Missing in both: created empty, a file or a directory.
    assert!(shared.join(".env").is_file() && shared.join("vendor").is_dir());
    let link = |e: &str| {
        std::fs::read_link(rel.join(e))
            .unwrap()
            .display()
            .to_string()
    };
    assert_eq!(link("storage"), "../shared/storage");
    assert_eq!(link("config/app.php"), "../../shared/config/app.php");
    assert_eq!(link(".env"), "../shared/.env");
    // Through the links, the release sees the shared data.
    assert_eq!(
        std::fs::read_to_string(rel.join("storage/logs/keep")).unwrap(),
        "x"
    );
    // Already shared: kept as it is, the release's copy replaced by the link.
    std::fs::remove_file(rel.join(".env")).unwrap();
    std::fs::write(rel.join(".env"), "from the repository").unwrap();
    std::fs::write(shared.join(".env"), "SECRET=1").unwrap();
    let (code, _, _) = sh(
        root,
        Params::new(),
        &format!(
            "rel={}\nlink_shared .env file\n",
            quote(&rel.display().to_string())
        ),
    );
    assert_eq!(code, 0);
    assert_eq!(
        std::fs::read_to_string(rel.join(".env")).unwrap(),
        "SECRET=1"
    );
}

#[test]
fn prune_keeps_the_live_release_and_logs_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let base = root.join("deployments/a.io");
    // `.flipdeck/` exists: pruning runs under the lock, which lives there.
    for r in ["r1", "r2", "r3", ".flipdeck"] {
        std::fs::create_dir_all(base.join(r)).unwrap();
    }
    std::os::unix::fs::symlink("deployments/a.io/r2", root.join("a.io")).unwrap();
    let names = ["r1".to_string(), "r2".into(), "gone".into()];
    let relogs: Vec<String> = names
        .iter()
        .map(|n| crate::release_log::prefix("prune", n, None, "o'ps@h", None, None))
        .collect();
    let p = Params::new()
        .list("prune", &names)
        .list("prune_relog", &relogs);
    let (code, out, err) = sh(root, p, "prune_releases\n");
    assert_eq!(code, 0, "{err}");
    let mut v = Vars::default();
    for l in out.lines() {
        if let Some(Marker::Set { key, value }) = Marker::parse("::m::", l) {
            v.push(key, value);
        }
    }
    let r: PruneReport = v.report();
    assert_eq!(r.pruned, ["r1", "gone"]);
    assert_eq!(r.kept_live, ["r2"]);
    assert!(!base.join("r1").exists() && base.join("r2").exists() && base.join("r3").exists());
    let log = std::fs::read_to_string(base.join(".flipdeck/releases.log")).unwrap();
    let entries: Vec<_> = log.lines().map(|l| l.to_string()).collect();
    assert_eq!(entries.len(), 2);
    assert!(entries[0].starts_with(&relogs[0]) && entries[0].contains("\"status\":\"pruned\""));
    // Nothing to prune: not even the step.
    let (_, out, _) = sh(
        root,
        Params::new().list::<&str>("prune", &[]),
        "prune_releases\n",
    );
    assert!(!out.contains("step prune"), "{out}");
}

/// `relog` completes the engine's prefix into a line the release log parser reads back.
#[test]
fn a_line_completed_by_the_shell_parses_back() {
    let p = crate::release_log::prefix(
        "deploy",
        "27112026-040000",
        Some("feat/\"x\""),
        "ops@web",
        Some("2026-11-27T04:00:00.000Z"),
        Some(7),
    );
    let dir = tempfile::tempdir().unwrap();
    let body = format!(
        "meta={}\nrelog {} success 0123abc\nrelog {} failed ''\n",
        quote(&dir.path().display().to_string()),
        quote(&p),
        quote(&p)
    );
    let (code, _, err) = sh(dir.path(), Params::new(), &body);
    assert_eq!(code, 0, "{err}");
    let text = std::fs::read_to_string(dir.path().join("releases.log")).unwrap();
    let lines: Vec<_> = text
        .lines()
        .map(|l| crate::release_log::parse(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0].branch.as_deref(), Some("feat/\"x\""));
    assert_eq!(lines[0].commit.as_deref(), Some("0123abc"));
    assert_eq!(lines[0].status, "success");
    assert_eq!(lines[1].commit, None);
    assert!(lines[1].completed.as_deref().unwrap().ends_with('Z'));
}

/// Lists reach the shell as data: values with quotes, `$`, spaces and newlines come back as they
/// were.
#[test]
fn list_items_are_read_back_literally() {
    let items = ["a'b", "$(touch x) `id`", "two words", "tab\there", ""];
    let dir = tempfile::tempdir().unwrap();
    let (code, out, _) = sh(
        dir.path(),
        Params::new().list("things", &items),
        "i=1\nwhile [ $i -le $things_n ]; do printf '[%s]\\n' \"$(item things $i)\"; i=$((i+1)); done\n",
    );
    assert_eq!(code, 0);
    let want: String = items.iter().map(|i| format!("[{i}]\n")).collect();
    assert_eq!(out, want);
    assert!(!dir.path().join("x").exists());
}

#[test]
fn env_check_names_missing_keys_only() {
    let dir = tempfile::tempdir().unwrap();
    let rel = dir.path().join("r1");
    std::fs::create_dir_all(&rel).unwrap();
    std::fs::write(
        rel.join(".env.example"),
        "# A=1\nAPP_KEY=\nexport DB_HOST=h\n  SPACED = 1\nnot a key\nAPP_KEY=dup\nX-Y=1\n",
    )
    .unwrap();
    let run = |require: bool| {
        let body = format!("rel={}\nenv_check\n", quote(&rel.display().to_string()));
        sh(
            dir.path(),
            Params::new().flag("require_env", require),
            &body,
        )
    };
    // No .env at all: every key is missing.
    let (code, out, _) = run(false);
    assert_eq!(code, 0);
    assert!(
        out.contains("::m:: set env_missing APP_KEY DB_HOST SPACED\n"),
        "{out}"
    );
    std::fs::write(rel.join(".env"), "APP_KEY=secret-value\nexport SPACED=2\n").unwrap();
    let (code, out, _) = run(false);
    assert_eq!(code, 0);
    assert!(out.contains("::m:: set env_missing DB_HOST\n"), "{out}");
    assert!(!out.contains("secret-value"));
    let (code, out, _) = run(true);
    assert_eq!(code, 1);
    assert!(out.contains("::m:: set env_required DB_HOST\n"), "{out}");
    std::fs::write(rel.join(".env"), "APP_KEY=1\nDB_HOST=2\nSPACED=3\n").unwrap();
    let (code, out, _) = run(true);
    assert_eq!(code, 0);
    assert!(!out.contains("env_"), "{out}");
    // No .env.example: nothing checked, no step.
    std::fs::remove_file(rel.join(".env.example")).unwrap();
    let (code, out, _) = run(true);
    assert_eq!((code, out.as_str()), (0, ""));
}

#[test]
fn hook_failures_parse() {
    let mut vars = Vars::default();
    vars.push(Key::HookFailed, "after_switch 3");
    vars.push(Key::HookFailed, "on_failure 127");
    vars.push(Key::FailedStep, "after_switch");
    let v: SwitchReport = vars.report();
    assert_eq!(v.hook_failed("after_switch").map(|h| h.code), Some(3));
    assert_eq!(v.hook_failed("on_failure").map(|h| h.code), Some(127));
    assert_eq!(v.hook_failed("after_rollback"), None);
    assert_eq!(v.failed_step.as_deref(), Some("after_switch"));
}

/// A frame is its length line and its bytes; `need` is a whole-line marker like `ready`.
#[test]
fn frames_and_the_need_marker() {
    assert_eq!(frame(b"abc\n\0"), b"5\nabc\n\0".to_vec());
    assert_eq!(frame(b""), b"0\n".to_vec());
    assert_eq!(ABORT_FRAME, b"abort\n");
    assert_eq!(Marker::parse("::m::", "::m:: need"), Some(Marker::Need));
    assert_eq!(Marker::parse("::m::", "::m:: needs"), Some(Marker::Other));
    assert_eq!(
        Marker::parse("::m::", "::m:: set have 0123"),
        Some(Marker::Set {
            key: Key::Have,
            value: "0123"
        })
    );
}

#[test]
fn gate_answers_are_one_line_and_say_whose_revert() {
    assert_eq!(verdict_line(None), b"commit\n");
    assert_eq!(
        verdict_line(Some((RevertBy::Watch, "reverted by the\noperator\r"))),
        b"revert watch reverted by the operator\n"
    );
    assert_eq!(
        verdict_line(Some((RevertBy::Fleet, "web2/a.io failed to switch"))),
        b"revert fleet web2/a.io failed to switch\n"
    );
    // Nothing said: the bare word, which the script reads as another server's failure.
    assert_eq!(verdict_line(Some((RevertBy::Fleet, " \t"))), b"revert\n");
    assert_eq!(go_line(None), b"abort\n");
    assert_eq!(
        go_line(Some("web1/a.io failed\nto build")),
        b"abort web1/a.io failed to build\n"
    );
}
