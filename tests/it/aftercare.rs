//! The watch after the switch, for real: nginx and PHP-FPM on 127.0.0.1 serve a site that
//! flipdeck provisions (its own template, which writes the site's access log) and deploys over a
//! real sshd, while clients request it. A release that answers 500 to about half the requests is
//! reverted by `auto_revert` within `for_s` + 2 s; a healthy one is kept; Ctrl-C during `deploy
//! --watch` reverts; a missing access log is said once, with the fix.

use crate::support::web::{Load, Sample, WebStack, free_port, get};
use crate::support::{DOMAIN, Harness};
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

/// Names its release, or (with a `bad` file at the release's top) answers 500 to about half the
/// requests (with `wavy`: a third of them, 2 seconds in 7), and logs each such failure in the
/// application's log.
pub(crate) const INDEX: &str = "<?php\n$top = dirname(__DIR__);\n\
                     if (file_exists(\"$top/bad\") && random_int(0, 1) === 0\n    \
                     || file_exists(\"$top/wavy\") && time() % 7 < 2 && random_int(0, 2) === 0) {\n    \
                     http_response_code(500);\n    \
                     file_put_contents(\"$top/storage/logs/app.log\", \
                     'production.ERROR: Undefined array key \"plan\" at app/Http/Controllers/BillingController.php:42' . \"\\n\", FILE_APPEND);\n    \
                     echo \"bad\\n\";\n    exit;\n}\n\
                     echo basename(dirname(__DIR__)), \"\\n\";\n";
/// Writes a line naming its release to the application's log (through the shared storage link).
const LOG: &str = "<?php\nfile_put_contents(dirname(__DIR__) . '/storage/logs/app.log', \
                   '[info] hello from ' . basename(dirname(__DIR__)) . \"\\n\", FILE_APPEND);\necho \"logged\\n\";\n";
/// Writes a line to the application's log on each deploy, through the shared storage link.
pub(crate) const SCRIPT: &str =
    "mkdir -p storage/logs && echo \"[deploy] $FLIPDECK_RELEASE built\" >> storage/logs/app.log";
const AUTO_REVERT: &str = "auto_revert = { errors_5xx_per_s = 2, for_s = 3 }";
const FOR_S: i64 = 3;

struct Site {
    h: Harness,
    port: u16,
    access_log: PathBuf,
}

/// A provisioned, deployed site behind `stack`, reached over sshd; `None` without sshd.
fn site(stack: &WebStack, extra: &str) -> Option<Site> {
    let h = Harness::ssh()?;
    let port = free_port();
    let access_log = h.dir.path().join("access.log");
    h.commit("public/index.php", INDEX);
    h.commit("public/log.php", LOG);
    h.write_config(&format!(
        "{}server:reload_command = \"\"\ndeployment_script = '''{SCRIPT}'''\n\
         access_log = \"{}\"\napp_log = \"storage/logs/app.log\"\n{extra}",
        stack.config(port),
        access_log.display()
    ));
    let out = h.ok(&["provision", DOMAIN]);
    assert!(out.contains("written, tested, reloaded"), "{out}");
    stack.wait_for(|| get(port, "/", DOMAIN).status == 200);
    Some(Site {
        h,
        port,
        access_log,
    })
}

/// The JSON lines of a `--json` run.
fn events(stdout: &str) -> Vec<Value> {
    stdout
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

fn of_kind<'a>(evs: &'a [Value], kind: &str) -> Vec<&'a Value> {
    evs.iter().filter(|e| e["event"] == kind).collect()
}

/// `[01/Dec/2026:13:00:07 +0000]` of an access-log line, as seconds since the epoch.
fn logged_at(line: &str) -> Option<i64> {
    let t = line.split_once('[')?.1.split_once(']')?.0;
    chrono::DateTime::parse_from_str(t, "%d/%b/%Y:%H:%M:%S %z")
        .ok()
        .map(|d| d.timestamp())
}

