//! The watch after the switch: for `watch_s` seconds after a deploy's switch, each server streams
//! its site's signals (`signals.sh`: response classes from the nginx access log, new lines of the
//! application's log), one exec beside the deploy's, on the same connection. The deploy holds its
//! switch meanwhile (the lock, the prepared way back); the watch decides its verdict: keep at the
//! end, or revert at once on the operator's word (`Hold::Revert`, Ctrl-C) or by itself when the
//! 5xx rate stays at `auto_revert`'s threshold for `for_s` seconds in a row.
//!
//! One entry point, [`Engine::aftercare`], for one server or several (a fleet's "all switched,
//! before commit" point): any server's threshold reverts them all, as a fleet is all or none.

use super::Engine;
use super::events::EventKind;
use super::hold::{Hold, HoldReceiver};
use super::protocol::{Key, Marker, SignalCounts};
use crate::config::AutoRevert;
use crate::transport::{OutputLine, Stream, Transport};
use futures_util::future::join_all;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// One server to watch: its job's id and site (what the events are told under), the connection,
/// and its `signals.sh` script with the marker and token it was made with. Cheap to clone (a
/// stepped rollout watches a switched server again after each later step).
#[derive(Clone)]
pub struct Watched {
    pub job: u64,
    pub site: String,
    /// The server's name, for the words of a revert when several are watched.
    pub server: String,
    pub target: Arc<dyn Transport>,
    pub marker: String,
    pub token: String,
    pub script: String,
    /// The access log the script reads (for the one message when it cannot).
    pub access_log: String,
    /// Where its deploy's job reads why it reverts (`Job::revert_why`).
    pub revert_why: Arc<std::sync::Mutex<Option<String>>>,
    /// The log problems already said for this server (a missing access log...): a rollout
    /// watches it again after each later step, and the fix is said once.
    pub said: Arc<std::sync::Mutex<Vec<(Key, String)>>>,
}

impl Watched {
    /// Tells its deploy why it reverts (said on its verdict line).
    pub fn tell_revert(&self, why: &str) {
        *self.revert_why.lock().unwrap_or_else(|p| p.into_inner()) = Some(why.to_string());
    }
}

/// A fleet's watch, gathered at its gates: each member's part (sent once it switched), how long,
/// and the threshold.
pub struct FleetWatch {
    pub parts: Vec<tokio::sync::oneshot::Receiver<Watched>>,
    pub seconds: u32,
    pub auto_revert: Option<AutoRevert>,
}

/// A stepped rollout's watch after one of its steps (see `rollout::Coordinator`): the words
/// that name it in every reason and line, and what the rollout's own keys do meanwhile.
pub struct StepWatch {
    /// "the canary (step 1 of 3)".
    pub words: String,
    /// The rollout's job and domain, for its notices.
    pub job: u64,
    pub site: String,
    /// Another step comes after this one (else the commit does).
    pub more: bool,
    /// The operator said `a` (all the rest) during the watch: no more pauses after it.
    pub all: AtomicBool,
}

/// How the watch ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// The whole watch passed: the new release stays.
    Keep,
    /// Revert every watched server, for this reason (in words, one line).
    Revert(String),
}

/// The auto_revert count of one server: the time in a row at the threshold, and its 5xx.
#[derive(Default)]
struct Streak {
    ms: u64,
    errors: u64,
}

/// A run of samples this close to `for_s` counts as `for_s` (samples are about a second each,
/// measured on the server; one a few milliseconds short must not need a whole extra second).
const STREAK_SLACK_MS: u64 = 200;

impl Streak {
    /// Adds a sample of `ms` milliseconds; what was seen ("5xx at 4.0/s for 3.0 s (auto_revert:
    /// ...)") once the rate has held for `for_s` seconds in a row.
    fn add(&mut self, errors_5xx: u32, ms: u32, rule: &AutoRevert) -> Option<String> {
        let ms = u64::from(ms.max(1));
        if f64::from(errors_5xx) * 1000.0 / ms as f64 >= rule.errors_5xx_per_s {
            self.ms += ms;
            self.errors += u64::from(errors_5xx);
        } else {
            *self = Streak::default();
        }
        (self.ms + STREAK_SLACK_MS >= u64::from(rule.for_s) * 1000).then(|| {
            let secs = self.ms as f64 / 1000.0;
            format!(
                "5xx at {:.1}/s for {secs:.1} s (auto_revert: {}/s for {} s)",
                self.errors as f64 / secs,
                rule.errors_5xx_per_s,
                rule.for_s
            )
        })
    }
}

