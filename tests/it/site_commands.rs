//! Site commands (`flipdeck run SITE NAME`, `[servers.sites.commands]`) and `flipdeck ssh SITE`,
//! over the real binary: on the local transport and a real sshd, on two servers at once, and in
//! the dashboard's picker (tmux).

use crate::support::sshd::TestSshd;
use crate::support::tmux::{self, Tmux, WAIT};
use crate::support::{DOMAIN, Harness, TransportKind, both};
use serde_json::Value;

/// The site's commands, after a plain deploy script: `where` says where it runs, `fail` fails
/// half-way, `hostile` is shell that quoting must leave alone.
const COMMANDS: &str = r#"deployment_script = "true"
[servers.sites.commands]
where = 'echo "in $FLIPDECK_RELEASE at $(pwd -P) for $FLIPDECK_DOMAIN"; echo to-stderr >&2'
fail = """
echo before
false
echo never
"""
secret = 'echo "password=hunter2"'
hostile = '''printf '%s|' "a'b" '$HOME' "$(echo sub)" ';' '`x`'; echo'''
"#;

fn runs(h: &Harness, site: &str) -> Vec<Value> {
    let out = h.ok(&["list", site, "--commands", "--json"]);
    serde_json::from_str::<Value>(&out)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

both!(
    a_command_runs_in_the_live_release_and_is_recorded,
    a_failing_command_is_recorded_failed_and_leaves_the_site_alone,
    an_unknown_command_names_the_commands_there_are,
    command_runs_never_become_the_active_or_rollback_target,
    a_command_runs_beside_a_deploy_and_says_the_lock_is_held,
    ctrl_c_stops_the_command_on_the_server_and_records_it,
);

fn a_command_runs_in_the_live_release_and_is_recorded(h: Harness) {
    h.write_config(COMMANDS);
    h.ok(&["provision", DOMAIN]);
    h.ok(&["deploy", DOMAIN]);
    let live = h.live_release().unwrap();
    let real = std::fs::canonicalize(h.base().join(&live)).unwrap();
    let out = h.ok(&["run", DOMAIN, "where"]);
    assert!(
        out.contains(&format!("  | in {live} at {} for {DOMAIN}", real.display())),
        "{out}"
    );
    assert!(out.contains("  ! to-stderr"), "{out}");
    assert!(
        out.contains("+ echo to-stderr"),
        "traced like the deploy script: {out}"
    );
    assert!(
        out.contains(&format!("OK  where ran in release {live}")),
        "{out}"
    );
    // The hostile text runs exactly as written.
    let out = h.ok(&["run", DOMAIN, "hostile"]);
    assert!(out.contains("  | a'b|$HOME|sub|;|`x`|"), "{out}");
    // Redacted as a deploy's output is: on screen and in the history.
    let out = h.ok(&["run", DOMAIN, "secret"]);
    assert!(
        out.contains("password=[redacted]") && !out.contains("hunter2"),
        "{out}"
    );
    for suffix in ["", "-wal"] {
        let db = std::fs::read(format!("{}{suffix}", h.db.display())).unwrap_or_default();
        assert!(
            !db.windows(7).any(|w| w == b"hunter2"),
            "the secret is not in history.db{suffix}"
        );
    }
    let r = runs(&h, DOMAIN);
    assert_eq!(r.len(), 3, "{r:?}");
    assert!(
        h.ok(&["log", &format!("c{}", r[0]["id"])])
            .contains("password=[redacted]")
    );
    let r = &r[1..];
    assert_eq!(r[1]["name"], "where");
    assert_eq!(r[1]["kind"], "command");
    assert_eq!(r[1]["status"], "success");
    assert_eq!(r[1]["exit_code"], 0);
    assert_eq!(r[1]["release_name"], live.as_str());
    // Its output is kept, like a deployment's.
    let id = format!("c{}", r[1]["id"]);
    let log = h.ok(&["log", &id]);
    assert!(
        log.contains(&format!("in {live} at")) && log.contains("to-stderr"),
        "{log}"
    );
    // `list` points at them, never as a deployment row.
    let list = h.ok(&["list", DOMAIN]);
    assert!(
        list.contains("(3 command runs: `flipdeck list web1/example.com --commands`)"),
        "{list}"
    );
    let table = h.ok(&["list", DOMAIN, "--commands"]);
    assert!(
        table.contains("COMMAND") && table.contains("where") && table.contains(&live),
        "{table}"
    );
    // With --json: JSON events, the job's action is `command`, the last line the result.
    let out = h.ok(&["run", DOMAIN, "where", "--json"]);
    let events: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(events[0]["event"], "job_started");
    assert_eq!(events[0]["action"], "command");
    assert!(
        events
            .iter()
            .any(|e| e["event"] == "log" && e["line"] == "to-stderr" && e["stream"] == "stderr")
    );
    let last = events.last().unwrap();
    assert_eq!(
        (
            last["event"].as_str(),
            last["command"].as_str(),
            last["ok"].as_bool()
        ),
        (Some("result"), Some("run"), Some(true))
    );
    // Without NAME: the commands.
    let names = h.ok(&["run", DOMAIN]);
    assert!(
        names.contains("where") && names.contains("fail") && names.contains("echo before …"),
        "{names}"
    );
}

fn a_failing_command_is_recorded_failed_and_leaves_the_site_alone(h: Harness) {
    h.write_config(COMMANDS);
    h.ok(&["provision", DOMAIN]);
    h.ok(&["deploy", DOMAIN]);
    let (live, releases, deployments) = (h.live_release(), h.releases(), h.list());
    let out = h.run(&["run", DOMAIN, "fail"]);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(
        stdout.contains("  | before") && !stdout.contains("never"),
        "{stdout}"
    );
    assert!(
        stderr.contains("fail failed (exit code 1) at `false`"),
        "{stderr}"
    );
    assert_eq!(
        (h.live_release(), h.releases(), h.list()),
        (live, releases, deployments)
    );
    let r = runs(&h, DOMAIN);
    assert_eq!(
        (r[0]["status"].as_str(), r[0]["exit_code"].as_i64()),
        (Some("failed"), Some(1)),
        "{r:?}"
    );
    assert!(r[0]["error"].as_str().unwrap().contains("at `false`"));
    assert!(
        h.ok(&["log", &format!("c{}", r[0]["id"])])
            .contains("before")
    );
    // No live release yet: said, and recorded.
    let fresh = Harness::new(match &h.transport {
        TransportKind::Local => TransportKind::Local,
        TransportKind::Ssh(_) => TransportKind::Ssh(TestSshd::start().unwrap()),
    });
    fresh.write_config(COMMANDS);
    let out = fresh.run(&["run", DOMAIN, "where"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr.contains("the site has no live release yet")
            && stderr.contains("where could not start"),
        "{stderr}"
    );
}

fn an_unknown_command_names_the_commands_there_are(h: Harness) {
    h.write_config(COMMANDS);
    let out = h.run(&["run", DOMAIN, "migrate"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "web1/example.com has no command \"migrate\"; its commands: fail, hostile, secret, where"
        ),
        "{stderr}"
    );
    h.write_config("");
    let stderr = String::from_utf8_lossy(&h.run(&["run", DOMAIN, "x"]).stderr).into_owned();
    assert!(
        stderr.contains("has no commands; add them under [servers.sites.commands]"),
        "{stderr}"
    );
    assert!(runs(&h, DOMAIN).is_empty(), "nothing ran, nothing recorded");
}

fn command_runs_never_become_the_active_or_rollback_target(h: Harness) {
    h.write_config(COMMANDS);
    h.ok(&["provision", DOMAIN]);
    h.ok(&["deploy", DOMAIN]);
    let before = h.live_release().unwrap();
    h.commit("public/index.php", "<?php echo 'v2';\n");
    h.ok(&["deploy", DOMAIN]);
    let newest = h.live_release().unwrap();
    h.ok(&["run", DOMAIN, "where"]);
    let _ = h.run(&["run", DOMAIN, "fail"]);
    let list = h.list();
    assert_eq!(list.len(), 3, "command runs are no deployments: {list:?}");
    assert_eq!(
        h.active().unwrap()["deployment_path"]
            .as_str()
            .unwrap()
            .rsplit('/')
            .next(),
        Some(newest.as_str())
    );
    // The default rollback target is the deployment before, whatever ran since.
    h.ok(&["rollback", DOMAIN]);
    assert_eq!(h.live_release().unwrap(), before);
    let out = h.ok(&["run", DOMAIN, "where"]);
    assert!(
        out.contains(&format!("in {before} at")),
        "runs in the live release: {out}"
    );
    assert_eq!(runs(&h, DOMAIN)[0]["release_name"], before.as_str());
}

/// Two sshd servers carrying the same domain: a command runs on both, each server's output and
/// outcome reported, and both runs recorded, each in its server's history.
#[test]
fn a_command_runs_on_every_server_of_the_site() {
    let h = Harness::local();
    let Some(servers) = crate::support::two_servers(&h) else {
        return;
    };
    let config = crate::support::servers_config(&h, &servers, 2, |name| {
        format!(
            "\n[[servers.sites]]\ndomain = \"{DOMAIN}\"\nrepository = \"{}\"\n{}\n\
             who = 'echo \"I am {name} in $FLIPDECK_RELEASE\"; [ {name} = web1 ] || exit 4'\n{}\n",
            h.repo.display(),
            COMMANDS,
            if name == "web1" { "solo = 'true'" } else { "" }
        )
    });
    std::fs::write(&h.config, config).unwrap();
    h.ok(&["provision", DOMAIN]);
    let out = h.ok(&["run", DOMAIN, "where"]);
    for (name, _, root) in &servers {
        let live = std::fs::read_link(root.join(DOMAIN)).unwrap();
        let rel = live.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            out.contains(&format!("[{name}/{DOMAIN}]   | in {rel} at")),
            "{out}"
        );
        assert!(
            out.contains(&format!("OK  {name}/{DOMAIN}: ran in release {rel}")),
            "{out}"
        );
        let r = runs(&h, &format!("{name}/{DOMAIN}"));
        assert_eq!(
            (r.len(), r[0]["status"].as_str()),
            (1, Some("success")),
            "{name}: {r:?}"
        );
    }
    assert!(out.contains("where ran on 2 servers"), "{out}");
    // One server failing: both run, each outcome said, the failure named, exit 1.
    let out = h.run(&["run", DOMAIN, "who"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(
        stdout.contains("I am web1") && stdout.contains("I am web2"),
        "{stdout}"
    );
    assert!(
        stdout.contains("OK  web1/example.com: ran in release"),
        "{stdout}"
    );
    assert!(
        stdout.contains("ERR web2/example.com: who failed (exit code 4)"),
        "{stdout}"
    );
    assert!(
        stderr.contains("who failed on web2/example.com"),
        "{stderr}"
    );
    let r = runs(&h, &format!("web2/{DOMAIN}"));
    assert_eq!(
        (r[0]["status"].as_str(), r[0]["exit_code"].as_i64()),
        (Some("failed"), Some(4))
    );
    // A command one server's site lacks runs nowhere (and on the server that has it, by name).
    let out = h.run(&["run", DOMAIN, "solo"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("web2/example.com has no command \"solo\""),
        "{out:?}"
    );
    assert_eq!(runs(&h, &format!("web1/{DOMAIN}")).len(), 2, "nothing ran");
    h.ok(&["run", &format!("web1/{DOMAIN}"), "solo"]);
    // `ssh` needs one server.
    let out = h.run(&["ssh", DOMAIN]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("example.com is on several servers; pick one with --server: web1, web2"),
        "{out:?}"
    );
    // --server narrows it to one.
    let out = h.ok(&["run", DOMAIN, "where", "--server", "web2"]);
    assert!(
        out.contains("OK  where ran in release") && !out.contains("web1"),
        "{out}"
    );
    assert_eq!(runs(&h, &format!("web1/{DOMAIN}")).len(), 3);
    assert_eq!(runs(&h, &format!("web2/{DOMAIN}")).len(), 3);
}

/// A protected site asks first; without a terminal and `--yes` nothing runs (exit 2).
#[test]
fn a_protected_site_asks_before_a_command() {
    let h = Harness::local();
    h.write_config(&format!("protected = true\n{COMMANDS}"));
    h.ok(&["provision", DOMAIN]);
    let out = h.run(&["run", DOMAIN, "where"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Pass --yes to run where on it"));
    assert!(runs(&h, DOMAIN).is_empty());
    h.ok(&["run", DOMAIN, "where", "--yes"]);
    assert_eq!(runs(&h, DOMAIN).len(), 1);
}

/// `flipdeck ssh` over real sshd, in a real terminal: a shell in the live release, the terminal's
/// size passed on, and flipdeck's exit code the shell's.
#[test]
fn ssh_opens_a_shell_in_the_live_release() {
    if !tmux::available() {
        return;
    }
    let Some(h) = Harness::ssh() else { return };
    h.write_config(COMMANDS);
    h.ok(&["provision", DOMAIN]);
    let live = h.live_release().unwrap();
    let real = std::fs::canonicalize(h.base().join(&live)).unwrap();
    let cmd = format!(
        "FLIPDECK_CONFIG='{}' FLIPDECK_DB='{}' '{}' ssh {DOMAIN}; echo \"exit=$?\"; \
         echo modes:$(stty -a | tr ' ;' '\\n\\n' | grep -x -e icanon -e -icanon -e echo -e -echo); sleep 60",
        h.config.display(),
        h.db.display(),
        env!("CARGO_BIN_EXE_flipdeck"),
    );
    let t = Tmux::start(&cmd, 100, 30);
    t.keys(&["printf '%s\\n' \"at:$(pwd)\" \"real:$(readlink -f .)\" \"size:$(stty size)\" \"rel:$FLIPDECK_RELEASE\"", "Enter"]);
    for want in [
        format!("\nat:{}\n", real.display()),
        format!("\nreal:{}\n", real.display()),
        "\nsize:30 100\n".to_string(),
        format!("\nrel:{live}\n"),
    ] {
        t.wait_for(&want, WAIT);
    }
    // A resize reaches the remote pty.
    t.resize(90, 25);
    t.keys(&["clear; echo \"now:$(stty size)\"", "Enter"]);
    t.wait_for("now:25 90\n", WAIT);
    t.keys(&["exit 3", "Enter"]);
    t.wait_for("exit=3", WAIT);
    // The terminal is back in cooked mode, as it was.
    t.wait_for("modes:icanon echo\n", WAIT);
}

/// `flipdeck ssh` on the local transport: `$SHELL` in the live release.
#[test]
fn ssh_on_the_local_transport_starts_the_shell_in_the_release() {
    let h = Harness::local();
    h.write_config(COMMANDS);
    h.ok(&["provision", DOMAIN]);
    let live = h.live_release().unwrap();
    let real = std::fs::canonicalize(h.base().join(&live)).unwrap();
    let out = h
        .cmd(&["ssh", DOMAIN])
        .env("SHELL", "/bin/sh")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin
                .take()
                .unwrap()
                .write_all(b"pwd -P; echo \"$FLIPDECK_RELEASE\"; exit 5\n")?;
            c.wait_with_output()
        })
        .unwrap();
    assert_eq!(out.status.code(), Some(5));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(stdout, format!("{}\n{live}\n", real.display()));
}

/// The dashboard's picker over real sshd: `x` lists the site's commands, Enter runs the chosen
/// one, its output streams into the log pane, its outcome is a toast, and the deployments table
/// and its Active badge are as before.
#[test]
fn the_dashboard_picker_runs_a_command_into_the_log_pane() {
    if !tmux::available() {
        return;
    }
    let Some(h) = Harness::ssh() else { return };
    h.write_config(COMMANDS);
    h.ok(&["provision", DOMAIN]);
    let live = h.live_release().unwrap();
    let t = tmux::dashboard(&h, "LANG=C.UTF-8", "", 120, 30);
    t.wait_for("● connected", WAIT);
    t.wait_for("#1 ", WAIT);
    t.keys(&["x"]);
    // The dialog's last line: a capture taken while tmux is still drawing the frame can hold the
    // title without the rest.
    let s = t.wait_for("Esc close", WAIT);
    assert!(
        s.contains(" Commands ")
            && s.contains("> fail")
            && s.contains("hostile")
            && s.contains("where"),
        "{s}"
    );
    assert!(s.contains("Enter run") && s.contains("Esc close"), "{s}");
    // Down three times: `where`, then Enter runs it.
    for _ in 0..3 {
        t.keys(&["j"]);
    }
    t.wait_for("> where", WAIT);
    t.keys(&["Enter"]);
    let s = t.wait_for(&format!("in {live} at"), WAIT);
    assert!(
        s.contains("command where"),
        "the log pane names the command: {s}"
    );
    let s = t.wait_for("where ran on web1/example.com", WAIT);
    assert!(s.contains("to-stderr"), "{s}");
    // The table still lists the one deployment, Active; no row for the run.
    assert!(
        s.contains("#1 ") && s.contains("Active") && !s.contains("#2 "),
        "{s}"
    );
    // A failing one: its outcome says so, its output is there.
    t.keys(&["x"]);
    t.wait_for("> fail", WAIT);
    t.keys(&["Enter"]);
    let s = t.wait_for("fail failed", WAIT);
    assert!(s.contains("before") && !s.contains("never"), "{s}");
    let r = runs(&h, DOMAIN);
    assert_eq!(r.len(), 2, "{r:?}");
    assert_eq!(
        (r[0]["name"].as_str(), r[0]["status"].as_str()),
        (Some("fail"), Some("failed"))
    );
    assert_eq!(
        (r[1]["name"].as_str(), r[1]["status"].as_str()),
        (Some("where"), Some("success"))
    );
    assert_eq!(h.list().len(), 1);
    // Esc closes the picker without running anything.
    t.keys(&["x"]);
    t.wait_for(" Commands ", WAIT);
    t.keys(&["Escape"]);
    t.wait_until("the picker closed", WAIT, |s| !s.contains(" Commands "));
    assert_eq!(runs(&h, DOMAIN).len(), 2);
    t.keys(&["q"]);
    assert_eq!(tmux::exit_code(&h).as_deref(), Some("0"));
}

fn a_command_runs_beside_a_deploy_and_says_the_lock_is_held(h: Harness) {
    let (live, mut deploy) = h.deploy_held_in_script();
    // The deploy's config replaced the commands: put them back, with its slow script.
    h.write_config(&format!(
        "{}\n{}",
        "deployment_script = \"\"\"\necho started\nsleep 30\n\"\"\"",
        &COMMANDS[COMMANDS.find("[servers").unwrap()..]
    ));
    let out = h.ok(&["run", DOMAIN, "where"]);
    assert!(
        out.contains(&format!("  | in {live} at")),
        "the live release, not the one building: {out}"
    );
    assert!(
        out.contains("flipdeck: the site's lock was held (") && out.contains("action=deploy"),
        "{out}"
    );
    assert!(h.lock_dir().exists(), "the deploy's lock is untouched");
    let _ = deploy.kill();
    let _ = deploy.wait();
    h.wait_quiet();
}

/// A run whose flipdeck was killed is recorded failed ("interrupted") by the next look at the
/// site's runs, never left `running` for ever.
#[test]
fn a_killed_run_is_recorded_interrupted() {
    let h = Harness::local();
    h.write_config(&format!("{COMMANDS}slow = 'echo started; sleep 3'\n"));
    h.ok(&["provision", DOMAIN]);
    let mut child = h.spawn(&["run", DOMAIN, "slow"]);
    let deadline = std::time::Instant::now() + WAIT;
    while runs(&h, DOMAIN).first().map(|r| r["status"].clone()) != Some("running".into()) {
        assert!(
            std::time::Instant::now() < deadline,
            "the run never started"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    // A run of a live flipdeck is left alone.
    assert_eq!(runs(&h, DOMAIN)[0]["status"], "running");
    let _ = child.kill(); // SIGKILL
    let _ = child.wait();
    let r = runs(&h, DOMAIN);
    assert_eq!(r[0]["status"], "failed", "{r:?}");
    assert!(
        r[0]["error"]
            .as_str()
            .unwrap()
            .starts_with("interrupted: the flipdeck that ran it"),
        "{r:?}"
    );
    h.wait_quiet();
}

/// The picker through the dashboard's state machine: a protected site asks for its domain, a
/// domain on two servers runs on both, a busy server refuses, and moving the selection leaves
/// the command's output for the deployment's log.
#[test]
fn the_picker_asks_for_a_protected_domain_and_runs_on_every_server() {
    use crate::dashboard::{dep, key, render, site};
    use crossterm::event::KeyCode;
    use flipdeck::engine::{Action, Event, EventKind};
    use flipdeck::store::Status;
    use flipdeck::ui::app::{App, Effect, Modal};
    let mut web1 = site(
        "web1",
        DOMAIN,
        vec![
            dep(2, Status::Success, true, 5, true),
            dep(1, Status::Success, false, 50, true),
        ],
    );
    web1.protected = true;
    let web2 = site("web2", DOMAIN, vec![]);
    let bare = site("web2", "bare.example.com", vec![]);
    let mut app = App::new(vec![web1, web2, bare], "/c.toml".into());
    let cmds = vec![(
        "status".to_string(),
        "php artisan migrate:status".to_string(),
    )];
    app.commands.insert(format!("web1/{DOMAIN}"), cmds.clone());
    app.commands.insert(format!("web2/{DOMAIN}"), cmds);
    app.commands.insert("web2/bare.example.com".into(), vec![]);

    // No commands: a toast, no picker.
    app.selected = 2;
    app.on_key(key(KeyCode::Char('x')));
    assert!(app.modal.is_none());
    assert!(app.toasts.last().unwrap().text.contains("has no commands"));
    app.selected = 0;
    app.on_key(key(KeyCode::Char('x')));
    assert!(matches!(app.modal, Some(Modal::Commands { .. })));
    let screen = render(&mut app, 100, 30);
    assert!(
        screen.contains("Run in the live release of 2 servers") && screen.contains("> status"),
        "{screen}"
    );
    // Protected: Enter asks for the domain; only the domain typed exactly runs it.
    assert!(app.on_key(key(KeyCode::Enter)).is_empty());
    assert!(matches!(app.modal, Some(Modal::TypeDomain { .. })));
    for c in DOMAIN.chars() {
        app.on_key(key(KeyCode::Char(c)));
    }
    let fx = app.on_key(key(KeyCode::Enter));
    assert_eq!(
        fx,
        [Effect::RunCommand {
            sites: vec![format!("web1/{DOMAIN}"), format!("web2/{DOMAIN}")],
            name: "status".into()
        }]
    );
    assert!(
        app.sites[..2]
            .iter()
            .all(|s| s.running == Some(Action::Command))
    );
    // Its output goes to the command's log, shown in the log pane, not to a deployment's.
    let ev = |kind| Event {
        job: 7,
        site: format!("web1/{DOMAIN}"),
        kind,
    };
    app.on_engine(ev(EventKind::JobStarted {
        action: Action::Command,
        target: "local".into(),
    }));
    app.on_engine(ev(EventKind::Log {
        stream: flipdeck::transport::Stream::Stdout,
        line: "Migration table ok".into(),
    }));
    app.toasts.clear();
    let screen = render(&mut app, 100, 30);
    assert!(
        screen.contains("command status") && screen.contains("Migration table ok"),
        "{screen}"
    );
    // Busy: a second run is refused before a picker opens.
    app.on_key(key(KeyCode::Char('x')));
    assert!(app.modal.is_none());
    assert!(
        app.toasts
            .last()
            .unwrap()
            .text
            .contains("cannot run a command: web1/example.com is busy: a command is running"),
        "{:?}",
        app.toasts
    );
    app.toasts.clear();
    // Moving in the table shows the deployment's log again.
    app.on_key(key(KeyCode::Tab));
    app.on_key(key(KeyCode::Char('j')));
    assert!(app.shown_command().is_none());
    assert!(!render(&mut app, 100, 30).contains("Migration table ok"));
}

/// A lock held elsewhere (a deploy from another machine) does not stop the picker: commands take
/// no lock.
#[test]
fn the_picker_opens_on_a_site_locked_elsewhere() {
    use crate::dashboard::{key, site};
    use crossterm::event::KeyCode;
    use flipdeck::ui::app::{App, Effect, Modal};
    let mut s = site("web1", DOMAIN, vec![]);
    s.lock = Some("ops@laptop pid=1 action=deploy since=2026-01-01T00:00:00Z".into());
    let mut app = App::new(vec![s], "/c.toml".into());
    app.commands
        .insert(format!("web1/{DOMAIN}"), vec![("a".into(), "true".into())]);
    app.on_key(key(KeyCode::Char('d')));
    assert!(app.modal.is_none(), "a deploy is refused");
    app.on_key(key(KeyCode::Char('x')));
    assert!(matches!(app.modal, Some(Modal::Commands { .. })));
    assert_eq!(app.dialog_refusal(), None);
    let fx = app.on_key(key(KeyCode::Enter));
    assert_eq!(
        fx,
        [Effect::RunCommand {
            sites: vec![format!("web1/{DOMAIN}")],
            name: "a".into()
        }]
    );
}

/// Shell completion offers the commands of the site on the line.
#[test]
fn bash_completes_the_sites_commands() {
    let h = Harness::local();
    h.write_config(COMMANDS);
    let names: Vec<String> = crate::toolbox::bash_complete(&h, "flipdeck run example.com ")
        .into_iter()
        .filter(|w| !w.starts_with('-'))
        .collect();
    assert_eq!(names, ["fail", "hostile", "secret", "where"]);
    assert_eq!(
        crate::toolbox::bash_complete(&h, "flipdeck run example.com wh"),
        ["where"]
    );
}

fn ctrl_c_stops_the_command_on_the_server_and_records_it(h: Harness) {
    let marker = h.dir.path().join("after-sleep");
    h.write_config(&format!(
        "{COMMANDS}slow = 'echo started; sleep 5; touch {}'\n",
        marker.display()
    ));
    h.ok(&["provision", DOMAIN]);
    let child = h.spawn(&["run", DOMAIN, "slow"]);
    let deadline = std::time::Instant::now() + WAIT;
    while runs(&h, DOMAIN).first().map(|r| r["status"].clone()) != Some("running".into()) {
        assert!(
            std::time::Instant::now() < deadline,
            "the run never started"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    std::thread::sleep(std::time::Duration::from_millis(500));
    // SAFETY: a plain signal to our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("slow: cancelled"), "{stderr}");
    let r = runs(&h, DOMAIN);
    assert_eq!(
        (
            r[0]["status"].as_str(),
            r[0]["error"]
                .as_str()
                .map(|e| e.starts_with("slow: cancelled"))
        ),
        (Some("failed"), Some(true)),
        "{r:?}"
    );
    // The command was stopped on the server: what it would have done after its sleep never happens.
    h.wait_quiet();
    std::thread::sleep(std::time::Duration::from_secs(5));
    assert!(!marker.exists(), "the command ran on after Ctrl-C");
}

/// A domain on two servers whose sites have different commands: the picker refuses to run one
/// that a server lacks, as `flipdeck run DOMAIN NAME` does.
#[test]
fn the_picker_refuses_a_command_some_server_lacks() {
    use crate::dashboard::{key, site};
    use crossterm::event::KeyCode;
    use flipdeck::ui::app::App;
    let mut app = App::new(
        vec![site("web1", DOMAIN, vec![]), site("web2", DOMAIN, vec![])],
        "/c.toml".into(),
    );
    app.commands.insert(
        format!("web1/{DOMAIN}"),
        vec![("only-here".into(), "true".into())],
    );
    app.commands.insert(
        format!("web2/{DOMAIN}"),
        vec![("other".into(), "true".into())],
    );
    app.on_key(key(KeyCode::Char('x')));
    assert!(app.on_key(key(KeyCode::Enter)).is_empty());
    let toast = &app.toasts.last().unwrap().text;
    assert!(
        toast.contains("cannot run only-here: web2/example.com has no such command"),
        "{toast}"
    );
    assert!(app.sites.iter().all(|s| s.running.is_none()));
}
