//! The dashboard's state when the world changes under it (a lock, a dropped server, a job ending
//! under a dialog), its refusals, its new keys, and snapshots of every new screen at 80×24 and
//! 200×50.

use crate::dashboard::{dep, key, render, sample_app};
use chrono::{Duration, Utc};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use flipdeck::engine::{LiveState, SiteState};
use flipdeck::store::Status;
use flipdeck::transport::pool::Health;
use flipdeck::ui::app::{App, Effect, Link, Loaded, Modal};
use flipdeck::ui::keymap::Pane;
use flipdeck::ui::theme::Theme;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use std::time::Instant;

/// A lock another operator took today at 08:30 UTC.
fn lock() -> String {
    let today = Utc::now().format("%Y-%m-%d");
    format!("ops@elsewhere pid=4242 action=deploy deployment=7 since={today}T08:30:00Z token=abc")
}

fn state(lock: Option<&str>) -> SiteState {
    SiteState {
        domain: "example.com".into(),
        live: LiveState::Link("deployments/example.com/r5".into()),
        releases: vec![],
        lock: lock.map(str::to_string),
        relog: vec![],
        relog_size: 0,
        env: None,
    }
}

/// A periodic read of web1/example.com.
fn watched(app: &mut App, lock: Option<&str>, changed: bool) -> Vec<Effect> {
    app.on_loaded(Loaded::Watched {
        sites: vec![("web1/example.com".into(), state(lock), changed)],
    })
}

fn unreachable(app: &mut App, server: &str) {
    app.on_loaded(Loaded::Health {
        server: server.into(),
        health: Health::Unreachable {
            error: "connection refused".into(),
            retry_at: Instant::now() + std::time::Duration::from_millis(29_900),
        },
    });
}

fn last_toast(app: &App) -> &str {
    app.toasts.last().map_or("", |t| t.text.as_str())
}

fn ch(c: char) -> KeyEvent {
    key(KeyCode::Char(c))
}

/// Both sizes the issue asks for.
fn snapshots(name: &str, app: &mut App) {
    insta::assert_snapshot!(format!("{name}_80x24"), render(app, 80, 24));
    insta::assert_snapshot!(format!("{name}_200x50"), render(app, 200, 50));
}

#[test]
fn a_lock_from_elsewhere_shows_and_clears_and_refuses_before_any_dialog() {
    let mut app = sample_app();
    let fx = watched(&mut app, Some(&lock()), true);
    assert!(fx.contains(&Effect::LoadDeployments("web1/example.com".into())));
    assert!(fx.contains(&Effect::Refresh {
        site: "web1/example.com".into(),
        quiet: true
    }));
    for k in ['d', 'p'] {
        assert!(app.on_key(ch(k)).is_empty());
        assert!(app.modal.is_none(), "{k} opened a dialog");
        let t = last_toast(&app);
        assert!(
            t.contains("locked by ops@elsewhere (deploy #7, since 08:30:00Z)"),
            "{t}"
        );
    }
    app.on_key(key(KeyCode::Tab));
    app.on_key(ch('j'));
    app.on_key(ch('j'));
    app.on_key(ch('r'));
    assert!(app.modal.is_none(), "r opened a dialog");
    snapshots("locked_elsewhere", &mut app);
    // The lock goes: the mark goes with it, and dialogs open again.
    watched(&mut app, None, true);
    assert!(app.sites[0].lock.is_none());
    assert!(!render(&mut app, 100, 30).contains("[locked]"));
    app.on_key(ch('r'));
    assert!(matches!(app.modal, Some(Modal::ConfirmRollback { .. })));
}

#[test]
fn an_unchanged_read_changes_nothing_on_screen() {
    let mut app = sample_app();
    watched(&mut app, None, false);
    app.dirty = false;
    assert!(watched(&mut app, None, false).is_empty());
    assert!(!app.dirty, "nothing to redraw");
}

