//! What goes out, in the dashboard's deploy and rollback dialogs: on a repository with known
//! commits (a migration added, composer.lock changed, a key added to .env.example), deployed
//! over real sshd, the real binary in tmux lists exactly them; a rollback across a migration
//! warns and names it; the dialog works while the diff is still being read; an `artifact` site
//! says it cannot be known. And, on the `App` alone: stale answers are dropped, and the lists
//! fit a small screen.

use crate::dashboard::{key, render, sample_app};
use crate::support::tmux::{self, Tmux, WAIT, exit_code};
use crate::support::{DOMAIN, Harness, git};
use crossterm::event::KeyCode;
use flipdeck::engine::diff::{Change, Commit, Diff, DiffTarget};
use flipdeck::ui::app::{Effect, Loaded, Modal};
use std::time::Duration;

const MIGRATION: &str = "database/migrations/2026_02_01_000000_add_flags.php";

fn commit_as(h: &Harness, file: &str, content: &str, subject: &str) -> String {
    let p = h.repo.join(file);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, content).unwrap();
    git(&h.repo, &["add", "-A"]);
    git(&h.repo, &["commit", "-qm", subject]);
    git(&h.repo, &["rev-parse", "--short=7", "HEAD"])
}

/// Deploys a first release (a migration, composer.lock, .env.example), writes the shared .env,
/// then commits four changes on top. Returns the first deploy's short commit and the four new
/// commits (short SHA, subject), newest first.
fn setup(h: &Harness) -> (String, Vec<(String, String)>) {
    commit_as(
        h,
        "database/migrations/2026_01_01_000000_create_users.php",
        "<?php // users\n",
        "create users",
    );
    commit_as(h, "composer.lock", "{\"v\":1}\n", "lock deps");
    let first = commit_as(h, ".env.example", "APP_KEY=\nDB_HOST=\n", "env example");
    h.write_config("deployment_script = \"true\"");
    h.ok(&["deploy", DOMAIN]);
    std::fs::write(
        h.base().join("shared/.env"),
        "APP_KEY=secret-value\nDB_HOST=db\n",
    )
    .unwrap();
    let mut new = vec![];
    for (file, content, subject) in [
        (MIGRATION, "<?php // flags\n", "add flags"),
        ("composer.lock", "{\"v\":2}\n", "bump deps"),
        (
            ".env.example",
            "APP_KEY=\nDB_HOST=\nNEW_KEY=\n",
            "need NEW_KEY",
        ),
        ("public/index.php", "<?php echo 'v2';\n", "say v2"),
    ] {
        new.push((commit_as(h, file, content, subject), subject.to_string()));
    }
    new.reverse();
    (first, new)
}

/// The inside of the dialog titled `title` (its lines, trailing blanks cut), read by the
/// columns of its top border.
fn dialog(screen: &str, title: &str) -> Option<Vec<String>> {
    let lines: Vec<Vec<char>> = screen.lines().map(|l| l.chars().collect()).collect();
    let mark: Vec<char> = format!("┌{title}").chars().collect();
    let (top, left) = lines.iter().enumerate().find_map(|(i, l)| {
        l.windows(mark.len())
            .position(|w| w == mark.as_slice())
            .map(|c| (i, c))
    })?;
    let right = left + lines[top][left..].iter().position(|&c| c == '┐')?;
    let mut out = vec![];
    for l in &lines[top + 1..] {
        if l.get(left) == Some(&'└') {
            return Some(out);
        }
        let inner: String = l.get(left + 1..right)?.iter().collect();
        out.push(inner.trim_end().to_string());
    }
    None
}

/// The dialog's lines joined (a wrapped sentence reads whole again).
fn joined(lines: &[String]) -> String {
    lines.iter().map(|l| l.trim()).collect::<Vec<_>>().join(" ")
}

/// The commit rows of a dialog: (short SHA, the rest of the row).
fn commit_rows(lines: &[String]) -> Vec<(String, String)> {
    lines
        .iter()
        .filter_map(|l| {
            let rest = l.strip_prefix("    ")?;
            let (sha, tail) = rest.split_once(' ')?;
            (sha.len() == 7 && sha.chars().all(|c| c.is_ascii_hexdigit()))
                .then(|| (sha.to_string(), tail.trim().to_string()))
        })
        .collect()
}

