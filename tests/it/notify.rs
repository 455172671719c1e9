//! `[[notify]]` webhooks, received by a real HTTP server on loopback (a std TcpListener thread in
//! the test): one well-formed payload per event and format, retries, and a server that fails or
//! hangs changing neither the exit code nor the exit time beyond the block's timeout.

use crate::support::{DOMAIN, Harness, both};
use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How the test server answers each request, in order; the last one repeats.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Answer {
    Status(u16),
    /// Accept, read the request, and never answer (the connection stays open).
    Hang,
}

/// One request the server got.
#[derive(Debug, Clone)]
struct Got {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Value,
}

impl Got {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

struct Hook {
    port: u16,
    got: Arc<Mutex<Vec<Got>>>,
}

impl Hook {
    fn start(answers: Vec<Answer>) -> Hook {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let got = Arc::new(Mutex::new(Vec::new()));
        let seen = got.clone();
        std::thread::spawn(move || {
            let mut held = Vec::new();
            for (n, stream) in listener.incoming().enumerate() {
                let Ok(mut stream) = stream else { continue };
                let Some(req) = read_request(&mut stream) else {
                    continue;
                };
                seen.lock().unwrap().push(req);
                match answers[n.min(answers.len() - 1)] {
                    Answer::Hang => held.push(stream),
                    Answer::Status(code) => {
                        let _ = write!(
                            stream,
                            "HTTP/1.1 {code} X\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
                        );
                    }
                }
            }
        });
        Hook { port, got }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn got(&self) -> Vec<Got> {
        self.got.lock().unwrap().clone()
    }

    /// The one new request since `before` requests, waiting a little for it.
    fn one_after(&self, before: usize) -> Got {
        let got = self.got();
        assert_eq!(got.len(), before + 1, "one request per outcome: {got:#?}");
        got[before].clone()
    }
}

fn read_request(stream: &mut TcpStream) -> Option<Got> {
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    let mut r = BufReader::new(stream.try_clone().ok()?);
    let mut line = String::new();
    r.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next()?.to_string(), parts.next()?.to_string());
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        r.read_line(&mut h).ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (k, v) = h.split_once(':')?;
        headers.push((k.trim().to_string(), v.trim().to_string()));
    }
    let len: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))?
        .1
        .parse()
        .ok()?;
    let mut body = vec![0; len];
    r.read_exact(&mut body).ok()?;
    Some(Got {
        method,
        path,
        headers,
        body: serde_json::from_slice(&body).expect("the payload is JSON"),
    })
}

/// The harness's config with `site` keys, `top` keys before the servers and `notify` blocks.
fn configure(h: &Harness, site: &str, top: &str, notify: &str) {
    h.write_config(site);
    let text = std::fs::read_to_string(&h.config).unwrap();
    std::fs::write(&h.config, format!("{top}\n{text}\n{notify}")).unwrap();
}

fn block(url: &str, format: &str, extra: &str) -> String {
    format!("[[notify]]\nurl = \"{url}\"\nformat = \"{format}\"\n{extra}\n")
}

