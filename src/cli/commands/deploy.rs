//! `deploy SITE [--branch B | --ref TAG_OR_SHA | --artifact FILE [--commit SHA]]`: one site, or every server of a fleet domain (all or none keep the
//! new release). The log streams through the event printer; Ctrl-C cancels cleanly. `--dry-run`:
//! what it would do, changing nothing.

use crate::cli::Ctx;
use crate::cli::each_site::{fleet_err, report_each};
use crate::cli::printer::say;
use crate::cli::signals::cancel_on_signal;
use crate::engine::{Artifact, DeployOptions};
use crate::error::{Error, Result};
use crate::notify::Outcome;
use std::path::PathBuf;
use tokio_util::sync::CancellationToken;

/// What to deploy: `--branch`, `--ref`, `--artifact FILE [--commit SHA]`.
pub struct What {
    pub branch: Option<String>,
    pub git_ref: Option<String>,
    pub artifact: Option<PathBuf>,
    pub commit: Option<String>,
    /// `--canary`, `--batch`, `--pause`: a stepped fleet rollout.
    pub rollout: crate::cli::rollout::Flags,
    /// `--watch[=SECS]` (see `watch_s`).
    pub watch: Option<Option<u32>>,
}

/// The options' own checks, and the artifact read (and checked) before anything is asked or sent.
fn checked_artifact(what: &What) -> Result<Option<Artifact>> {
    if let Some(c) = &what.commit {
        crate::validate::commit_id(c).map_err(|w| Error::usage(format!("--commit {c:?} {w}")))?;
    }
    if what.artifact.is_some() && what.git_ref.is_some() {
        return Err(Error::usage(
            "--ref chooses what to build; an --artifact is built already (name its commit with --commit)",
        ));
    }
    match &what.artifact {
        Some(f) => Ok(Some(Artifact::load(f, what.commit.clone())?)),
        None => Ok(None),
    }
}

/// `deploy --dry-run`: what the deploy would do on each server; changes and records nothing
/// (see `cli::dry_run`).
pub async fn dry_run(ctx: &Ctx, site: &str, what: What, json: bool) -> Result<()> {
    let sites = ctx.config.find_sites(site)?;
    // The rollout flags are checked as a deploy checks them, and the steps shown.
    let rollout = crate::cli::rollout::from_flags(&what.rollout, &sites)?.or_else(|| {
        (sites.len() > 1)
            .then(|| sites[0].site.rollout.clone())
            .flatten()
    });
    let opts = DeployOptions {
        artifact: checked_artifact(&what)?,
        branch: what.branch,
        initial: false,
        git_ref: what.git_ref,
        watch_s: watch_s(&sites, what.watch)?,
        rollout: rollout.clone(),
        ..Default::default()
    };
    let r = crate::cli::dry_run::run(ctx, &sites, &opts, json).await;
    if let Some(rollout) = rollout.filter(|_| !json) {
        // As the deploy: the longest of the sites' watch_s, or --watch.
        let watched = opts.watch_s.unwrap_or_else(|| {
            sites
                .iter()
                .map(|s| s.site.watch.seconds)
                .max()
                .unwrap_or(0)
        });
        crate::cli::dry_run::print_rollout_plan(&rollout, &sites, watched)?;
    }
    r
}

pub async fn run(ctx: &Ctx, site: &str, what: What, yes: bool) -> Result<()> {
    let mut sites = ctx.config.find_sites(site)?;
    let artifact = checked_artifact(&what)?;
    let watch_s = watch_s(&sites, what.watch)?;
    crate::cli::confirm::protected(&sites, "deploy", yes)?;
    let cancel = CancellationToken::new();
    let watched = watch_s.unwrap_or_else(|| {
        sites
            .iter()
            .map(|s| s.site.watch.seconds)
            .max()
            .unwrap_or(0)
    }) > 0;
    let watcher = tokio::spawn(cancel_on_signal(
        cancel.clone(),
        if watched {
            "interrupted: cancelling the build, or, once switched, reverting to the release before..."
        } else {
            "cancelling; cleaning up the half-built release and the lock..."
        },
    ));
    // A stepped rollout: the flags' (over the site's); on a terminal the operator's keys.
    let rollout = crate::cli::rollout::from_flags(&what.rollout, &sites)?;
    let stepped = rollout.clone().or_else(|| {
        (sites.len() > 1)
            .then(|| sites[0].site.rollout.clone())
            .flatten()
    });
    let opts = DeployOptions {
        branch: what.branch,
        initial: false,
        git_ref: what.git_ref,
        artifact,
        hold: crate::cli::rollout::terminal_hold(stepped.as_ref()),
        rollout,
        watch_s,
    };
    let started = chrono::Utc::now();
    let store = &ctx.engine.store;
    let r = if sites.len() == 1 {
        let site = sites.remove(0);
        let r = ctx
            .engine
            .deploy(&site, ctx.connector(&site)?.as_ref(), opts, cancel)
            .await;
        ctx.notify(
            Outcome::deploy(store, &site, started, &r)
                .into_iter()
                .collect(),
        )
        .await;
        r.map(|_| ())
    } else {
        let results = ctx
            .engine
            .deploy_fleet(&sites, ctx.config.parallel, opts, cancel)
            .await;
        ctx.notify(Outcome::of_fleet(
            &ctx.config,
            store,
            &sites,
            started,
            &results,
            Outcome::deploy,
        ))
        .await;
        let results = results?;
        let servers = results.len();
        // The fleet's watch reverted it (each server says so): exit 3, as a single server's
        // watch revert does; any other failure anywhere is a failed fleet deploy.
        let watch_reverted = !results.is_empty()
            && results
                .iter()
                .all(|(_, r)| matches!(r, Err(Error::Reverted(_))));
        report_each(
            results,
            |key, d| say!("OK  {key}: release {} (#{})", d.release, d.deployment_id),
            fleet_err,
            |sites| match watch_reverted {
                true => format!(
                    "the watch reverted the fleet deploy on {sites}; every server is back on the release it had"
                ),
                false => {
                    format!("the fleet deploy failed on {sites}; no server kept the new release")
                }
            },
        )
        .map_err(|e| match watch_reverted {
            true => Error::Reverted(e.to_string()),
            false => e,
        })
        .map(|()| say!("fleet deployed to {servers} servers"))
    };
    watcher.abort();
    r
}

/// Without `--watch`, each site's `watch_s`; a bare `--watch`, that or 60 s; `--watch=SECS`,
/// SECS. A watch shorter than the site's `auto_revert.for_s` could never revert: refused.
fn watch_s(sites: &[crate::config::SiteRef<'_>], flag: Option<Option<u32>>) -> Result<Option<u32>> {
    /// A bare `--watch` on a site without `watch_s`.
    const DEFAULT_WATCH_S: u32 = 60;
    let secs = match flag {
        None => return Ok(None),
        Some(Some(0)) => return Err(Error::usage("--watch=SECS needs at least 1 second")),
        Some(Some(n)) => n,
        Some(None) => match sites.iter().map(|s| s.site.watch.seconds).max() {
            Some(n) if n > 0 => n,
            _ => DEFAULT_WATCH_S,
        },
    };
    for s in sites {
        if let Some(a) = s.site.watch.auto_revert
            && a.for_s > secs
        {
            return Err(Error::usage(format!(
                "--watch={secs} is shorter than auto_revert's for_s ({} s) of {}: it could never revert; watch longer",
                a.for_s,
                s.key()
            )));
        }
    }
    Ok(Some(secs))
}