/// Waits until the dialog `title` satisfies `ok`; its lines.
fn wait_dialog(t: &Tmux, title: &str, what: &str, ok: impl Fn(&[String]) -> bool) -> Vec<String> {
    let s = t.wait_until(what, WAIT, |s| dialog(s, title).is_some_and(|d| ok(&d)));
    dialog(&s, title).unwrap()
}

fn dashboard(h: &Harness, width: u16, height: u16) -> Tmux {
    tmux::dashboard(h, "LANG=C.UTF-8", "", width, height)
}

#[test]
fn the_deploy_dialog_lists_exactly_what_goes_out() {
    if !tmux::available() {
        return;
    }
    let Some(h) = Harness::ssh() else { return };
    let (first, new) = setup(&h);
    let head = new[0].0.clone();
    let t = dashboard(&h, 80, 24);
    t.wait_for("#1 ", WAIT);
    t.keys(&["d"]);
    let d = wait_dialog(&t, " Deploy ", "the deploy dialog's env keys", |d| {
        joined(d).contains("env keys the shared .env lacks: NEW_KEY")
    });
    t.screenshot("deploy-dialog");
    let text = joined(&d);
    assert!(
        text.contains(&format!("What goes out (live {first} → {head}):")),
        "{d:#?}"
    );
    assert!(text.contains("4 commit(s) go out:"), "{d:#?}");
    let rows = commit_rows(&d);
    assert_eq!(rows.len(), 4, "exactly the four new commits: {d:#?}");
    for ((sha, row), (want_sha, subject)) in rows.iter().zip(&new) {
        assert_eq!(sha, want_sha, "newest first: {d:#?}");
        assert_eq!(row, &format!("flipdeck-test  {subject}"), "{d:#?}");
    }
    assert!(text.contains("4 file(s) changed: "), "{d:#?}");
    for f in [
        ".env.example",
        "composer.lock",
        MIGRATION,
        "public/index.php",
    ] {
        assert!(text.contains(f), "{f} is listed: {d:#?}");
    }
    assert!(text.contains(&format!("migrations added: {MIGRATION}")));
    assert!(text.contains("lock files changed: composer.lock"), "{d:#?}");
    assert!(!text.contains("more"), "nothing cut at 80x24: {d:#?}");
    assert!(!text.contains('⚠'), "no warning: {d:#?}");
    assert!(!text.contains("secret-value"));
    // Every line inside the 80 columns.
    assert!(d.iter().all(|l| l.chars().count() <= 78), "{d:#?}");

    // A ref typed in the dialog: what goes out is read again, for it.
    let older = git(&h.repo, &["rev-parse", "--short=7", "HEAD~2"]);
    t.keys(&["r"]);
    t.wait_for("Ref to deploy", WAIT);
    t.keys(&[&older]);
    t.wait_for(&format!("> {older}"), WAIT);
    t.keys(&["Enter"]);
    let d = wait_dialog(&t, " Deploy ", "the ref's diff", |d| {
        joined(d).contains("2 commit(s) go out:")
    });
    let rows = commit_rows(&d);
    assert_eq!(
        rows.iter().map(|r| r.0.clone()).collect::<Vec<_>>(),
        [new[2].0.clone(), new[3].0.clone()],
        "{d:#?}"
    );
    assert!(joined(&d).contains(&format!("ref: {older}")), "{d:#?}");
    assert!(!joined(&d).contains("NEW_KEY"), "{d:#?}");

    // Esc, then deploy the branch: afterwards nothing goes out.
    t.keys(&["Escape"]);
    t.wait_until("the dialog closed", WAIT, |s| {
        dialog(s, " Deploy ").is_none()
    });
    t.keys(&["d"]);
    wait_dialog(&t, " Deploy ", "the diff again", |d| {
        joined(d).contains("4 commit(s) go out:")
    });
    t.keys(&["y"]);
    t.wait_for("deployed web1/example.com", WAIT);
    t.keys(&["d"]);
    let d = wait_dialog(&t, " Deploy ", "nothing goes out", |d| {
        joined(d).contains("Nothing goes out")
    });
    assert!(commit_rows(&d).is_empty(), "{d:#?}");
    t.keys(&["Escape"]);
    t.wait_until("the dialog closed", WAIT, |s| {
        dialog(s, " Deploy ").is_none()
    });
    t.keys(&["q"]);
    assert_eq!(exit_code(&h).as_deref(), Some("0"));
}

