//! `flipdeck env`: the shared `.env` changed on two real sshd servers of one site (set, unset,
//! edit with an `EDITOR` script, history, restore, keep 5), shown redacted, and its values found
//! nowhere else: not in the history DB, `deployment.log`, the CLI's output or its JSON events.
//! Writes are atomic and take the deploy lock.

use crate::support::sshd::TestSshd;
use crate::support::{DOMAIN, Harness};
use flipdeck::envfile::EnvFile;
use std::path::{Path, PathBuf};
use std::process::Output;

/// A value no command may show without `--reveal`: quotes, `$`, `#`, a backslash and spaces.
const SECRET: &str = "s3cr3t-'q' \"dq\" $HOME ${APP_KEY} #x \\b";
/// Marks the secret's own text, to grep every file and output for.
const MARK: &str = "s3cr3t-";

struct Fleet {
    h: Harness,
    servers: Vec<(String, TestSshd, PathBuf)>,
    /// Every output of every command run so far.
    seen: std::cell::RefCell<String>,
}

fn fleet() -> Option<Fleet> {
    let h = Harness::local();
    std::fs::write(
        h.repo.join(".env.example"),
        "APP_KEY=\nDB_HOST=\nNEW_KEY=\n",
    )
    .unwrap();
    crate::support::git(&h.repo, &["add", "-A"]);
    crate::support::git(&h.repo, &["commit", "-qm", "example"]);
    let servers = crate::support::two_servers(&h)?;
    let config = crate::support::servers_config(&h, &servers, 2, |_| {
        format!(
            "\n[[servers.sites]]\ndomain = \"{DOMAIN}\"\nrepository = \"{}\"\ndeployment_script = \"echo built\"\n\n",
            h.repo.display()
        )
    });
    std::fs::write(&h.config, config).unwrap();
    let f = Fleet {
        h,
        servers,
        seen: Default::default(),
    };
    f.ok(&["provision", DOMAIN]);
    Some(f)
}

impl Fleet {
    fn run_with(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut c = self.h.cmd(args);
        for (k, v) in env {
            c.env(k, v);
        }
        let out = c.output().unwrap();
        let mut seen = self.seen.borrow_mut();
        seen.push_str(&String::from_utf8_lossy(&out.stdout));
        seen.push_str(&String::from_utf8_lossy(&out.stderr));
        out
    }

    fn expect_with(&self, args: &[&str], env: &[(&str, &str)], code: i32) -> String {
        let out = self.run_with(args, env);
        assert_eq!(
            out.status.code(),
            Some(code),
            "flipdeck {args:?}\n--- stdout\n{}\n--- stderr\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn ok(&self, args: &[&str]) -> String {
        self.expect_with(args, &[], 0)
    }

    fn env_path(&self, i: usize) -> PathBuf {
        shared_env(&self.servers[i].2)
    }

    /// The value server `i`'s application sees for `key`.
    fn value(&self, i: usize, key: &str) -> Option<String> {
        let text = std::fs::read_to_string(self.env_path(i)).unwrap();
        EnvFile::parse(&text).get(key).map(str::to_string)
    }

    fn history_dir(&self, i: usize) -> PathBuf {
        self.servers[i]
            .2
            .join("deployments")
            .join(DOMAIN)
            .join(".flipdeck/env-history")
    }

    fn versions(&self, i: usize) -> Vec<u32> {
        let mut v: Vec<u32> = std::fs::read_dir(self.history_dir(i))
            .unwrap()
            .filter_map(|e| e.unwrap().file_name().to_str()?.parse().ok())
            .collect();
        v.sort();
        v
    }
}

fn shared_env(root: &Path) -> PathBuf {
    root.join("deployments").join(DOMAIN).join("shared/.env")
}

fn mode(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

/// Every file under `dir` whose name is `name`.
fn files_named(dir: &Path, name: &str, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        let ft = e.file_type().unwrap();
        if ft.is_dir() {
            files_named(&p, name, out);
        } else if e.file_name() == name {
            out.push(p);
        }
    }
}

/// No file flipdeck keeps locally, nor any `deployment.log`, nor a leftover temp file beside the
/// .env, holds `MARK`.
fn assert_secret_nowhere(f: &Fleet) {
    let mut files = Vec::new();
    for suffix in ["", "-wal", "-shm"] {
        let p = PathBuf::from(format!("{}{suffix}", f.h.db.display()));
        if p.exists() {
            files.push(p);
        }
    }
    for (_, _, root) in &f.servers {
        files_named(root, "deployment.log", &mut files);
        files_named(
            &root.join("deployments").join(DOMAIN).join(".flipdeck"),
            "releases.log",
            &mut files,
        );
        files_named(
            &root
                .join("deployments")
                .join(DOMAIN)
                .join(".flipdeck/env-history"),
            "log",
            &mut files,
        );
        let shared = root.join("deployments").join(DOMAIN).join("shared");
        let left: Vec<_> = std::fs::read_dir(&shared)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(".env."))
            .collect();
        assert!(left.is_empty(), "temp files left beside the .env: {left:?}");
    }
    assert!(files.iter().any(|p| p.ends_with("deployment.log")));
    for p in &files {
        let bytes = std::fs::read(p).unwrap();
        assert!(
            !String::from_utf8_lossy(&bytes).contains(MARK),
            "the secret is in {}",
            p.display()
        );
    }
    let seen = f.seen.borrow();
    assert!(!seen.contains(MARK), "the secret was printed:\n{seen}");
}