fn both_streams(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

const HEALTH: &str = "health_check = { command = \"test ! -e unhealthy\", retries = 1 }";
const SECRET: &str = "sk_live_abc123";

/// The JSON payload's fields, one by one, against the history.
fn check_json(g: &Got, event: &str, action: &str, status: &str, d: &Value) {
    let b = &g.body;
    assert_eq!(b["event"], event, "{b:#}");
    assert_eq!(b["action"], action, "{b:#}");
    assert_eq!(b["status"], status, "{b:#}");
    assert_eq!(b["site"], format!("web1/{DOMAIN}"));
    assert_eq!(b["domain"], DOMAIN);
    assert_eq!(b["server"], "web1");
    assert_eq!(b["stage"], Value::Null);
    assert_eq!(b["deployment_id"], d["id"], "{b:#}");
    assert_eq!(b["commit"], d["commit_sha"], "{b:#}");
    assert_eq!(b["branch"], "main");
    let op = b["operator"].as_str().unwrap();
    assert!(op.contains('@') && !op.starts_with('@'), "{op}");
    for t in ["started_at", "finished_at"] {
        chrono::DateTime::parse_from_rfc3339(b[t].as_str().unwrap()).expect(t);
    }
    assert!(b["duration_ms"].as_i64().unwrap() >= 0);
    let text = b["text"].as_str().unwrap();
    assert!(text.contains(DOMAIN) && text.contains("web1"), "{text}");
    if status == "success" && event != "health" {
        assert_eq!(b["error"], Value::Null);
    } else {
        assert!(b["error"].as_str().is_some_and(|e| !e.is_empty()), "{b:#}");
    }
}

/// Slack's and Discord's payloads carry the same facts, as fields.
fn check_chat(slack: &Got, discord: &Got, json: &Got) {
    let want_text = json.body["text"].as_str().unwrap();
    let s = &slack.body;
    assert_eq!(s["text"], want_text, "{s:#}");
    let a = &s["attachments"][0];
    let colour = match json.body["event"].as_str().unwrap() {
        "failure" => "danger",
        "health" => "warning",
        _ => "good",
    };
    assert_eq!(a["color"], colour, "{s:#}");
    let field = |fields: &Value, key: &str, name: &str| -> Option<String> {
        fields
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f[key] == name)
            .map(|f| f["value"].as_str().unwrap().to_string())
    };
    assert_eq!(
        field(&a["fields"], "title", "Site").as_deref(),
        Some(DOMAIN)
    );
    assert_eq!(
        field(&a["fields"], "title", "Server").as_deref(),
        Some("web1")
    );
    assert_eq!(
        field(&a["fields"], "title", "Release"),
        json.body["release"].as_str().map(str::to_string)
    );
    let d = &discord.body;
    assert_eq!(d["content"], want_text, "{d:#}");
    assert_eq!(d["allowed_mentions"]["parse"], serde_json::json!([]));
    let e = &d["embeds"][0];
    assert!(e["color"].as_u64().is_some());
    assert_eq!(field(&e["fields"], "name", "Site").as_deref(), Some(DOMAIN));
    assert_eq!(
        field(&e["fields"], "name", "Release"),
        json.body["release"].as_str().map(str::to_string)
    );
    chrono::DateTime::parse_from_rfc3339(e["timestamp"].as_str().unwrap()).unwrap();
    let has_error = json.body["error"].is_string();
    assert_eq!(field(&a["fields"], "title", "Error").is_some(), has_error);
    assert_eq!(field(&e["fields"], "name", "Error").is_some(), has_error);
    for g in [slack, discord, json] {
        assert_eq!(g.method, "POST");
        assert_eq!(g.header("content-type"), Some("application/json"));
        assert!(g.header("user-agent").unwrap().starts_with("flipdeck/"));
    }
}