#[test]
fn a_site_locking_under_the_deploy_dialog_cannot_be_confirmed() {
    let mut app = sample_app();
    app.on_key(ch('d'));
    assert!(matches!(app.modal, Some(Modal::ConfirmDeploy { .. })));
    watched(&mut app, Some(&lock()), true);
    assert!(app.on_key(ch('y')).is_empty(), "no deploy starts");
    assert!(
        matches!(app.modal, Some(Modal::ConfirmDeploy { .. })),
        "the dialog stays, saying why"
    );
    assert!(last_toast(&app).contains("locked by"));
    snapshots("deploy_dialog_site_locked", &mut app);
    app.on_key(key(KeyCode::Esc));
    assert!(app.modal.is_none());
}

#[test]
fn a_server_dropping_under_the_rollback_dialog_cannot_be_confirmed() {
    let mut app = sample_app();
    app.on_key(key(KeyCode::Tab));
    app.on_key(ch('j'));
    app.on_key(ch('j'));
    app.on_key(ch('r'));
    assert!(matches!(app.modal, Some(Modal::ConfirmRollback { .. })));
    unreachable(&mut app, "web1");
    assert!(app.on_key(ch('y')).is_empty());
    assert!(app.modal.is_some());
    assert!(render(&mut app, 100, 30).contains("Not now: web1 is unreachable"));
    // It comes back: the dialog can be confirmed again, and every site is read again.
    let fx = app.on_loaded(Loaded::Health {
        server: "web1".into(),
        health: Health::Connected,
    });
    assert_eq!(fx.len(), 2, "both sites of web1 refreshed: {fx:?}");
    let fx = app.on_key(ch('y'));
    assert_eq!(
        fx,
        vec![Effect::Rollback {
            site: "web1/example.com".into(),
            to: 4
        }]
    );
}

#[test]
fn a_target_pruned_under_the_rollback_dialog_cannot_be_confirmed() {
    let mut app = sample_app();
    app.on_key(key(KeyCode::Tab));
    app.on_key(ch('j'));
    app.on_key(ch('j'));
    app.on_key(ch('r'));
    let mut list = app.sites[0].deployments.clone();
    list[2].deployment_path = None;
    app.on_loaded(Loaded::Deployments {
        site: "web1/example.com".into(),
        list,
    });
    assert!(app.on_key(ch('y')).is_empty());
    assert!(last_toast(&app).contains("not now"));
}

#[test]
fn the_quit_dialog_quits_when_its_jobs_ended_under_it() {
    let mut app = sample_app();
    app.on_key(ch('d'));
    let fx = app.on_key(ch('y'));
    assert_eq!(fx, vec![Effect::Deploy("web1/example.com".into())]);
    app.on_key(ch('q'));
    assert!(matches!(app.modal, Some(Modal::ConfirmQuit { .. })));
    app.on_loaded(Loaded::JobDone {
        site: "web1/example.com".into(),
        ok: true,
        message: "deployed".into(),
    });
    snapshots("quit_dialog_jobs_ended", &mut app);
    assert!(app.on_key(ch('y')).is_empty(), "nothing left to cancel");
    assert!(app.should_quit);
}

#[test]
fn quitting_again_while_jobs_are_cancelled_leaves_at_once() {
    let mut app = sample_app();
    app.on_key(ch('d'));
    app.on_key(ch('y'));
    app.on_key(ch('q'));
    assert_eq!(app.on_key(ch('y')), vec![Effect::CancelAll]);
    assert!(!app.should_quit, "waits for the job to end");
    app.on_key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL));
    assert!(app.should_quit, "Ctrl-C is never ignored");
}

#[test]
fn an_unreachable_server_says_so_in_the_tree_and_its_table() {
    let mut app = sample_app();
    app.on_loaded(Loaded::Health {
        server: "web1".into(),
        health: Health::Connected,
    });
    app.on_loaded(Loaded::Health {
        server: "web2".into(),
        health: Health::Connecting,
    });
    snapshots("links_connected_connecting", &mut app);
    unreachable(&mut app, "web2");
    app.on_key(ch('G'));
    assert_eq!(app.site().unwrap().server, "web2");
    let s = render(&mut app, 100, 30);
    assert!(s.contains("✗ unreachable"), "{s}");
    assert!(
        s.contains("web2 cannot be reached: connection refused"),
        "{s}"
    );
    assert!(!s.contains("Press d to deploy"), "{s}");
    app.on_key(ch('d'));
    assert!(app.modal.is_none());
    assert!(last_toast(&app).contains("web2 is unreachable"));
    app.toasts.clear();
    snapshots("server_unreachable", &mut app);
    // The countdown to the next try ticks each second.
    let next = app.next_age_change(Utc::now()).unwrap();
    assert!(next <= std::time::Duration::from_secs(1), "{next:?}");
}

