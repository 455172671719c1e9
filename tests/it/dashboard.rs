//! Dashboard state transitions and rendered screens (ratatui's TestBackend, insta snapshots).

use chrono::{Duration, Utc};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use flipdeck::engine::{Event, EventKind, PrunePlan};
use flipdeck::store::{Deployment, Status};
use flipdeck::transport::Stream;
use flipdeck::ui::app::{App, Effect, Loaded, Modal, SiteView};
use flipdeck::ui::keymap::Pane;
use flipdeck::ui::theme::Theme;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

pub(crate) fn dep(id: i64, status: Status, active: bool, mins_ago: i64, path: bool) -> Deployment {
    let started = Utc::now() - Duration::minutes(mins_ago);
    Deployment {
        id,
        site_id: 1,
        status,
        deployment_script: Some("git fetch && git pull".into()),
        release_name: Some(format!("2711202{id}-0400{id:02}")),
        deployment_path: path.then(|| format!("/srv/deployments/example.com/r{id}")),
        log_file_path: Some(format!("/srv/deployments/example.com/r{id}/deployment.log")),
        commit_sha: Some(format!("{id}abcdef0123456789")),
        branch: Some(if id % 2 == 0 {
            "main".into()
        } else {
            "feature/x".into()
        }),
        error: (status == Status::Failed).then(|| "script 1/1: false failed (exit code 1)".into()),
        started_at: Some(started),
        completed_at: Some(started + Duration::seconds(3)),
        duration_ms: Some(3100),
        is_active: active,
        fleet_id: None,
        job: None,
        origin: Default::default(),
    }
}

pub(crate) fn site(server: &str, domain: &str, deployments: Vec<Deployment>) -> SiteView {
    SiteView {
        env: None,
        key: format!("{server}/{domain}"),
        server: server.into(),
        domain: domain.into(),
        branch: "main".into(),
        transport: "ssh".into(),
        deployments,
        loaded: true,
        running: None,
        lock: None,
        drift: None,
        table_sel: 0,
        stage: None,
        protected: false,
    }
}

pub(crate) fn sample_app() -> App {
    let mut app = App::new(
        vec![
            site(
                "web1",
                "example.com",
                vec![
                    dep(6, Status::Failed, false, 5, false),
                    dep(5, Status::Success, true, 60, true),
                    dep(4, Status::Success, false, 180, true),
                    dep(3, Status::Success, false, 3000, false),
                ],
            ),
            site(
                "web1",
                "shop.example.com",
                vec![dep(2, Status::Success, true, 600, true)],
            ),
            site("web2", "api.example.com", vec![]),
        ],
        "/root/.config/flipdeck/config.toml".into(),
    );
    let mut log = flipdeck::ui::logbuf::LogBuf::new(100);
    log.load("==> lock\n==> clone\nCloning into...\n==> script 1/1: false\nflipdeck: deployment #6 failed: script 1/1: false failed (exit code 1)\n");
    app.logs.insert(6, log);
    app
}

pub(crate) fn key(c: KeyCode) -> KeyEvent {
    KeyEvent::new(c, KeyModifiers::NONE)
}

pub(crate) fn render(app: &mut App, w: u16, h: u16) -> String {
    let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
    let theme = Theme::plain();
    // The event loop tells the App the frame's size before drawing; drawing only reads the App.
    app.resize(ratatui::layout::Rect::new(0, 0, w, h));
    term.draw(|f| flipdeck::ui::view::draw(f, app, &theme))
        .unwrap();
    format!("{}", term.backend())
}

#[test]
fn starts_on_first_site_and_newest_deployment() {
    let app = sample_app();
    assert_eq!(app.selected, 0);
    assert_eq!(app.focus, Pane::Tree);
    assert_eq!(app.selected_deployment().unwrap().id, 6);
    let start = app.start();
    assert_eq!(
        start.len(),
        6,
        "loads every site's history, then reads every server"
    );
    assert_eq!(
        start[3],
        Effect::Refresh {
            site: "web1/example.com".into(),
            quiet: true
        }
    );
}

