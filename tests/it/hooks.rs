//! The site's hooks (`after_switch`, `after_rollback`, `on_failure`): each runs on the server in
//! the deploy's (or rollback's) own exec at its moment, as its own traced `sh -e` script, in the
//! live release, with the FLIPDECK_* variables. Over both transports.

use crate::support::{DOMAIN, Harness, both};
use std::path::PathBuf;

/// Where the hooks of a test write what they saw (outside the releases, so it outlives them).
fn record(h: &Harness) -> PathBuf {
    h.dir.path().join("hooks.log")
}

fn lines(h: &Harness) -> Vec<String> {
    std::fs::read_to_string(record(h))
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

/// A hook line that appends `NAME live=… pwd=… rel=… prev=…` to the record: the live link at
/// the hook's moment, its working directory and its variables.
fn recorder(h: &Harness, name: &str) -> String {
    format!(
        "{name} = '''\necho \"$FLIPDECK_HOOK live=$(readlink {live}) pwd=$(pwd -P) rel=$FLIPDECK_RELEASE prev=$FLIPDECK_PREVIOUS_RELEASE path=$FLIPDECK_RELEASE_PATH back=${{FLIPDECK_SWITCHED_BACK:-}}\" >> {rec}\n'''",
        live = h.live().display(),
        rec = record(h).display(),
    )
}

fn after_switch_sees_the_new_release(h: Harness) {
    h.write_config(&format!(
        "deployment_script = \"true\"\n{}",
        recorder(&h, "after_switch")
    ));
    let out = h.ok(&["deploy", DOMAIN]);
    assert!(out.contains("==> after_switch"), "{out}");
    let first = h.live_release().unwrap();
    h.ok(&["deploy", DOMAIN]);
    let second = h.live_release().unwrap();
    let base = h.base();
    let l = lines(&h);
    assert_eq!(
        l,
        vec![
            format!(
                "after_switch live=deployments/{DOMAIN}/{first} pwd={} rel={first} prev= path={} back=",
                base.join(&first).display(),
                base.join(&first).display()
            ),
            format!(
                "after_switch live=deployments/{DOMAIN}/{second} pwd={} rel={second} prev={first} path={} back=",
                base.join(&second).display(),
                base.join(&second).display()
            ),
        ]
    );
    // Its commands are traced into the deployment's log, under its own step.
    let id = h.list()[0]["id"].to_string();
    let log = h.ok(&["log", &id]);
    assert!(log.contains("==> after_switch\n+ "), "{log}");
}

/// A failing after_switch is a failed reload's: back to the release live before, reload again,
/// recorded failed with the hook's command; the half release is gone.
fn a_failing_after_switch_switches_back(h: Harness) {
    h.write_config("deployment_script = \"true\"");
    h.ok(&["deploy", DOMAIN]);
    let live = h.live_release().unwrap();
    let reloads = h.dir.path().join("reloads");
    h.write_config(&format!(
        "deployment_script = \"true\"\nafter_switch = '''\necho restarting\nreadlink {live_link} > {seen}\nexit 3\n'''\nserver:reload_command = \"echo reload >> {r}\"",
        live_link = h.live().display(),
        seen = h.dir.path().join("seen").display(),
        r = reloads.display(),
    ));
    let out = h.expect(&["deploy", DOMAIN], 1);
    assert!(
        out.contains("the after_switch hook failed (exit code 3) at `exit 3`; switched back to"),
        "{out}"
    );
    assert!(out.contains("!!! after_switch failed"), "{out}");
    // The hook ran while the new release was live; now the old one is again.
    let seen = std::fs::read_to_string(h.dir.path().join("seen")).unwrap();
    assert!(!seen.trim().ends_with(&live), "{seen}");
    assert_eq!(h.live_release().unwrap(), live);
    assert_eq!(h.releases(), vec![live.clone()]);
    // Reloaded for the new release, and again for the old one.
    assert_eq!(
        std::fs::read_to_string(&reloads).unwrap(),
        "reload\nreload\n"
    );
    let d = &h.list()[0];
    assert_eq!(d["status"], "failed");
    assert_eq!(crate::support::release_of(&h.active().unwrap()), live);
    assert!(!h.lock_dir().exists());
}

/// after_rollback sees the release rolled to, live; after a deploy's switch back too. Its failure
/// is a warning: the rollback is kept and flipdeck exits 0.
fn after_rollback_sees_the_rolled_to_release(h: Harness) {
    h.write_config("deployment_script = \"true\"");
    h.ok(&["deploy", DOMAIN]);
    let first = h.live_release().unwrap();
    h.ok(&["deploy", DOMAIN]);
    let second = h.live_release().unwrap();
    let second_id = h.list()[0]["id"].to_string();
    h.write_config(&format!(
        "deployment_script = \"true\"\n{}",
        recorder(&h, "after_rollback")
    ));
    let out = h.ok(&["rollback", DOMAIN]);
    assert!(out.contains("==> after_rollback"), "{out}");
    let p1 = h.base().join(&first);
    assert_eq!(
        lines(&h),
        vec![format!(
            "after_rollback live=deployments/{DOMAIN}/{first} pwd={} rel={first} prev={second} path={} back=",
            p1.display(),
            p1.display()
        )]
    );
    assert_eq!(h.live_release().unwrap(), first);
    // A deploy whose after_switch fails switches back, and after_rollback runs for the release
    // live again (FLIPDECK_SWITCHED_BACK=1), then on_failure, once each.
    std::fs::remove_file(record(&h)).unwrap();
    h.write_config(&format!(
        "deployment_script = \"true\"\n{}\n{}\nafter_switch = 'exit 4'",
        recorder(&h, "after_rollback"),
        recorder(&h, "on_failure")
    ));
    let out = h.expect(&["deploy", DOMAIN], 1);
    assert!(
        out.contains("the after_switch hook failed (exit code 4) at `exit 4`"),
        "{out}"
    );
    let l = lines(&h);
    assert_eq!(l.len(), 2, "{l:?}");
    let live_part = format!("live=deployments/{DOMAIN}/{first} pwd={}", p1.display());
    assert!(
        l[0].starts_with(&format!("after_rollback {live_part} rel={first} prev="))
            && l[0].ends_with(" back=1"),
        "{l:?}"
    );
    assert!(
        l[1].starts_with(&format!("on_failure {live_part} rel=")),
        "{l:?}"
    );
    assert!(l[1].contains(&format!(" prev={first} ")), "{l:?}");
    // A failing after_rollback: reported, the rollback kept, exit 0.
    h.write_config(
        "deployment_script = \"true\"\nafter_rollback = '''\necho about to fail\nfalse\n'''",
    );
    let out = h.ok(&["rollback", DOMAIN, "--to", &second_id]);
    assert!(
        out.contains(
            "warning: the after_rollback hook failed (exit code 1) at `false` (the rollback is kept)"
        ),
        "{out}"
    );
    assert_eq!(h.live_release().unwrap(), second);
}

/// on_failure runs once per failed deploy, after the clean-up, in the live release (the one
/// before), and never changes the deploy's outcome, even when it fails itself.
fn on_failure_runs_once_per_failed_deploy(h: Harness) {
    h.write_config("deployment_script = \"true\"");
    h.ok(&["deploy", DOMAIN]);
    let live = h.live_release().unwrap();
    let count = h.dir.path().join("failures");
    let hook = format!(
        "on_failure = '''\necho \"$FLIPDECK_FAILED_STEP $FLIPDECK_EXIT_CODE $(pwd -P) $(test -e \"$FLIPDECK_RELEASE_PATH\" && echo kept || echo gone) $FLIPDECK_RELEASE\" >> {}\n'''",
        count.display()
    );
    // A build failure.
    h.write_config(&format!("deployment_script = \"false\"\n{hook}"));
    let out = h.expect(&["deploy", DOMAIN], 1);
    assert!(out.contains("==> on_failure"), "{out}");
    // A failed health check (after the switch).
    h.write_config(&format!(
        "deployment_script = \"true\"\nhealth_check = {{ command = \"false\", retries = 1 }}\n{hook}"
    ));
    h.expect(&["deploy", DOMAIN], 1);
    // A success runs no on_failure.
    h.write_config(&format!("deployment_script = \"true\"\n{hook}"));
    h.ok(&["deploy", DOMAIN]);
    let now_live = h.live_release().unwrap();
    let text = std::fs::read_to_string(&count).unwrap();
    let l: Vec<&str> = text.lines().collect();
    assert_eq!(l.len(), 2, "{text}");
    let at = format!("1 {} gone ", h.base().join(&live).display());
    assert!(l[0].starts_with(&format!("script {at}")), "{text}");
    assert!(l[1].starts_with(&format!("health {at}")), "{text}");
    let (r0, r1) = (l[0].rsplit(' ').next(), l[1].rsplit(' ').next());
    assert!(r0 != r1 && r0 != Some(live.as_str()), "{text}");
    // An on_failure that fails: a warning; the exit code and the error are the deploy's own.
    h.write_config(
        "deployment_script = '''\necho building\nfalse\n'''\non_failure = '''\necho notifying\nexit 9\n'''",
    );
    let out = h.run(&["deploy", DOMAIN]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stdout.contains("warning: the on_failure hook failed (exit code 9) after the failure"),
        "{stdout}"
    );
    assert!(
        stdout.contains("+ exit 9"),
        "its commands are in the log: {stdout}"
    );
    assert!(stdout.contains("!!! script failed"), "{stdout}");
    assert!(
        stderr.contains("the deploy script failed (exit code 1) at `false`"),
        "{stderr}"
    );
    assert_eq!(h.live_release().unwrap(), now_live);
    assert!(!h.lock_dir().exists());
}

/// A hook is the user's own shell, run as written: quotes, command substitutions, heredocs and
/// backslashes reach sh untouched, and nothing it does reaches flipdeck's own script (its marker
/// key, its variables).
fn hostile_hook_text_runs_as_written(h: Harness) {
    let out_file = h.dir.path().join("hostile");
    let pwn = h.dir.path().join("pwned");
    let hook = r#"after_switch = '''
o=OUT
printf '%s\n' "it's \"quoted\" $(echo sub) `echo tick` \\back" > "$o"
cat >> "$o" <<'EOF'
'; touch PWN; ' $(touch PWN) $HOME
EOF
cat >> "$o" <<EOF
expanded $FLIPDECK_HOOK
EOF
echo "marker=${M:-} token=${token:-} rel=${rel_name:-} step=${cur_step:-}" >> "$o"
rel_name=/ M=x built=0 live=/tmp
echo '::flipdeck-fake:: set switched_back 1'
'''"#
        .replace("OUT", &out_file.display().to_string())
        .replace("PWN", &pwn.display().to_string());
    h.write_config(&format!("deployment_script = \"true\"\n{hook}"));
    h.ok(&["deploy", DOMAIN]);
    let got = std::fs::read_to_string(&out_file).unwrap();
    let lines: Vec<&str> = got.lines().collect();
    assert_eq!(lines[0], "it's \"quoted\" sub tick \\back", "{got}");
    assert_eq!(
        lines[1],
        format!("'; touch {p}; ' $(touch {p}) $HOME", p = pwn.display())
    );
    assert_eq!(lines[2], "expanded after_switch");
    assert_eq!(lines[3], "marker= token= rel= step=");
    assert!(!pwn.exists());
    // What it set changed nothing of the deploy's: live, recorded, unlocked.
    let rel = h.live_release().unwrap();
    assert_eq!(h.list()[0]["status"], "success");
    assert_eq!(crate::support::release_of(&h.list()[0]), rel);
    assert!(!h.lock_dir().exists());
}

/// Keys the new release's `.env.example` has and the shared `.env` lacks: a warning naming them
/// (never a value), in the log and as a typed JSON event; with `require_env = true`, a failed
/// build before the switch.
fn missing_env_keys_warn_or_fail(h: Harness) {
    h.commit(
        ".env.example",
        "APP_KEY=\nexport DB_HOST=localhost\n# COMMENTED=1\nSECRET_TOKEN=example-value\n  SPACED = 1\nAPP_KEY=again\n",
    );
    h.write_config("deployment_script = \"true\"");
    h.ok(&["deploy", DOMAIN]);
    let env = h.base().join("shared/.env");
    std::fs::write(&env, "APP_KEY=supersecretvalue\n").unwrap();
    let out = h.run(&["deploy", DOMAIN, "--json"]);
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    let events: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let e = events
        .iter()
        .find(|v| v["event"] == "env_missing")
        .unwrap_or_else(|| panic!("{stdout}"));
    assert_eq!(
        e["keys"],
        serde_json::json!(["DB_HOST", "SECRET_TOKEN", "SPACED"])
    );
    assert_eq!(e["required"], false);
    assert!(
        stdout.contains("warning: the shared .env lacks keys that the new release's .env.example has: DB_HOST, SECRET_TOKEN, SPACED"),
        "{stdout}"
    );
    let log = h.ok(&["log", &h.list()[0]["id"].to_string()]);
    assert!(log.contains("DB_HOST, SECRET_TOKEN, SPACED"), "{log}");
    for text in [&*stdout, &log] {
        assert!(!text.contains("supersecretvalue") && !text.contains("example-value"));
    }
    let live = h.live_release().unwrap();
    // require_env: a build failure, before the switch; nothing left behind.
    h.write_config("deployment_script = \"true\"\nrequire_env = true");
    let out = h.run(&["deploy", DOMAIN, "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let e: serde_json::Value = stdout
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|v| v["event"] == "env_missing")
        .unwrap_or_else(|| panic!("{stdout}"));
    assert_eq!(e["required"], true);
    assert!(
        !stdout.contains("warning: the shared .env"),
        "said once: {stdout}"
    );
    let result = stdout.lines().last().unwrap();
    assert!(
        result.contains("env failed (exit code 1): .env lacks keys that .env.example has: DB_HOST SECRET_TOKEN SPACED (require_env = true)"),
        "{result}"
    );
    assert_eq!(h.live_release().unwrap(), live);
    assert_eq!(h.releases().len(), 2, "the half release is gone");
    assert!(!h.lock_dir().exists());
    // Every key there: no warning.
    std::fs::write(&env, "APP_KEY=x\nDB_HOST=db\nSECRET_TOKEN=t\nSPACED=s\n").unwrap();
    let out = h.ok(&["deploy", DOMAIN]);
    assert!(out.contains(".env has every key of .env.example"), "{out}");
    assert!(!out.contains("warning"), "{out}");
}

/// A deploy ended by a signal (during its build, and after its switch) runs on_failure once too:
/// the deploy's exit trap or flipdeck's clean-up, never both; flipdeck's own switch back runs
/// after_rollback.
fn on_failure_runs_once_when_a_deploy_is_cancelled(h: Harness) {
    use std::time::{Duration, Instant};
    h.write_config("deployment_script = \"true\"");
    h.ok(&["deploy", DOMAIN]);
    let live = h.live_release().unwrap();
    let count = h.dir.path().join("failures");
    let hook = format!(
        "on_failure = '''\necho \"$FLIPDECK_FAILED_STEP $FLIPDECK_PREVIOUS_RELEASE\" >> {c}\n'''\nafter_rollback = '''\necho \"after_rollback $FLIPDECK_RELEASE $FLIPDECK_SWITCHED_BACK\" >> {c}\n'''",
        c = count.display()
    );
    let cancel = |config: &str, started: &dyn Fn() -> bool| {
        h.write_config(&format!("{config}\n{hook}"));
        let mut child = h.spawn(&["deploy", DOMAIN]);
        let until = Instant::now() + Duration::from_secs(30);
        while !started() {
            assert!(Instant::now() < until, "the deploy did not get there");
            std::thread::sleep(Duration::from_millis(20));
        }
        std::thread::sleep(Duration::from_millis(300));
        unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
        let until = Instant::now() + Duration::from_secs(20);
        while child.try_wait().unwrap().is_none() {
            assert!(Instant::now() < until, "the deploy did not end");
            std::thread::sleep(Duration::from_millis(50));
        }
        assert_eq!(child.wait().unwrap().code(), Some(1));
        h.wait_quiet();
        assert_eq!(h.live_release().as_deref(), Some(live.as_str()));
        assert!(!h.lock_dir().exists());
    };
    // During the build (the deploy script sleeps).
    cancel("deployment_script = \"sleep 30\"", &|| {
        h.releases().len() > 1 && h.lock_dir().exists()
    });
    // After the switch (a reload that never ends).
    cancel(
        "deployment_script = \"true\"\nserver:reload_command = \"sleep 300\"",
        &|| h.live_release().as_deref() != Some(live.as_str()),
    );
    // After the switch, flipdeck's switch back runs after_rollback for the release live again.
    let text = std::fs::read_to_string(&count).unwrap();
    assert_eq!(
        text,
        format!("script {live}\nafter_rollback {live} 1\nreload {live}\n"),
        "once per cancelled deploy"
    );
    assert_eq!(h.releases(), vec![live]);
}

