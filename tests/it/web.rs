//! Zero downtime, proven under load: real nginx and PHP-FPM on 127.0.0.1 serve a site that
//! flipdeck provisions (its own nginx template) and deploys, while clients request it continuously.

use crate::support::web::{Load, Sample, WebStack, free_port, get};
use crate::support::{DOMAIN, Harness};
use std::time::{Duration, Instant};

/// Prints the release directory PHP runs from: `$realpath_root` makes that the resolved release.
const INDEX: &str = "<?php echo basename(dirname(__DIR__)), \"\\n\";\n";
/// 500 when the release has an `unhealthy` file at its top.
const HEALTH: &str = "<?php\nif (file_exists(dirname(__DIR__) . '/unhealthy')) {\n    \
                      http_response_code(500);\n    echo \"unhealthy\\n\";\n} else {\n    echo \"ok\\n\";\n}\n";
const OPCACHE: &str = "<?php $s = opcache_get_status(false);\n\
                       echo $s && $s['opcache_enabled'] ? 'on' : 'off', ' ', ini_get('opcache.validate_timestamps'), \"\\n\";\n";
/// Each release's index.php names its release in its code, so a cache serving the old compiled
/// file for the symlinked path would show up as a stale name.
const SCRIPT: &str = r#"printf '<?php echo "%s\n";\n' "$FLIPDECK_RELEASE" > public/index.php"#;

fn script_line(script: &str) -> String {
    format!("deployment_script = '''{script}'''")
}

const CLIENTS: usize = 4;
/// The spec's bound: a request starting this long after a switch must reach the new release.
const FRESH_AFTER: Duration = Duration::from_secs(1);
/// How many requests, at least, are checked against that bound after each switch.
const CHECKED: usize = 20;

/// A provisioned site served by `stack` on `port`; `extra` adds config lines.
fn site(stack: &WebStack, port: u16, extra: &str) -> Harness {
    let h = Harness::local();
    h.commit("public/index.php", INDEX);
    h.commit("public/health.php", HEALTH);
    h.commit("public/opcache.php", OPCACHE);
    h.write_config(&format!(
        "{}server:reload_command = \"\"\n{}\n{extra}",
        stack.config(port),
        script_line(SCRIPT)
    ));
    let out = h.ok(&["provision", DOMAIN]);
    assert!(out.contains("written, tested, reloaded"), "{out}");
    stack.wait_for(|| get(port, "/", DOMAIN).status == 200);
    h
}

fn body(s: &Sample) -> &str {
    s.response.body.trim()
}

/// Fails with the first bad responses and the servers' logs when any request failed.
pub(crate) fn assert_all_ok(samples: &[Sample], stack: &WebStack) {
    let bad: Vec<&Sample> = samples
        .iter()
        .filter(|s| s.response.status != 200)
        .collect();
    assert!(
        bad.is_empty(),
        "{} of {} requests failed, e.g. {:?}\n{}",
        bad.len(),
        samples.len(),
        bad.iter().take(5).map(|s| &s.response).collect::<Vec<_>>(),
        stack.logs()
    );
}

struct Switch {
    what: &'static str,
    start: Instant,
    end: Instant,
    release: String,
}