#[test]
fn panes_by_h_l_numbers_enter_and_gg() {
    let mut app = sample_app();
    app.on_key(ch('l'));
    assert_eq!(app.focus, Pane::Table);
    app.on_key(ch('h'));
    assert_eq!(app.focus, Pane::Tree);
    app.on_key(key(KeyCode::Right));
    assert_eq!(app.focus, Pane::Table);
    for (c, pane) in [('3', Pane::Log), ('1', Pane::Tree), ('2', Pane::Table)] {
        app.on_key(ch(c));
        assert_eq!(app.focus, pane, "{c}");
    }
    app.on_key(ch('G'));
    assert_eq!(app.sites[0].table_sel, 3);
    app.on_key(ch('g'));
    assert_eq!(app.sites[0].table_sel, 3, "one g waits");
    app.on_key(ch('g'));
    assert_eq!(app.sites[0].table_sel, 0, "gg goes to the top");
    app.on_key(ch('G'));
    app.on_key(ch('g'));
    app.on_key(ch('k'));
    app.on_key(ch('g'));
    assert_eq!(app.sites[0].table_sel, 2, "g, another key, g is not gg");
    app.on_key(ch('1'));
    app.on_key(ch('j'));
    app.on_key(key(KeyCode::Enter));
    assert_eq!(app.focus, Pane::Table, "Enter on a site focuses its table");
    assert_eq!(app.site().unwrap().domain, "shop.example.com");
}

#[test]
fn slash_filters_the_focused_pane_and_esc_clears_it() {
    let mut app = sample_app();
    // The tree: sites.
    app.on_key(ch('/'));
    for c in "api".chars() {
        app.on_key(ch(c));
    }
    app.on_key(key(KeyCode::Enter));
    assert_eq!(app.site().unwrap().domain, "api.example.com");
    assert_eq!(app.visible_sites(), [2]);
    assert!(app.filter.is_empty(), "the table's filter is untouched");
    snapshots("tree_filtered", &mut app);
    app.on_key(key(KeyCode::Esc));
    assert_eq!(app.visible_sites().len(), 3);
    // The table: deployments; Esc after Enter clears the applied filter.
    app.on_key(ch('k'));
    app.on_key(ch('k'));
    app.on_key(ch('2'));
    app.on_key(ch('/'));
    for c in "failed".chars() {
        app.on_key(ch(c));
    }
    app.on_key(key(KeyCode::Enter));
    assert_eq!(app.visible_deployments().len(), 1);
    app.on_key(key(KeyCode::Esc));
    assert_eq!(app.visible_deployments().len(), 4);
}

fn long_log(app: &mut App) {
    let mut log = flipdeck::ui::logbuf::LogBuf::new(100);
    log.load(&format!(
        "==> script 1/1: composer install\nshort line\nPHP Fatal error: {} in /srv/app/vendor/x.php:12\nlast line\n",
        "Uncaught RuntimeException: the cache directory is not writable ".repeat(4)
    ));
    app.logs.insert(6, log);
}

#[test]
fn the_log_wraps_scrolls_sideways_and_copies_the_selected_line() {
    let mut app = sample_app();
    long_log(&mut app);
    app.on_key(ch('3'));
    let s = render(&mut app, 100, 30);
    assert!(
        !s.contains("is not writable Uncaught"),
        "cut, not wrapped: {s}"
    );
    app.on_key(key(KeyCode::Right));
    app.on_key(key(KeyCode::Right));
    assert_eq!(app.log_left, 16);
    snapshots("log_scrolled_sideways", &mut app);
    app.on_key(ch('w'));
    assert!(app.wrap);
    assert_eq!(app.log_left, 0);
    snapshots("log_wrapped", &mut app);
    // Following: y copies the newest line; paused, the top (highlighted) one.
    assert_eq!(app.on_key(ch('y')), vec![Effect::Copy("last line".into())]);
    app.on_key(key(KeyCode::Home));
    assert_eq!(
        app.on_key(ch('y')),
        vec![Effect::Copy("==> script 1/1: composer install".into())]
    );
    // In the table, the deployment's id.
    app.on_key(ch('2'));
    assert_eq!(app.on_key(ch('y')), vec![Effect::Copy("6".into())]);
    assert_eq!(app.on_key(ch('M')), vec![Effect::MouseCapture(false)]);
    assert_eq!(app.on_key(ch('M')), vec![Effect::MouseCapture(true)]);
}