/// A failing after_switch switches back while real nginx and PHP-FPM serve the site under load:
/// not one request fails, and the new release answers only during the deploy.
#[test]
fn a_failing_after_switch_switches_back_under_load_losing_no_request() {
    use crate::support::web::{Load, WebStack, free_port, get};
    use std::time::{Duration, Instant};
    let Some(stack) = WebStack::start() else {
        return;
    };
    let port = free_port();
    let h = Harness::local();
    h.commit(
        "public/index.php",
        "<?php echo basename(dirname(__DIR__)), \"\\n\";\n",
    );
    let config = |hook: &str| {
        h.write_config(&format!(
            "{}server:reload_command = \"\"\ndeployment_script = \"true\"\n{hook}",
            stack.config(port)
        ))
    };
    config("");
    let out = h.ok(&["provision", DOMAIN]);
    assert!(out.contains("written, tested, reloaded"), "{out}");
    stack.wait_for(|| get(port, "/", DOMAIN).status == 200);
    h.ok(&["deploy", DOMAIN]);
    let good = h.live_release().unwrap();
    stack.wait_for(|| get(port, "/", DOMAIN).body.trim() == good);

    let load = Load::start(port, "/", 4, Duration::from_secs(60));
    std::thread::sleep(Duration::from_millis(300));
    // The hook waits until the new release serves, then fails.
    config(&format!(
        "after_switch = '''\nfor i in 1 2 3 4 5 6 7 8 9 10; do\n  {{ curl -fsS -H 'Host: {DOMAIN}' http://127.0.0.1:{port}/ || wget -qO- --header='Host: {DOMAIN}' http://127.0.0.1:{port}/; }} | grep -qx \"$FLIPDECK_RELEASE\" && break\n  sleep 0.1\ndone\necho new release served\nexit 1\n'''"
    ));
    let start = Instant::now();
    let out = h.run(&["deploy", DOMAIN]);
    let end = Instant::now();
    load.wait_past(Duration::from_millis(200), 20);
    let samples = load.finish();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("the after_switch hook failed (exit code 1) at `exit 1`; switched back to"),
        "{stderr}"
    );
    crate::web::assert_all_ok(&samples, &stack);
    let other: Vec<&str> = samples
        .iter()
        .filter(|s| s.response.body.trim() != good)
        .map(|s| s.response.body.trim())
        .collect();
    assert!(
        samples
            .iter()
            .filter(|s| s.response.body.trim() != good)
            .all(|s| s.end > start && s.start < end),
        "another release served outside the deploy: {other:?}"
    );
    assert!(samples.iter().filter(|s| s.start > end).count() >= 20);
    println!(
        "after_switch failing under load: {} requests, 0 failed, {} served by the new release before the switch back",
        samples.len(),
        other.len()
    );
    assert_eq!(h.live_release().unwrap(), good);
    assert_eq!(get(port, "/", DOMAIN).body.trim(), good);
    assert_eq!(h.list()[0]["status"], "failed");
}