/// Each event (deploy, rollback, health after a deploy and after a rollback, failure of both)
/// reaches a JSON, a Slack and a Discord webhook once, well formed, redacted.
#[test]
fn one_payload_per_event_and_format() {
    let h = Harness::local();
    let (json, slack, discord) = (
        Hook::start(vec![Answer::Status(200)]),
        Hook::start(vec![Answer::Status(204)]),
        Hook::start(vec![Answer::Status(200)]),
    );
    let blocks = [
        block(
            &json.url("/hook/json"),
            "json",
            &format!("headers = {{ Authorization = \"Bearer {SECRET}x\" }}"),
        ),
        block(&slack.url("/services/T0/B0/tok"), "slack", ""),
        block(&discord.url("/api/webhooks/1/tok"), "discord", ""),
    ]
    .concat();
    let top = "redact = [\"sk_live_[a-z0-9]+\"]".to_string();
    let script = |s: &str| format!("deployment_script = \"{s}\"\n{HEALTH}");
    configure(&h, &script("true"), &top, &blocks);
    h.ok(&["provision", DOMAIN]);
    assert!(json.got().is_empty(), "provisioning is no deploy");

    // The events in order, each checked in all three formats against the history.
    let mut n = 0;
    let mut expect = |event: &str, action: &str, status: &str, d: &Value| {
        let (j, s, di) = (json.one_after(n), slack.one_after(n), discord.one_after(n));
        check_json(&j, event, action, status, d);
        check_chat(&s, &di, &j);
        for g in [&j, &s, &di] {
            assert!(!g.body.to_string().contains(SECRET), "{:#}", g.body);
        }
        assert_eq!(j.path, "/hook/json");
        assert_eq!(
            j.header("authorization"),
            Some(&*format!("Bearer {SECRET}x"))
        );
        n += 1;
        j.body
    };

    h.ok(&["deploy", DOMAIN]);
    let first = h.list()[0].clone();
    let b = expect("deploy", "deploy", "success", &first);
    assert_eq!(b["release"], crate::support::release_of(&first));
    assert!(
        b["text"]
            .as_str()
            .unwrap()
            .contains("deployed example.com on web1")
    );

    h.commit("public/index.php", "<?php echo 'v2';\n");
    h.ok(&["deploy", DOMAIN]);
    let second = h.list()[0].clone();
    expect("deploy", "deploy", "success", &second);

    h.ok(&["rollback", DOMAIN]);
    let b = expect("rollback", "rollback", "success", &first);
    assert_eq!(b["release"], crate::support::release_of(&first));
    assert_eq!(b["from_release"], crate::support::release_of(&second));

    // A deploy whose health check fails is switched back: `health` (and a failure).
    configure(&h, &script("touch unhealthy"), &top, &blocks);
    h.expect(&["deploy", DOMAIN], 1);
    let failed = h.list()[0].clone();
    let b = expect("health", "deploy", "failed", &failed);
    assert!(
        b["error"]
            .as_str()
            .unwrap()
            .starts_with("health check failed"),
        "{b:#}"
    );

    // A rollback whose health check fails is kept: `health`, status success.
    configure(
        &h,
        "deployment_script = \"true\"\nhealth_check = { command = \"exit 3\", retries = 1 }",
        &top,
        &blocks,
    );
    h.ok(&["rollback", DOMAIN, "--to", &second["id"].to_string()]);
    let b = expect("health", "rollback", "success", &second);
    assert!(b["error"].as_str().unwrap().contains("health check failed"));

    // A build that fails: `failure`, its error redacted.
    configure(
        &h,
        &script(&format!("test {SECRET} = nothing")),
        &top,
        &blocks,
    );
    h.expect(&["deploy", DOMAIN], 1);
    let failed = h.list()[0].clone();
    let b = expect("failure", "deploy", "failed", &failed);
    let error = b["error"].as_str().unwrap();
    assert!(error.contains("[redacted]"), "{error}");

    // A rollback that fails: `failure`.
    configure(&h, &script("true"), &top, &blocks);
    h.expect(&["rollback", DOMAIN, "--to", &failed["id"].to_string()], 1);
    let got = json.got();
    assert_eq!(got.len(), n + 1);
    let b = &got[n].body;
    assert_eq!(
        (&b["event"], &b["action"], &b["status"]),
        (&"failure".into(), &"rollback".into(), &"failed".into())
    );
    assert!(b["error"].as_str().unwrap().contains("failed"), "{b:#}");
}

/// `on` and `sites` choose what a block is sent; every block is sent once per outcome.
#[test]
fn blocks_get_only_their_events_and_sites() {
    let h = Harness::local();
    let (failures, other_site) = (
        Hook::start(vec![Answer::Status(200)]),
        Hook::start(vec![Answer::Status(200)]),
    );
    let blocks = [
        block(
            &failures.url("/f"),
            "json",
            "on = [\"failure\", \"health\"]",
        ),
        block(
            &other_site.url("/o"),
            "json",
            "sites = [\"web1/example.com\"]\non = [\"rollback\"]",
        ),
    ]
    .concat();
    configure(
        &h,
        &format!("deployment_script = \"true\"\n{HEALTH}"),
        "",
        &blocks,
    );
    h.ok(&["deploy", DOMAIN]);
    assert!(failures.got().is_empty() && other_site.got().is_empty());
    configure(
        &h,
        &format!("deployment_script = \"touch unhealthy\"\n{HEALTH}"),
        "",
        &blocks,
    );
    h.expect(&["deploy", DOMAIN], 1);
    // health and failure both match: one message.
    assert_eq!(failures.got().len(), 1);
    assert_eq!(failures.got()[0].body["event"], "health");
    assert!(other_site.got().is_empty());
}

/// A server answering 500 and then 200 gets the notification on the second attempt: no
/// warning, and the history records it sent.
fn retried_until_it_arrives(h: Harness) {
    let hook = Hook::start(vec![Answer::Status(500), Answer::Status(200)]);
    configure(
        &h,
        "deployment_script = \"true\"",
        "",
        &block(&hook.url("/h"), "json", "timeout_s = 10"),
    );
    let out = h.run(&["deploy", DOMAIN]);
    assert_eq!(out.status.code(), Some(0), "{}", both_streams(&out));
    let all = both_streams(&out);
    assert!(!all.contains("notification"), "{all}");
    let got = hook.got();
    assert_eq!(got.len(), 2, "{got:#?}");
    assert_eq!(got[0].body, got[1].body, "the same payload again");
    let id = h.list()[0]["id"].to_string();
    let log = h.ok(&["log", &id]);
    assert!(
        log.contains("notification of the deploy (deploy) to notify[0] (http://127.0.0.1:")
            && log.contains("sent after 2 attempt(s)"),
        "{log}"
    );
}

