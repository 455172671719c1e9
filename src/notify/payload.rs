//! The three payloads: flipdeck's own JSON object (every field), a Slack incoming webhook's
//! `{"text", "attachments"}` and a Discord webhook's `{"content", "embeds"}`. Every string in
//! them passes through the redactor last, whatever field it is in.

use super::outcome::{Act, Outcome};
use crate::config::{NotifyEvent, NotifyFormat};
use crate::redact::Redactor;
use crate::store::ts;
use serde_json::{Value, json};

/// An error longer than this is cut (chat services refuse long fields: Discord's embed field
/// holds 1,024 characters).
const MAX_ERROR_CHARS: usize = 900;

pub fn body(format: NotifyFormat, o: &Outcome, redactor: &Redactor) -> Value {
    let mut v = match format {
        NotifyFormat::Json => json_payload(o),
        NotifyFormat::Slack => slack(o),
        NotifyFormat::Discord => discord(o),
    };
    redact_all(&mut v, redactor);
    v
}

/// The site as people say it: `example.com on web1 (production)`.
fn where_(o: &Outcome) -> String {
    match &o.stage {
        Some(s) => format!("{} on {} ({s})", o.domain, o.server),
        None => format!("{} on {}", o.domain, o.server),
    }
}

fn short(commit: &str) -> &str {
    crate::commit::short(commit)
}