#[test]
fn toasts_sit_over_the_log_never_over_the_table() {
    let mut app = sample_app();
    app.toast(
        "web1/example.com: deployment #6 failed: script 1/1: false failed (exit code 1)",
        true,
    );
    render(&mut app, 80, 24);
    let areas = app.areas;
    let s = render(&mut app, 80, 24);
    let rows: Vec<&str> = s.lines().skip(1).collect();
    let table_rows = &rows[areas.table.y as usize..areas.table.bottom() as usize];
    assert!(
        table_rows.iter().any(|r| r.contains("#3 ")),
        "every table row still shows: {s}"
    );
    assert!(
        rows[areas.log.y as usize..]
            .iter()
            .any(|r| r.contains("failed: script")),
        "the toast is over the log: {s}"
    );
    snapshots("failure_toast", &mut app);
}

#[test]
fn ascii_mode_draws_only_ascii() {
    let mut app = sample_app();
    app.sites[0].running = Some(flipdeck::engine::Action::Deploy);
    app.sites[1].lock = Some(lock());
    let theme = Theme {
        ascii: true,
        ..Theme::plain()
    };
    for (w, h) in [(80, 24), (200, 50)] {
        let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
        app.resize(ratatui::layout::Rect::new(0, 0, w, h));
        term.draw(|f| flipdeck::ui::view::draw(f, &app, &theme))
            .unwrap();
        let s = format!("{}", term.backend());
        assert!(s.is_ascii(), "{s}");
        assert!(s.contains("+ Servers -") && s.contains("x failed") && s.contains("+ success"));
        insta::assert_snapshot!(format!("ascii_{w}x{h}"), s);
    }
}

#[test]
fn wide_screens_give_no_column_all_the_room() {
    let mut app = sample_app();
    let s = render(&mut app, 200, 50);
    let header = s.lines().nth(2).unwrap();
    let branch = header.find("Branch").unwrap();
    let commit = header.find("Commit").unwrap();
    assert!(commit - branch <= 41, "{header}");
    assert!(header.contains("Release"), "{header}");
    // Narrow: the tree keeps the age, cutting the domain first.
    let s = render(&mut app, 80, 24);
    assert!(
        s.lines()
            .any(|l| l.contains("shop.example.c…") && l.contains(" 9h")),
        "{s}"
    );
}

#[test]
fn ages_tick_each_second_under_a_minute_then_each_minute() {
    let now = Utc::now();
    let next = flipdeck::ui::app::next_age_change;
    assert_eq!(
        next(now - Duration::milliseconds(44_300), now),
        std::time::Duration::from_millis(700)
    );
    assert_eq!(
        next(now - Duration::seconds(90), now),
        std::time::Duration::from_secs(30)
    );
    assert_eq!(
        next(now - Duration::hours(5), now),
        std::time::Duration::from_secs(3600)
    );
    // A fresh deployment on screen: the dashboard wakes within a second.
    let mut app = sample_app();
    app.sites[0]
        .deployments
        .insert(0, dep(7, Status::Success, false, 0, true));
    assert!(app.next_age_change(now).unwrap() <= std::time::Duration::from_secs(1));
    // Only old ones: at the next whole minute at the latest.
    let app = sample_app();
    assert!(app.next_age_change(now).unwrap() <= std::time::Duration::from_secs(60));
    let _ = Link::Connected;
}

#[test]
fn the_help_fits_both_sizes() {
    let mut app = sample_app();
    app.on_key(ch('?'));
    snapshots("help", &mut app);
    let s = render(&mut app, 80, 24);
    for k in ["gg", "1/2/3", "copy", "mouse", "q/Ctrl-C"] {
        assert!(s.contains(k), "{k} in the help at 80x24: {s}");
    }
}