#[test]
fn rollback_modal_names_everything_and_cancel_is_focused() {
    let mut app = sample_app();
    app.on_key(key(KeyCode::Tab));
    assert_eq!(app.focus, Pane::Table);
    // On the failed one: refused with the reason, no modal.
    assert!(app.on_key(key(KeyCode::Char('r'))).is_empty());
    assert!(app.modal.is_none());
    assert!(app.toasts.last().unwrap().text.contains("failed"));
    // On the active one: refused too.
    app.on_key(key(KeyCode::Char('j')));
    app.on_key(key(KeyCode::Char('r')));
    assert!(app.modal.is_none());
    assert!(
        app.toasts
            .last()
            .unwrap()
            .text
            .contains("already the active")
    );
    // On an eligible one: the modal, Cancel focused; Enter cancels.
    app.on_key(key(KeyCode::Down));
    app.on_key(key(KeyCode::Char('r')));
    let Some(Modal::ConfirmRollback {
        from, to, to_id, ..
    }) = app.modal.clone()
    else {
        panic!("no modal")
    };
    assert_eq!(to_id, 4);
    assert!(from.contains("#5") && to.contains("#4") && to.contains("4abcdef"));
    assert!(!app.confirm_focused);
    assert!(app.on_key(key(KeyCode::Enter)).is_empty());
    assert!(app.modal.is_none());
    // n and Esc cancel; y confirms.
    app.on_key(key(KeyCode::Char('r')));
    assert!(app.on_key(key(KeyCode::Char('n'))).is_empty());
    app.on_key(key(KeyCode::Char('r')));
    assert!(app.on_key(key(KeyCode::Esc)).is_empty());
    app.on_key(key(KeyCode::Char('r')));
    let fx = app.on_key(key(KeyCode::Char('y')));
    assert_eq!(
        fx,
        vec![Effect::Rollback {
            site: "web1/example.com".into(),
            to: 4
        }]
    );
    assert!(app.sites[0].running.is_some());
    // A second job on the same site is refused with a toast, before any dialog.
    assert!(app.on_key(key(KeyCode::Char('d'))).is_empty());
    assert!(app.modal.is_none());
    assert!(app.toasts.last().unwrap().text.contains("busy"));
    // The pruned one (no directory) is refused.
    app.on_loaded(Loaded::JobDone {
        site: "web1/example.com".into(),
        ok: true,
        message: "done".into(),
    });
    app.on_key(key(KeyCode::End));
    assert_eq!(app.selected_deployment().unwrap().id, 3);
    app.on_key(key(KeyCode::Char('r')));
    assert!(app.toasts.last().unwrap().text.contains("pruned"));
}

#[test]
fn deploy_asks_then_streams_the_new_log_live() {
    let mut app = sample_app();
    app.on_key(key(KeyCode::Char('d')));
    assert!(matches!(app.modal, Some(Modal::ConfirmDeploy { ref branch, .. }) if branch == "main"));
    // Tab moves focus to Deploy; Enter confirms.
    app.on_key(key(KeyCode::Tab));
    let fx = app.on_key(key(KeyCode::Enter));
    assert_eq!(fx, vec![Effect::Deploy("web1/example.com".into())]);
    let ev = |kind| Event {
        job: 9,
        site: "web1/example.com".into(),
        kind,
    };
    let fx = app.on_engine(ev(EventKind::Status {
        deployment_id: 7,
        status: Status::Pending,
    }));
    assert_eq!(fx, vec![Effect::LoadDeployments("web1/example.com".into())]);
    let mut list = app.sites[0].deployments.clone();
    list.insert(0, dep(7, Status::Updating, false, 0, true));
    app.on_loaded(Loaded::Deployments {
        site: "web1/example.com".into(),
        list,
    });
    assert_eq!(
        app.selected_deployment().unwrap().id,
        7,
        "the new deployment is selected"
    );
    app.on_engine(ev(EventKind::StepStarted {
        step: "clone".into(),
    }));
    app.on_engine(ev(EventKind::Log {
        stream: Stream::Stdout,
        line: "Cloning".into(),
    }));
    let lines: Vec<String> = app
        .current_log()
        .unwrap()
        .window(0, 10)
        .map(|(_, l)| l.clone())
        .collect();
    assert_eq!(lines, ["==> clone", "Cloning"]);
    // A stored copy arriving late does not replace live lines.
    app.on_loaded(Loaded::Log {
        deployment_id: 7,
        text: Ok("old".into()),
    });
    assert_eq!(app.current_log().unwrap().len(), 2);
}

