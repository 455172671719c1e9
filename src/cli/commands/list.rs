//! `list SITE [--json] [--limit N | --all] [--commands]`: the site's deployments (or, with
//! `--commands`, its command runs) from the history, newest first, and how many more there are
//! when not all are shown.

use crate::cli::Ctx;
use crate::cli::args::LIST_DEFAULT;
use crate::cli::tables;
use crate::error::Result;
use crate::store::{CommandRunJson, DeploymentJson};
use crate::visible::visible_lines;

pub fn run(
    ctx: &Ctx,
    site: &str,
    json: bool,
    limit: Option<u32>,
    all: bool,
    commands: bool,
) -> Result<()> {
    let site = ctx.config.find_site(site)?;
    let store = &ctx.engine.store;
    let limit = (!all).then(|| limit.map_or(LIST_DEFAULT, |l| l as usize));
    let row = store.find_site(&site.server.name, &site.site.domain)?;
    if commands {
        if let Some(row) = &row {
            ctx.engine.settle_interrupted_runs(row.id)?;
        }
        return command_runs(ctx, row.map(|r| r.id), json, limit);
    }
    let (list, total) = match &row {
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
        // Command runs are no deployments: a pointer to them, never a row among these.
        let runs = match &row {
            Some(row) => store.command_run_count(row.id)?,
            None => 0,
        };
        if runs > 0 {
            println!(
                "({runs} command run{}: `flipdeck list {} --commands`)",
                if runs == 1 { "" } else { "s" },
                site.key()
            );
        }
    }
    Ok(())
}

/// `list --commands`: the command runs, newest first, as a table or a JSON array (each object
/// has `"kind": "command"`).
fn command_runs(ctx: &Ctx, site_id: Option<i64>, json: bool, limit: Option<usize>) -> Result<()> {
    let store = &ctx.engine.store;
    let (list, total) = match site_id {
        Some(id) => {
            let list = store.command_runs(id, limit)?;
            let total = if Some(list.len()) == limit {
                store.command_run_count(id)?
            } else {
                list.len()
            };
            (list, total)
        }
        None => (Vec::new(), 0),
    };
    let more = (total > list.len()).then(|| {
        format!(
            "the newest {} of {total} command runs; `--limit N` or `--all` shows more",
            list.len()
        )
    });
    if json {
        let v: Vec<CommandRunJson<'_>> = list.iter().map(CommandRunJson::from).collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&v).expect("serializable")
        );
        if let Some(more) = more {
            eprintln!("flipdeck: {more}");
        }
    } else {
        print!("{}", visible_lines(&tables::command_runs(&list)));
        if let Some(more) = more {
            println!("({more})");
        }
    }
    Ok(())
}
