//! The scriptable CLI: one consumer of the engine's events. This file parses the command line,
//! sets up what the commands share (`Ctx`) and dispatches; each command is a file of `commands`.

mod args;
mod commands;
mod each_site;
mod printer;
mod tables;

pub use args::{Cli, Command};

use crate::config::{Config, SiteRef};
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::paths;
use crate::store::Store;
use crate::transport::Connector;
use clap::Parser;
use commands::*;
use std::path::PathBuf;
use std::sync::Arc;

/// Runs the CLI. `Ok` carries the exit code of a run that needs no report (0, or clap's own for
/// a usage error it has printed); `Err` is reported by the binary (see `main.rs`).
pub fn main() -> Result<i32> {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return Ok(if e.use_stderr() { 2 } else { 0 });
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::failed(format!("cannot start: {e}")))?;
    runtime.block_on(run(cli)).map(|()| 0)
}

/// What the commands that read the config share: the config, and the engine on the history with
/// its events going to the printer.
struct Ctx {
    config: Config,
    /// `--script-colors`: script output keeps its colour sequences.
    script_colors: bool,
    engine: Arc<Engine>,
    printer: tokio::task::JoinHandle<()>,
}

impl Ctx {
    fn open(cli: &Cli, quiet: bool) -> Result<Ctx> {
        let config = Config::load(&config_path(cli))?;
        let store = Arc::new(Store::open(&db_path(cli))?);
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let tagged = site_count(&config, cli.command.as_ref()) > 1;
        let printer = tokio::spawn(printer::print_events(rx, quiet, tagged, cli.script_colors));
        let engine = Arc::new(
            Engine::new(store, tx, crate::transport::connect::direct())
                .with_redactor(config.redactor.clone()),
        );
        Ok(Ctx {
            config,
            script_colors: cli.script_colors,
            engine,
            printer,
        })
    }

    /// How to reach the server of `site`.
    fn connector(&self, site: &SiteRef<'_>) -> Result<Arc<dyn Connector>> {
        crate::transport::connect::connector_for(site.server)
    }

    /// Drops the engine (closing the event channel) and waits for everything to be printed.
    async fn done<T>(self, r: Result<T>) -> Result<T> {
        let Ctx {
            engine, printer, ..
        } = self;
        drop(engine);
        let _ = printer.await;
        r
    }
}

fn config_path(cli: &Cli) -> PathBuf {
    cli.config
        .clone()
        .unwrap_or_else(paths::default_config_path)
}

fn db_path(cli: &Cli) -> PathBuf {
    cli.db.clone().unwrap_or_else(paths::default_db_path)
}

/// How many sites a command acts on (more than one: output lines are tagged with their site).
fn site_count(config: &Config, command: Option<&Command>) -> usize {
    let spec = match command {
        Some(Command::Provision { site })
        | Some(Command::Deploy { site, .. })
        | Some(Command::Rollback { site, .. }) => Some(site),
        Some(Command::Prune(a)) if a.target.site.is_some() => a.target.site.as_ref(),
        Some(Command::Prune(a)) if a.target.site_id.is_none() => return config.sites().count(),
        _ => None,
    };
    spec.and_then(|s| config.find_sites(s).ok())
        .map_or(1, |v| v.len())
}

async fn run(cli: Cli) -> Result<()> {
    let Some(command) = &cli.command else {
        return dashboard::run(
            &config_path(&cli),
            cli.config.is_some(),
            &db_path(&cli),
            cli.ascii,
        )
        .await;
    };
    // These two need no config: the demo makes its own, `init` writes one.
    match command {
        Command::Demo { dir, keep } => return demo::run(dir.clone(), *keep, cli.ascii).await,
        Command::Init => return init::run(&config_path(&cli)),
        _ => {}
    }
    // Commands that print a result, not a job's progress: only notices and failures of events.
    let quiet = matches!(
        command,
        Command::List { .. } | Command::Status { .. } | Command::Log { .. } | Command::Trust { .. }
    );
    let ctx = Ctx::open(&cli, quiet)?;
    let r = dispatch(&ctx, command).await;
    ctx.done(r).await
}

async fn dispatch(ctx: &Ctx, command: &Command) -> Result<()> {
    match command {
        Command::Provision { site } => provision::run(ctx, site).await,
        Command::Deploy { site, branch } => deploy::run(ctx, site, branch.clone()).await,
        Command::Rollback { site, to } => rollback::run(ctx, site, to.as_deref()).await,
        Command::Prune(args) => prune::run(ctx, args).await,
        Command::List {
            site,
            json,
            limit,
            all,
        } => list::run(ctx, site, *json, *limit, *all),
        Command::Status { json } => status::run(ctx, *json).await,
        Command::Log { id } => log::run(ctx, *id).await,
        Command::Trust { server, yes } => trust::run(&ctx.config, server, *yes).await,
        Command::Unlock { site, force } => unlock::run(ctx, site, *force).await,
        Command::Demo { .. } | Command::Init => unreachable!("handled before the config is read"),
    }
}
