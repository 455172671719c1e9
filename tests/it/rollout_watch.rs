//! A stepped rollout watched after each step (`watch_s`), on real sshd servers: a release that
//! answers 500 on the canary (served by real nginx + PHP-FPM) is reverted during the canary's
//! watch, before any batch server switches; a healthy one is watched after every step (every
//! server switched so far) and then kept everywhere; the operator's Ctrl-C (CLI) or `x`
//! (dashboard) during the canary's watch, or the canary's deploy dying then, puts every server
//! back, the batch never switching.

use crate::aftercare::{INDEX, SCRIPT, status_of};
use crate::rollout::{Fleet, Running, live, step_event};
use crate::support::web::{Load, WebStack, free_port, get};
use crate::support::{DOMAIN, Harness};
use flipdeck::store::Status;
use serde_json::Value;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

const AUTO_REVERT: &str = "auto_revert = { errors_5xx_per_s = 2, for_s = 3 }";

/// Three servers: web1 (the canary) serves the site through `stack`'s real nginx on `port`,
/// writing `access`; web2 and web3 (the batch) have access logs of their own, written by
/// nobody. Every site watched for `watch_s` with `AUTO_REVERT`, the rollout a canary then all.
fn canary_behind_nginx(stack: &WebStack, port: u16, watch_s: u32) -> Option<Fleet> {
    let h = Harness::local();
    let servers = crate::support::servers(&h, 3)?;
    h.commit("public/index.php", INDEX);
    // web1's server keys (nginx's sites dir, test and reload) and site keys (nginx, listen,
    // the PHP-FPM socket), as `Harness::write_config` splits them.
    let web = stack.config(port);
    let (server_keys, site_keys): (Vec<&str>, Vec<&str>) =
        web.lines().partition(|l| l.starts_with("server:"));
    let config = crate::support::servers_config(&h, &servers, 3, |name| {
        let access = h.dir.path().join(format!("{name}.access.log"));
        let (server, web) = match name {
            "web1" => (
                server_keys
                    .iter()
                    .map(|l| format!("{}\n", &l["server:".len()..]))
                    .collect::<String>(),
                site_keys.iter().map(|l| format!("{l}\n")).collect(),
            ),
            _ => {
                std::fs::write(&access, "").unwrap();
                (String::new(), String::new())
            }
        };
        format!(
            "{server}\n[[servers.sites]]\ndomain = \"{DOMAIN}\"\nrepository = \"{}\"\n\
             deployment_script = '''{SCRIPT}'''\nkeep = 14\naccess_log = \"{}\"\n\
             watch_s = {watch_s}\n{AUTO_REVERT}\n\
             rollout = {{ canary = 1, batches = [\"100%\"], pause = \"0s\" }}\n{web}\n",
            h.repo.display(),
            access.display()
        )
    });
    std::fs::write(&h.config, config).unwrap();
    let out = h.ok(&["provision", DOMAIN]);
    assert!(out.contains("written, tested, reloaded"), "{out}");
    stack.wait_for(|| get(port, "/", DOMAIN).status == 200);
    Some(Fleet { h, servers })
}