#[test]
fn the_rollback_dialog_warns_of_the_migrations_the_target_lacks() {
    if !tmux::available() {
        return;
    }
    let Some(h) = Harness::ssh() else { return };
    let (_, new) = setup(&h);
    h.ok(&["deploy", DOMAIN]);
    let t = dashboard(&h, 100, 30);
    t.wait_for("#2 ", WAIT);
    // The table, one row down (#1), r.
    t.keys(&["Tab"]);
    t.keys(&["j"]);
    t.keys(&["r"]);
    let d = wait_dialog(&t, " Rollback ", "the migration warning", |d| {
        joined(d).contains("4 commit(s) taken back")
    });
    t.screenshot("rollback-warning");
    let text = joined(&d);
    assert!(
        text.contains(
            "⚠ The schema is ahead of the code: the target lacks 1 migration(s) the live release has:"
        ),
        "{d:#?}"
    );
    assert!(
        d.iter().any(|l| l.trim() == MIGRATION),
        "the migration named on its own line: {d:#?}"
    );
    assert_eq!(text.matches("schema is ahead").count(), 1, "said once");
    let rows: Vec<String> = commit_rows(&d).into_iter().map(|r| r.0).collect();
    let want: Vec<String> = new.iter().map(|c| c.0.clone()).collect();
    assert_eq!(
        rows, want,
        "the four commits the rollback takes back: {d:#?}"
    );
    assert!(!text.contains("go out:"), "nothing new goes out: {d:#?}");
    // In the theme's warning colour (yellow in the dark palette: SGR 33, or 256-colour 3).
    let ansi = t.screen_ansi();
    let line = ansi
        .lines()
        .find(|l| l.contains("The schema is ahead"))
        .unwrap();
    let at = line.find("⚠ The schema").unwrap();
    let sgr = &line[..at];
    let last = sgr.rfind("\x1b[").expect("a colour before the warning");
    let colour = &sgr[last..];
    assert!(
        ["[33m", "[93m", ";5;3m", ";5;11m", "[1;33m"]
            .iter()
            .any(|c| colour.ends_with(c)),
        "{colour:?}"
    );
    t.keys(&["Escape"]);
    t.wait_until("the dialog closed", WAIT, |s| {
        dialog(s, " Rollback ").is_none()
    });
    t.keys(&["q"]);
    assert_eq!(exit_code(&h).as_deref(), Some("0"));
}

/// A git on the server's PATH that holds every fetch of the diff's private repository while
/// `hold` exists (at most two minutes); everything else is the real git.
fn hold_diff_fetches(h: &Harness) -> std::path::PathBuf {
    let bin = h.pause_bin();
    let hold = bin.join(".hold-diff");
    std::fs::write(&hold, "").unwrap();
    let out = std::process::Command::new("sh")
        .args(["-c", "command -v git"])
        .output()
        .unwrap();
    let real = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let script = format!(
        "#!/bin/sh\ncase \" $* \" in\n*/.diff-*\" fetch \"*) i=0; while [ -e '{}' ] && [ $i -lt 2400 ]; do sleep 0.05; i=$((i+1)); done ;;\nesac\nexec '{real}' \"$@\"\n",
        hold.display()
    );
    let wrapper = bin.join("git");
    std::fs::write(&wrapper, script).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    hold
}

#[test]
fn the_dialog_works_while_what_goes_out_is_read() {
    if !tmux::available() {
        return;
    }
    let Some(h) = Harness::ssh() else { return };
    setup(&h);
    let hold = hold_diff_fetches(&h);
    let t = dashboard(&h, 80, 24);
    t.wait_for("#1 ", WAIT);
    t.keys(&["d"]);
    let d = wait_dialog(&t, " Deploy ", "the loading line", |d| {
        joined(d).contains("reading what goes out…") && joined(d).contains("Deploy (y)")
    });
    assert!(commit_rows(&d).is_empty());
    // The ref line opens and closes; Esc closes the dialog.
    t.keys(&["r"]);
    t.wait_for("Ref to deploy", WAIT);
    t.keys(&["Escape"]);
    wait_dialog(&t, " Deploy ", "back to the dialog", |d| {
        !joined(d).contains("Ref to deploy") && joined(d).contains("reading what goes out…")
    });
    t.keys(&["Escape"]);
    t.wait_until("the dialog closed", WAIT, |s| {
        dialog(s, " Deploy ").is_none()
    });
    // Confirming while it is read deploys.
    t.keys(&["d"]);
    wait_dialog(&t, " Deploy ", "the loading line again", |d| {
        joined(d).contains("reading what goes out…")
    });
    t.keys(&["y"]);
    t.wait_for("deployed web1/example.com", Duration::from_secs(60));
    assert!(hold.exists(), "the diffs were still held");
    assert_eq!(h.active().unwrap()["id"], 2);
    // The held answers arrive after their dialogs closed: nothing shows them.
    std::fs::remove_file(&hold).unwrap();
    std::thread::sleep(Duration::from_secs(2));
    let s = t.screen();
    assert!(
        !s.contains("What goes out") && !s.contains("go out:"),
        "{s}"
    );
    t.keys(&["q"]);
    assert_eq!(exit_code(&h).as_deref(), Some("0"));
}