/// The status of a combined-format access-log line.
pub(crate) fn status_of(line: &str) -> Option<u16> {
    line.split_once("\" ")?
        .1
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// The newest deployment's status and the error the history keeps for it.
fn newest(h: &Harness) -> (String, String) {
    let db = rusqlite::Connection::open(&h.db).unwrap();
    db.query_row(
        "SELECT status, COALESCE(error, '') FROM server_deployments ORDER BY id DESC LIMIT 1",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .unwrap()
}

fn wall(base: (Instant, SystemTime), at: Instant) -> SystemTime {
    base.1 + (at - base.0)
}

#[test]
fn a_release_answering_500_is_reverted_by_auto_revert_within_for_s_plus_2_seconds() {
    let Some(stack) = WebStack::start() else {
        return;
    };
    let Some(Site {
        h,
        port,
        access_log,
    }) = site(&stack, &format!("watch_s = 20\n{AUTO_REVERT}"))
    else {
        return;
    };
    let before = h.live_release().unwrap();
    h.commit("bad", "this release answers 500 to half the requests\n");
    let base = (Instant::now(), SystemTime::now());
    let load = Load::start(port, "/", 4, Duration::from_secs(60));
    load.wait_past(Duration::from_millis(300), 20);
    let out = h.run(&["deploy", DOMAIN, "--json"]);
    let after = Instant::now();
    load.wait_past(Duration::from_millis(500), 40);
    let samples = load.finish();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(3), "{stdout}\n{stderr}");

    // The previous release serves again, and the history says why this one is not live.
    assert_eq!(h.live_release().as_deref(), Some(before.as_str()));
    assert_eq!(get(port, "/", DOMAIN).body.trim(), before);
    let (status, error) = newest(&h);
    assert_eq!(status, "failed");
    assert!(
        error.starts_with("reverted by the watch: 5xx at ")
            && error.contains(" s (auto_revert: 2/s for 3 s); switched back to"),
        "{error}"
    );
    assert!(
        stderr.contains("reverted by the watch: 5xx at") && stderr.contains(": switching back"),
        "the script says why it switches back: {stderr}"
    );

    // The watch's own account: for_s seconds in a row (less the slack of 0.2 s) at 2 or more
    // 5xx per second, then it ended reverting.
    let evs = events(&stdout);
    let seconds = of_kind(&evs, "watch_second");
    let ended = of_kind(&evs, "watch_ended");
    assert_eq!(ended.len(), 1, "{stdout}");
    assert_eq!(ended[0]["kept"], false);
    let rate = |s: &Value| s["5xx"].as_f64().unwrap() * 1000.0 / s["ms"].as_f64().unwrap();
    let streak_ms: f64 = seconds
        .iter()
        .rev()
        .take_while(|s| rate(s) >= 2.0)
        .map(|s| s["ms"].as_f64().unwrap())
        .sum();
    assert!(streak_ms >= (FOR_S * 1000 - 200) as f64, "{seconds:?}");
    let result = evs.last().unwrap();
    assert_eq!(result["exit_code"], 3, "{result}");

    // From the access log (nginx's own clock): the first 500 and the last one are at most
    // for_s + 2 seconds apart; after the revert only the old release answers.
    let log = std::fs::read_to_string(&access_log).unwrap();
    let errors: Vec<i64> = log
        .lines()
        .filter(|l| status_of(l) == Some(500))
        .filter_map(logged_at)
        .collect();
    let (first, last) = (errors[0], *errors.last().unwrap());
    assert!(
        last - first <= FOR_S + 2,
        "the first 500 at {first}, the last at {last}: more than for_s + 2 s"
    );
    let late: Vec<&Sample> = samples.iter().filter(|s| s.start > after).collect();
    assert!(!late.is_empty());
    assert!(
        late.iter()
            .all(|s| s.response.status == 200 && s.response.body.trim() == before),
        "after the revert only the release before answers"
    );

    // The revert time: from flipdeck's decision (the watch_ended event, stamped when printed, so
    // at or after it) to the first request that started later and got the old release, with none
    // after it getting the new one; and from the first request answered 500 (the clients' view).
    let met: SystemTime = ended[0]["time"]
        .as_str()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map(|d| d.with_timezone(&chrono::Utc).into())
        .unwrap();
    let back = samples
        .iter()
        .enumerate()
        .filter(|(_, s)| wall(base, s.start) >= met)
        .find(|(i, _)| {
            samples[*i..]
                .iter()
                .all(|s| s.response.status == 200 && s.response.body.trim() == before)
        })
        .map(|(_, s)| wall(base, s.start))
        .unwrap();
    let ms = back.duration_since(met).unwrap_or_default().as_millis();
    let first_500 = samples
        .iter()
        .find(|s| s.response.status == 500)
        .map(|s| wall(base, s.start))
        .unwrap();
    println!(
        "revert time after the threshold was met: {ms} ms; from the first 500 to the old release for good: {} ms \
         (samples, 5xx/length: {:?}; {} requests, {} of them 500; the 500s span {} s in the access log)",
        back.duration_since(first_500)
            .unwrap_or_default()
            .as_millis(),
        seconds
            .iter()
            .map(|s| format!("{}/{}ms", s["5xx"], s["ms"]))
            .collect::<Vec<_>>(),
        samples.len(),
        samples.iter().filter(|s| s.response.status == 500).count(),
        last - first
    );
}

#[test]
fn a_healthy_release_is_kept_after_the_watch_and_its_signals_are_shown() {
    let Some(stack) = WebStack::start() else {
        return;
    };
    let Some(Site { h, port, .. }) = site(&stack, &format!("watch_s = 3\n{AUTO_REVERT}")) else {
        return;
    };
    h.commit("public/extra.txt", "v2\n");
    let load = Load::start(port, "/", 2, Duration::from_secs(60));
    let logs = Load::start(port, "/log.php", 1, Duration::from_secs(60));
    // Longer than watch_s: `--watch=4`.
    let out = h.ok(&["deploy", DOMAIN, "--watch=4"]);
    let samples = load.finish();
    logs.finish();
    let live = h.live_release().unwrap();
    assert!(
        out.contains(
            "watching for 4 s after the switch (auto_revert at 2/s 5xx for 3 s); the switch is held: Ctrl-C reverts"
        ),
        "{out}"
    );
    assert!(out.contains("watched 4 s after the switch: kept"), "{out}");
    assert!(
        out.contains(&format!("app: [info] hello from {live}")),
        "{out}"
    );
    let lines: Vec<&str> = out.lines().filter(|l| l.starts_with("watch ")).collect();
    let secs: Vec<&str> = lines
        .iter()
        .filter(|l| l.contains(" s left)"))
        .copied()
        .collect();
    assert!(
        (2..=4).contains(&secs.len()),
        "about a line a second: {out}"
    );
    assert!(
        secs.iter().any(|l| !l.contains("2xx     0 ")),
        "the load's 2xx are counted: {out}"
    );
    let rec = h.active().unwrap();
    assert_eq!(rec["status"], "success");
    assert_eq!(crate::support::release_of(&rec), live);
    assert!(samples.iter().all(|s| s.response.status == 200));
    // With watch_s, a deploy without --watch watches too.
    let out = h.ok(&["deploy", DOMAIN]);
    assert!(out.contains("watching for 3 s after the switch"), "{out}");
}

#[test]
fn ctrl_c_during_deploy_watch_reverts_at_once() {
    let Some(stack) = WebStack::start() else {
        return;
    };
    let Some(Site { h, port, .. }) = site(&stack, "") else {
        return;
    };
    let before = h.live_release().unwrap();
    h.commit("public/extra.txt", "v2\n");
    let mut child = h.spawn(&["deploy", DOMAIN, "--watch=60", "--json"]);
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut seen = String::new();
    let started = Instant::now();
    loop {
        let mut l = String::new();
        assert!(stdout.read_line(&mut l).unwrap() > 0, "{seen}");
        seen.push_str(&l);
        if l.contains("\"watch_second\"") {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "{seen}");
    }
    // Switched and held: the new release serves.
    assert_ne!(get(port, "/", DOMAIN).body.trim(), before);
    let sent = Instant::now();
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
    let status = child.wait().unwrap();
    let took = sent.elapsed();
    assert_eq!(status.code(), Some(3), "{seen}{rest}");
    assert_eq!(h.live_release().as_deref(), Some(before.as_str()));
    assert_eq!(get(port, "/", DOMAIN).body.trim(), before);
    let evs = events(&rest);
    let ended = of_kind(&evs, "watch_ended");
    assert_eq!(
        ended[0]["reverted"], "reverted by the operator (interrupted during the watch)",
        "{rest}"
    );
    let (status, error) = newest(&h);
    assert_eq!(status, "failed");
    assert!(
        error.starts_with(
            "reverted by the operator (interrupted during the watch); switched back to"
        ),
        "{error}"
    );
    println!(
        "Ctrl-C to exit, reverted: {} ms (of 60 s watched)",
        took.as_millis()
    );
}

#[test]
fn a_missing_access_log_is_said_once_with_the_fix_and_the_app_log_is_still_watched() {
    let Some(stack) = WebStack::start() else {
        return;
    };
    let Some(Site { h, port, .. }) = site(&stack, "") else {
        return;
    };
    // The site's config now names a log nginx does not write.
    let cfg = std::fs::read_to_string(&h.config).unwrap();
    let elsewhere = h.dir.path().join("nowhere.log");
    let cfg = cfg.replace(
        &format!("{}", h.dir.path().join("access.log").display()),
        &elsewhere.display().to_string(),
    );
    std::fs::write(&h.config, cfg).unwrap();
    h.commit("public/extra.txt", "v2\n");
    let logs = Load::start(port, "/log.php", 1, Duration::from_secs(60));
    let out = h.ok(&["deploy", DOMAIN, "--watch=3"]);
    logs.finish();
    let said = format!(
        "flipdeck: there is no access log at {} on web1, so this watch has no response codes (and auto_revert cannot act)",
        elsewhere.display()
    );
    assert_eq!(out.matches(&said).count(), 1, "{out}");
    let live = h.live_release().unwrap();
    assert!(
        out.contains(&format!("app: [info] hello from {live}")),
        "{out}"
    );
    assert!(out.contains("watched 3 s after the switch: kept"), "{out}");
}

/// The dashboard over real sshd: a deploy of a site with `watch_s` shows the watch beside the
/// log (sparklines, rates, seconds left), the status bar offers `x revert`, and `x` reverts at
/// once through the held switch. With `FLIPDECK_SCREENSHOT=DIR` the screen during the watch is
/// written to `DIR/watch.ansi` (`scripts/screenshot.py` makes `assets/screens/watch.svg` of it).
#[test]
fn the_dashboard_shows_the_watch_and_x_reverts_it() {
    use crate::support::tmux::{self, WAIT};
    if !tmux::available() {
        return;
    }
    let Some(stack) = WebStack::start() else {
        return;
    };
    // A threshold its bursts of 2 s never hold for: only the key reverts.
    let Some(Site { h, port, .. }) = site(
        &stack,
        "watch_s = 90\nauto_revert = { errors_5xx_per_s = 50, for_s = 10 }",
    ) else {
        return;
    };
    let before = h.live_release().unwrap();
    h.commit("wavy", "this release answers 500 in bursts\n");
    let load = Load::start(port, "/", 2, Duration::from_secs(120));
    let t = tmux::dashboard(&h, "LANG=C.UTF-8", "", 130, 34);
    t.wait_for("● connected", WAIT);
    t.wait_for("#1 ", WAIT);
    t.keys(&["d"]);
    t.wait_for("Deploy (y)", WAIT);
    t.keys(&["y"]);
    // The pane's title counts down; wait for a few samples and the app-log lines under them.
    let s = t.wait_until("the watch with samples", Duration::from_secs(60), |s| {
        s.contains(" watch · ") && s.contains("production.ERROR") && s.contains("x revert")
    });
    assert!(
        s.contains("2xx") && s.contains("5xx") && s.contains("auto_revert at 50/s 5xx for 10 s"),
        "{s}"
    );
    // A few more seconds of sparkline (for a picture, more).
    let more = match std::env::var("FLIPDECK_SCREENSHOT") {
        Ok(_) => 20,
        Err(_) => 3,
    };
    let left =
        |s: &str| -> Option<u32> { s.split(" watch · ").nth(1)?.split(' ').next()?.parse().ok() };
    let first = left(&s).unwrap();
    let s = t.wait_until("more samples", Duration::from_secs(60), |s| {
        left(s).is_some_and(|l| l + more <= first)
    });
    t.screenshot("watch");
    assert_ne!(h.live_release().as_deref(), Some(before.as_str()), "{s}");
    t.keys(&["x"]);
    let s = t.wait_until("the revert shown", WAIT, |s| {
        s.contains(" watch ended: reverted ") && s.contains("reverted by the operator")
    });
    assert!(!s.contains("kept"), "{s}");
    t.wait_until("the deploy recorded", WAIT, |_| newest(&h).0 == "failed");
    assert_eq!(h.live_release().as_deref(), Some(before.as_str()));
    assert_eq!(get(port, "/", DOMAIN).body.trim(), before);
    let (_, error) = newest(&h);
    assert!(
        error.starts_with("reverted by the operator; switched back to"),
        "{error}"
    );
    // The revert key is the picker's again once nothing holds.
    let s = t.wait_until("no revert hint", WAIT, |s| !s.contains("x revert"));
    assert!(!s.contains("x revert"));
    load.finish();
    t.keys(&["q"]);
    assert_eq!(tmux::exit_code(&h).as_deref(), Some("0"));
}

/// nginx's logs are often 0640 root:adm: `signals.sh`, run as a user who may not read the access
/// log (nobody, through runuser), says so once and keeps reporting its seconds (the engine turns
/// that into the one message with the fix: see `aftercare::signal_line`).
#[test]
fn an_unreadable_access_log_is_reported_once_and_the_watch_goes_on() {
    use flipdeck::engine::protocol::Params;
    use flipdeck::engine::scripts;
    use std::process::Command;
    let runuser = Command::new("runuser")
        .arg("--help")
        .output()
        .is_ok_and(|o| o.status.success());
    if !runuser || unsafe { libc::getuid() } != 0 {
        return crate::support::cannot_run(
            "CI runs as root with runuser (util-linux)",
            "needs root and runuser",
        );
    }
    // A folder anyone may enter, a log only root may read.
    let dir = tempfile::Builder::new()
        .prefix("flipdeck-signals-")
        .tempdir()
        .unwrap();
    let _ = Command::new("chmod").arg("755").arg(dir.path()).status();
    let log = dir.path().join("access.log");
    std::fs::write(&log, "").unwrap();
    let _ = Command::new("chmod").arg("640").arg(&log).status();
    let params = Params::new()
        .set("M", "::m::")
        .set("token", "t")
        .set("owner", "o")
        .set("job_env", "FLIPDECK_JOB")
        .set("root", &dir.path().display().to_string())
        .flag("home_root", false)
        .set("domain", DOMAIN)
        .set("watch_s", "2")
        .set("access_log", &log.display().to_string())
        .set("app_log", "")
        .set("app_lines", "20")
        .set("app_bytes", "4096");
    let script = scripts::assemble(params.as_str(), &[scripts::SIGNALS]);
    let out = Command::new("runuser")
        .args(["-u", "nobody", "--", "sh", "-c", &script])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        stdout.matches("::m:: set sig_access_unreadable 1").count(),
        1,
        "{stdout}"
    );
    let samples: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("::m:: set sig "))
        .collect();
    assert!(
        !samples.is_empty() && samples.iter().all(|l| l.contains(" 0 0 0 0 ")),
        "{stdout}"
    );
}

