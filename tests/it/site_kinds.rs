//! The other kinds of site, on real nginx: a static site and a proxy site switch under load with
//! no failed request, TLS serves https and redirects plain http, and a site's own template and
//! directives reach nginx (and `nginx -t` still guards them).

use crate::support::web::{Load, Sample, WebStack, free_port, get};
use crate::support::{DOMAIN, Harness, both, cannot_run};
use crate::web::assert_all_ok;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const CLIENTS: usize = 4;
/// A request starting this long after a switch completed must reach the new release.
const FRESH_AFTER: Duration = Duration::from_secs(1);
const CHECKED: usize = 20;

/// Each release's `dist/index.html` names the release.
const STATIC_BUILD: &str = r#"mkdir -p dist && printf '%s\n' "$FLIPDECK_RELEASE" > dist/index.html && printf 'secret\n' > dist/.secret"#;

fn body(s: &Sample) -> &str {
    s.response.body.trim()
}

/// `what` (deploy or rollback) `rounds` times each under load on `port`: no request fails, and
/// every request that starts more than [`FRESH_AFTER`] after a switch completed is answered by
/// the release it switched to. Returns (requests, switches) for the printed figures.
fn switch_under_load(h: &Harness, stack: &WebStack, port: u16, rounds: usize) -> (usize, usize) {
    let load = Load::start(port, "/", CLIENTS, Duration::from_secs(150));
    load.wait_past(Duration::from_millis(200), CHECKED);
    // (started, completed, release)
    let mut switches: Vec<(Instant, Instant, String)> = Vec::new();
    for _ in 0..rounds {
        for what in ["deploy", "rollback"] {
            let before = h.live_release();
            let start = Instant::now();
            h.ok(&[what, DOMAIN]);
            let release = h.live_release().unwrap();
            assert_ne!(Some(&release), before.as_ref(), "{what} switched");
            switches.push((start, Instant::now(), release));
            load.wait_past(FRESH_AFTER, CHECKED);
        }
    }
    let stopped = Instant::now();
    let samples = load.finish();
    assert_all_ok(&samples, stack);
    for (i, (_, end, release)) in switches.iter().enumerate() {
        let next = switches.get(i + 1).map_or(stopped, |n| n.0);
        let fresh: Vec<&Sample> = samples
            .iter()
            .filter(|s| s.start > *end + FRESH_AFTER && s.start < next)
            .collect();
        assert!(
            fresh.len() >= CHECKED,
            "{} checked after switch #{i}",
            fresh.len()
        );
        for s in fresh {
            assert_eq!(body(s), release, "switch #{i}: a request after it");
        }
    }
    (samples.len(), switches.len())
}

#[test]
fn a_static_site_switches_under_load_with_no_failed_request() {
    let Some(stack) = WebStack::start() else {
        return;
    };
    let port = free_port();
    let h = Harness::local();
    h.write_config(&format!(
        "{}kind = \"static\"\nweb_root = \"dist\"\ndeployment_script = '''{STATIC_BUILD}'''",
        stack.nginx_config(port)
    ));
    let out = h.ok(&["provision", DOMAIN]);
    assert!(out.contains("written, tested, reloaded"), "{out}");
    // Provisioning's first release runs no deploy script, so it has no dist/ yet.
    h.ok(&["deploy", DOMAIN]);
    let conf = std::fs::read_to_string(stack.sites_dir.join(format!("{DOMAIN}.conf"))).unwrap();
    assert!(
        conf.contains(&format!("root {}/dist;", h.live().display())) && !conf.contains("fastcgi"),
        "{conf}"
    );
    stack.wait_for(|| get(port, "/", DOMAIN).status == 200);
    assert_eq!(
        get(port, "/", DOMAIN).body.trim(),
        h.live_release().unwrap()
    );
    // Only the web root is served: not the release's deployment.log, not a dotfile.
    assert_eq!(get(port, "/deployment.log", DOMAIN).status, 404);
    assert_eq!(get(port, "/../deployment.log", DOMAIN).status, 400);
    assert_eq!(get(port, "/.secret", DOMAIN).status, 403);

    let began = Instant::now();
    let (requests, switches) = switch_under_load(&h, &stack, port, 6);
    println!(
        "static site: {requests} requests in {:.1} s by {CLIENTS} clients, 0 failed, {switches} switches",
        began.elapsed().as_secs_f64()
    );
    assert_eq!(
        stack.reload_count(),
        1,
        "nginx is reloaded only by provision"
    );
}