#[test]
fn set_unset_edit_history_and_restore_on_two_servers() {
    let Some(f) = fleet() else { return };
    for i in 0..2 {
        assert_eq!(
            std::fs::read(f.env_path(i)).unwrap(),
            b"",
            "provision made it empty"
        );
    }
    let secret_pair = format!("DB_PASSWORD={SECRET}");
    let out = f.ok(&[
        "env",
        "set",
        DOMAIN,
        "APP_KEY=base64:AbC+/=",
        &secret_pair,
        "DB_HOST=db.internal",
    ]);
    assert!(
        out.contains("OK  web1/example.com: set APP_KEY, DB_PASSWORD, DB_HOST"),
        "{out}"
    );
    assert!(out.contains("OK  web2/example.com: set"), "{out}");
    for i in 0..2 {
        assert_eq!(
            f.value(i, "DB_PASSWORD").as_deref(),
            Some(SECRET),
            "the hostile value round-trips"
        );
        assert_eq!(f.value(i, "APP_KEY").as_deref(), Some("base64:AbC+/="));
        // The empty file provision made was 0644 (umask): its mode is kept.
        assert_eq!(mode(&f.env_path(i)), 0o644);
        assert_eq!(mode(&f.history_dir(i)), 0o700);
        assert_eq!(mode(&f.history_dir(i).join("1")), 0o600);
    }

    // Values that cannot be written are refused before anything is sent, without echoing them.
    let out = f.run_with(&["env", "set", DOMAIN, &format!("K={MARK}a\nb")], &[]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let out = f.run_with(&["env", "set", DOMAIN, &format!("1BAD={MARK}")], &[]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let out = f.run_with(&["env", "set", DOMAIN, MARK], &[]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");

    // Redacted show: keys, no values; the same file on both servers is shown once.
    let out = f.ok(&["env", "show", DOMAIN]);
    assert!(
        out.contains("web1/example.com, web2/example.com (the same on every server)"),
        "{out}"
    );
    assert!(
        out.contains("DB_PASSWORD=[redacted]") && out.contains("APP_KEY=[redacted]"),
        "{out}"
    );
    // --reveal shows it (and is kept out of the outputs checked below).
    let revealed =
        f.h.cmd(&["env", "show", "web1/example.com", "--reveal"])
            .output()
            .unwrap();
    assert_eq!(
        revealed.stdout,
        std::fs::read(f.env_path(0)).unwrap(),
        "the file, exactly"
    );

    // unset, then an edit through $EDITOR (a script running sed on the private copy).
    let out = f.ok(&["env", "unset", DOMAIN, "DB_HOST", "NOPE"]);
    assert!(out.contains("web1/example.com: NOPE was not set"), "{out}");
    assert_eq!(f.value(1, "DB_HOST"), None);
    let editor = f.h.dir.path().join("editor.sh");
    let probe = f.h.dir.path().join("copy-was");
    std::fs::write(
        &editor,
        format!(
            "#!/bin/sh\nset -e\nstat -c '%a' \"$1\" \"$(dirname \"$1\")\" > '{p}'\ndirname \"$1\" >> '{p}'\nsed -i 's/^APP_KEY=.*/APP_KEY=edited/' \"$1\"\necho 'NEW_KEY=added' >> \"$1\"\n",
            p = probe.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&editor, std::fs::Permissions::from_mode(0o755)).unwrap();
    let ed = editor.to_str().unwrap();
    // Without a terminal and without --yes, nothing is written.
    let before = std::fs::read(f.env_path(0)).unwrap();
    let out = f.run_with(&["env", "edit", DOMAIN], &[("EDITOR", ed)]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert_eq!(std::fs::read(f.env_path(0)).unwrap(), before);
    let out = f.expect_with(&["env", "edit", DOMAIN, "--yes"], &[("EDITOR", ed)], 0);
    assert!(
        out.contains("~ APP_KEY (value changed)") && out.contains("+ NEW_KEY (added)"),
        "{out}"
    );
    let copy = std::fs::read_to_string(&probe).unwrap();
    let mut lines = copy.lines();
    assert_eq!(lines.next(), Some("600"), "the private copy is 0600");
    assert_eq!(lines.next(), Some("700"), "in a 0700 folder");
    assert!(
        !Path::new(lines.next().unwrap()).exists(),
        "the private copy is removed"
    );
    for i in 0..2 {
        assert_eq!(f.value(i, "APP_KEY").as_deref(), Some("edited"));
        assert_eq!(f.value(i, "NEW_KEY").as_deref(), Some("added"));
        assert_eq!(
            f.value(i, "DB_PASSWORD").as_deref(),
            Some(SECRET),
            "untouched by the edit"
        );
    }
    // A failing editor writes nothing and leaves no copy.
    let out = f.run_with(&["env", "edit", DOMAIN, "--yes"], &[("EDITOR", "false")]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");

    // History: versions with time and who, keys only; restore puts one back.
    let out = f.ok(&["env", "history", DOMAIN]);
    assert!(
        out.contains("edit: ~APP_KEY +NEW_KEY") && out.contains("unset DB_HOST, NOPE: -DB_HOST"),
        "{out}"
    );
    assert!(out.contains("web2/example.com"), "{out}");
    assert_eq!(f.versions(0), vec![1, 2, 3]);
    let out = f.ok(&["env", "restore", DOMAIN, "3", "--yes"]);
    assert!(
        out.contains("~ APP_KEY (value changed)") && out.contains("- NEW_KEY (removed)"),
        "{out}"
    );
    for i in 0..2 {
        assert_eq!(f.value(i, "APP_KEY").as_deref(), Some("base64:AbC+/="));
        assert_eq!(f.value(i, "NEW_KEY"), None);
    }

    // --json: events, no values.
    let out = f.ok(&["env", "set", DOMAIN, &format!("OTHER={MARK}json"), "--json"]);
    let last: serde_json::Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    assert_eq!(last["event"], "result");
    assert_eq!(last["ok"], true);
    assert!(
        out.lines()
            .any(|l| l.contains("\"job_started\"") && l.contains("\"env\"")),
        "{out}"
    );

    // Keep 5: the oldest versions go.
    for n in 0..4 {
        f.ok(&["env", "set", DOMAIN, &format!("N={n}")]);
    }
    assert_eq!(f.versions(0), vec![5, 6, 7, 8, 9]);
    assert_eq!(f.versions(1), vec![5, 6, 7, 8, 9]);
    let out = f.run_with(&["env", "restore", DOMAIN, "2", "--yes"], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .contains("ERR web2/example.com: web2/example.com keeps no version 2"),
        "{out:?}"
    );

    // A deploy (its log, its record) and the dashboard-free status never carry a value.
    f.ok(&["deploy", DOMAIN]);
    f.ok(&["status"]);
    assert_secret_nowhere(&f);
}

#[test]
fn servers_that_differ_are_shown_apart_and_edited_only_on_purpose() {
    let Some(f) = fleet() else { return };
    f.ok(&["env", "set", "web1/example.com", "ONLY_ONE=1", "A=x"]);
    f.ok(&["env", "set", "web2/example.com", "A=y"]);
    let out = f.ok(&["env", "show", DOMAIN]);
    assert!(
        out.contains("# web1/example.com\n") && out.contains("# web2/example.com\n"),
        "{out}"
    );
    assert!(out.contains("the servers' .env files differ: web2/example.com against web1/example.com: ~A -ONLY_ONE"), "{out}");
    let out = f.run_with(&["env", "edit", DOMAIN, "--yes"], &[("EDITOR", "true")]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("differs between the servers") && err.contains("--from SERVER"),
        "{err}"
    );
    // --from: one server's file, written to both.
    f.expect_with(
        &["env", "edit", DOMAIN, "--yes", "--from", "web1"],
        &[("EDITOR", "true")],
        0,
    );
    assert_eq!(
        std::fs::read(f.env_path(0)).unwrap(),
        std::fs::read(f.env_path(1)).unwrap()
    );
    // set on differing servers changes each one's own file.
    f.ok(&["env", "set", "web2/example.com", "A=z"]);
    f.ok(&["env", "set", DOMAIN, "B=2"]);
    assert_eq!(f.value(0, "A").as_deref(), Some("x"));
    assert_eq!(f.value(1, "A").as_deref(), Some("z"));
    assert_eq!(f.value(1, "B").as_deref(), Some("2"));
}

/// A write that fails on one server of a fleet puts the others back: the fleet never stays
/// split between two .env files.
#[test]
fn a_write_failing_on_one_server_puts_the_others_back() {
    let Some(f) = fleet() else { return };
    f.ok(&["env", "set", DOMAIN, "A=1"]);
    let before: Vec<Vec<u8>> = (0..2)
        .map(|i| std::fs::read(f.env_path(i)).unwrap())
        .collect();
    // web2 is locked by an operator elsewhere: its write is refused after both files were read.
    let lock = f.servers[1]
        .2
        .join("deployments")
        .join(DOMAIN)
        .join(".flipdeck/lock");
    std::fs::create_dir_all(&lock).unwrap();
    std::fs::write(
        lock.join("owner"),
        "ops@elsewhere pid=4242 deployment=9 since=2026-01-01T00:00:00.000Z token=x\n",
    )
    .unwrap();
    let out = f.run_with(&["env", "set", DOMAIN, "A=2"], &[]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        text.contains("ERR web2/example.com") && text.contains("ops@elsewhere"),
        "{text}"
    );
    assert!(
        text.contains("OK  web1/example.com: put back as it was"),
        "{text}"
    );
    assert!(
        err.contains("could not write the .env of web2/example.com; the other servers were put back as they were"),
        "{err}"
    );
    for (i, b) in before.iter().enumerate() {
        assert_eq!(
            &std::fs::read(f.env_path(i)).unwrap(),
            b,
            "server {i} as it was"
        );
    }
    // web1 keeps both steps in its history: the file it had, and the one briefly written.
    assert_eq!(f.versions(0).len(), 3, "{:?}", f.versions(0));
    let hist = f.ok(&["env", "history", "web1/example.com"]);
    assert!(
        hist.contains("put back: set A failed on web2/example.com"),
        "{hist}"
    );
    // Unlocked, the same command writes both.
    std::fs::remove_dir_all(&lock).unwrap();
    f.ok(&["env", "set", DOMAIN, "A=2"]);
    assert_eq!(f.value(0, "A").as_deref(), Some("2"));
    assert_eq!(f.value(1, "A").as_deref(), Some("2"));
}

/// An env write holds the deploy lock: a deploy started meanwhile is refused, the write
/// completes, and nothing is left beside the .env.
#[test]
fn a_write_holds_the_deploy_lock() {
    let Some(h) = Harness::ssh() else { return };
    h.write_config("deployment_script = \"true\"");
    h.ok(&["provision", DOMAIN]);
    let pause = h.pause_at("cmp", "*-s *");
    // This test's own secret: other tests running meanwhile put MARK on their command lines.
    let mark = format!(
        "held-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    let mut child = h.spawn(&["env", "set", DOMAIN, "HELD=1", &format!("PS={mark}ps")]);
    pause.wait_reached(&mut child);
    // Mid-write: the value is in no process's arguments or environment on the server (nor
    // flipdeck's own here), and the new file being made is private.
    for proc in std::fs::read_dir("/proc").unwrap().flatten() {
        if proc
            .file_name()
            .to_str()
            .is_some_and(|n| n.parse::<u32>().is_ok())
            && proc.file_name().to_str() != Some(&child.id().to_string())
        {
            for part in ["cmdline", "environ"] {
                let bytes = std::fs::read(proc.path().join(part)).unwrap_or_default();
                assert!(
                    !String::from_utf8_lossy(&bytes).contains(&mark),
                    "{}/{part} shows the value",
                    proc.path().display()
                );
            }
        }
    }
    let staged: Vec<_> = std::fs::read_dir(h.base().join("shared"))
        .unwrap()
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with(".env.flipdeck-")
        })
        .collect();
    assert_eq!(staged.len(), 1, "the new file is made beside the old one");
    assert_eq!(mode(&staged[0].path()), 0o600);
    let out = h.run(&["deploy", DOMAIN]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("action=env"),
        "the refusal names the env job: {text}"
    );
    pause.release();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let env = h.base().join("shared/.env");
    assert_eq!(
        EnvFile::parse(&std::fs::read_to_string(&env).unwrap()).get("HELD"),
        Some("1")
    );
    assert!(!h.lock_dir().exists(), "the lock is released");
    // And a deploy holding the lock refuses the write, leaving the file as it was.
    let before = std::fs::read(&env).unwrap();
    let (_, mut deploy) = h.deploy_held_in_script();
    let out = h.run(&["env", "set", DOMAIN, "HELD=2"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("action=deploy"),
        "{out:?}"
    );
    assert_eq!(std::fs::read(&env).unwrap(), before);
    let _ = deploy.kill();
    let _ = deploy.wait();
    let left: Vec<_> = std::fs::read_dir(h.base().join("shared"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".env."))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

/// A .env changed on the server after flipdeck read it is not overwritten.
#[test]
fn a_file_changed_meanwhile_is_not_overwritten() {
    let Some(h) = Harness::ssh() else { return };
    h.write_config("deployment_script = \"true\"");
    h.ok(&["provision", DOMAIN]);
    let env = h.base().join("shared/.env");
    // The editor stands in for someone changing the server's file while the operator edits.
    let editor = h.dir.path().join("meanwhile.sh");
    std::fs::write(
        &editor,
        format!(
            "#!/bin/sh\necho BY_HAND=1 >> '{}'\necho MINE=1 >> \"$1\"\n",
            env.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&editor, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut c = h.cmd(&["env", "edit", DOMAIN, "--yes"]);
    let out = c.env("EDITOR", &editor).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("changed on the server since flipdeck read it"),
        "{out:?}"
    );
    assert_eq!(std::fs::read_to_string(&env).unwrap(), "BY_HAND=1\n");
}

/// The dashboard shows the selected site's .env status (keys only), and `e` steps aside for the
/// editor and comes back; the secret is never on its screen.
#[test]
fn the_dashboard_shows_missing_keys_and_e_edits() {
    if !crate::support::tmux::available() {
        return;
    }
    let Some(h) = Harness::ssh() else { return };
    std::fs::write(h.repo.join(".env.example"), "DB_PASSWORD=\nNEW_KEY=\n").unwrap();
    crate::support::git(&h.repo, &["add", "-A"]);
    crate::support::git(&h.repo, &["commit", "-qm", "example"]);
    h.write_config("deployment_script = \"true\"");
    let text = std::fs::read_to_string(&h.config).unwrap();
    std::fs::write(&h.config, format!("refresh_s = 1\n{text}")).unwrap();
    h.ok(&["provision", DOMAIN]);
    h.ok(&["env", "set", DOMAIN, &format!("DB_PASSWORD={SECRET}")]);
    let editor = h.dir.path().join("editor.sh");
    std::fs::write(
        &editor,
        "#!/bin/sh\necho NEW_KEY=from-the-dashboard >> \"$1\"\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&editor, std::fs::Permissions::from_mode(0o755)).unwrap();
    let t = crate::support::tmux::dashboard(
        &h,
        &format!("LANG=C.UTF-8 EDITOR='{}'", editor.display()),
        "",
        120,
        30,
    );
    let wait = crate::support::tmux::WAIT;
    let screen = t.wait_for(".env lacks NEW_KEY", wait);
    assert!(!screen.contains(MARK), "{screen}");
    t.keys(&["e"]);
    let screen = t.wait_for("[y/N]", wait);
    assert!(
        screen.contains("+ NEW_KEY (added)") && !screen.contains(MARK),
        "{screen}"
    );
    t.keys(&["y", "Enter"]);
    let screen = t.wait_for("press Enter to return", wait);
    assert!(
        screen.contains("OK  web1/example.com: wrote .env"),
        "{screen}"
    );
    t.keys(&["Enter"]);
    let screen = t.wait_for(".env has every .env.example key", wait);
    assert!(
        screen.contains("web1/example.com — deployments") && !screen.contains(MARK),
        "{screen}"
    );
    let env = std::fs::read_to_string(h.base().join("shared/.env")).unwrap();
    let parsed = EnvFile::parse(&env);
    assert_eq!(parsed.get("NEW_KEY"), Some("from-the-dashboard"));
    assert_eq!(parsed.get("DB_PASSWORD"), Some(SECRET));
    // The keyboard is the dashboard's again.
    t.keys(&["?"]);
    t.wait_for("edit the site's shared .env", wait);
}

/// The private copy is gone however the edit ends: the editor failing, flipdeck told to stop
/// (SIGTERM) while the editor runs (the editor is told too, and what it writes on its way out, as
/// vim writes its swap file, goes with the folder); and Ctrl-C (SIGINT) is the editor's, not
/// flipdeck's.
#[test]
fn the_private_copy_goes_on_every_way_out() {
    let Some(h) = Harness::ssh() else { return };
    h.write_config("deployment_script = \"true\"");
    h.ok(&["provision", DOMAIN]);
    h.ok(&["env", "set", DOMAIN, "A=1"]);
    let env = h.base().join("shared/.env");
    let before = std::fs::read(&env).unwrap();
    let probe = h.dir.path().join("copy-dir");
    let editor = |body: &str| {
        let p = h.dir.path().join("editor.sh");
        std::fs::write(
            &p,
            format!(
                "#!/bin/sh\necho A=2 > \"$1\"\necho \"$$ $(dirname \"$1\")\" > '{}.tmp' && mv '{0}.tmp' '{0}'\n{body}\n",
                probe.display()
            ),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        p
    };
    let wait_probe = || {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            if let Ok(d) = std::fs::read_to_string(&probe) {
                let _ = std::fs::remove_file(&probe);
                let (pid, dir) = d.trim().split_once(' ').expect("pid and folder");
                return (pid.parse::<i32>().unwrap(), PathBuf::from(dir));
            }
            assert!(std::time::Instant::now() < deadline, "the editor never ran");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    };
    // The editor fails.
    let ed = editor("exit 3");
    let out = h
        .cmd(&["env", "edit", DOMAIN, "--yes"])
        .env("EDITOR", &ed)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("nothing was written"),
        "{out:?}"
    );
    assert!(
        !wait_probe().1.exists(),
        "the copy is removed after a failed editor"
    );
    assert_eq!(std::fs::read(&env).unwrap(), before);
    // SIGTERM while the editor runs: the editor writes a swap file on its way out.
    let ed = editor("trap 'echo A=3 > \"$1.swp\"; exit 1' TERM\nsleep 5 & wait");
    let child = h
        .cmd(&["env", "edit", DOMAIN, "--yes"])
        .env("EDITOR", &ed)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let (pid, dir) = wait_probe();
    assert!(dir.exists());
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_ne!(
        unsafe { libc::kill(pid, 0) },
        0,
        "flipdeck exited with the editor still running"
    );
    assert!(!dir.exists(), "the copy is removed on SIGTERM");
    assert_eq!(std::fs::read(&env).unwrap(), before);
    // SIGINT to flipdeck while the editor runs: the edit goes on and is written.
    let ed = editor("sleep 2");
    let child = h
        .cmd(&["env", "edit", DOMAIN, "--yes"])
        .env("EDITOR", &ed)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let (_, dir) = wait_probe();
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(!dir.exists());
    assert_eq!(std::fs::read_to_string(&env).unwrap(), "A=2\n");
}