#[test]
fn an_artifact_site_says_what_goes_out_cannot_be_known() {
    if !tmux::available() {
        return;
    }
    let h = Harness::local();
    h.write_config("deployment_script = \"true\"\nsource = \"artifact\"");
    let t = dashboard(&h, 100, 30);
    t.wait_for("Servers", WAIT);
    t.keys(&["d"]);
    let d = wait_dialog(&t, " Deploy ", "the reason", |d| {
        joined(d).contains("cannot be known")
    });
    let text = joined(&d);
    assert!(
        text.contains("⚠ web1/example.com deploys artifacts (source = \"artifact\"): its releases are built trees without git history, so what goes out cannot be known"),
        "{d:#?}"
    );
    assert_eq!(text.matches("cannot be known").count(), 1, "said once");
    assert!(text.contains("Deploy (y)"), "still confirmable: {d:#?}");
    t.keys(&["Escape"]);
    t.wait_until("the dialog closed", WAIT, |s| {
        dialog(s, " Deploy ").is_none()
    });
    t.keys(&["q"]);
    assert_eq!(exit_code(&h).as_deref(), Some("0"));
}

/// A diff of `n` commits and files, three migrations the target lacks.
fn big_diff(n: u64) -> Diff {
    Diff {
        site: "web1/example.com".into(),
        target: "deployment #4".into(),
        target_commit: Some("4abcdef0".into()),
        live_release: Some("27112025-040005".into()),
        live_commit: Some("5abcdef0".into()),
        known: true,
        commits_back_count: n,
        commits_back: (0..n.min(50))
            .map(|i| Commit {
                sha: format!("{:07x}", 0xabc0000 + i),
                author: "A. Very Long Author Name Indeed".into(),
                subject: format!(
                    "change number {i} with a subject long enough to be cut at 80 columns"
                ),
            })
            .collect(),
        files_count: n,
        files: (0..n.min(200))
            .map(|i| Change {
                status: "modified",
                path: format!("app/Http/Controllers/Controller{i}.php"),
            })
            .collect(),
        migrations_removed: (0..3)
            .map(|i| format!("database/migrations/2026_03_0{i}_000000_m{i}.php"))
            .collect(),
        lock_files: vec![Change {
            status: "modified",
            path: "composer.lock".into(),
        }],
        env_missing: vec!["NEW_KEY".into(), "OTHER_KEY".into()],
        ..Diff::default()
    }
}

/// The generation of the `Outgoing` effects in `fx`.
fn generation(fx: &[Effect]) -> u64 {
    match fx {
        [Effect::Outgoing { generation, .. }] => *generation,
        _ => panic!("one diff asked: {fx:?}"),
    }
}

