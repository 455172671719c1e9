//! `--json`: the engine's events as JSON Lines on stdout, one object per line, flushed as each
//! happens, so a CI job can follow a deploy while it runs. Every command that runs jobs gets this
//! by handing its events here; the last line is always the `result` (see `result`). The README's
//! "JSON events" table documents exactly the fields `FIELDS` lists (a test holds them together).

use crate::engine::{Event, EventKind};
use crate::transport::Stream;
use serde_json::{Value, json};
use std::io::Write;
use tokio::sync::mpsc::UnboundedReceiver;

/// Every event type and its fields beyond the ones all events have (`event`, `time`, and, but
/// for `result`, `job` and `site`), as documented in the README.
pub const FIELDS: &[(&str, &[&str])] = &[
    ("job_started", &["action", "target"]),
    ("step_started", &["step"]),
    ("step_finished", &["step", "ok", "elapsed_ms"]),
    ("log", &["stream", "line"]),
    ("status", &["deployment_id", "status"]),
    ("warning", &["message"]),
    ("job_finished", &["ok", "summary"]),
    ("env_missing", &["keys", "required"]),
    ("rollout_server", &["state", "step"]),
    (
        "rollout_step",
        &[
            "step",
            "steps",
            "phase",
            "servers",
            "elapsed_ms",
            "pause_ms",
            "watch_s",
            "why",
        ],
    ),
    (
        "watch_started",
        &["seconds", "errors_5xx_per_s", "for_s", "after"],
    ),
    (
        "watch_second",
        &[
            "second",
            "left",
            "2xx",
            "3xx",
            "4xx",
            "5xx",
            "ms",
            "app_lines",
            "app_more",
        ],
    ),
    ("watch_ended", &["kept", "reverted"]),
    (
        "result",
        &["command", "ok", "exit_code", "error", "suggestion"],
    ),
];

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// One engine event as its JSON object.
pub fn event(ev: &Event) -> Value {
    let (kind, mut v) = match &ev.kind {
        EventKind::JobStarted { action, target } => (
            "job_started",
            json!({"action": action.as_str(), "target": target}),
        ),
        EventKind::StepStarted { step } => ("step_started", json!({ "step": step })),
        EventKind::StepFinished { step, ok, elapsed } => (
            "step_finished",
            json!({"step": step, "ok": ok, "elapsed_ms": elapsed.as_millis() as u64}),
        ),
        EventKind::Log { stream, line } => (
            "log",
            json!({
                "stream": match stream { Stream::Stdout => "stdout", Stream::Stderr => "stderr" },
                "line": line,
            }),
        ),
        EventKind::Status {
            deployment_id,
            status,
        } => (
            "status",
            json!({"deployment_id": deployment_id, "status": status.as_str()}),
        ),
        EventKind::Notice { message } => ("warning", json!({ "message": message })),
        EventKind::JobFinished { ok, summary } => {
            ("job_finished", json!({"ok": ok, "summary": summary}))
        }
        EventKind::EnvMissing { keys, required } => {
            ("env_missing", json!({"keys": keys, "required": required}))
        }
        EventKind::RolloutServer { state, step } => (
            "rollout_server",
            json!({"state": state.as_str(), "step": step}),
        ),
        EventKind::RolloutStep { step, steps, phase } => {
            use crate::engine::events::RolloutPhase as P;
            let ms = |d: &std::time::Duration| d.as_millis() as u64;
            let watch_s = match phase {
                P::Watching { seconds, .. } => Some(*seconds),
                _ => None,
            };
            let (servers, elapsed, pause, why) = match phase {
                P::Switching { servers } | P::Watching { servers, .. } => {
                    (Some(servers.clone()), None, None, None)
                }
                P::Switched { elapsed } | P::Reverted { elapsed } => {
                    (None, Some(ms(elapsed)), None, None)
                }
                P::Paused { pause } => (None, None, pause.as_ref().map(ms), None),
                P::Reverting { why } => (None, None, None, Some(why.clone())),
                P::Committing => (None, None, None, None),
            };
            (
                "rollout_step",
                json!({
                    "step": step, "steps": steps, "phase": phase.as_str(), "servers": servers,
                    "elapsed_ms": elapsed, "pause_ms": pause, "watch_s": watch_s, "why": why,
                }),
            )
        }
        EventKind::WatchStarted {
            seconds,
            auto_revert,
            after,
        } => (
            "watch_started",
            json!({
                "seconds": seconds,
                "errors_5xx_per_s": auto_revert.map(|a| a.errors_5xx_per_s),
                "for_s": auto_revert.map(|a| a.for_s),
                "after": after,
            }),
        ),
        EventKind::WatchSecond {
            second,
            left,
            by_class,
            ms,
            app,
            app_more,
        } => (
            "watch_second",
            json!({
                "second": second,
                "left": left,
                "2xx": by_class[0],
                "3xx": by_class[1],
                "4xx": by_class[2],
                "5xx": by_class[3],
                "ms": ms,
                "app_lines": app,
                "app_more": app_more,
            }),
        ),
        EventKind::WatchEnded { reverted } => (
            "watch_ended",
            json!({"kept": reverted.is_none(), "reverted": reverted}),
        ),
    };
    let o = v.as_object_mut().expect("an object");
    o.insert("event".into(), kind.into());
    o.insert("time".into(), now().into());
    o.insert("job".into(), ev.job.into());
    o.insert("site".into(), ev.site.clone().into());
    v
}