/// One server's watch as it goes.
#[derive(Default)]
struct Seen {
    /// The milliseconds the samples so far covered.
    ms: u64,
    app: Vec<String>,
    app_more: u32,
    streak: Streak,
}

impl Engine {
    /// Watches `watched` (switched, held) for `how` (`watch_s`, `auto_revert`): `Err` with why
    /// when it reverts, each of them told why. `step`: a stepped rollout's watch after a step.
    pub(super) async fn watch_these(
        &self,
        watched: &[Watched],
        how: (u32, Option<crate::config::AutoRevert>),
        step: Option<&StepWatch>,
        hold: Option<&super::hold::HoldReceiver>,
        cancel: &CancellationToken,
        lost: impl std::future::Future<Output = String>,
    ) -> std::result::Result<(), String> {
        // A server lost as the watch passes wins: it is not committed around.
        let verdict = tokio::select! {
            biased;
            why = lost => self.watch_ended(watched, Verdict::Revert(why)),
            v = self.aftercare(watched, how.0, how.1, hold, cancel, step) => v,
        };
        match verdict {
            Verdict::Keep => Ok(()),
            Verdict::Revert(why) => {
                watched.iter().for_each(|w| w.tell_revert(&why));
                Err(why)
            }
        }
    }

    /// Watches `servers` for `seconds` after their switch. Returns the verdict for all of them
    /// (the caller tells each held deploy). Cancelling `cancel` reverts, as `Hold::Revert` does:
    /// the deploy is not committed yet, so an interrupted watch keeps what was live before.
    /// `step`: the watch after a stepped rollout's step, named so in every reason.
    pub async fn aftercare(
        &self,
        servers: &[Watched],
        seconds: u32,
        auto_revert: Option<AutoRevert>,
        hold: Option<&HoldReceiver>,
        cancel: &CancellationToken,
        step: Option<&StepWatch>,
    ) -> Verdict {
        let started = tokio::time::Instant::now();
        let (tx, mut rx) = mpsc::unbounded_channel::<(usize, OutputLine)>();
        let after = step
            .map(|s| format!(" after {}", s.words))
            .unwrap_or_default();
        for w in servers {
            self.emit(
                w.job,
                &w.site,
                EventKind::WatchStarted {
                    seconds,
                    auto_revert,
                    after: step.map(|s| s.words.clone()),
                },
            );
        }
        // "reverted by the watch after the canary (step 1 of 3): 5xx at ... on web1".
        let threshold_met = |i: usize, what: String| {
            let on = match servers.len() {
                1 => String::new(),
                _ => format!(" on {}", servers[i].server),
            };
            format!("reverted by the watch{after}: {what}{on}")
        };
        // A signals exec whose connection failed: that server's deploy, on the same connection,
        // is gone too and goes back on its own, so the others must not be kept (all or none).
        let (gone_tx, mut gone_rx) = mpsc::unbounded_channel::<(usize, String)>();
        let execs = servers.iter().enumerate().map(|(i, w)| {
            let tx = tx.clone();
            let gone = gone_tx.clone();
            async move {
                let (out_tx, mut out_rx) = mpsc::unbounded_channel();
                let (in_tx, in_rx) = mpsc::unbounded_channel();
                let (command, script) = super::scripts::launch(&w.token, &w.script);
                let _ = in_tx.send(script);
                drop(in_tx);
                let exec = w.target.exec_fed(&command, in_rx, out_tx);
                tokio::pin!(exec);
                let status = loop {
                    tokio::select! {
                        Some(line) = out_rx.recv() => { let _ = tx.send((i, line)); }
                        r = &mut exec => break r,
                    }
                };
                while let Ok(line) = out_rx.try_recv() {
                    let _ = tx.send((i, line));
                }
                if let Err(e) = &status {
                    let _ = gone.send((i, e.to_string()));
                }
                (i, status)
            }
        });
        let execs: Vec<_> = execs.collect();
        drop((tx, gone_tx));
        let all = join_all(execs);
        tokio::pin!(all);
        let mut seen: Vec<Seen> = servers.iter().map(|_| Seen::default()).collect();
        let mut hold = hold.cloned();
        let mut ended = false;
        let end_at = started + Duration::from_secs(u64::from(seconds));
        let verdict = loop {
            tokio::select! {
                biased;
                h = super::hold::next(&mut hold) => match (h, step) {
                    (Hold::Revert, None) => break Verdict::Revert("reverted by the operator".into()),
                    (Hold::Revert, Some(s)) => break Verdict::Revert(format!(
                        "reverted by the operator during the watch after {}", s.words
                    )),
                    // A rollout's words mean nothing to a deploy's own watch.
                    (Hold::Next | Hold::All, None) => {}
                    // During a rollout's step watch, `n` never cuts the watch short: it is
                    // what guards the servers of the next step from a release that just
                    // failed on these, and a key press meant for a pause must not skip it.
                    // `a` is kept for after the watch (no more pauses; every step is still
                    // watched), as it is while a step switches.
                    (h, Some(s)) => {
                        let left = seconds.saturating_sub(started.elapsed().as_secs() as u32);
                        let then = match (h, s.more) {
                            (Hold::All, true) => {
                                s.all.store(true, Ordering::Relaxed);
                                "then every server left switches without pausing (each step still watched)"
                            }
                            (_, true) => "n applies to the pause after it, if one follows",
                            (_, false) => "the new release is kept everywhere once it passed",
                        };
                        self.emit(s.job, &s.site, EventKind::Notice {
                            message: format!(
                                "the watch after {} runs to its end (about {left} s left); {then}; x reverts every server switched",
                                s.words
                            ),
                        });
                    }
                },
                _ = cancel.cancelled() => {
                    break Verdict::Revert(match step {
                        None => "reverted by the operator (interrupted during the watch)".into(),
                        Some(s) => format!("reverted by the operator (interrupted during the watch after {})", s.words),
                    })
                }
                Some((i, e)) = gone_rx.recv() => {
                    break Verdict::Revert(format!(
                        "the connection to {} was lost during the watch{after} ({e}); {}",
                        servers[i].server,
                        match servers.len() {
                            1 => "the site goes back",
                            _ => "every server goes back",
                        }
                    ))
                }
                Some((i, line)) = rx.recv() => {
                    if let Some(what) = self.signal_line(&servers[i], &mut seen[i], line, seconds, auto_revert.as_ref()) {
                        break Verdict::Revert(threshold_met(i, what));
                    }
                }
                done = &mut all, if !ended => {
                    ended = true;
                    while let Ok((i, line)) = rx.try_recv() {
                        if let Some(what) = self.signal_line(&servers[i], &mut seen[i], line, seconds, auto_revert.as_ref()) {
                            return self.watch_ended(servers, Verdict::Revert(threshold_met(i, what)));
                        }
                    }
                    for (i, status) in done {
                        if seen[i].ms + STREAK_SLACK_MS < u64::from(seconds) * 1000 {
                            let how = match status {
                                Ok(s) => format!("({s})"),
                                Err(e) => format!("({e})"),
                            };
                            self.emit(servers[i].job, &servers[i].site, EventKind::Notice {
                                message: format!(
                                    "the signals of {} stopped after {} s {how}; the switch stays held until the watch ends, and the revert key still reverts",
                                    servers[i].server, seen[i].ms / 1000
                                ),
                            });
                        }
                    }
                }
                _ = tokio::time::sleep_until(end_at), if ended => break Verdict::Keep,
            }
            if ended
                && seen
                    .iter()
                    .all(|s| s.ms + STREAK_SLACK_MS >= u64::from(seconds) * 1000)
            {
                break Verdict::Keep;
            }
        };
        self.watch_ended(servers, verdict)
    }

