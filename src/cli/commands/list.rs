//! `list SITE [--json] [--limit N | --all]`: the site's deployments from the history, newest
//! first, and how many more there are when not all are shown.

use crate::cli::Ctx;
use crate::cli::args::LIST_DEFAULT;
use crate::cli::tables;
use crate::error::Result;
use crate::store::DeploymentJson;
use crate::visible::visible_lines;

pub fn run(ctx: &Ctx, site: &str, json: bool, limit: Option<u32>, all: bool) -> Result<()> {
    let site = ctx.config.find_site(site)?;
    let store = &ctx.engine.store;
    let limit = (!all).then(|| limit.map_or(LIST_DEFAULT, |l| l as usize));
    let (list, total) = match store.find_site(&site.server.name, &site.site.domain)? {
        Some(row) => {
            let list = store.list(row.id, limit)?;
            // Counted only when there may be more: a long history is not scanned.
            let total = if Some(list.len()) == limit {
                store.count(row.id)?
            } else {
                list.len()
            };
            (list, total)
        }
        None => (Vec::new(), 0),
    };
    let more = (total > list.len()).then(|| {
        format!(
            "the newest {} of {total} deployments; `--limit N` or `--all` shows more",
            list.len()
        )
    });
    if json {
        let v: Vec<DeploymentJson<'_>> = list.iter().map(DeploymentJson::from).collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&v).expect("serializable")
        );
        // On stderr, so stdout stays one JSON document.
        if let Some(more) = more {
            eprintln!("flipdeck: {more}");
        }
    } else {
        print!("{}", visible_lines(&tables::deployments(&list)));
        if let Some(more) = more {
            println!("({more})");
        }
    }
    Ok(())
}