/// `openssl`, or `None` (after saying what to install) outside CI.
fn self_signed(dir: &Path) -> Option<(String, String)> {
    if Command::new("openssl").arg("version").output().is_err() {
        cannot_run(
            "openssl is missing in CI (apt-get install openssl)",
            "install openssl",
        );
        return None;
    }
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let out = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        ])
        .arg("-subj")
        .arg(format!("/CN={DOMAIN}"))
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some((cert.display().to_string(), key.display().to_string()))
}

/// curl's answer: `-w` output after the body.
fn curl(args: &[&str]) -> String {
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "10"])
        .args(args)
        .output()
        .expect("curl runs");
    assert!(
        out.status.success(),
        "curl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn nginx_version() -> Option<(u32, u32, u32)> {
    let out = ["nginx", "/usr/sbin/nginx"]
        .iter()
        .find_map(|b| Command::new(b).arg("-v").output().ok())?;
    let text = String::from_utf8_lossy(&out.stderr);
    let v = text.trim().rsplit('/').next()?;
    let mut n = v.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    Some((n.next()?, n.next().unwrap_or(0), n.next().unwrap_or(0)))
}

/// Over both transports: the http2 choice reads `nginx -v` in the login's own environment.
fn tls_serves_https_with_http2_and_plain_http_redirects_to_it(h: Harness) {
    let Some(stack) = WebStack::start() else {
        return;
    };
    let Some((cert, key)) = self_signed(stack.dir.path()) else {
        return;
    };
    let (http, https) = (free_port(), free_port());
    h.write_config(&format!(
        "{}kind = \"static\"\nweb_root = \"dist\"\ndeployment_script = '''{STATIC_BUILD}'''\n\
         ssl_certificate = \"{cert}\"\nssl_certificate_key = \"{key}\"\nssl_listen = \"127.0.0.1:{https}\"",
        stack.nginx_config(http)
    ));
    let out = h.ok(&["provision", DOMAIN]);
    assert!(out.contains("written, tested, reloaded"), "{out}");
    // Provisioning's first release runs no deploy script, so it has no dist/ yet.
    h.ok(&["deploy", DOMAIN]);
    assert!(!out.contains("http2 is off"), "{out}");
    let conf = std::fs::read_to_string(stack.sites_dir.join(format!("{DOMAIN}.conf"))).unwrap();
    assert!(
        !conf.contains("@flipdeck"),
        "every http2 marker was replaced:\n{conf}"
    );
    let v = nginx_version().expect("nginx -v");
    if v >= (1, 25, 1) {
        assert!(
            conf.contains(&format!("listen 127.0.0.1:{https} ssl;\n    http2 on;")),
            "{conf}"
        );
    } else {
        assert!(
            conf.contains(&format!(
                "listen 127.0.0.1:{https} ssl http2;\n    server_name"
            )),
            "{conf}"
        );
    }
    let live = h.live_release().unwrap();
    let resolve = format!("{DOMAIN}:{https}:127.0.0.1");
    let url = format!("https://{DOMAIN}:{https}/");
    stack.wait_for(|| {
        Command::new("curl")
            .args(["-ksf", "--resolve", &resolve, &url])
            .output()
            .is_ok_and(|o| o.status.success())
    });
    let got = curl(&["-k", "--resolve", &resolve, "-w", "|%{http_version}", &url]);
    assert_eq!(got, format!("{live}\n|2"), "served over http2 with TLS");
    // The certificate is the one configured: verification against it succeeds.
    let got = curl(&["--cacert", &cert, "--resolve", &resolve, &url]);
    assert_eq!(got.trim(), live);

    // Plain http answers with a redirect to the https port, path and query kept.
    let got = curl(&[
        "-o",
        "/dev/null",
        "-w",
        "%{http_code} %{redirect_url}",
        "-H",
        &format!("Host: {DOMAIN}"),
        &format!("http://127.0.0.1:{http}/a/b?c=1"),
    ]);
    assert_eq!(got, format!("301 https://{DOMAIN}:{https}/a/b?c=1"));
    let got = curl(&[
        "-kL",
        "--resolve",
        &format!("{DOMAIN}:{http}:127.0.0.1"),
        "--resolve",
        &resolve,
        &format!("http://{DOMAIN}:{http}/"),
    ]);
    assert_eq!(got.trim(), live, "following the redirect reaches the site");
    // An unchanged config is neither rewritten nor reloaded, http2 included.
    let out = h.ok(&["provision", DOMAIN]);
    assert!(out.contains("is up to date"), "{out}");
}