both!(retried_until_it_arrives);

/// A server that answers 500 always, or accepts and never answers: the deploy exits with its own
/// code within the timeout (plus a margin for a loaded machine), the warning is one line, the
/// history records the failure, and the webhook's secret path is never shown.
#[test]
fn failing_or_hanging_servers_neither_delay_nor_change_the_exit() {
    let h = Harness::local();
    configure(&h, "deployment_script = \"true\"", "", "");
    h.ok(&["provision", DOMAIN]);
    // What a deploy takes here without notifications, the reference for the bound.
    let t = Instant::now();
    h.ok(&["deploy", DOMAIN]);
    let plain = t.elapsed();
    let timeout = Duration::from_secs(2);
    let margin = Duration::from_secs(4) + plain * 2;
    for (answers, script, code) in [
        (vec![Answer::Status(500)], "true", 0),
        (vec![Answer::Hang], "true", 0),
        (vec![Answer::Hang], "false", 1),
    ] {
        let hook = Hook::start(answers.clone());
        configure(
            &h,
            &format!("deployment_script = \"{script}\""),
            "",
            &block(&hook.url("/hook/SECRETPATH"), "slack", "timeout_s = 2"),
        );
        let t = Instant::now();
        let out = h.run(&["deploy", DOMAIN]);
        let took = t.elapsed();
        let all = both_streams(&out);
        println!(
            "{answers:?}, script {script}: exit {code} after {took:?} (plain deploy {plain:?})"
        );
        assert_eq!(out.status.code(), Some(code), "{all}");
        assert!(
            took <= timeout + margin,
            "took {took:?}, more than the timeout {timeout:?} + {margin:?}: {all}"
        );
        assert_eq!(
            all.matches("notification to notify[0]").count(),
            1,
            "one warning: {all}"
        );
        assert!(all.contains("; the deploy's outcome stands"), "{all}");
        let got = hook.got().len();
        if answers[0] == Answer::Hang {
            assert_eq!(got, 1, "a hung request is not sent again past the deadline");
            assert!(all.contains("no answer within"), "{all}");
        } else {
            assert!((2..=4).contains(&got), "retried, at most 4 times: {got}");
            assert!(all.contains("HTTP 500"), "{all}");
        }
        let id = h.list()[0]["id"].to_string();
        let log = h.ok(&["log", &id]);
        assert!(log.contains("to notify[0] (http://127.0.0.1:"), "{log}");
        assert!(log.contains("failed after"), "{log}");
        assert!(
            !all.contains("SECRETPATH") && !log.contains("SECRETPATH"),
            "{all}\n{log}"
        );
    }
    // With --json the warning is a `warning` event.
    let hook = Hook::start(vec![Answer::Status(500)]);
    configure(
        &h,
        "deployment_script = \"true\"",
        "",
        &block(&hook.url("/x"), "json", "timeout_s = 1"),
    );
    let out = h.ok(&["deploy", DOMAIN, "--json"]);
    let warnings: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| {
            v["event"] == "warning" && v["message"].as_str().unwrap().contains("notification")
        })
        .collect();
    assert_eq!(warnings.len(), 1, "{out}");
    assert_eq!(warnings[0]["site"], format!("web1/{DOMAIN}"));
}

/// A redirect or a 4xx is an answer no retry can change: one attempt, one warning.
#[test]
fn redirects_and_client_errors_are_not_retried() {
    let h = Harness::local();
    for code in [301, 404] {
        let hook = Hook::start(vec![Answer::Status(code)]);
        configure(
            &h,
            "deployment_script = \"true\"",
            "",
            &block(&hook.url("/h"), "discord", "timeout_s = 5"),
        );
        let out = h.run(&["deploy", DOMAIN]);
        let all = both_streams(&out);
        assert_eq!(out.status.code(), Some(0), "{all}");
        assert_eq!(hook.got().len(), 1, "{code}: {all}");
        assert!(
            all.contains(&format!("failed after 1 attempt: HTTP {code}")),
            "{all}"
        );
    }
}