/// A fleet: every server runs after_switch after the coordinated switch; when it fails on one,
/// every server switches back (after_rollback each), and on_failure runs once on each.
#[test]
fn a_failing_after_switch_on_one_server_reverts_the_fleet() {
    let h = Harness::local();
    let Some(servers) = crate::support::two_servers(&h) else {
        return;
    };
    let site = |hooks: &str| {
        let config = crate::support::servers_config(&h, &servers, 2, |_| {
            format!(
                "\n[[servers.sites]]\ndomain = \"{DOMAIN}\"\nrepository = \"{}\"\ndeployment_script = \"true\"\n{hooks}\n\n",
                h.repo.display()
            )
        });
        std::fs::write(&h.config, config).unwrap();
    };
    site("");
    h.ok(&["provision", DOMAIN]);
    h.ok(&["deploy", DOMAIN]);
    let live = |root: &std::path::Path| std::fs::read_link(root.join(DOMAIN)).unwrap();
    let before: Vec<_> = servers.iter().map(|(_, _, r)| live(r)).collect();
    // Each server's hooks write into its own shared/; web2's after_switch fails.
    let rec = |name: &str| {
        format!(
            "{name} = '''\necho \"{name} $(readlink \"$FLIPDECK_SHARED_PATH/../../../{DOMAIN}\")\" >> \"$FLIPDECK_SHARED_PATH/hooks\"\n'''\n"
        )
    };
    std::fs::write(
        servers[1]
            .2
            .join("deployments")
            .join(DOMAIN)
            .join("shared/fail"),
        "",
    )
    .unwrap();
    site(&format!(
        "after_switch = '''\necho \"after_switch $(readlink \"$FLIPDECK_SHARED_PATH/../../../{DOMAIN}\")\" >> \"$FLIPDECK_SHARED_PATH/hooks\"\ntest ! -e \"$FLIPDECK_SHARED_PATH/fail\"\n'''\n{}{}",
        rec("after_rollback"),
        rec("on_failure")
    ));
    let out = h.run(&["deploy", DOMAIN]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(
            "failed to switch (its reload, after_switch hook or health check): switching back"
        ),
        "{stdout}"
    );
    for (i, (name, _, root)) in servers.iter().enumerate() {
        assert_eq!(live(root), before[i], "{name} is back on its release");
        let hooks =
            std::fs::read_to_string(root.join("deployments").join(DOMAIN).join("shared/hooks"))
                .unwrap();
        let l: Vec<&str> = hooks.lines().collect();
        assert_eq!(l.len(), 3, "{name}: {hooks}");
        assert!(
            l[0].starts_with("after_switch ") && !l[0].ends_with(before[i].to_str().unwrap()),
            "{name}: {hooks}"
        );
        assert_eq!(
            l[1],
            format!("after_rollback {}", before[i].display()),
            "{name}: {hooks}"
        );
        assert_eq!(
            l[2],
            format!("on_failure {}", before[i].display()),
            "{name}: {hooks}"
        );
    }
}

both!(
    after_switch_sees_the_new_release,
    a_failing_after_switch_switches_back,
    after_rollback_sees_the_rolled_to_release,
    on_failure_runs_once_per_failed_deploy,
    hostile_hook_text_runs_as_written,
    missing_env_keys_warn_or_fail,
    on_failure_runs_once_when_a_deploy_is_cancelled,
);