    pub(super) fn watch_ended(&self, servers: &[Watched], verdict: Verdict) -> Verdict {
        let reverted = match &verdict {
            Verdict::Keep => None,
            Verdict::Revert(why) => Some(why.clone()),
        };
        for w in servers {
            self.emit(
                w.job,
                &w.site,
                EventKind::WatchEnded {
                    reverted: reverted.clone(),
                },
            );
        }
        verdict
    }

    /// One line of a server's `signals.sh`; what was seen when its threshold is met.
    fn signal_line(
        &self,
        w: &Watched,
        seen: &mut Seen,
        line: OutputLine,
        seconds: u32,
        rule: Option<&AutoRevert>,
    ) -> Option<String> {
        if line.stream != Stream::Stdout {
            // The script's own complaints (a tool missing on the server): said, never parsed.
            self.emit(
                w.job,
                &w.site,
                EventKind::Notice {
                    message: format!(
                        "watch on {}: {}",
                        w.server,
                        crate::visible::visible(&line.line, false)
                    ),
                },
            );
            return None;
        }
        let Some(Marker::Set { key, value }) = Marker::parse(&w.marker, &line.line) else {
            return None;
        };
        let notice = |message: String| {
            // By key and value: the app log "missing" then "unreadable" are two things to say.
            let mut said = w.said.lock().unwrap_or_else(|p| p.into_inner());
            let what = (key, value.to_string());
            if !said.contains(&what) {
                said.push(what);
                self.emit(w.job, &w.site, EventKind::Notice { message });
            }
        };
        match key {
            Key::SigApp => {
                let text = self.redactor.apply(value);
                seen.app
                    .push(crate::visible::visible(&text, false).into_owned());
            }
            Key::SigAppMore => seen.app_more += value.trim().parse::<u32>().unwrap_or(0),
            Key::SigAppMissing => notice(format!(
                "the application's log (app_log) is {} on {}; the watch shows its lines once it can read them",
                if value == "missing" {
                    "not there yet"
                } else {
                    "not readable by the login user"
                },
                w.server
            )),
            Key::SigAccessUnreadable => notice(format!(
                "the access log {} on {} cannot be read by the login user, so this watch has no response codes (and auto_revert cannot act); \
                 fix: add the deploy user to the log's group (Debian's nginx logs are 0640 root:adm: `sudo usermod -aG adm USER`, then log in again), \
                 or set access_log to a path it can read. The application's log is still watched.",
                w.access_log, w.server
            )),
            Key::SigAccessMissing => notice(format!(
                "there is no access log at {} on {}, so this watch has no response codes (and auto_revert cannot act); \
                 set access_log to the site's nginx access log (flipdeck's server blocks write /var/log/nginx/DOMAIN.access.log: \
                 `flipdeck provision` rewrites an older one). The application's log is still watched.",
                w.access_log, w.server
            )),
            Key::Sig => {
                let c = SignalCounts::parse(value)?;
                seen.ms += u64::from(c.ms);
                self.emit(
                    w.job,
                    &w.site,
                    EventKind::WatchSecond {
                        second: c.second,
                        left: seconds.saturating_sub((seen.ms / 1000) as u32),
                        by_class: c.by_class,
                        ms: c.ms,
                        app: std::mem::take(&mut seen.app),
                        app_more: std::mem::take(&mut seen.app_more),
                    },
                );
                return rule.and_then(|r| seen.streak.add(c.errors_5xx(), c.ms, r));
            }
            _ => {}
        }
        None
    }
}

