//! `deploy SITE --dry-run [--json]`: what the deploy would do on every server of the site (one
//! exec each, at most `parallel` at once; `engine::dry_run`), printed as a summary (what goes out
//! through `diff`'s own printer) or as one JSON object per server. Exits 1 when the deploy would
//! be refused or fail, after printing everything it knows.

use crate::cli::Ctx;
use crate::cli::commands::diff::print_human as print_diff;
use crate::cli::each_site::on_each_site;
use crate::cli::printer::say;
use crate::config::SiteRef;
use crate::engine::DeployOptions;
use crate::engine::dry_run::{DryRun, PruneEntry, Step};
use crate::error::{Error, Result};
use crate::visible::visible;

pub async fn run(ctx: &Ctx, sites: &[SiteRef<'_>], opts: &DeployOptions, json: bool) -> Result<()> {
    let fleet = sites.len() > 1;
    // One moment for every server: a fleet's release has one name.
    let now = chrono::Utc::now();
    let outcomes = on_each_site(&ctx.config, sites, |site| async move {
        let connector = ctx.connector(&site)?;
        ctx.engine
            .dry_run(&site, connector.as_ref(), opts, fleet, now)
            .await
    })
    .await;
    let mut refused = Vec::new();
    for (key, outcome) in outcomes {
        match outcome {
            Ok(d) => {
                if json {
                    println!(
                        "{}",
                        serde_json::to_string(&d).expect("a dry run serializes")
                    );
                } else {
                    print_human(&d);
                }
                if !d.would_deploy {
                    refused.push(format!("{key}: {}", d.refused.join("; ")));
                }
            }
            Err(e) if sites.len() == 1 => return Err(e),
            Err(e) => refused.push(format!("{key}: {e}")),
        }
    }
    match refused.len() {
        0 => Ok(()),
        _ if fleet => Err(Error::failed(format!(
            "dry run: the fleet deploy would not go ahead (all or none): {}; nothing was changed",
            refused.join("; ")
        ))),
        _ => Err(Error::failed(format!(
            "dry run: {}; nothing was changed",
            refused.join("; ")
        ))),
    }
}

fn v(s: &str) -> String {
    visible(s, false).into_owned()
}

fn short(sha: &Option<String>) -> String {
    sha.as_deref().map_or("commit not known yet".into(), |s| {
        s.chars().take(7).collect()
    })
}

fn print_human(d: &DryRun) {
    say!(
        "{}: deploy --dry-run of {} ({}), source = {}; nothing is changed",
        d.site,
        v(&d.target),
        short(&d.target_commit),
        d.source
    );
    say!(
        "  release {} ({}, UTC, at the deploy's start; -N if that second is taken){}",
        d.release,
        d.release_pattern,
        d.release_path
            .as_deref()
            .map(|p| format!(" in {}", v(p)))
            .unwrap_or_default()
    );
    match &d.lock {
        None => say!("  lock: free"),
        Some(l) if l.stale => say!(
            "  lock: held by {} (gone: the deploy recovers it first)",
            v(&l.holder)
        ),
        Some(l) => say!("  lock: held by {}", v(&l.holder)),
    }
    match (&d.diff, &d.diff_unknown) {
        (Some(diff), None) => print_diff(diff),
        (_, Some(why)) => say!("  what goes out cannot be known: {}", v(why)),
        (None, None) => {}
    }
    let p = &d.prune;
    say!(
        "  prune after the deploy (keep = {}, the new release counted): deletes {}",
        p.keep,
        if p.delete.is_empty() {
            "nothing".to_string()
        } else {
            format!("{} release(s)", p.delete.len())
        }
    );
    prune_lines("deletes", &p.delete);
    prune_lines("keeps", &p.kept);
    prune_lines("leaves", &p.untouched);
    if !d.shared_links.is_empty() {
        say!("  shared links:");
        for l in &d.shared_links {
            let state = match l.shared.as_str() {
                "present" => "in shared/",
                "missing" => "not in shared/ yet: seeded from the release, else created empty",
                "link" => "through a symlink: refused",
                _ => "not read",
            };
            say!("    {} -> {} ({state})", v(&l.path), v(&l.link));
        }
    }
    if !d.cached.is_empty() {
        let each: Vec<String> = d
            .cached
            .iter()
            .map(|c| {
                format!(
                    "{} ({})",
                    v(&c.path),
                    match (c.from_live, &d.live_release) {
                        (true, _) => "copied from the live release",
                        (false, Some(_)) => "the live release has none",
                        (false, None) => "nothing is live: starts empty",
                    }
                )
            })
            .collect();
        say!("  cached: {}", each.join(", "));
    }
    let env = &d.env;
    match (env.checked, env.missing.is_empty()) {
        (false, _) => {}
        (true, true) => say!("  env: the shared .env has every key of .env.example"),
        (true, false) => say!(
            "  env: the shared .env lacks {} ({})",
            v(&env.missing.join(" ")),
            if env.require_env {
                "require_env = true: the deploy fails before the switch"
            } else {
                "a warning"
            }
        ),
    }
    say!("  steps, in order:");
    steps(&d.steps);
    if !d.on_failure.is_empty() {
        say!("  on failure:");
        steps(&d.on_failure);
    }
    for w in &d.warnings {
        say!("WARN {}", v(w));
    }
    if d.would_deploy {
        say!("OK  {}: the deploy would go ahead", d.site);
    } else {
        for r in &d.refused {
            say!("NO  {}: {}", d.site, v(r));
        }
    }
}

fn prune_lines(verb: &str, list: &[PruneEntry]) {
    for e in list {
        let id = match e.deployment_id {
            Some(id) => format!("#{id}"),
            None if verb == "keeps" => "new".to_string(),
            None => "no record".to_string(),
        };
        say!(
            "    {verb:<7} {} ({id}{}): {}",
            v(&e.release),
            if e.live_now { ", live now" } else { "" },
            v(&e.why)
        );
    }
}

fn steps(list: &[Step]) {
    for (i, s) in list.iter().enumerate() {
        say!("    {:>2}. {}: {}", i + 1, s.step, v(&s.does));
        if let Some(c) = &s.command {
            for line in c.trim_end().lines() {
                say!("          {}", v(line));
            }
        }
    }
}

/// `deploy --dry-run` of a stepped rollout: which servers each step switches and the wait
/// before it.
pub fn print_rollout_plan(
    rollout: &crate::config::Rollout,
    sites: &[SiteRef<'_>],
    watch_s: u32,
) -> Result<()> {
    let steps =
        crate::engine::rollout::plan(rollout, sites.len()).map_err(crate::error::Error::usage)?;
    say!(
        "rollout: every server builds first, then {} step(s):",
        steps.len()
    );
    for (k, range) in steps.iter().enumerate() {
        let names: Vec<&str> = sites[range.clone()]
            .iter()
            .map(|s| s.server.name.as_str())
            .collect();
        let wait = if k == 0 {
            String::new()
        } else {
            match rollout.pause_before(k) {
                crate::config::Pause::Manual => " after the operator says so".to_string(),
                p => format!(" after {p}"),
            }
        };
        say!(
            "  {}{wait}: {}",
            crate::engine::rollout::step_name(rollout, k),
            names.join(", ")
        );
        if watch_s > 0 {
            // Every server switched so far, each time afresh: the canary's load grows.
            let watched: Vec<&str> = sites[..range.end]
                .iter()
                .map(|s| s.server.name.as_str())
                .collect();
            let auto = sites.iter().find_map(|s| s.site.watch.auto_revert).map_or(
                " (reverts only when told)".to_string(),
                |a| {
                    format!(
                        " (auto_revert at {}/s 5xx for {} s)",
                        a.errors_5xx_per_s, a.for_s
                    )
                },
            );
            let before = if k + 1 == steps.len() {
                "the commit"
            } else {
                "the next step"
            };
            say!(
                "    then watched for {watch_s} s before {before}{auto}: {}",
                watched.join(", ")
            );
        }
    }
    say!(
        "  then every server keeps the new release; any failure{} puts every switched one back",
        if watch_s > 0 {
            ", a watch's revert or the operator's"
        } else {
            ""
        }
    );
    Ok(())
}
