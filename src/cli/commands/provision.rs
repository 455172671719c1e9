//! `provision SITE`: the layout, shared paths and initial deployment; every server of a fleet
//! domain, in parallel.

use crate::cli::Ctx;
use crate::cli::each_site::{on_each_site, report_each};
use crate::cli::printer::say;
use crate::engine::Provisioned;
use crate::error::Result;
use crate::visible::visible;

pub async fn run(ctx: &Ctx, site: &str) -> Result<()> {
    let sites = ctx.config.find_sites(site)?;
    let engine = &ctx.engine;
    let mut results = on_each_site(&ctx.config, &sites, |s| async move {
        let c = ctx.connector(&s)?;
        engine.provision(&s, c.as_ref()).await
    })
    .await;
    // One site: its own error, with its exit code and advice, rather than a summary.
    if let [(_, Err(_))] = &results[..] {
        return results.remove(0).1.map(|_| ());
    }
    report_each(
        results,
        |key, p| match p {
            Provisioned::Already { live } => {
                say!("{key} is already provisioned; live release: {live}")
            }
            Provisioned::Initial(d) => say!(
                "provisioned {key}: initial deployment #{} release {}",
                d.deployment_id,
                d.release
            ),
        },
        |key, e| eprintln!("flipdeck: {key}: {}", visible(&e.to_string(), false)),
        |sites| format!("provisioning failed on {sites}"),
    )
}
