//! Property tests: hostile values are refused or used literally (never executed), the config
//! parser and the dashboard's key handling never panic, and random sequences of operations keep
//! the deployment invariants on a real local target.

use crate::support::{DOMAIN, Harness};
use flipdeck::config::Config;
use proptest::prelude::*;
use std::path::Path;

/// Strings made to hurt: shell metacharacters, quotes, newlines, NUL, unicode, `..`, leading
/// dashes, and long runs.
fn hostile() -> impl Strategy<Value = String> {
    let atoms = prop::sample::select(vec![
        "a",
        "Z",
        "9",
        ".",
        "..",
        "-",
        "--",
        "/",
        "_",
        "$(",
        ")",
        "`",
        ";",
        "&",
        "|",
        ">",
        "<",
        "'",
        "\"",
        "\\",
        " ",
        "\t",
        "\n",
        "\0",
        "*",
        "?",
        "[",
        "~",
        "^",
        ":",
        "@{",
        "${IFS}",
        "é",
        "☃",
        "\u{202e}",
        "touch CANARY",
        "x".repeat(70).leak(),
    ]);
    prop::collection::vec(atoms, 1..12).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, failure_persistence: None, ..ProptestConfig::default() })]

    /// Every validator either refuses with a sentence or accepts a value that quoting keeps literal.
    #[test]
    fn validators_refuse_or_quoting_keeps_it_literal(s in hostile()) {
        for check in [flipdeck::validate::domain, flipdeck::validate::branch, flipdeck::validate::repository,
                      flipdeck::validate::shared_entry, flipdeck::validate::server_name, flipdeck::validate::root_path] {
            match check(&s) {
                Err(why) => prop_assert!(!why.is_empty()),
                Ok(()) => {
                    prop_assert!(!s.contains('\0') && !s.contains('\n'), "accepted a control character: {s:?}");
                    if !s.contains('\0') {
                        let out = std::process::Command::new("sh")
                            .arg("-c")
                            .arg(format!("printf '%s' {}", flipdeck::shell::quote(&s)))
                            .output()
                            .unwrap();
                        prop_assert_eq!(String::from_utf8_lossy(&out.stdout), s.as_str());
                    }
                }
            }
        }
        // Paths built from accepted values never leave the site's directory.
        if flipdeck::validate::domain(&s).is_ok() {
            prop_assert!(!s.contains('/') && !s.contains(".."));
        }
        if flipdeck::validate::shared_entry(&s).is_ok() {
            prop_assert!(!s.starts_with('/') && !s.split('/').any(|c| c == ".."));
        }
    }

    /// The config parser never panics, and every error is a usage error naming the file.
    #[test]
    fn config_parser_never_panics(text in any::<String>(), s in hostile()) {
        for t in [text.clone(), format!("[[servers]]\nname = {s:?}\ntransport = \"local\"\nroot = \"/r\"\n[[servers.sites]]\ndomain = {s:?}\nbranch = {s:?}\nrepository = {s:?}\nshared = [{s:?}]\n")] {
            if let Err(e) = Config::parse(&t, Path::new("/etc/flipdeck.toml")) {
                prop_assert_eq!(e.exit_code(), 2);
                prop_assert!(e.to_string().contains("/etc/flipdeck.toml"), "{}", e.to_string());
            }
        }
    }

}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

    /// Any key sequence leaves the dashboard in a consistent state.
    #[test]
    fn dashboard_keys_never_break_the_state(keys in prop::collection::vec(0usize..40, 0..60)) {
        use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
        let codes = [KeyCode::Up, KeyCode::Down, KeyCode::Tab, KeyCode::BackTab, KeyCode::Enter, KeyCode::Esc,
            KeyCode::PageUp, KeyCode::PageDown, KeyCode::Home, KeyCode::End, KeyCode::Backspace, KeyCode::Left, KeyCode::Right];
        let chars = "djkrpRfG/?qynh4xé ";
        let mut app = flipdeck::ui::app::App::new(flipdeck::ui::site_views(&sample_config()), "/c".into());
        let mut term = ratatui::Terminal::new(ratatui::backend::TestBackend::new(80, 24)).unwrap();
        let theme = flipdeck::ui::theme::Theme::plain();
        for k in keys {
            let ev = if k < codes.len() {
                KeyEvent::new(codes[k], KeyModifiers::NONE)
            } else {
                let c = chars.chars().nth((k - codes.len()) % chars.chars().count()).unwrap();
                KeyEvent::new(KeyCode::Char(c), if c == 'R' || c == 'G' { KeyModifiers::SHIFT } else { KeyModifiers::NONE })
            };
            let _ = app.on_key(ev);
            app.resize(ratatui::layout::Rect::new(0, 0, 80, 24));
            term.draw(|f| flipdeck::ui::view::draw(f, &app, &theme)).unwrap();
            prop_assert!(app.selected < app.sites.len());
            let n = app.visible_deployments().len();
            prop_assert!(n == 0 || app.sites[app.selected].table_sel < n);
            if app.should_quit { break; }
        }
    }
}