/// The dashboard's worker shows a job's end at once and sends the notification in the
/// background: a webhook that never answers is a toast once its timeout is up.
#[test]
fn the_dashboard_notifies_in_the_background() {
    use flipdeck::ui::app::{App, Effect, Loaded};
    let h = Harness::local();
    let hook = Hook::start(vec![Answer::Hang]);
    configure(
        &h,
        "deployment_script = \"true\"",
        "",
        &block(&hook.url("/hook/SECRETPATH"), "json", "timeout_s = 2"),
    );
    h.ok(&["provision", DOMAIN]);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let config = flipdeck::config::Config::load(&h.config).unwrap();
        let store = std::sync::Arc::new(flipdeck::store::Store::open(&h.db).unwrap());
        let (ev_tx, _ev_rx) = tokio::sync::mpsc::unbounded_channel();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let pool =
            flipdeck::transport::pool::Pool::new(flipdeck::transport::connect::direct(), 1, None);
        let engine = std::sync::Arc::new(flipdeck::engine::Engine::new(
            store,
            ev_tx,
            pool.connectors(),
        ));
        let worker =
            flipdeck::ui::worker::Worker::new(std::sync::Arc::new(config), engine, tx, pool);
        let key = format!("web1/{DOMAIN}");
        worker.run(Effect::Deploy(key.clone()));
        let done = tokio::time::timeout(Duration::from_secs(60), rx.recv())
            .await
            .expect("the worker reports")
            .expect("open");
        let t = Instant::now();
        assert!(
            matches!(&done, Loaded::JobDone { ok: true, .. }),
            "{done:?}"
        );
        let notified = tokio::time::timeout(Duration::from_secs(60), rx.recv())
            .await
            .expect("the worker reports")
            .expect("open");
        let waited = t.elapsed();
        let Loaded::Notified(w) = &notified else {
            panic!("{notified:?}")
        };
        println!("the toast came {waited:?} after the job's end");
        assert!(
            waited >= Duration::from_millis(1500) && waited <= Duration::from_secs(8),
            "{waited:?}"
        );
        assert_eq!(w.site, key);
        assert!(
            w.message
                .contains("notification to notify[0] (http://127.0.0.1:")
                && !w.message.contains("SECRETPATH"),
            "{}",
            w.message
        );
        let mut app = App::new(vec![], "/c".into());
        app.on_loaded(notified);
        let toast = &app.toasts.last().unwrap().text;
        assert!(toast.contains("no answer within"), "{toast}");
    });
    assert_eq!(hook.got().len(), 1);
}

/// The README's example payloads have exactly the fields flipdeck sends, per format.
#[test]
fn the_readme_shows_every_payload_field() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let section = &readme[readme
        .find("## Notifications")
        .expect("a Notifications section")..];
    let examples: Vec<Value> = section
        .split("```json\n")
        .skip(1)
        .take(3)
        .map(|b| serde_json::from_str(&b[..b.find("```").unwrap()]).expect("README JSON"))
        .collect();
    let h = Harness::local();
    let hooks: Vec<Hook> = (0..3)
        .map(|_| Hook::start(vec![Answer::Status(200)]))
        .collect();
    let blocks: String = ["json", "slack", "discord"]
        .iter()
        .zip(&hooks)
        .map(|(f, hk)| block(&hk.url("/"), f, ""))
        .collect();
    configure(&h, "deployment_script = \"false\"", "", &blocks);
    h.expect(&["deploy", DOMAIN], 1);
    fn keys(v: &Value) -> Vec<String> {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    }
    for (hk, example) in hooks.iter().zip(&examples) {
        let sent = &hk.got()[0].body;
        assert_eq!(keys(sent), keys(example));
        for inner in ["attachments", "embeds"] {
            if let Some(a) = sent.get(inner) {
                assert_eq!(keys(&a[0]), keys(&example[inner][0]), "{inner}");
            }
        }
    }
}