both!(tls_serves_https_with_http2_and_plain_http_redirects_to_it);

#[test]
fn an_own_template_and_directives_reach_nginx_and_nginx_t_still_guards_them() {
    let Some(stack) = WebStack::start() else {
        return;
    };
    let port = free_port();
    let h = Harness::local();
    let template = h.dir.path().join("site.conf");
    std::fs::write(
        &template,
        "server {\n    listen {{listen}};\n    server_name {{domain}};\n    root {{root}};\n    \
         add_header X-Site-Kind {{kind}};\n    location / {\n        try_files $uri /index.html;\n    }\n    \
         {{directives}}\n}\n",
    )
    .unwrap();
    let config = |directives: &str| {
        h.write_config(&format!(
            "{}kind = \"static\"\nweb_root = \"dist\"\ndeployment_script = '''{STATIC_BUILD}'''\n\
             nginx_template = \"site.conf\"\nnginx_directives = {directives}",
            stack.nginx_config(port)
        ))
    };
    config(r#"["location = /ping {\n    return 200 \"pong\\n\";\n}", 'client_max_body_size 1m;']"#);
    let out = h.ok(&["provision", DOMAIN]);
    assert!(out.contains("written, tested, reloaded"), "{out}");
    // Provisioning's first release runs no deploy script, so it has no dist/ yet.
    h.ok(&["deploy", DOMAIN]);
    let conf_path = stack.sites_dir.join(format!("{DOMAIN}.conf"));
    let conf = std::fs::read_to_string(&conf_path).unwrap();
    assert!(
        conf.starts_with(&format!(
            "# Generated by flipdeck {} for {DOMAIN} (kind static) from the template site.conf.\n",
            env!("CARGO_PKG_VERSION")
        )),
        "{conf}"
    );
    stack.wait_for(|| get(port, "/ping", DOMAIN).status == 200);
    assert_eq!(get(port, "/ping", DOMAIN).body, "pong\n");
    // The template's fallback: any path is the release's page.
    let live = h.live_release().unwrap();
    assert_eq!(get(port, "/some/route", DOMAIN).body.trim(), live);
    let head = curl(&[
        "-sI",
        "-H",
        &format!("Host: {DOMAIN}"),
        &format!("http://127.0.0.1:{port}/"),
    ]);
    assert!(
        head.to_ascii_lowercase().contains("x-site-kind: static"),
        "{head}"
    );

    // A directive nginx refuses passes flipdeck's shape check but not `nginx -t`: the old file
    // stays, nginx is not reloaded.
    config("['client_max_body_size banana;']");
    let out = h.run(&["provision", DOMAIN]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("restored") && stderr.contains("not reloaded"),
        "{stderr}"
    );
    assert_eq!(std::fs::read_to_string(&conf_path).unwrap(), conf);
    assert_eq!(stack.reload_count(), 1);
    assert_eq!(get(port, "/ping", DOMAIN).body, "pong\n");

    // An unknown placeholder is a config error naming it (exit 2), before anything runs.
    std::fs::write(
        &template,
        "server { listen {{listen}}; {{directives}} {{docroot}} }\n",
    )
    .unwrap();
    let out = h.run(&["provision", DOMAIN]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("nginx_template") && stderr.contains("unknown placeholder {{docroot}}"),
        "{stderr}"
    );
    assert_eq!(std::fs::read_to_string(&conf_path).unwrap(), conf);
}

/// The release's service: PHP's built-in server answering with the release's name (its
/// `public/` resolved, so the name is the release directory's).
const SERVICE_INDEX: &str = "<?php echo basename(dirname(__DIR__)), \"\\n\";\n";

/// The site's restart script, run by after_switch and after_rollback in the live release: the
/// two-slot pattern the README describes. It starts the live release's service on the slot that
/// is free, waits until it answers, and only then stops the other slot's; nginx's upstream lists
/// both ports, so a request always finds one that accepts it. Outside flipdeck's job
/// (`env -u FLIPDECK_JOB`, its own session), as a service manager would run it.
fn restart_script(ports: [u16; 2]) -> String {
    format!(
        r#"#!/bin/sh
set -eu
run="$FLIPDECK_SHARED_PATH/run"
mkdir -p "$run"
alive() {{ [ -f "$run/$1.pid" ] && kill -0 "$(cat "$run/$1.pid")" 2>/dev/null; }}
if alive a; then new=b old=a port={b}; else new=a old=b port={a}; fi
PHP_CLI_SERVER_WORKERS=4 env -u FLIPDECK_JOB setsid php -S "127.0.0.1:$port" -t "$PWD/public" \
  >"$run/$new.log" 2>&1 </dev/null &
echo $! > "$run/$new.pid"
i=0
until curl -fsS --max-time 2 -o /dev/null "http://127.0.0.1:$port/"; do
  i=$((i + 1))
  if [ $i -ge 100 ]; then kill -TERM -"$(cat "$run/$new.pid")"; echo "the new service never answered" >&2; exit 1; fi
  sleep 0.1
done
if alive $old; then
  pid=$(cat "$run/$old.pid")
  kill -TERM -"$pid"
  # Gone before this deploy ends, so the next one finds that port free.
  i=0
  while kill -0 -"$pid" 2>/dev/null && [ $i -lt 200 ]; do i=$((i + 1)); sleep 0.05; done
fi
rm -f "$run/$old.pid"
echo "service of $FLIPDECK_RELEASE on port $port"
"#,
        a = ports[0],
        b = ports[1]
    )
}

/// The request headers the service received, one `name=value` a line.
const HEADERS: &str = "<?php foreach (['host', 'x-forwarded-proto', 'x-forwarded-for', 'x-real-ip', \
                       'x-forwarded-port', 'connection', 'upgrade'] as $h) {\n    \
                       $v = $_SERVER['HTTP_' . strtoupper(str_replace('-', '_', $h))] ?? '';\n    \
                       echo $h, '=', $v, \"\\n\";\n}\n";

/// Stops the services the restart script left running (each is its own process group).
struct Services(std::path::PathBuf);

impl Drop for Services {
    fn drop(&mut self) {
        for slot in ["a", "b"] {
            if let Ok(pid) = std::fs::read_to_string(self.0.join(format!("{slot}.pid")))
                && let Ok(pid) = pid.trim().parse::<i32>()
            {
                // SAFETY: a plain syscall on the test's own process group.
                unsafe { libc::kill(-pid, libc::SIGKILL) };
            }
        }
    }
}

#[test]
fn a_proxy_site_restarts_its_service_under_load_with_no_failed_request() {
    let Some(stack) = WebStack::start() else {
        return;
    };
    let (port, slots) = (free_port(), [free_port(), free_port()]);
    let h = Harness::local();
    h.commit("public/index.php", SERVICE_INDEX);
    h.commit("bin/restart", &restart_script(slots));
    h.commit("public/headers.php", HEADERS);
    let _services = Services(h.base().join("shared/run"));
    h.write_config(&format!(
        "{}kind = \"proxy\"\nupstream = [\"127.0.0.1:{}\", \"127.0.0.1:{}\"]\n\
         after_switch = \"sh bin/restart\"\nafter_rollback = \"sh bin/restart\"",
        stack.nginx_config(port),
        slots[0],
        slots[1]
    ));
    let out = h.ok(&["provision", DOMAIN]);
    assert!(out.contains("written, tested, reloaded"), "{out}");
    let conf = std::fs::read_to_string(stack.sites_dir.join(format!("{DOMAIN}.conf"))).unwrap();
    assert!(
        conf.contains(&format!(
            "upstream flipdeck.{DOMAIN} {{\n    server 127.0.0.1:{} max_fails=0;\n    server 127.0.0.1:{} max_fails=0;\n}}",
            slots[0], slots[1]
        )),
        "{conf}"
    );
    // Provisioning's first release runs no hook; the first deploy starts the service.
    let out = h.ok(&["deploy", DOMAIN]);
    let live = h.live_release().unwrap();
    assert!(
        out.contains(&format!("service of {live} on port {}", slots[0])),
        "{out}"
    );
    stack.wait_for(|| get(port, "/", DOMAIN).status == 200);
    assert_eq!(get(port, "/", DOMAIN).body.trim(), live);

    let began = Instant::now();
    let (requests, switches) = switch_under_load(&h, &stack, port, 6);
    println!(
        "proxy site: {requests} requests in {:.1} s by {CLIENTS} clients, 0 failed, {switches} \
         switches, each restarting the service on the other port",
        began.elapsed().as_secs_f64()
    );
    // What the service is told: the client's host and address, the scheme, and a WebSocket
    // handshake's Upgrade with `Connection: upgrade` (`close` for any other request).
    let seen = |extra: &[&str]| {
        let host = format!("Host: {DOMAIN}");
        let url = format!("http://127.0.0.1:{port}/headers.php");
        let mut args = vec!["-H", host.as_str()];
        args.extend_from_slice(extra);
        args.push(&url);
        curl(&args)
    };
    let plain = seen(&[]);
    for want in [
        &format!("host={DOMAIN}"),
        "x-forwarded-proto=http",
        "x-forwarded-for=127.0.0.1",
        "x-real-ip=127.0.0.1",
        &format!("x-forwarded-port={port}"),
        "connection=close",
        "upgrade=",
    ] {
        assert!(plain.lines().any(|l| l == want), "{want}\n{plain}");
    }
    let ws = seen(&["-H", "Upgrade: websocket", "-H", "Connection: Upgrade"]);
    for want in ["upgrade=websocket", "connection=upgrade"] {
        assert!(ws.lines().any(|l| l == want), "{want}\n{ws}");
    }

    // One service runs, the live release's.
    let run = h.base().join("shared/run");
    let pids: Vec<_> = ["a", "b"]
        .iter()
        .filter(|s| run.join(format!("{s}.pid")).exists())
        .collect();
    assert_eq!(pids.len(), 1, "{pids:?}");
}

/// What the two slots are for: the same service restarted in place on one port (stop, then
/// start, as a plain `systemctl restart` does) leaves a moment when nothing listens, and nginx
/// answers 502 to the requests that arrive then.
#[test]
fn a_proxy_service_restarted_in_place_on_one_port_drops_requests() {
    let Some(stack) = WebStack::start() else {
        return;
    };
    let (port, slot) = (free_port(), free_port());
    let h = Harness::local();
    h.commit("public/index.php", SERVICE_INDEX);
    h.commit(
        "bin/restart",
        &format!(
            r#"#!/bin/sh
set -eu
run="$FLIPDECK_SHARED_PATH/run"
mkdir -p "$run"
# Stop, wait until it is gone (its port free), then start: a restart in place.
if [ -f "$run/a.pid" ]; then
  old=$(cat "$run/a.pid")
  kill -TERM -"$old" || true
  i=0
  while kill -0 -"$old" 2>/dev/null; do
    i=$((i + 1))
    if [ $i -ge 200 ]; then kill -KILL -"$old" || true; fi
    sleep 0.05
  done
fi
PHP_CLI_SERVER_WORKERS=4 env -u FLIPDECK_JOB setsid php -S 127.0.0.1:{slot} -t "$PWD/public" \
  >"$run/a.log" 2>&1 </dev/null &
echo $! > "$run/a.pid"
i=0
until curl -fsS --max-time 2 -o /dev/null http://127.0.0.1:{slot}/; do
  i=$((i + 1))
  if [ $i -ge 200 ]; then echo "the service never answered: $(cat "$run/a.log")" >&2; exit 1; fi
  sleep 0.1
done
"#
        ),
    );
    let _services = Services(h.base().join("shared/run"));
    let config = |hook: &str| {
        h.write_config(&format!(
            "{}kind = \"proxy\"\nupstream = \"127.0.0.1:{slot}\"\n{hook}",
            stack.nginx_config(port),
        ))
    };
    // Without a restart, nothing would ever run the new release: provision says so.
    config("");
    let out = h.ok(&["provision", DOMAIN]);
    assert!(
        out.contains("warning: kind = \"proxy\" without after_switch"),
        "{out}"
    );
    config("after_switch = \"sh bin/restart\"");
    assert!(
        !h.ok(&["provision", DOMAIN])
            .contains("without after_switch")
    );
    h.ok(&["deploy", DOMAIN]);
    stack.wait_for(|| get(port, "/", DOMAIN).status == 200);
    let load = Load::start(port, "/", CLIENTS, Duration::from_secs(60));
    load.wait_past(Duration::from_millis(200), CHECKED);
    for _ in 0..4 {
        h.ok(&["deploy", DOMAIN]);
        load.wait_past(Duration::from_millis(200), CHECKED);
    }
    let samples = load.finish();
    let failed = samples.iter().filter(|s| s.response.status != 200).count();
    let bad_gateway = samples.iter().filter(|s| s.response.status == 502).count();
    println!(
        "proxy site restarted in place: {failed} of {} requests failed over 4 restarts ({bad_gateway} of them 502)",
        samples.len()
    );
    assert!(failed > 0, "a restart on one port went unnoticed");
    assert_eq!(failed, bad_gateway, "nginx answered each of them with 502");
}
