//! `run SITE [NAME] [--server S]`: one of the site's named commands in its live release, on
//! every server of the site (at most `parallel` at once), each server's outcome reported; without
//! NAME, the commands the site has.

use crate::cli::Ctx;
use crate::cli::each_site::{Failures, fleet_err};
use crate::cli::printer::say;
use crate::cli::signals::cancel_on_signal;
use crate::config::SiteRef;
use crate::engine::unknown_command;
use crate::error::{Error, Result};
use crate::visible::visible;
use tokio_util::sync::CancellationToken;

/// The sites of `sites` on `server` (all of them without one).
pub fn on_server<'c>(sites: Vec<SiteRef<'c>>, server: Option<&str>) -> Result<Vec<SiteRef<'c>>> {
    let Some(server) = server else {
        return Ok(sites);
    };
    let on: Vec<SiteRef<'c>> = sites
        .iter()
        .filter(|s| s.server.name == server)
        .cloned()
        .collect();
    if on.is_empty() {
        let servers: Vec<&str> = sites.iter().map(|s| s.server.name.as_str()).collect();
        return Err(Error::usage(format!(
            "{} is not on server {server:?}; it is on: {}",
            sites[0].site.domain,
            servers.join(", ")
        )));
    }
    Ok(on)
}

pub async fn run(
    ctx: &Ctx,
    site: &str,
    name: Option<&str>,
    server: Option<&str>,
    yes: bool,
) -> Result<()> {
    let sites = on_server(ctx.config.find_sites(site)?, server)?;
    let Some(name) = name else {
        list(&sites);
        return Ok(());
    };
    // Every server must have the command: a run that silently skips a server is a surprise.
    if let Some(lacking) = sites.iter().find(|s| s.site.command(name).is_none()) {
        return Err(unknown_command(lacking, name));
    }
    crate::cli::confirm::protected(&sites, &format!("run {name} on"), yes)?;
    let cancel = CancellationToken::new();
    let watcher = tokio::spawn(cancel_on_signal(cancel.clone(), "stopping the command..."));
    let results = ctx
        .engine
        .run_command_each(&sites, ctx.config.parallel, name, cancel)
        .await;
    watcher.abort();
    if results.len() == 1 {
        return results.into_iter().next().expect("one").1.map(|_| ());
    }
    let servers = results.len();
    let mut failures = Failures::default();
    for (key, outcome) in results {
        failures.report(
            &key,
            outcome,
            |o| {
                say!(
                    "OK  {key}: ran in release {} (run c{})",
                    o.release,
                    o.run_id
                )
            },
            |e| fleet_err(&key, e),
        );
    }
    failures
        .verdict(|sites| format!("{name} failed on {sites}"))
        .map(|()| say!("{name} ran on {servers} servers"))
}

/// The commands of `sites`: once when every server has the same, else per server.
fn list(sites: &[SiteRef<'_>]) {
    let same = sites
        .windows(2)
        .all(|w| w[0].site.commands == w[1].site.commands);
    let groups: Vec<&[SiteRef<'_>]> = if same {
        vec![sites]
    } else {
        sites.chunks(1).collect()
    };
    for group in groups {
        let site = &group[0];
        if !same {
            println!("{}:", site.key());
        }
        if site.site.commands.is_empty() {
            println!(
                "{} has no commands; add them under [servers.sites.commands]",
                site.key()
            );
            continue;
        }
        let width = site
            .site
            .commands
            .iter()
            .map(|(n, _)| n.len())
            .max()
            .unwrap_or(0);
        for (n, c) in &site.site.commands {
            // Multi-line commands show their first line.
            let first = c.lines().next().unwrap_or("");
            let more = if c.trim_end().contains('\n') {
                " …"
            } else {
                ""
            };
            println!("{n:<width$}  {}{more}", visible(first, false));
        }
    }
}