#[test]
fn follow_pauses_on_scroll_up_and_resumes_at_end() {
    let mut app = sample_app();
    app.sites[0].table_sel = 0;
    let buf = app.logs.get_mut(&6).unwrap();
    for i in 0..50 {
        buf.push(flipdeck::ui::logbuf::LineKind::Out, format!("line {i}"));
    }
    app.log_height = 10;
    app.focus = Pane::Log;
    assert_eq!(app.log_top, None);
    app.on_key(key(KeyCode::Up));
    assert!(app.log_top.is_some(), "scrolling up pauses follow");
    app.on_key(key(KeyCode::Home));
    assert_eq!(app.log_top, Some(0));
    app.on_key(key(KeyCode::Char('G')));
    assert_eq!(app.log_top, None, "G resumes");
    app.on_key(key(KeyCode::Char('f')));
    assert!(app.log_top.is_some());
    app.on_key(key(KeyCode::Char('f')));
    assert_eq!(app.log_top, None);
}

#[test]
fn filter_matches_branch_sha_status() {
    let mut app = sample_app();
    app.on_key(key(KeyCode::Tab));
    app.on_key(key(KeyCode::Char('/')));
    for c in "feature".chars() {
        app.on_key(key(KeyCode::Char(c)));
    }
    app.on_key(key(KeyCode::Enter));
    let ids: Vec<i64> = app.visible_deployments().iter().map(|d| d.id).collect();
    assert_eq!(ids, [5, 3]);
    app.on_key(key(KeyCode::Char('/')));
    app.on_key(key(KeyCode::Esc));
    assert_eq!(app.visible_deployments().len(), 4);
    assert_eq!(filter(&mut app, "failed"), [6]);
    app.on_key(key(KeyCode::Esc));
    assert_eq!(filter(&mut app, "4abc"), [4]);
}

#[test]
fn quit_asks_while_a_job_runs_and_cancels() {
    let mut app = sample_app();
    app.on_key(key(KeyCode::Char('q')));
    assert!(app.should_quit, "nothing running: quits at once");
    let mut app = sample_app();
    app.sites[1].running = Some(flipdeck::engine::Action::Deploy);
    app.on_key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL));
    assert!(matches!(app.modal, Some(Modal::ConfirmQuit { running: 1 })));
    assert!(!app.should_quit);
    assert_eq!(app.on_key(key(KeyCode::Char('y'))), vec![Effect::CancelAll]);
    assert!(!app.should_quit, "waits for the job to clean up");
    app.on_loaded(Loaded::JobDone {
        site: "web1/shop.example.com".into(),
        ok: false,
        message: "cancelled".into(),
    });
    assert!(app.should_quit);
}

#[test]
fn prune_preview_then_confirm() {
    let mut app = sample_app();
    let fx = app.on_key(key(KeyCode::Char('p')));
    assert_eq!(fx, vec![Effect::PrunePreview("web1/example.com".into())]);
    // y before the preview arrives does nothing.
    assert!(app.on_key(key(KeyCode::Char('y'))).is_empty());
    app.on_key(key(KeyCode::Char('p')));
    let plan = PrunePlan {
        keep: vec![],
        delete: vec![flipdeck::engine::PruneItem {
            deployment_id: 4,
            release: "r4".into(),
            path: "/p/r4".into(),
        }],
    };
    app.on_loaded(Loaded::PrunePreview {
        site: "web1/example.com".into(),
        result: Ok((plan, vec![])),
    });
    assert_eq!(
        app.on_key(key(KeyCode::Char('y'))),
        vec![Effect::Prune("web1/example.com".into())]
    );
}