fn json_lines(stdout: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

fn wall(base: (Instant, SystemTime), at: Instant) -> SystemTime {
    base.1 + (at - base.0)
}

#[test]
fn a_canary_answering_500_is_reverted_during_its_watch_and_the_batch_never_switches() {
    let Some(stack) = WebStack::start() else {
        return;
    };
    let port = free_port();
    let Some(f) = canary_behind_nginx(&stack, port, 60) else {
        return;
    };
    let before = f.lives();
    assert!(before.iter().all(Option::is_some), "{before:?}");
    f.h.commit("bad", "this release answers 500 to half the requests\n");

    // The batch servers' live links, read all along the deploy: they must never change.
    let stop = Arc::new(AtomicBool::new(false));
    let watcher = {
        let stop = stop.clone();
        let roots: Vec<_> = f.servers[1..].iter().map(|(_, _, r)| r.clone()).collect();
        let was: Vec<Option<String>> = before[1..].to_vec();
        std::thread::spawn(move || {
            let mut changed = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                for (r, w) in roots.iter().zip(&was) {
                    let now = live(r);
                    if now != *w && !changed.contains(&now) {
                        changed.push(now);
                    }
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            changed
        })
    };
    let base = (Instant::now(), SystemTime::now());
    let load = Load::start(port, "/", 2, Duration::from_secs(240));
    load.wait_past(Duration::from_millis(300), 20);
    let out = f.h.run(&["deploy", DOMAIN, "--json"]);
    load.wait_past(Duration::from_millis(500), 40);
    let samples = load.finish();
    stop.store(true, Ordering::Relaxed);
    let changed = watcher.join().unwrap();
    let evs = json_lines(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Reverted by the watch, the servers never switched too: exit 3.
    assert_eq!(out.status.code(), Some(3), "{evs:#?}\n{stderr}");
    assert!(
        changed.is_empty(),
        "a batch server's live link changed: {changed:?}"
    );

    // Every server on the release it had; the canary switched back, the batch never switched,
    // each history naming the canary's watch.
    assert_eq!(f.lives(), before, "every server on the release it had");
    assert_eq!(
        get(port, "/", DOMAIN).body.trim(),
        before[0].as_deref().unwrap()
    );
    let why = "reverted by the watch after the canary (step 1 of 2): 5xx at ";
    let newest = f.newest();
    for (d, (name, _, root)) in newest.iter().zip(&f.servers) {
        assert_eq!(d.status, Status::Failed, "{name}: {d:?}");
        let error = d.error.as_deref().unwrap_or_default();
        let rel = d.release_name.as_deref().unwrap();
        assert!(
            !root.join("deployments").join(DOMAIN).join(rel).exists(),
            "{name}: the new release {rel} is removed"
        );
        if name == "web1" {
            assert!(
                error.starts_with(why) && error.contains("switched back to"),
                "{name}: {error}"
            );
        } else {
            assert!(
                error.starts_with("not switched: ") && error.contains(why),
                "{name}: {error}"
            );
        }
    }
    assert!(f.no_locks());
    // Only the canary was watched, once, and the batch's step never began.
    let started: Vec<&Value> = evs
        .iter()
        .filter(|v| v["event"] == "watch_started")
        .collect();
    assert_eq!(started.len(), 1, "{evs:#?}");
    assert_eq!(started[0]["after"], "the canary (step 1 of 2)");
    assert!(started[0]["site"].as_str().unwrap().starts_with("web1/"));
    assert!(evs.iter().any(|v| step_event(v, "watching", 1)));
    assert!(
        !evs.iter().any(|v| step_event(v, "switching", 2)),
        "{evs:#?}"
    );
    for v in evs.iter().filter(|v| v["event"] == "rollout_server") {
        if !v["site"].as_str().unwrap().starts_with("web1/") {
            assert!(
                !["switching", "live", "reverted", "committed"]
                    .contains(&v["state"].as_str().unwrap()),
                "{v}"
            );
        }
    }
    // The 500s were nginx's: its access log has them.
    let log = std::fs::read_to_string(f.h.dir.path().join("web1.access.log")).unwrap();
    assert!(log.lines().any(|l| status_of(l) == Some(500)), "{log}");

    // Measured, not asserted: the canary's time from its first 500 (the clients' view) to the
    // release before answering for good.
    let old = before[0].as_deref().unwrap();
    let first_500 = samples
        .iter()
        .position(|s| s.response.status == 500)
        .unwrap();
    let back = (first_500..samples.len())
        .find(|&i| {
            samples[i..]
                .iter()
                .all(|s| s.response.status == 200 && s.response.body.trim() == old)
        })
        .unwrap();
    println!(
        "canary: from its first 500 to the release before for good: {} ms ({} requests, {} answered 500)",
        wall(base, samples[back].start)
            .duration_since(wall(base, samples[first_500].start))
            .unwrap_or_default()
            .as_millis(),
        samples.len(),
        samples.iter().filter(|s| s.response.status == 500).count()
    );
}

/// An access log no server has: each watch says so (once per server, however often watched).
const NO_LOG: &str = "/nonexistent/flipdeck-rollout-watch/access.log";

/// Four servers, deploy_script `true`, watched for `watch_s` after each of three steps.
fn watched_fleet(watch_s: u32) -> Option<Fleet> {
    crate::rollout::fleet(&format!(
        "watch_s = {watch_s}\naccess_log = \"{NO_LOG}\"\n\
         rollout = {{ canary = 1, batches = [\"50%\", \"100%\"], pause = \"1s\" }}"
    ))
}

fn at_ms(v: &Value) -> i64 {
    chrono::DateTime::parse_from_rfc3339(v["time"].as_str().unwrap())
        .unwrap()
        .timestamp_millis()
}

#[test]
fn a_healthy_rollout_is_watched_after_each_step_then_kept_everywhere() {
    let Some(f) = watched_fleet(3) else { return };
    let before = f.provisioned();
    let out = f.h.ok(&["deploy", DOMAIN, "--json"]);
    let evs: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // Each step: switched, then every server switched so far watched (its own watch, afresh),
    // then the next step; the last step's watch before the commit.
    let names = ["web1", "web2", "web3", "web4"];
    let reach = [1, 2, 4];
    for (k, words) in [
        "the canary (step 1 of 3)",
        "batch 1 (step 2 of 3)",
        "batch 2 (step 3 of 3)",
    ]
    .iter()
    .enumerate()
    {
        let step = k as u64 + 1;
        let pos = |phase: &str| {
            evs.iter()
                .position(|v| step_event(v, phase, step))
                .unwrap_or_else(|| panic!("no {phase} of step {step}: {evs:#?}"))
        };
        let watching = &evs[pos("watching")];
        assert_eq!(watching["watch_s"], 3, "{watching}");
        let servers: Vec<&str> = watching["servers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap())
            .collect();
        assert_eq!(servers, names[..reach[k]], "{watching}");
        assert!(pos("switched") < pos("watching"));
        let started: Vec<&Value> = evs
            .iter()
            .filter(|v| v["event"] == "watch_started" && v["after"] == *words)
            .collect();
        assert_eq!(started.len(), reach[k], "{words}: {evs:#?}");
        // The next step (or the commit) waits for the whole watch.
        let next = match step {
            3 => evs.iter().position(|v| step_event(v, "committing", 3)),
            s => evs.iter().position(|v| step_event(v, "switching", s + 1)),
        }
        .unwrap();
        assert!(pos("watching") < next, "{evs:#?}");
        assert!(
            at_ms(&evs[next]) - at_ms(watching) >= 2800,
            "step {step}'s watch lasted its 3 s: {evs:#?}"
        );
        // Each of its watches ended kept before it went on.
        let kept = evs[pos("watching")..next]
            .iter()
            .filter(|v| v["event"] == "watch_ended" && v["kept"] == true)
            .count();
        assert_eq!(kept, reach[k], "{words}: {evs:#?}");
    }
    assert_eq!(
        evs.iter().filter(|v| v["event"] == "watch_started").count(),
        1 + 2 + 4
    );
    assert!(
        !evs.iter()
            .any(|v| v["event"] == "watch_ended" && v["kept"] == false)
    );
    let lives = f.lives();
    assert!(
        lives.iter().all(|l| *l == lives[0] && *l != before[0]),
        "{lives:?}"
    );
    assert!(f.newest().iter().all(|d| d.status == Status::Success));
    assert!(f.no_locks());

    // The CLI's lines say the same: each server's watch, per step, and the rollout's.
    f.h.commit("public/index.php", "<?php echo 'v3';\n");
    let printed = f.h.ok(&["deploy", DOMAIN]);
    for (words, n) in [
        ("the canary (step 1 of 3)", 1),
        ("batch 1 (step 2 of 3)", 2),
        ("batch 2 (step 3 of 3)", 4),
    ] {
        let line = format!("watching for 3 s after the switch of {words}; the switch is held");
        assert_eq!(printed.matches(&line).count(), n, "{line:?} in {printed}");
    }
    for line in [
        "rollout step 1/3: watching web1 for 3 s before the next step",
        "rollout step 2/3: watching web1, web2 for 3 s before the next step",
        "rollout step 3/3: watching web1, web2, web3, web4 for 3 s before keeping the new release",
    ] {
        assert_eq!(printed.matches(line).count(), 1, "{line:?} in {printed}");
    }
    assert_eq!(
        printed
            .matches("watched after the switch with the rest of the fleet: kept")
            .count(),
        4,
        "{printed}"
    );
    for name in ["web1", "web2", "web3", "web4"] {
        let said = format!("[{name}/{DOMAIN}] flipdeck: there is no access log at {NO_LOG}");
        assert_eq!(
            printed.matches(&said).count(),
            1,
            "{said:?} once: {printed}"
        );
    }

    // The dry run lists the watch after each step.
    let plan = f.h.ok(&["deploy", DOMAIN, "--dry-run"]);
    assert!(
        plan.contains("for 3 s after its step's switch, and again after each later step's"),
        "{plan}"
    );
    for line in [
        "  the canary: web1\n    then watched for 3 s before the next step (reverts only when told): web1\n",
        "  batch 1 after 1s: web2\n    then watched for 3 s before the next step (reverts only when told): web1, web2\n",
        "  batch 2 after 1s: web3, web4\n    then watched for 3 s before the commit (reverts only when told): web1, web2, web3, web4\n",
    ] {
        assert!(plan.contains(line), "{line:?} in {plan}");
    }
}

#[test]
fn ctrl_c_during_the_canarys_watch_puts_every_server_back() {
    let Some(f) = watched_fleet(120) else { return };
    let before = f.provisioned();
    let mut run = Running::start(&f.h, &["deploy", DOMAIN, "--json"]);
    let started = run.until(180, "the canary's watch", |v| {
        v["event"] == "watch_second" && v["site"].as_str().is_some_and(|s| s.starts_with("web1/"))
    });
    let _ = started;
    let lives = f.lives();
    assert_ne!(lives[0], before[0], "the canary switched: {lives:?}");
    assert_eq!(lives[1..], before[1..], "the others wait: {lives:?}");
    let pid = run.child.id().to_string();
    crate::rollout::signal(&pid, "-INT");
    let (seen, code) = run.finish();
    assert_eq!(code, Some(3), "a revert by the watch: {seen:#?}");
    assert!(
        !seen.iter().any(|v| step_event(v, "switching", 2)),
        "{seen:#?}"
    );
    let why =
        "reverted by the operator (interrupted during the watch after the canary (step 1 of 3))";
    f.all_back(&before, why);
    f.only_the_canary_switched();
}

/// The dashboard's state and screen alone: a step's watch shows on the rollout bar with its
/// seconds left and titles the signals pane with the step; the canary's second watch (after
/// batch 1) starts afresh, named so; `n` during a step's watch is refused with a toast.
#[test]
fn the_dashboard_shows_each_steps_watch_afresh() {
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    use flipdeck::engine::events::RolloutPhase;
    use flipdeck::engine::{Event, EventKind};
    use flipdeck::ui::app::App;
    let sites = ["web1", "web2"]
        .iter()
        .map(|s| crate::dashboard::site(s, DOMAIN, vec![]))
        .collect();
    let mut app = App::new(sites, "/c.toml".into());
    for s in &mut app.sites {
        s.running = Some(flipdeck::engine::Action::Deploy);
    }
    let web1 = format!("web1/{DOMAIN}");
    let ev = |site: &str, kind| Event {
        job: 1,
        site: site.to_string(),
        kind,
    };
    let second = |n: u32, left: u32, c5: u32| EventKind::WatchSecond {
        second: n,
        left,
        by_class: [50, 0, 0, c5],
        ms: 1000,
        app: vec![],
        app_more: 0,
    };
    let watching = |step: usize, servers: &[&str]| EventKind::RolloutStep {
        step,
        steps: 2,
        phase: RolloutPhase::Watching {
            seconds: 30,
            servers: servers.iter().map(|s| s.to_string()).collect(),
        },
    };
    let started = |after: &str| EventKind::WatchStarted {
        seconds: 30,
        auto_revert: None,
        after: Some(after.into()),
    };
    app.on_engine(ev(DOMAIN, watching(1, &["web1"])));
    app.on_engine(ev(&web1, started("the canary (step 1 of 2)")));
    app.on_engine(ev(&web1, second(1, 29, 7)));
    app.on_engine(ev(&web1, second(2, 18, 7)));
    let screen = crate::dashboard::render(&mut app, 160, 40);
    assert!(
        screen.contains("step 1/2 · watching (18 s left)"),
        "{screen}"
    );
    assert!(
        screen.contains(" watch after the canary (step 1 of 2) · 18 s left "),
        "{screen}"
    );
    let toasts = app.toasts.len();
    assert_eq!(
        app.on_key(KeyEvent::new(KeyCode::Char('n'), KeyModifiers::NONE)),
        vec![]
    );
    assert!(app.toasts.len() > toasts && app.toasts.last().unwrap().error);
    app.on_engine(ev(&web1, EventKind::WatchEnded { reverted: None }));
    // The next step: web1 is watched again, from nothing, with web2.
    app.on_engine(ev(DOMAIN, watching(2, &["web1", "web2"])));
    app.on_engine(ev(&web1, started("batch 1 (step 2 of 2)")));
    let w = &app.watches[&web1];
    assert!(
        w.running() && w.ok_per_s.is_empty() && w.left == 30,
        "{w:?}"
    );
    assert_eq!(w.after.as_deref(), Some("batch 1 (step 2 of 2)"));
    let screen = crate::dashboard::render(&mut app, 160, 40);
    assert!(
        screen.contains("step 2/2 · watching (30 s left)")
            && screen.contains(" watch after batch 1 (step 2 of 2) · 30 s left "),
        "{screen}"
    );
}

/// A server's deploy dies during the canary's watch (the canary's own, which goes back on its own,
/// or a server waiting for its batch): the rollout stops there, the others never switch, each
/// history naming the step's watch, and the exit code is a failure's (1), not a watch's revert.
fn lost_during_the_canarys_watch(k: usize, state: &str) {
    let Some(f) = watched_fleet(120) else { return };
    let before = f.provisioned();
    let mut run = Running::start(&f.h, &["deploy", DOMAIN, "--json"]);
    run.until(180, "the canary's watch", |v| {
        v["event"] == "watch_second" && v["site"].as_str().is_some_and(|s| s.starts_with("web1/"))
    });
    let pid = crate::rollout::deploy_shell_on(&f.servers[k].1).expect("the server's deploy shell");
    crate::rollout::signal(&pid, "-KILL");
    let (seen, code) = run.finish();
    assert_eq!(code, Some(1), "a server lost is a failure: {seen:#?}");
    assert!(
        !seen.iter().any(|v| step_event(v, "switching", 2)),
        "{seen:#?}"
    );
    assert_eq!(f.lives(), before, "every server on the release it had");
    assert!(f.no_locks());
    let newest = f.newest();
    assert!(
        newest.iter().all(|d| d.status == Status::Failed),
        "{newest:?}"
    );
    let why = format!(
        "web{}'s deploy ended while {state} during the watch after the canary (step 1 of 3)",
        k + 1
    );
    for (i, d) in newest.iter().enumerate().filter(|(i, _)| *i != k) {
        let reason = d.error.as_deref().unwrap_or_default();
        assert!(reason.contains(&why), "{reason}");
        // Only the canary had switched.
        assert_eq!(reason.starts_with("not switched: "), i != 0, "{reason}");
    }
}

#[test]
fn the_canary_lost_during_its_watch_puts_every_server_back() {
    lost_during_the_canarys_watch(0, "live");
}

#[test]
fn a_waiting_server_lost_during_the_canarys_watch_puts_every_server_back() {
    lost_during_the_canarys_watch(2, "waiting");
}

/// In the dashboard: the rollout bar counts the canary's watch down; `n` during it is refused
/// (the watch runs to its end), `x` reverts every server, the others never switching.
#[test]
fn x_in_the_dashboard_during_the_canarys_watch_puts_every_server_back() {
    use crate::support::tmux;
    if !tmux::available() {
        return;
    }
    let Some(f) = crate::rollout::fleet(&format!(
        "watch_s = 120\naccess_log = \"{NO_LOG}\"\n\
         rollout = {{ canary = 1, batches = [\"50%\", \"100%\"], pause = \"manual\" }}"
    )) else {
        return;
    };
    let before = f.provisioned();
    // Wide: the signals pane takes half of the log pane's room, whose border holds the bar.
    let t = tmux::dashboard(&f.h, "LANG=C.UTF-8", "", 240, 32);
    t.wait_for("● connected", tmux::WAIT);
    t.keys(&["d"]);
    t.wait_for("Deploy (y)", tmux::WAIT);
    t.keys(&["y"]);
    let bar = "s left) · 1/4 live · n next · a all · x revert";
    let s = t.wait_until("the canary's watch", Duration::from_secs(100), |s| {
        s.contains("step 1/3 · watching (") && s.contains(bar)
    });
    assert!(
        s.contains(" watch after the canary (step 1 of 3) · "),
        "{s}"
    );
    let lives = f.lives();
    assert_ne!(lives[0], before[0], "the canary switched");
    assert_eq!(lives[1..], before[1..], "the others wait: {lives:?}");
    t.keys(&["n"]);
    t.wait_for("n applies once the watch passed", tmux::WAIT);
    t.keys(&["x"]);
    f.wait_all_failed();
    f.all_back(
        &before,
        "reverted by the operator during the watch after the canary (step 1 of 3)",
    );
    f.only_the_canary_switched();
    t.keys(&["q"]);
}
