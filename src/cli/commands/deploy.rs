//! `deploy SITE [--branch B]`: one site, or every server of a fleet domain (all or none keep the
//! new release). The log streams through the event printer; Ctrl-C cancels cleanly.

use crate::cli::Ctx;
use crate::cli::each_site::{fleet_err, report_each};
use crate::cli::printer::say;
use crate::engine::DeployOptions;
use crate::error::Result;
use tokio_util::sync::CancellationToken;

pub async fn run(ctx: &Ctx, site: &str, branch: Option<String>, yes: bool) -> Result<()> {
    let mut sites = ctx.config.find_sites(site)?;
    crate::cli::confirm::protected(&sites, "deploy", yes)?;
    let cancel = CancellationToken::new();
    let watcher = tokio::spawn(cancel_on_signal(cancel.clone()));
    let opts = DeployOptions {
        branch,
        initial: false,
    };
    let r = if sites.len() == 1 {
        let site = sites.remove(0);
        ctx.engine
            .deploy(&site, ctx.connector(&site)?.as_ref(), opts, cancel)
            .await
            .map(|_| ())
    } else {
        let results = ctx
            .engine
            .deploy_fleet(&sites, ctx.config.parallel, opts, cancel)
            .await?;
        let servers = results.len();
        report_each(
            results,
            |key, d| say!("OK  {key}: release {} (#{})", d.release, d.deployment_id),
            fleet_err,
            |sites| format!("the fleet deploy failed on {sites}; no server kept the new release"),
        )
        .map(|()| say!("fleet deployed to {servers} servers"))
    };
    watcher.abort();
    r
}

/// Ctrl-C, SIGTERM or SIGHUP cancel the running deploy cleanly (half release removed, lock released).
async fn cancel_on_signal(cancel: CancellationToken) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut hup)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::hangup()),
    ) else {
        return;
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
        _ = hup.recv() => {}
    }
    eprintln!("flipdeck: cancelling; cleaning up the half-built release and the lock...");
    cancel.cancel();
}