#[test]
fn twenty_deploys_and_twenty_rollbacks_under_load_lose_no_request() {
    let Some(stack) = WebStack::start() else {
        return;
    };
    let port = free_port();
    let h = site(&stack, port, "");
    assert_eq!(
        get(port, "/opcache.php", DOMAIN).body.trim(),
        "on 0",
        "opcache on, timestamps never revalidated"
    );
    let began = Instant::now();
    let load = Load::start(port, "/", CLIENTS, Duration::from_secs(150));
    let mut switches = vec![Switch {
        what: "provision",
        start: began,
        end: began,
        release: h.live_release().unwrap(),
    }];
    load.wait_past(FRESH_AFTER, CHECKED);
    for _ in 0..20 {
        for what in ["deploy", "rollback"] {
            let start = Instant::now();
            h.ok(&[what, DOMAIN]);
            let end = Instant::now();
            let release = h.live_release().unwrap();
            assert_ne!(release, switches.last().unwrap().release, "{what} switched");
            switches.push(Switch {
                what,
                start,
                end,
                release,
            });
            load.wait_past(FRESH_AFTER, CHECKED);
        }
    }
    let stopped = Instant::now();
    let samples = load.finish();
    assert_all_ok(&samples, &stack);

    // Between one switch and the next, every request that started more than 1 s after the switch
    // completed was served by the new release; the ones before that are counted.
    let (mut checked, mut stale_under_1s) = (0, 0);
    for (i, sw) in switches.iter().enumerate() {
        let next = switches.get(i + 1).map_or(stopped, |n| n.start);
        let mut in_window = 0;
        for s in samples
            .iter()
            .filter(|s| s.start > sw.end && s.start < next)
        {
            let fresh = body(s) == sw.release;
            if s.start > sw.end + FRESH_AFTER {
                assert!(
                    fresh,
                    "{} to {}: a request {:?} after it got {:?}",
                    sw.what,
                    sw.release,
                    s.start - sw.end,
                    body(s)
                );
                in_window += 1;
            } else if !fresh {
                stale_under_1s += 1;
            }
        }
        assert!(
            in_window >= CHECKED,
            "{in_window} requests checked after {} #{i}",
            sw.what
        );
        checked += in_window;
    }
    let mut latency: Vec<Duration> = samples.iter().map(|s| s.end - s.start).collect();
    latency.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let avg = |what: &str| {
        let d: Vec<f64> = switches
            .iter()
            .filter(|s| s.what == what)
            .map(|s| (s.end - s.start).as_secs_f64())
            .collect();
        d.iter().sum::<f64>() / d.len() as f64
    };
    println!(
        "zero downtime: {} requests in {:.1} s by {CLIENTS} clients, 0 failed, {} switches \
         (deploy {:.2} s, rollback {:.2} s on average); {checked} requests checked fresh, \
         {stale_under_1s} answered by the old release after a switch completed; latency p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        samples.len(),
        (stopped - began).as_secs_f64(),
        switches.len() - 1,
        avg("deploy"),
        avg("rollback"),
        ms(latency[latency.len() / 2]),
        ms(latency[latency.len() * 99 / 100]),
        ms(*latency.last().unwrap()),
    );
}

#[test]
fn failing_health_check_switches_back_while_the_site_keeps_serving() {
    let Some(stack) = WebStack::start() else {
        return;
    };
    let port = free_port();
    let hc = format!(
        "health_check = {{ url = \"http://127.0.0.1:{port}/health.php\", retries = 2, interval_s = 0, timeout_s = 2 }}"
    );
    let h = site(&stack, port, &hc);
    let initial = h.live_release().unwrap();
    let out = h.ok(&["deploy", DOMAIN]);
    assert!(
        out.contains("health check passed (attempt 1 of 2)"),
        "{out}"
    );
    let good = h.live_release().unwrap();

    let load = Load::start(port, "/", CLIENTS, Duration::from_secs(60));
    std::thread::sleep(Duration::from_millis(300));
    h.write_config(&format!(
        "{}server:reload_command = \"\"\n{}\n{hc}",
        stack.config(port),
        script_line(&format!("{SCRIPT} && touch unhealthy"))
    ));
    let start = Instant::now();
    let out = h.run(&["deploy", DOMAIN]);
    let end = Instant::now();
    load.wait_past(Duration::from_millis(200), CHECKED);
    let samples = load.finish();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    let why = format!(
        "health check failed: HTTP 500 from http://127.0.0.1:{port}/health.php (expected 200)"
    );
    assert!(
        stderr.contains(&why) && stderr.contains("switched back"),
        "{stderr}"
    );
    assert!(stdout.contains("attempt 2 of 2"), "{stdout}");

    // The site never failed; the bad release answered only while it was being checked (a
    // request is in flight from its start to its end, so that is what is compared).
    assert_all_ok(&samples, &stack);
    let bad: Vec<&Sample> = samples.iter().filter(|s| body(s) != good).collect();
    assert!(
        bad.iter().all(|s| s.end > start && s.start < end),
        "another release served outside the deploy: {:?}",
        bad.iter().map(|s| body(s)).collect::<Vec<_>>()
    );
    let after = samples.iter().filter(|s| s.start > end).count();
    assert!(after >= CHECKED, "only {after} requests after the deploy");
    println!(
        "health check: {} requests, 0 failed; {} served by the failing release during its {:.2} s deploy",
        samples.len(),
        bad.len(),
        (end - start).as_secs_f64()
    );

    // Recorded failed, removed, the previous deployment still active.
    assert_eq!(h.live_release().as_deref(), Some(good.as_str()));
    let list = h.list();
    assert_eq!(list[0]["status"], "failed");
    assert!(list[0]["deployment_path"].is_null());
    assert_eq!(h.active().unwrap()["id"], list[1]["id"]);
    assert_eq!(h.releases().len(), 2, "{:?}", h.releases());
    let log = h.ok(&["log", &list[0]["id"].to_string()]);
    assert!(log.contains(&why), "{log}");

    // A rollback checks too, and reports without undoing itself.
    std::fs::write(h.base().join(&initial).join("unhealthy"), "").unwrap();
    let out = h.ok(&["rollback", DOMAIN]);
    assert!(
        out.contains("warning: health check failed: HTTP 500") && out.contains("rollback is kept"),
        "{out}"
    );
    assert_eq!(h.live_release(), Some(initial));
}