/// The last line: how the command ended, with the exit code flipdeck exits with.
pub fn result(command: &str, exit_code: i32, error: Option<&crate::error::Error>) -> Value {
    json!({
        "event": "result",
        "time": now(),
        "command": command,
        "ok": exit_code == 0,
        "exit_code": exit_code,
        "error": error.map(|e| e.to_string()),
        "suggestion": error.and_then(|e| e.suggestion()),
    })
}

/// Writes one object as a line on stdout, flushed at once.
pub fn emit(v: &Value) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{v}");
    let _ = out.flush();
}

/// Prints events as JSON lines until the channel closes; with `human`, the same events also go
/// to stderr as the plain log (through `also`).
pub async fn print_events(mut rx: UnboundedReceiver<Event>, also: impl Fn(&Event)) {
    while let Some(ev) = rx.recv().await {
        emit(&event(&ev));
        also(&ev);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Action;
    use std::time::Duration;

    fn ev(kind: EventKind) -> Event {
        Event {
            job: 3,
            site: "web/a.com".into(),
            kind,
        }
    }

    /// Every kind of engine event maps to a documented type with exactly its documented fields.
    #[test]
    fn each_event_has_its_documented_fields() {
        let all = [
            EventKind::JobStarted {
                action: Action::Deploy,
                target: "local".into(),
            },
            EventKind::StepStarted {
                step: "clone".into(),
            },
            EventKind::StepFinished {
                step: "clone".into(),
                ok: true,
                elapsed: Duration::from_millis(12),
            },
            EventKind::Log {
                stream: Stream::Stderr,
                line: "a\u{1b}[31m".into(),
            },
            EventKind::Status {
                deployment_id: 4,
                status: crate::store::Status::Success,
            },
            EventKind::Notice {
                message: "m".into(),
            },
            EventKind::JobFinished {
                ok: false,
                summary: "s".into(),
            },
            EventKind::EnvMissing {
                keys: vec!["APP_KEY".into()],
                required: false,
            },
            EventKind::WatchStarted {
                seconds: 30,
                auto_revert: None,
                after: Some("the canary (step 1 of 2)".into()),
            },
            EventKind::WatchSecond {
                second: 1,
                left: 29,
                by_class: [10, 0, 1, 2],
                ms: 1004,
                app: vec!["[error] x".into()],
                app_more: 0,
            },
            EventKind::WatchEnded { reverted: None },
        ];
        for k in all {
            let v = event(&ev(k));
            let o = v.as_object().unwrap();
            let kind = o["event"].as_str().unwrap();
            let (_, fields) = FIELDS.iter().find(|(n, _)| *n == kind).unwrap();
            let mut want: Vec<&str> = ["event", "time", "job", "site"].to_vec();
            want.extend(fields.iter());
            want.sort();
            let mut got: Vec<&str> = o.keys().map(String::as_str).collect();
            got.sort();
            assert_eq!(got, want, "{kind}");
        }
        // A control character can never reach the terminal raw: JSON escapes it.
        let line = event(&ev(EventKind::Log {
            stream: Stream::Stdout,
            line: "\u{1b}[2J".into(),
        }))
        .to_string();
        assert!(line.contains("\\u001b[2J"), "{line}");
        let r = result("deploy", 2, Some(&crate::error::Error::usage("no")));
        assert_eq!(r["exit_code"], 2);
        assert_eq!(r["ok"], false);
        assert_eq!(r["error"], "no");
    }
}