/// A fleet (two sshd servers) is watched as one after every server has switched: kept together
/// at the end, and reverted together by Ctrl-C during `deploy --watch`, each server's history
/// saying why.
#[test]
fn a_fleet_is_watched_once_every_server_switched_and_reverted_together() {
    let h = Harness::local();
    let Some(servers) = crate::support::two_servers(&h) else {
        return;
    };
    let config = crate::support::servers_config(&h, &servers, 2, |_| {
        format!(
            "\n[[servers.sites]]\ndomain = \"{DOMAIN}\"\nrepository = \"{}\"\ndeployment_script = \"true\"\nkeep = 14\n\n",
            h.repo.display()
        )
    });
    std::fs::write(&h.config, config).unwrap();
    let live = |root: &std::path::Path| {
        std::fs::read_link(root.join(DOMAIN))
            .ok()
            .map(|l| l.file_name().unwrap().to_string_lossy().into_owned())
    };
    h.ok(&["provision", DOMAIN]);
    h.commit("public/extra.txt", "v2\n");
    let out = h.ok(&["deploy", DOMAIN, "--watch=2"]);
    assert_eq!(
        out.matches("watching for 2 s after the switch").count(),
        2,
        "{out}"
    );
    assert_eq!(
        out.matches("watched after the switch with the rest of the fleet: kept")
            .count(),
        2,
        "{out}"
    );
    let kept: Vec<Option<String>> = servers.iter().map(|(_, _, r)| live(r)).collect();
    assert!(kept[0].is_some() && kept[0] == kept[1], "{kept:?}");

    h.commit("public/extra.txt", "v3\n");
    let mut child = h.spawn(&["deploy", DOMAIN, "--watch=60", "--json"]);
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut seen = 0;
    while seen < 2 {
        let mut l = String::new();
        assert!(
            stdout.read_line(&mut l).unwrap() > 0,
            "the deploy ended early"
        );
        if l.contains("\"watch_second\"") && l.contains("\"second\":1,") {
            seen += 1;
        }
    }
    // Both switched to the new release, held.
    let switched: Vec<Option<String>> = servers.iter().map(|(_, _, r)| live(r)).collect();
    assert!(
        switched[0] != kept[0] && switched[0] == switched[1],
        "{switched:?}"
    );
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
    // Reverted by the watch on every server: exit 3, as for one server.
    assert_eq!(child.wait().unwrap().code(), Some(3), "{rest}");
    assert!(
        rest.contains("the watch reverted the fleet deploy on"),
        "{rest}"
    );
    let now: Vec<Option<String>> = servers.iter().map(|(_, _, r)| live(r)).collect();
    assert_eq!(now, kept, "every server is back on the release before");
    let db = rusqlite::Connection::open(&h.db).unwrap();
    let errors: Vec<String> = db
        .prepare("SELECT COALESCE(error, '') FROM server_deployments ORDER BY id DESC LIMIT 2")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert!(
        errors.iter().all(|e| e.starts_with(
            "reverted by the operator (interrupted during the watch); switched back to"
        )),
        "{errors:?}"
    );
}

