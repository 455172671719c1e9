//! The deploy's steps in their order, as a dry run tells them: from the site's config and what
//! the dry run read, mirroring `deploy.sh` (see the README's "What a deploy does").

use super::{Step, entries};
use crate::config::{CodeSource, Probe, SiteRef};

/// What the step list depends on besides the site's config.
pub(super) struct Plan<'a> {
    pub(super) branch: &'a str,
    pub(super) git_ref: Option<&'a str>,
    pub(super) artifact: bool,
    pub(super) run_script: bool,
    pub(super) fleet: bool,
    /// A stepped rollout's fleet: each server is watched after its step and each later one.
    pub(super) stepped: bool,
    pub(super) release: &'a str,
    pub(super) link: &'a str,
    pub(super) env_example: bool,
    pub(super) prune: usize,
    /// Seconds of the watch after the switch (`watch_s`, `--watch`); 0: none.
    pub(super) watch_s: u32,
}

/// The deploy's steps in the order `deploy.sh` runs them (see the README's "What a deploy does"),
/// and what runs after a failure.
pub(super) fn steps(site: &SiteRef<'_>, p: Plan<'_>) -> (Vec<Step>, Vec<Step>) {
    let s = site.site;
    let step = |step: &'static str, does: String, command: Option<&str>| Step {
        step,
        does,
        command: command.map(str::to_string),
    };
    let mut v = vec![
        step("lock", "takes the site's lock".into(), None),
        step(
            "mkdir",
            format!("reserves release {} on the server", p.release),
            None,
        ),
    ];
    let what = match p.git_ref {
        Some(r) => format!("checks out ref {r} detached"),
        None => format!("clones branch {}", p.branch),
    };
    match (&s.source, &s.repository) {
        _ if p.artifact => v.push(step(
            "unpack",
            "unpacks the artifact into the release".into(),
            None,
        )),
        (CodeSource::Push, Some(_)) => {
            v.push(step(
                "push",
                "sends the server's cache the objects it lacks".into(),
                None,
            ));
            v.push(step("clone", format!("{what} from the cache"), None));
        }
        (_, Some(repo)) => {
            v.push(step(
                "fetch",
                format!("updates the repository cache from {repo}"),
                None,
            ));
            v.push(step("clone", format!("{what} from the cache"), None));
        }
        (_, None) => v.push(step(
            "placeholder",
            "writes a placeholder page".into(),
            None,
        )),
    }
    if !s.shared.is_empty() {
        v.push(step(
            "links",
            format!("links {} from shared/", entries(&s.shared).join(", ")),
            None,
        ));
    }
    if !s.cached.is_empty() {
        v.push(step(
            "cached",
            format!(
                "copies {} from the live release",
                entries(&s.cached).join(", ")
            ),
            None,
        ));
    }
    if p.run_script {
        v.push(step(
            "script",
            "runs the deployment script in the release".into(),
            Some(&s.deployment_script),
        ));
    }
    if let Some(w) = &s.writable {
        v.push(step(
            "writable",
            format!(
                "makes {} writable for {} ({})",
                w.paths.join(", "),
                w.user,
                w.mode.as_str()
            ),
            None,
        ));
    }
    if p.env_example {
        v.push(step(
            "env",
            format!(
                "compares .env with .env.example ({})",
                if s.require_env {
                    "missing keys fail the deploy: require_env = true"
                } else {
                    "missing keys are a warning"
                }
            ),
            None,
        ));
    }
    if !p.artifact && s.repository.is_some() {
        v.push(step("commit", "records the release's commit".into(), None));
    }
    if p.fleet {
        v.push(step(
            "(fleet gate)",
            "waits until every server of the fleet has built".into(),
            None,
        ));
    }
    v.push(step(
        "switch",
        format!("points the live link at {}", p.link),
        None,
    ));
    if let Some(r) = &site.server.reload_command {
        v.push(step(
            "reload",
            "the server's reload_command (a failure switches back)".into(),
            Some(r),
        ));
    }
    if let Some(h) = &s.hooks.after_switch {
        v.push(step(
            "after_switch",
            "the after_switch hook, in the new release (a failure switches back)".into(),
            Some(h),
        ));
    }
    if let Some(hc) = &s.health_check {
        let (does, cmd) = match &hc.probe {
            Probe::Url { url, expect_status } => (
                format!(
                    "requests {url}, expects HTTP {expect_status}; up to {} attempt(s), {} s each, {} s apart (a failure switches back)",
                    hc.retries, hc.timeout_s, hc.interval_s
                ),
                None,
            ),
            Probe::Command(c) => (
                format!(
                    "runs the health check command; up to {} attempt(s), {} s each, {} s apart (a failure switches back)",
                    hc.retries, hc.timeout_s, hc.interval_s
                ),
                Some(c.as_str()),
            ),
        };
        v.push(step("health", does, cmd));
    }
    if p.watch_s > 0 {
        let w = &s.watch;
        let app = w
            .app_log
            .as_deref()
            .map_or(String::new(), |a| format!(" and the new lines of {a}"));
        let auto = w
            .auto_revert
            .map_or("; reverts only when told (x, Ctrl-C)".to_string(), |a| {
                format!(
                    "; reverts by itself when 5xx stay at {}/s for {} s, or when told",
                    a.errors_5xx_per_s, a.for_s
                )
            });
        let when = match p.stepped {
            true => {
                " after its step's switch, and again after each later step's (see the rollout's steps)"
            }
            false => "",
        };
        v.push(step(
            "watch",
            format!(
                "holds the switch (the lock, the way back) for {} s{when}, reading {}{app}{auto}",
                p.watch_s, w.access_log
            ),
            None,
        ));
    }
    if p.fleet {
        v.push(step(
            "(fleet verdict)",
            "waits until every server has switched".into(),
            None,
        ));
    }
    v.push(step(
        "(finish)",
        format!(
            "records success, writes deployment.log, appends to the release log, {}, unlocks",
            match p.prune {
                0 => "prunes nothing".to_string(),
                n => format!("prunes {n} release(s)"),
            }
        ),
        None,
    ));
    let mut failure = Vec::new();
    if let Some(h) = &s.hooks.after_rollback {
        failure.push(step(
            "after_rollback",
            "after a switch back (a failed reload, after_switch or health check), in the release live again".into(),
            Some(h),
        ));
    }
    if let Some(h) = &s.hooks.on_failure {
        failure.push(step(
            "on_failure",
            "once, after the clean-up (half release removed, the release before live again), under the lock".into(),
            Some(h),
        ));
    }
    (v, failure)
}