/// A fleet's deploy and rollback notify once per server, with the fleet's one release name; a
/// build failing on one server makes every server's outcome a failure, each saying why.
#[test]
fn a_fleet_notifies_once_per_server() {
    let h = Harness::local();
    let Some(servers) = crate::support::two_servers(&h) else {
        return;
    };
    let hook = Hook::start(vec![Answer::Status(200)]);
    let flag = h.dir.path().join("web2-fails");
    let config = crate::support::servers_config(&h, &servers, 2, |name| {
        // web2's build fails while the flag file exists.
        let script = if name == "web2" {
            format!("test ! -e '{}'", flag.display())
        } else {
            "true".into()
        };
        format!(
            "\n[[servers.sites]]\ndomain = \"{DOMAIN}\"\nrepository = \"{}\"\ndeployment_script = \"{script}\"\n\n",
            h.repo.display()
        )
    });
    std::fs::write(
        &h.config,
        format!("{config}\n{}", block(&hook.url("/h"), "json", "")),
    )
    .unwrap();
    h.ok(&["provision", DOMAIN]);
    let sites = |from: usize| -> Vec<Value> {
        let mut got: Vec<Value> = hook.got()[from..].iter().map(|g| g.body.clone()).collect();
        got.sort_by_key(|b| b["site"].as_str().unwrap().to_string());
        got
    };
    let n = hook.got().len();
    h.ok(&["deploy", DOMAIN]);
    let got = sites(n);
    assert_eq!(got.len(), 2, "one per server: {got:#?}");
    for (b, server) in got.iter().zip(["web1", "web2"]) {
        assert_eq!(b["event"], "deploy", "{b:#}");
        assert_eq!(b["status"], "success", "{b:#}");
        assert_eq!(b["site"], format!("{server}/{DOMAIN}"));
        assert_eq!(
            b["release"], got[0]["release"],
            "one release name: {got:#?}"
        );
    }
    let first = got[0]["release"].clone();

    std::fs::write(&flag, "").unwrap();
    crate::support::git(&h.repo, &["commit", "-q", "--allow-empty", "-m", "second"]);
    let out = h.run(&["deploy", DOMAIN]);
    assert_eq!(out.status.code(), Some(1), "{}", both_streams(&out));
    let got = sites(n + 2);
    assert_eq!(got.len(), 2, "{got:#?}");
    // The failed server says its build failed; the other, that it did not switch because of it.
    let why = |b: &Value| b["error"].as_str().unwrap_or_default().to_string();
    assert!(got.iter().all(|b| b["event"] == "failure"), "{got:#?}");
    assert!(why(&got[1]).contains("deploy script"), "{got:#?}");
    assert!(
        why(&got[0]).contains("not switched: web2/example.com failed to build"),
        "{got:#?}"
    );
    std::fs::remove_file(&flag).unwrap();
    h.ok(&["deploy", DOMAIN]);
    h.ok(&["rollback", DOMAIN]);
    let got = sites(n + 6);
    assert_eq!(got.len(), 2, "{got:#?}");
    for b in &got {
        assert_eq!(b["event"], "rollback", "{b:#}");
        assert_eq!(
            b["release"], first,
            "back to the first release everywhere: {b:#}"
        );
    }
}

/// A deploy reverted during the watch after its switch (here by Ctrl-C during `deploy --watch`)
/// is one `reverted` outcome: the payload says so, with why, and the text names the watch.
#[test]
fn a_deploy_reverted_by_its_watch_notifies_reverted() {
    let h = Harness::local();
    let hook = Hook::start(vec![Answer::Status(200)]);
    configure(
        &h,
        "deployment_script = \"true\"",
        "",
        &block(&hook.url("/"), "json", "on = [\"reverted\"]"),
    );
    h.ok(&["deploy", DOMAIN, "--watch=1"]);
    assert_eq!(hook.got().len(), 0, "a kept deploy is no `reverted` event");
    h.commit("public/extra.txt", "x\n");
    let mut child = h.spawn(&["deploy", DOMAIN, "--watch=60", "--json"]);
    let mut out = BufReader::new(child.stdout.take().unwrap());
    loop {
        let mut l = String::new();
        assert!(out.read_line(&mut l).unwrap() > 0, "the deploy ended early");
        if l.contains("\"watch_second\"") {
            break;
        }
    }
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let mut rest = String::new();
    out.read_to_string(&mut rest).unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(3), "{rest}");
    let g = hook.one_after(0);
    assert_eq!(g.body["event"], "reverted", "{:#}", g.body);
    assert_eq!(g.body["status"], "failed");
    let error = g.body["error"].as_str().unwrap();
    assert!(
        error.starts_with(
            "reverted by the operator (interrupted during the watch); switched back to"
        ),
        "{error}"
    );
    assert!(
        g.body["text"]
            .as_str()
            .unwrap()
            .contains("was reverted during the watch after the switch"),
        "{:#}",
        g.body
    );
}