#[test]
fn snapshot_main_screen() {
    let mut app = sample_app();
    app.focus = Pane::Table;
    insta::assert_snapshot!(render(&mut app, 120, 32));
}

#[test]
fn snapshot_80x24() {
    let mut app = sample_app();
    insta::assert_snapshot!(render(&mut app, 80, 24));
}

#[test]
fn snapshot_rollback_modal() {
    let mut app = sample_app();
    app.on_key(key(KeyCode::Tab));
    app.on_key(key(KeyCode::Down));
    app.on_key(key(KeyCode::Down));
    app.on_key(key(KeyCode::Char('r')));
    insta::assert_snapshot!(render(&mut app, 100, 30));
}

#[test]
fn snapshot_prune_preview() {
    let mut app = sample_app();
    app.on_key(key(KeyCode::Char('p')));
    let item = |id: i64| flipdeck::engine::PruneItem {
        deployment_id: id,
        release: format!("2711202{id}-0400{id:02}"),
        path: String::new(),
    };
    let plan = PrunePlan {
        keep: vec![item(5), item(4)],
        delete: vec![item(3), item(2)],
    };
    app.on_loaded(Loaded::PrunePreview {
        site: "web1/example.com".into(),
        result: Ok((plan, vec![])),
    });
    insta::assert_snapshot!(render(&mut app, 100, 30));
}

#[test]
fn snapshot_help() {
    let mut app = sample_app();
    app.on_key(key(KeyCode::Char('?')));
    insta::assert_snapshot!(render(&mut app, 100, 34));
}

#[test]
fn snapshot_empty_state() {
    let mut app = App::new(vec![], "/root/.config/flipdeck/config.toml".into());
    insta::assert_snapshot!(render(&mut app, 100, 24));
}

#[test]
fn no_color_keeps_status_readable() {
    let mut app = sample_app();
    app.focus = Pane::Table;
    let screen = render(&mut app, 120, 32);
    for word in ["✓ success", "✗ failed", "Active"] {
        assert!(screen.contains(word), "{word}");
    }
}

#[test]
fn background_refresh_marks_locks_and_drift_quietly() {
    let mut app = sample_app();
    let inspection = |lock: Option<&str>, drift: Option<&str>| flipdeck::engine::Inspection {
        live: flipdeck::engine::LiveState::Missing,
        releases: vec![],
        lock: lock.map(str::to_string),
        missing: vec![],
        drift: drift.map(str::to_string),
        active_deployment_id: None,
    };
    app.on_loaded(Loaded::Refreshed {
        site: "web1/example.com".into(),
        quiet: true,
        result: Ok(inspection(Some("ops@elsewhere pid=1"), None)),
    });
    assert!(
        app.toasts.is_empty(),
        "a quiet refresh without news says nothing"
    );
    assert!(app.sites[0].lock.is_some());
    assert!(render(&mut app, 100, 30).contains("[locked]"));
    app.on_loaded(Loaded::Refreshed {
        site: "web1/example.com".into(),
        quiet: true,
        result: Ok(inspection(None, Some("history said a, server says b"))),
    });
    assert!(app.toasts.last().unwrap().text.contains("drift"));
    app.on_loaded(Loaded::Refreshed {
        site: "web2/api.example.com".into(),
        quiet: true,
        result: Err("connection refused".into()),
    });
    assert!(app.toasts.last().unwrap().error);
}

#[test]
fn mouse_wheel_scrolls_the_pane_under_the_pointer() {
    use crossterm::event::{MouseEvent, MouseEventKind};
    let mut app = sample_app();
    render(&mut app, 120, 32);
    let table = app.areas.table;
    let wheel = |kind, x, y| MouseEvent {
        kind,
        column: x,
        row: y,
        modifiers: KeyModifiers::NONE,
    };
    app.on_mouse(wheel(MouseEventKind::ScrollDown, table.x + 2, table.y + 2));
    assert_eq!(
        app.sites[0].table_sel, 3,
        "table scrolled (clamped to the last row)"
    );
    assert_eq!(app.focus, Pane::Tree, "focus unchanged");
    let log = app.areas.log;
    app.on_mouse(wheel(MouseEventKind::ScrollUp, log.x + 2, log.y + 2));
    assert!(app.log_top.is_some(), "wheel up in the log pauses follow");
}

