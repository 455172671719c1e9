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
    let (list, total) = newest(
        row.as_ref().map(|r| r.id),
        limit,
        |id, l| store.list(id, l),
        |id| store.count(id),
    )?;
    let json_rows = json.then(|| list.iter().map(DeploymentJson::from).collect::<Vec<_>>());
    if show(
        json_rows,
        || tables::deployments(&list),
        list.len(),
        total,
        "deployments",
    ) {
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
    let (list, total) = newest(
        site_id,
        limit,
        |id, l| store.command_runs(id, l),
        |id| store.command_run_count(id),
    )?;
    let json_rows = json.then(|| list.iter().map(CommandRunJson::from).collect::<Vec<_>>());
    show(
        json_rows,
        || tables::command_runs(&list),
        list.len(),
        total,
        "command runs",
    );
    Ok(())
}

/// The newest `limit` rows of the site and how many it has in all; counted only when there may
/// be more, so a long history is not scanned.
fn newest<T>(
    site_id: Option<i64>,
    limit: Option<usize>,
    rows: impl Fn(i64, Option<usize>) -> Result<Vec<T>>,
    count: impl Fn(i64) -> Result<usize>,
) -> Result<(Vec<T>, usize)> {
    let Some(id) = site_id else {
        return Ok((Vec::new(), 0));
    };
    let list = rows(id, limit)?;
    let total = if Some(list.len()) == limit {
        count(id)?
    } else {
        list.len()
    };
    Ok((list, total))
}

/// Prints a page: the rows as one pretty JSON array (the "more" line on stderr, so stdout stays
/// one document), or the table with the "more" line under it. True when it printed the table.
fn show<J: serde::Serialize>(
    json_rows: Option<Vec<J>>,
    table: impl FnOnce() -> String,
    shown: usize,
    total: usize,
    what: &str,
) -> bool {
    let more = (total > shown).then(|| {
        format!("the newest {shown} of {total} {what}; `--limit N` or `--all` shows more")
    });
    if let Some(v) = json_rows {
        println!(
            "{}",
            serde_json::to_string_pretty(&v).expect("serializable")
        );
        if let Some(more) = more {
            eprintln!("flipdeck: {more}");
        }
        return false;
    }
    print!("{}", visible_lines(&table()));
    if let Some(more) = more {
        println!("({more})");
    }
    true
}
