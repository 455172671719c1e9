//! `prune [--keep N] [--dry-run] [--site SITE | --site-id ID]`: old releases of one site, of
//! every server of a fleet domain, or of every site. Sites are pruned one after another, each
//! reported as it is done.

use crate::cli::Ctx;
use crate::cli::args::PruneArgs;
use crate::cli::each_site::Failures;
use crate::cli::printer::say;
use crate::config::SiteRef;
use crate::engine::{PruneOptions, Pruned};
use crate::error::{Error, Result};
use crate::visible::visible;

pub async fn run(ctx: &Ctx, args: &PruneArgs) -> Result<()> {
    let sites: Vec<SiteRef<'_>> = match (&args.target.site, args.target.site_id) {
        (Some(s), _) => ctx.config.find_sites(s)?,
        (None, Some(id)) => {
            let (server, domain) = ctx
                .engine
                .store
                .site_names(id)?
                .ok_or_else(|| Error::usage(format!("no site with history ID {id}")))?;
            vec![ctx.config.find_site(&format!("{server}/{domain}"))?]
        }
        (None, None) => ctx.config.sites().collect(),
    };
    let opts = PruneOptions {
        keep: args.keep.map(|k| k as usize),
        dry_run: args.dry_run,
    };
    let mut failures = Failures::default();
    for site in &sites {
        let outcome = ctx
            .engine
            .prune(site, ctx.connector(site)?.as_ref(), opts.clone())
            .await;
        failures.report(
            &site.key(),
            outcome,
            |p| print(site, &p, args.dry_run),
            |e| eprintln!("flipdeck: {}", visible(&e.to_string(), false)),
        );
    }
    failures.verdict(|sites| format!("prune failed for {sites}"))
}

fn print(site: &SiteRef<'_>, p: &Pruned, dry_run: bool) {
    if !dry_run {
        say!("{}: deleted {} release(s)", site.key(), p.deleted.len());
        return;
    }
    say!(
        "{}: would delete {} release(s), keep {}",
        site.key(),
        p.plan.delete.len(),
        p.plan.keep.len() + p.kept_live.len()
    );
    for i in &p.plan.delete {
        say!(
            "  delete {}  (deployment #{}, {})",
            i.release,
            i.deployment_id,
            i.path
        );
    }
    for r in &p.kept_live {
        say!("  keep   {r}  (live on the server)");
    }
}