fn sample_config() -> Config {
    Config::parse(
        "[[servers]]\nname = \"a\"\ntransport = \"local\"\nroot = \"/r\"\n[[servers.sites]]\ndomain = \"x.com\"\n[[servers.sites]]\ndomain = \"y.com\"\n",
        Path::new("/c"),
    )
    .unwrap()
}

/// Files under `dir` (recursively), skipping `skip`.
fn tree(dir: &Path, skip: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in walk(dir) {
        if !e.starts_with(skip) {
            out.push(e.display().to_string());
        }
    }
    out.sort();
    out
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut v = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            v.push(p.clone());
            if p.is_dir() && !p.is_symlink() {
                v.extend(walk(&p));
            }
        }
    }
    v
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, failure_persistence: None, ..ProptestConfig::default() })]

    /// Hostile branch names through the real binary: refused (exit 2) or used literally (exit 1,
    /// no such branch). No canary, nothing written outside the root, the live site intact.
    #[test]
    fn hostile_branches_through_the_cli(raw in hostile()) {
        let h = Harness::local();
        h.write_config("deployment_script = \"true\"");
        h.ok(&["deploy", DOMAIN]);
        let live = h.live_release();
        let canary = h.dir.path().join("CANARY");
        let b = raw.replace("CANARY", &canary.display().to_string());
        if b.contains('\0') {
            return Ok(()); // a NUL cannot even be passed as an argument
        }
        let outside = tree(h.dir.path(), &h.root);
        // `--branch=VALUE`, so a leading dash reaches flipdeck's validation rather than clap's.
        let out = h.run(&["deploy", DOMAIN, &format!("--branch={b}")]);
        let code = out.status.code();
        prop_assert!(code == Some(1) || code == Some(2), "{b:?}: {out:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        prop_assert_eq!(err.trim().lines().count(), 1, "one sentence: {}", err);
        prop_assert!(!canary.exists(), "{b:?} was executed");
        prop_assert_eq!(h.live_release(), live);
        let mut after = tree(h.dir.path(), &h.root);
        after.retain(|p| !p.contains("history.db"));
        let mut before = outside;
        before.retain(|p| !p.contains("history.db"));
        prop_assert_eq!(after, before, "something was written outside the root");
    }
}

/// Random sequences of deploy / failing deploy / rollback / prune / concurrent deploy / deploy
/// killed at a random moment (then `status`) on a real local target; the invariants are checked
/// after every step.
#[derive(Debug, Clone, Copy)]
enum Op {
    Deploy,
    FailingDeploy,
    Rollback,
    Prune,
    Concurrent,
    /// SIGKILLed this many ms after it took the lock (its script takes 1 s).
    Killed(u64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => Just(Op::Deploy),
        2 => Just(Op::FailingDeploy),
        2 => Just(Op::Rollback),
        1 => Just(Op::Prune),
        1 => Just(Op::Concurrent),
        1 => (0u64..1600).prop_map(Op::Killed),
    ]
}

