//! `rollback SITE [--to ID|RELEASE]`: one site, or every server of a fleet domain to the same
//! release (a server that fails puts the others back).

use crate::cli::Ctx;
use crate::cli::each_site::{fleet_err, report_each};
use crate::cli::printer::say;
use crate::engine::RollbackOptions;
use crate::error::Result;
use crate::notify::Outcome;

pub async fn run(ctx: &Ctx, site: &str, to: Option<&str>, yes: bool) -> Result<()> {
    let mut sites = ctx.config.find_sites(site)?;
    crate::cli::confirm::protected(&sites, "roll back", yes)?;
    let started = chrono::Utc::now();
    let store = &ctx.engine.store;
    if sites.len() > 1 {
        let results = ctx
            .engine
            .rollback_fleet(&sites, ctx.config.parallel, to)
            .await;
        ctx.notify(Outcome::of_fleet(
            &ctx.config,
            store,
            &sites,
            started,
            &results,
            Outcome::rollback,
        ))
        .await;
        let results = results?;
        return report_each(
            results,
            |key, r| say!("OK  {key}: rolled back to #{} ({})", r.to, r.release),
            fleet_err,
            |sites| {
                format!("the fleet rollback failed on {sites}; the other servers were put back")
            },
        );
    }
    let site = sites.remove(0);
    let r = ctx
        .engine
        .rollback(&site, ctx.connector(&site)?.as_ref(), options(to))
        .await;
    ctx.notify(
        Outcome::rollback(store, &site, started, &r)
            .into_iter()
            .collect(),
    )
    .await;
    r.map(|_| ())
}

/// `--to` is a deployment ID when it is a number, else a release name.
fn options(to: Option<&str>) -> RollbackOptions {
    match to.map(|t| (t, t.parse::<i64>())) {
        Some((_, Ok(id))) => RollbackOptions {
            to: Some(id),
            to_release: None,
        },
        Some((t, Err(_))) => RollbackOptions {
            to: None,
            to_release: Some(t.to_string()),
        },
        None => RollbackOptions::default(),
    }
}