#[test]
fn stale_answers_are_dropped_and_long_lists_fit_small_screens() {
    let mut app = sample_app();
    app.on_key(key(KeyCode::Tab));
    app.on_key(key(KeyCode::Down));
    app.on_key(key(KeyCode::Down));
    let fx = app.on_key(key(KeyCode::Char('r')));
    assert!(matches!(
        app.modal,
        Some(Modal::ConfirmRollback { to_id: 4, .. })
    ));
    let Effect::Outgoing { site, target, .. } = &fx[0] else {
        panic!("{fx:?}")
    };
    assert_eq!(
        (site.as_str(), target),
        ("web1/example.com", &DiffTarget::Deployment(4))
    );
    let g = generation(&fx);
    // An answer of an older ask is dropped.
    app.on_loaded(Loaded::Outgoing {
        generation: g - 1,
        site: "web1/example.com".into(),
        result: Ok(Box::new(big_diff(3))),
    });
    assert!(render(&mut app, 80, 24).contains("reading what goes out…"));
    app.on_loaded(Loaded::Outgoing {
        generation: g,
        site: "web1/example.com".into(),
        result: Ok(Box::new(big_diff(120))),
    });
    for (w, h) in [(80, 24), (200, 50), (60, 16), (40, 10), (20, 5)] {
        let s = render(&mut app, w, h);
        if h >= 24 {
            assert!(
                s.contains("The schema is ahead of the code"),
                "{w}x{h}: {s}"
            );
            assert!(s.contains("120 commit(s) taken back"), "{w}x{h}: {s}");
            assert!(s.contains("… and "), "{w}x{h}: {s}");
            assert!(s.contains("2026_03_02_000000_m2.php"), "{w}x{h}: {s}");
            assert!(s.contains("Rollback (y)"), "the buttons stay: {s}");
        }
    }
    let s = render(&mut app, 80, 24);
    // The rows that fit, then how many more: 120 in all.
    let shown = s.matches("change number ").count();
    assert!(shown >= 2, "{s}");
    assert!(
        s.contains(&format!("… and {} more", 120 - shown)),
        "{shown}: {s}"
    );
    insta::assert_snapshot!("rollback_dialog_long_80x24", s);
    insta::assert_snapshot!("rollback_dialog_long_200x50", render(&mut app, 200, 50));

    // The deploy dialog: a ref typed asks again, and the answer to the branch is then stale.
    app.modal = None;
    app.on_key(key(KeyCode::Char('1')));
    let fx = app.on_key(key(KeyCode::Char('d')));
    let g = generation(&fx);
    app.on_key(key(KeyCode::Char('r')));
    for c in "v2".chars() {
        app.on_key(key(KeyCode::Char(c)));
    }
    let fx = app.on_key(key(KeyCode::Enter));
    assert!(
        matches!(&fx[..], [Effect::Outgoing { generation, target: DiffTarget::Ref(r), .. }] if *generation == g + 1 && r == "v2"),
        "{fx:?}"
    );
    app.on_loaded(Loaded::Outgoing {
        generation: g,
        site: "web1/example.com".into(),
        result: Ok(Box::new(big_diff(7))),
    });
    let s = render(&mut app, 80, 24);
    assert!(
        s.contains("reading what goes out…") && !s.contains("7 commit(s)"),
        "{s}"
    );
    // An error is what cannot be known, in the engine's words.
    app.on_loaded(Loaded::Outgoing {
        generation: g + 1,
        site: "web1/example.com".into(),
        result: Err("ref v2 does not exist in the repository".into()),
    });
    let s = render(&mut app, 80, 24);
    assert!(
        s.contains("⚠ What goes out cannot be known: ref v2 does not exist in the repository"),
        "{s}"
    );
    // The same ref again asks nothing new.
    app.on_key(key(KeyCode::Char('r')));
    assert!(app.on_key(key(KeyCode::Enter)).is_empty());

    // Closed and opened again while the question is still being read: not asked twice; once
    // answered, asked again (the server may have moved).
    app.modal = None;
    let g = generation(&app.on_key(key(KeyCode::Char('d'))));
    app.on_key(key(KeyCode::Esc));
    assert!(app.modal.is_none());
    assert!(app.on_key(key(KeyCode::Char('d'))).is_empty());
    app.on_loaded(Loaded::Outgoing {
        generation: g,
        site: "web1/example.com".into(),
        result: Ok(Box::new(big_diff(2))),
    });
    assert!(render(&mut app, 80, 24).contains("2 commit(s) taken back"));
    app.on_key(key(KeyCode::Esc));
    assert_eq!(generation(&app.on_key(key(KeyCode::Char('d')))), g + 1);
    // Confirming while it is read deploys, and forgets the question.
    app.on_key(key(KeyCode::Tab));
    assert_eq!(
        app.on_key(key(KeyCode::Enter)),
        vec![Effect::Deploy("web1/example.com".into())]
    );
    assert!(app.outgoing().is_none());
}