fn cut(s: &str) -> String {
    match s.char_indices().nth(MAX_ERROR_CHARS) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

/// `release R (main at 91d2c02)`.
fn release_words(o: &Outcome) -> String {
    let mut s = format!("release {}", o.release.as_deref().unwrap_or("?"));
    match (o.branch.as_deref(), o.commit.as_deref()) {
        (Some(b), Some(c)) => s.push_str(&format!(" ({b} at {})", short(c))),
        (Some(b), None) => s.push_str(&format!(" ({b})")),
        (None, Some(c)) => s.push_str(&format!(" (at {})", short(c))),
        (None, None) => {}
    }
    s
}

/// The one human line every format carries.
pub fn text(o: &Outcome) -> String {
    let secs = o.duration_ms() as f64 / 1000.0;
    let error = o.error.as_deref().map(cut).unwrap_or_default();
    match (o.act, o.event()) {
        (Act::Deploy, NotifyEvent::Deploy) => format!(
            "{} deployed {} {} in {secs:.1} s",
            o.operator,
            where_(o),
            release_words(o)
        ),
        (Act::Deploy, NotifyEvent::Health) => format!(
            "The deploy of {} by {} failed its health check and was switched back: {error}",
            where_(o),
            o.operator
        ),
        (Act::Deploy, NotifyEvent::Reverted) => format!(
            "The deploy of {} by {} was reverted during the watch after the switch: {error}",
            where_(o),
            o.operator
        ),
        (Act::Deploy, _) => format!(
            "The deploy of {} by {} failed: {error}",
            where_(o),
            o.operator
        ),
        (Act::Rollback, NotifyEvent::Rollback) => format!(
            "{} rolled back {} to {}{}",
            o.operator,
            where_(o),
            release_words(o),
            o.from_release
                .as_deref()
                .map(|f| format!(", from release {f}"))
                .unwrap_or_default()
        ),
        (Act::Rollback, NotifyEvent::Health) => format!(
            "{} rolled back {} to {}, but its health check failed (the rollback is kept): {error}",
            o.operator,
            where_(o),
            release_words(o)
        ),
        (Act::Rollback, _) => format!(
            "The rollback of {} by {} failed: {error}",
            where_(o),
            o.operator
        ),
    }
}

fn json_payload(o: &Outcome) -> Value {
    json!({
        "event": o.event().as_str(),
        "action": o.act.as_str(),
        "status": if o.ok { "success" } else { "failed" },
        "site": format!("{}/{}", o.server, o.domain),
        "domain": o.domain,
        "server": o.server,
        "stage": o.stage,
        "deployment_id": o.deployment_id,
        "release": o.release,
        "from_release": o.from_release,
        "commit": o.commit,
        "branch": o.branch,
        "error": o.error.as_deref().map(cut),
        "operator": o.operator,
        "started_at": ts(o.started_at),
        "finished_at": ts(o.finished_at),
        "duration_ms": o.duration_ms(),
        "text": text(o),
    })
}

/// Green, red, amber: how both chat services colour the message's edge.
fn colour(o: &Outcome) -> (&'static str, u32) {
    match o.event() {
        NotifyEvent::Deploy | NotifyEvent::Rollback => ("good", 0x2e_b8_86),
        NotifyEvent::Failure => ("danger", 0xd4_00_00),
        NotifyEvent::Health | NotifyEvent::Reverted => ("warning", 0xda_a0_38),
    }
}

/// The facts shown as fields, in order, without the empty ones.
fn facts(o: &Outcome) -> Vec<(&'static str, String)> {
    let mut f = vec![("Site", o.domain.clone()), ("Server", o.server.clone())];
    if let Some(s) = &o.stage {
        f.push(("Stage", s.clone()));
    }
    if let Some(r) = &o.release {
        f.push(("Release", r.clone()));
    }
    if let Some(b) = &o.branch {
        f.push(("Branch", b.clone()));
    }
    if let Some(c) = &o.commit {
        f.push(("Commit", short(c).to_string()));
    }
    f.push(("Operator", o.operator.clone()));
    f.push((
        "Duration",
        format!("{:.1} s", o.duration_ms() as f64 / 1000.0),
    ));
    f
}

/// Slack's mrkdwn gives `&`, `<` and `>` a meaning: they are escaped, so an error cannot
/// mention `<!channel>` or fake a link.
fn slack_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn slack(o: &Outcome) -> Value {
    let (color, _) = colour(o);
    let mut fields: Vec<Value> = facts(o)
        .into_iter()
        .map(|(k, v)| json!({"title": k, "value": slack_escape(&v), "short": true}))
        .collect();
    if let Some(e) = &o.error {
        fields.push(json!({"title": "Error", "value": slack_escape(&cut(e)), "short": false}));
    }
    json!({
        "text": slack_escape(&text(o)),
        "attachments": [{
            "color": color,
            "fallback": slack_escape(&text(o)),
            "fields": fields,
            "ts": o.finished_at.timestamp(),
        }],
    })
}

fn discord(o: &Outcome) -> Value {
    let (_, color) = colour(o);
    let mut fields: Vec<Value> = facts(o)
        .into_iter()
        .map(|(k, v)| json!({"name": k, "value": v, "inline": true}))
        .collect();
    if let Some(e) = &o.error {
        fields.push(json!({"name": "Error", "value": cut(e), "inline": false}));
    }
    json!({
        "content": text(o),
        // Nothing in a message pings anyone: an error quoting `@everyone` stays text.
        "allowed_mentions": {"parse": []},
        "embeds": [{
            "title": format!("{} {}", o.act.as_str(), o.event().as_str()),
            "color": color,
            "fields": fields,
            "timestamp": ts(o.finished_at),
        }],
    })
}

fn redact_all(v: &mut Value, r: &Redactor) {
    match v {
        Value::String(s) => {
            if let std::borrow::Cow::Owned(o) = r.apply(s) {
                *s = o;
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| redact_all(x, r)),
        Value::Object(m) => m.values_mut().for_each(|x| redact_all(x, r)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    fn outcome() -> Outcome {
        let t = Utc.with_ymd_and_hms(2026, 11, 27, 5, 42, 14).unwrap();
        Outcome {
            act: Act::Deploy,
            events: vec![NotifyEvent::Failure],
            server: "web1".into(),
            domain: "example.com".into(),
            stage: Some("production".into()),
            site_id: Some(1),
            deployment_id: Some(12),
            release: Some("27112026-054214".into()),
            from_release: None,
            commit: Some("91d2c02aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa".into()),
            branch: Some("main".into()),
            ok: false,
            error: Some("the deploy script failed: password=hunter2 <!channel> @everyone".into()),
            operator: "ops@laptop".into(),
            started_at: t,
            finished_at: t + chrono::Duration::milliseconds(3200),
        }
    }

    #[test]
    fn every_string_is_redacted_and_chat_markup_is_inert() {
        let r = Redactor::default();
        for f in NotifyFormat::ALL {
            let s = body(f, &outcome(), &r).to_string();
            assert!(!s.contains("hunter2"), "{f:?}: {s}");
            assert!(s.contains("[redacted]"), "{f:?}: {s}");
        }
        let slack = body(NotifyFormat::Slack, &outcome(), &r);
        assert!(slack["text"].as_str().unwrap().contains("&lt;!channel&gt;"));
        let discord = body(NotifyFormat::Discord, &outcome(), &r);
        assert_eq!(discord["allowed_mentions"]["parse"], json!([]));
    }

    #[test]
    fn long_errors_are_cut() {
        let mut o = outcome();
        o.error = Some("x".repeat(5000));
        let v = body(NotifyFormat::Discord, &o, &Redactor::none());
        let err = v["embeds"][0]["fields"].as_array().unwrap().last().unwrap();
        assert_eq!(
            err["value"].as_str().unwrap().chars().count(),
            MAX_ERROR_CHARS + 1
        );
    }
}