#[test]
fn an_nginx_config_that_fails_the_test_is_never_reloaded() {
    let Some(stack) = WebStack::start() else {
        return;
    };
    let h = Harness::local();
    h.commit("public/index.php", INDEX);
    let (a, b) = (free_port(), free_port());
    let conf = stack.sites_dir.join(format!("{DOMAIN}.conf"));
    let broken = stack.sites_dir.join("broken.conf");
    let config = |port: u16| format!("{}server:reload_command = \"\"", stack.config(port));

    // No previous file: the new one is removed again.
    std::fs::write(&broken, "not_a_directive;\n").unwrap();
    h.write_config(&config(a));
    let out = h.run(&["provision", DOMAIN]);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(
        stdout.contains("unknown directive"),
        "nginx's error is shown: {stdout}"
    );
    assert!(
        stderr.contains("restored") && stderr.contains("not reloaded"),
        "{stderr}"
    );
    assert!(!conf.exists());
    assert_eq!(stack.reload_count(), 0);
    assert!(
        h.live_release().is_some(),
        "the site itself was provisioned"
    );

    std::fs::remove_file(&broken).unwrap();
    let out = h.ok(&["provision", DOMAIN]);
    assert!(out.contains("written, tested, reloaded"), "{out}");
    assert_eq!(stack.reload_count(), 1);
    stack.wait_for(|| get(a, "/", DOMAIN).status == 200);
    let before = std::fs::read_to_string(&conf).unwrap();

    // A previous file: it comes back byte for byte, and nginx keeps serving it.
    std::fs::write(&broken, "not_a_directive;\n").unwrap();
    h.write_config(&config(b));
    h.expect(&["provision", DOMAIN], 1);
    assert_eq!(std::fs::read_to_string(&conf).unwrap(), before);
    assert_eq!(stack.reload_count(), 1);
    assert_eq!(get(a, "/", DOMAIN).status, 200);
    assert_eq!(
        get(b, "/", DOMAIN).status,
        0,
        "the new port was never loaded"
    );
    let hidden: Vec<_> = std::fs::read_dir(&stack.sites_dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(hidden.is_empty(), "no temporary files left: {hidden:?}");

    std::fs::remove_file(&broken).unwrap();
    h.ok(&["provision", DOMAIN]);
    assert_eq!(stack.reload_count(), 2);
    stack.wait_for(|| get(b, "/", DOMAIN).status == 200);
    let out = h.ok(&["provision", DOMAIN]);
    assert!(out.contains("is up to date"), "{out}");
    assert_eq!(stack.reload_count(), 2, "an unchanged file is not reloaded");
}

/// No nginx needed: the check reads the FPM config the server names.
#[test]
fn provision_warns_when_a_php_fpm_reload_would_cut_requests() {
    let h = Harness::local();
    let conf = h.dir.path().join("php-fpm.conf");
    let pool = h.dir.path().join("pool.d");
    std::fs::create_dir_all(&pool).unwrap();
    std::fs::write(pool.join("www.conf"), "[www]\nlisten = /run/x.sock\n").unwrap();
    let fpm = |global: &str| {
        std::fs::write(
            &conf,
            format!("[global]\n{global}\ninclude={}/*.conf\n", pool.display()),
        )
        .unwrap();
    };
    let config = |reload: &str| {
        h.write_config(&format!(
            "server:php_fpm_config = \"{}\"\nserver:reload_command = \"{reload}\"",
            conf.display()
        ))
    };
    config("true");
    fpm(";process_control_timeout = 0");
    let out = h.ok(&["provision", DOMAIN]);
    assert!(
        out.contains("warning: process_control_timeout is not set"),
        "{out}"
    );
    fpm("process_control_timeout = 0s");
    assert!(
        h.ok(&["provision", DOMAIN])
            .contains("process_control_timeout = 0s")
    );
    fpm("process_control_timeout = 10s");
    assert!(
        !h.ok(&["provision", DOMAIN])
            .contains("process_control_timeout")
    );
    // Without a reload nothing is cut, so nothing is said.
    fpm("");
    config("");
    assert!(
        !h.ok(&["provision", DOMAIN])
            .contains("process_control_timeout")
    );
}