#[test]
fn a_fleet_dialog_shows_its_first_server_and_says_where_the_others_differ() {
    use crate::dashboard::{dep, site};
    use flipdeck::store::Status;
    let mut app = flipdeck::ui::app::App::new(
        vec![
            site(
                "web1",
                "example.com",
                vec![dep(2, Status::Success, true, 10, true)],
            ),
            site(
                "web2",
                "example.com",
                vec![dep(1, Status::Success, true, 10, true)],
            ),
            site(
                "web3",
                "example.com",
                vec![dep(3, Status::Success, true, 10, true)],
            ),
        ],
        "/c".into(),
    );
    let fx = app.on_key(key(KeyCode::Char('d')));
    let asked: Vec<&str> = fx
        .iter()
        .map(|f| match f {
            Effect::Outgoing { site, .. } => site.as_str(),
            _ => panic!("{fx:?}"),
        })
        .collect();
    assert_eq!(
        asked,
        ["web1/example.com", "web2/example.com", "web3/example.com"],
        "each server's own diff, the dialog's first"
    );
    let Effect::Outgoing { generation: g, .. } = fx[0] else {
        unreachable!()
    };
    let s = render(&mut app, 100, 30);
    assert!(
        s.contains("reading what goes out to web1/example.com…"),
        "{s}"
    );
    let diff = |live: &str, n: u64| {
        let mut d = big_diff(0);
        d.live_commit = Some(live.into());
        d.migrations_removed.clear();
        d.commits_out_count = n;
        d.commits_out = (0..n)
            .map(|i| Commit {
                sha: format!("{:07x}", 0xdef0000 + i),
                author: "Ann".into(),
                subject: format!("c{i}"),
            })
            .collect();
        d
    };
    for (site, d) in [
        ("web1/example.com", diff("1111111aaaa", 3)),
        ("web2/example.com", diff("2222222bbbb", 5)),
        ("web3/example.com", diff("1111111aaaa", 3)),
    ] {
        app.on_loaded(Loaded::Outgoing {
            generation: g,
            site: site.into(),
            result: Ok(Box::new(d)),
        });
    }
    let s = render(&mut app, 100, 30);
    assert!(
        s.contains("What goes out to web1/example.com (live 1111111 → 4abcdef):"),
        "{s}"
    );
    assert!(s.contains("3 commit(s) go out:"), "{s}");
    assert!(
        s.contains("web2/example.com: live 2222222 differs: 5 commit(s) go out, 0 taken back"),
        "{s}"
    );
    assert!(
        s.contains("web3/example.com: live at the same commit: the same goes out"),
        "{s}"
    );
}

/// Two sshd servers with the same domain, their live releases apart: the fleet's dialog lists
/// the first server's commits and says the second one's live release differs, with its counts.
#[test]
fn a_fleet_dialog_over_two_servers_says_where_they_differ() {
    if !tmux::available() {
        return;
    }
    let h = Harness::local();
    let Some(servers) = crate::support::two_servers(&h) else {
        return;
    };
    let config = crate::support::servers_config(&h, &servers, 2, |_| {
        format!(
            "\n[[servers.sites]]\ndomain = \"{DOMAIN}\"\nrepository = \"{}\"\ndeployment_script = \"true\"\n\n",
            h.repo.display()
        )
    });
    std::fs::write(&h.config, config).unwrap();
    h.ok(&["deploy", DOMAIN]);
    let first = git(&h.repo, &["rev-parse", "--short=7", "HEAD"]);
    let v2 = commit_as(&h, "public/index.php", "<?php echo 'v2';\n", "v2");
    h.ok(&["deploy", &format!("web2/{DOMAIN}")]);
    let v3 = commit_as(&h, "public/about.php", "<?php echo 'about';\n", "v3");
    let t = dashboard(&h, 100, 30);
    t.wait_for("web2", WAIT);
    t.keys(&["d"]);
    let d = wait_dialog(&t, " Deploy ", "both servers' answers", |d| {
        let j = joined(d);
        j.contains("web2/example.com: live") && j.contains("2 commit(s) go out:")
    });
    let text = joined(&d);
    assert!(
        text.contains(&format!(
            "What goes out to web1/example.com (live {first} → {v3}):"
        )),
        "{d:#?}"
    );
    let rows: Vec<String> = commit_rows(&d).into_iter().map(|r| r.0).collect();
    assert_eq!(rows, [v3.clone(), v2.clone()], "{d:#?}");
    assert!(
        text.contains(&format!(
            "web2/example.com: live {v2} differs: 1 commit(s) go out, 0 taken back, 1 file(s)"
        )),
        "{d:#?}"
    );
    t.keys(&["Escape"]);
    t.wait_until("the dialog closed", WAIT, |s| {
        dialog(s, " Deploy ").is_none()
    });
    t.keys(&["q"]);
    assert_eq!(exit_code(&h).as_deref(), Some("0"));
}