/// The watch parts of the members that handed theirs over (each does before its switch; one
/// whose deploy ended first has none).
pub(super) async fn gather(
    parts: impl IntoIterator<Item = tokio::sync::oneshot::Receiver<Watched>>,
) -> Vec<Watched> {
    join_all(parts)
        .await
        .into_iter()
        .filter_map(std::result::Result::ok)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_streak_reverts_after_for_s_seconds_in_a_row_and_restarts_below_the_rate() {
        let rule = AutoRevert {
            errors_5xx_per_s: 2.0,
            for_s: 3,
        };
        let mut s = Streak::default();
        assert_eq!(s.add(5, 1000, &rule), None);
        assert_eq!(
            s.add(1, 1000, &rule),
            None,
            "below the rate: the count restarts"
        );
        assert_eq!(s.add(3, 2000, &rule), None, "1.5/s over 2 s is below");
        assert_eq!(s.add(2, 1000, &rule), None);
        assert_eq!(s.add(4, 1010, &rule), None);
        assert_eq!(
            s.add(6, 990, &rule).as_deref(),
            Some("5xx at 4.0/s for 3.0 s (auto_revert: 2/s for 3 s)")
        );
        let mut s = Streak::default();
        assert_eq!(s.add(4, 900, &rule), None);
        assert!(
            s.add(10, 2000, &rule).is_some(),
            "a slow sample counts its length"
        );
    }
}