const KEEP: usize = 3;

fn check_invariants(h: &Harness, records_before: usize) -> Result<usize, TestCaseError> {
    let list = h.list();
    prop_assert!(list.len() >= records_before, "records are never deleted");
    let active: Vec<_> = list.iter().filter(|d| d["is_active"] == true).collect();
    if let Some(live) = h.live_release() {
        prop_assert_eq!(active.len(), 1, "exactly one active record");
        prop_assert_eq!(
            &active[0]["status"],
            "success",
            "the active record is never a failed one"
        );
        prop_assert!(
            active[0]["deployment_path"]
                .as_str()
                .unwrap()
                .ends_with(&live),
            "history and server agree"
        );
    } else {
        prop_assert!(active.is_empty());
    }
    let releases = h.releases();
    prop_assert!(
        releases.len() <= KEEP + 1,
        "at most keep + 1 release dirs: {releases:?}"
    );
    for d in &list {
        if d["status"] == "failed" {
            prop_assert!(
                d["deployment_path"].is_null(),
                "a failed deployment leaves no directory"
            );
        }
    }
    prop_assert!(!h.lock_dir().exists(), "no lock left behind");
    Ok(list.len())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn invariants_hold_across_random_operations(ops in prop::collection::vec(op(), 6..14)) {
        let h = Harness::local();
        h.write_config(&format!("keep = {KEEP}\ndeployment_script = \"true\""));
        h.ok(&["provision", DOMAIN]);
        let mut records = check_invariants(&h, 0)?;
        for (i, o) in ops.iter().enumerate() {
            match o {
                Op::Deploy => {
                    h.commit("public/index.php", &format!("<?php echo {i};\n"));
                    h.ok(&["deploy", DOMAIN]);
                }
                Op::FailingDeploy => {
                    h.write_config(&format!("keep = {KEEP}\ndeployment_script = \"exit 4\""));
                    h.expect(&["deploy", DOMAIN], 1);
                    h.write_config(&format!("keep = {KEEP}\ndeployment_script = \"true\""));
                }
                Op::Rollback => {
                    let code = h.run(&["rollback", DOMAIN]).status.code();
                    prop_assert!(code == Some(0) || code == Some(1));
                }
                Op::Prune => {
                    h.ok(&["prune", "--keep", "1"]);
                }
                Op::Concurrent => {
                    h.write_config(&format!("keep = {KEEP}\ndeployment_script = \"sleep 1\""));
                    let a = h.cmd(&["deploy", DOMAIN]).stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null()).spawn().unwrap();
                    let b = h.run(&["deploy", DOMAIN]);
                    let a = a.wait_with_output().unwrap();
                    let codes = [a.status.code(), b.status.code()];
                    prop_assert!(codes.contains(&Some(0)), "one of two concurrent deploys succeeds: {codes:?}");
                    h.write_config(&format!("keep = {KEEP}\ndeployment_script = \"true\""));
                }
                Op::Killed(ms) => {
                    h.write_config(&format!("keep = {KEEP}\ndeployment_script = \"sleep 1\""));
                    let mut child = h.spawn(&["deploy", DOMAIN]);
                    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
                    while !h.lock_dir().join("owner").exists() && std::time::Instant::now() < deadline {
                        std::thread::sleep(std::time::Duration::from_millis(5));
                    }
                    std::thread::sleep(std::time::Duration::from_millis(*ms));
                    let _ = child.kill(); // SIGKILL
                    let _ = child.wait();
                    h.write_config(&format!("keep = {KEEP}\ndeployment_script = \"true\""));
                    h.ok(&["status"]);
                }
            }
            records = check_invariants(&h, records)?;
        }
    }
}