#[test]
fn deploying_a_fleet_domain_deploys_every_server_together() {
    let mut app = App::new(
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
            site("web2", "other.example.com", vec![]),
        ],
        "/c".into(),
    );
    app.on_key(key(KeyCode::Char('d')));
    let Some(Modal::ConfirmDeploy { fleet, .. }) = app.modal.clone() else {
        panic!("no modal")
    };
    assert_eq!(fleet, ["web1", "web2"]);
    assert!(render(&mut app, 100, 30).contains("on 2 servers (fleet): web1, web2"));
    assert_eq!(
        app.on_key(key(KeyCode::Char('y'))),
        vec![Effect::DeployFleet("example.com".into())]
    );
    assert!(app.sites[0].running.is_some() && app.sites[1].running.is_some());
    assert!(app.sites[2].running.is_none());
    // Each server's outcome arrives on its own row.
    app.on_loaded(Loaded::JobDone {
        site: "web2/example.com".into(),
        ok: true,
        message: "deployed".into(),
    });
    assert!(app.sites[1].running.is_none() && app.sites[0].running.is_some());
    // A site alone on its server deploys alone.
    app.selected = 2;
    app.on_key(key(KeyCode::Char('d')));
    assert!(matches!(app.modal, Some(Modal::ConfirmDeploy { ref fleet, .. }) if fleet.is_empty()));
}

/// Goes to the table, types `/` and `text`: the ids of the deployments the filter leaves.
fn filter(app: &mut App, text: &str) -> Vec<i64> {
    app.on_key(key(KeyCode::Char('2')));
    app.on_key(key(KeyCode::Char('/')));
    for c in text.chars() {
        app.on_key(key(KeyCode::Char(c)));
    }
    app.visible_deployments().iter().map(|d| d.id).collect()
}

#[test]
fn the_deploy_dialog_takes_an_exact_ref() {
    let mut app = sample_app();
    app.on_key(key(KeyCode::Char('d')));
    assert!(render(&mut app, 100, 30).contains("branch: main   (r: an exact ref)"));
    // `r` types the ref; a bad one is refused where it is typed, and Enter keeps the typing open.
    app.on_key(key(KeyCode::Char('r')));
    assert!(matches!(app.modal, Some(Modal::TypeRef { .. })));
    for c in "v1..2".chars() {
        app.on_key(key(KeyCode::Char(c)));
    }
    assert!(render(&mut app, 120, 30).contains("is not a valid git ref"));
    assert_eq!(app.on_key(key(KeyCode::Enter)), vec![]);
    assert!(matches!(app.modal, Some(Modal::TypeRef { .. })));
    assert!(
        app.toasts
            .last()
            .unwrap()
            .text
            .contains("is not a valid git ref")
    );
    for _ in 0..2 {
        app.on_key(key(KeyCode::Backspace));
    }
    app.on_key(key(KeyCode::Char('0')));
    app.on_key(key(KeyCode::Enter));
    assert!(
        matches!(app.modal, Some(Modal::ConfirmDeploy { ref git_ref, .. }) if git_ref == "v1.0")
    );
    assert!(render(&mut app, 100, 30).contains("ref: v1.0"));
    app.on_key(key(KeyCode::Tab));
    let fx = app.on_key(key(KeyCode::Enter));
    assert_eq!(
        fx,
        vec![Effect::DeployRef {
            site: "web1/example.com".into(),
            git_ref: "v1.0".into(),
            fleet: false,
        }]
    );
    // Esc while typing leaves the dialog's ref as it was.
    let mut app = sample_app();
    app.on_key(key(KeyCode::Char('d')));
    app.on_key(key(KeyCode::Char('r')));
    app.on_key(key(KeyCode::Char('x')));
    app.on_key(key(KeyCode::Esc));
    assert!(
        matches!(app.modal, Some(Modal::ConfirmDeploy { ref git_ref, .. }) if git_ref.is_empty())
    );
}