/// flipdeck killed (SIGKILL) while a watch holds the switch: the server's deploy script loses its
/// reader and its verdict, and switches back by itself (a write to the gone connection must not
/// kill it first), releasing its lock. Nothing here needs nginx: the watch says the access log
/// is missing and holds all the same.
#[test]
fn flipdeck_killed_during_the_watch_leaves_the_release_before_live() {
    let Some(h) = Harness::ssh() else { return };
    h.write_config("deployment_script = \"true\"");
    h.ok(&["deploy", DOMAIN]);
    let before = h.live_release().unwrap();
    h.commit("public/extra.txt", "v2\n");
    let mut child = h.spawn(&["deploy", DOMAIN, "--watch=120", "--json"]);
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    loop {
        let mut l = String::new();
        assert!(
            stdout.read_line(&mut l).unwrap() > 0,
            "the deploy ended early"
        );
        if l.contains("\"watch_second\"") {
            break;
        }
    }
    assert_ne!(h.live_release().as_deref(), Some(before.as_str()), "held");
    let _ = child.kill(); // SIGKILL: no clean-up of flipdeck's own
    let _ = child.wait();
    let deadline = Instant::now() + Duration::from_secs(30);
    while h.live_release().as_deref() != Some(before.as_str()) || h.lock_dir().exists() {
        assert!(
            Instant::now() < deadline,
            "the server did not switch back by itself: live {:?}, lock {}",
            h.live_release(),
            h.lock_dir().exists()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(h.releases(), vec![before], "the unverified release removed");
}
