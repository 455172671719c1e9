//! The scriptable CLI: one consumer of the engine's events. This file parses the command line,
//! sets up what the commands share (`Ctx`) and dispatches; each command is a file of `commands`.

mod args;
mod candidates;
mod commands;
pub mod complete;
mod confirm;
mod dry_run;
mod each_site;
pub mod json_events;
mod printer;
mod rollout;
mod signals;
mod tables;

pub use args::{Cli, Command, EnvCommand};

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
    // A TAB in a shell with flipdeck's completion script: answer it and exit.
    complete::answer_if_asked();
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return Ok(if e.use_stderr() { 2 } else { 0 });
        }
    };
    let json = cli.command.as_ref().and_then(json_command);
    if json.is_some() {
        printer::human_to_stderr();
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::failed(format!("cannot start: {e}")))?;
    let r = runtime.block_on(run(cli));
    // With --json the last line on stdout says how it ended; the error is still reported on
    // stderr as always (by the binary).
    if let Some(command) = json {
        let code = r.as_ref().err().map_or(0, Error::exit_code);
        json_events::emit(&json_events::result(command, code, r.as_ref().err()));
    }
    r.map(|()| 0)
}

/// The command's name when it was given `--json` and streams JSON events (`list` and `status`
/// print their own JSON documents).
fn json_command(command: &Command) -> Option<&'static str> {
    match command {
        Command::Provision { json: true, .. } => Some("provision"),
        Command::Deploy {
            json: true,
            dry_run: false,
            ..
        } => Some("deploy"),
        Command::Rollback { json: true, .. } => Some("rollback"),
        Command::Prune(a) if a.json => Some("prune"),
        Command::Unlock { json: true, .. } => Some("unlock"),
        Command::Env {
            command:
                EnvCommand::Set { json: true, .. }
                | EnvCommand::Unset { json: true, .. }
                | EnvCommand::Restore { json: true, .. },
        } => Some("env"),
        Command::Run {
            json: true,
            name: Some(_),
            ..
        } => Some("run"),
        _ => None,
    }
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
        let config = load_config(cli)?;
        let store = Arc::new(Store::open(&db_path(cli))?);
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let tagged = site_count(&config, cli.command.as_ref()) > 1;
        let colors = cli.script_colors;
        let printer = if cli.command.as_ref().and_then(json_command).is_some() {
            tokio::spawn(json_events::print_events(rx, move |ev| {
                printer::write_event(ev, quiet, tagged, colors)
            }))
        } else {
            tokio::spawn(printer::print_events(rx, quiet, tagged, colors))
        };
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

    /// Sends the `[[notify]]` webhooks about what ended, waiting at most their `timeout_s`; one
    /// that did not arrive is a warning line (and a record in the history), never an error.
    async fn notify(&self, outcomes: Vec<crate::notify::Outcome>) {
        for w in crate::notify::send_all(&self.config, &self.engine.store, &outcomes).await {
            self.engine.notice(&w.site, w.message);
        }
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

/// The config, narrowed to `--stage`'s servers when given.
fn load_config(cli: &Cli) -> Result<Config> {
    let mut config = Config::load(&config_path(cli))?;
    if let Some(stage) = &cli.stage {
        config.retain_stage(stage)?;
    }
    Ok(config)
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
        Some(Command::Provision { site, .. })
        | Some(Command::Deploy { site, .. })
        | Some(Command::Rollback { site, .. }) => Some(site),
        Some(Command::Run { site, server, .. }) => {
            return config.find_sites(site).map_or(1, |v| {
                run::on_server(v, server.as_deref()).map_or(1, |v| v.len())
            });
        }
        Some(Command::Prune(a)) if a.target.site.is_some() => a.target.site.as_ref(),
        Some(Command::Env { command }) => Some(command.site()),
        Some(Command::Diff { site, .. }) => Some(site),
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
            cli.stage.as_deref(),
            cli.ascii,
        )
        .await;
    };
    // These need no config: the demo makes its own, `init` writes one, the rest describe the CLI;
    // `doctor` needs no history.
    match command {
        Command::Demo { dir, keep } => return demo::run(dir.clone(), *keep, cli.ascii).await,
        Command::Init => return init::run(&config_path(&cli)),
        Command::Completions { shell } => {
            print!("{}", complete::script(*shell)?);
            return Ok(());
        }
        Command::Man { dir } => {
            let path = complete::write_man(dir.as_deref().unwrap_or(std::path::Path::new(".")))?;
            println!("{}", path.display());
            return Ok(());
        }
        Command::Doctor { server, json } => {
            return doctor::run(&load_config(&cli)?, server.as_deref(), *json).await;
        }
        // An interactive shell: no history, no events.
        Command::Ssh { site, server } => {
            return ssh::run(&load_config(&cli)?, site, server.as_deref()).await;
        }
        _ => {}
    }
    // Commands that print a result, not a job's progress: only notices and failures of events.
    let quiet = matches!(
        command,
        Command::List { .. }
            | Command::Status { .. }
            | Command::Log { .. }
            | Command::Trust { .. }
            | Command::Keygen { .. }
            | Command::Unlock { .. }
            | Command::Env { .. }
            | Command::Diff { .. }
            | Command::Deploy { dry_run: true, .. }
    );
    let ctx = Ctx::open(&cli, quiet)?;
    let r = dispatch(&ctx, command).await;
    ctx.done(r).await
}

async fn dispatch(ctx: &Ctx, command: &Command) -> Result<()> {
    match command {
        Command::Provision { site, .. } => provision::run(ctx, site).await,
        Command::Deploy {
            site,
            branch,
            git_ref,
            artifact,
            commit,
            yes,
            canary,
            batch,
            pause,
            dry_run,
            json,
            watch,
            ..
        } => {
            let what = deploy::What {
                branch: branch.clone(),
                git_ref: git_ref.clone(),
                artifact: artifact.clone(),
                commit: commit.clone(),
                rollout: rollout::Flags {
                    canary: *canary,
                    batches: batch.clone(),
                    pauses: pause.clone(),
                },
                watch: *watch,
            };
            if *dry_run {
                return deploy::dry_run(ctx, site, what, *json).await;
            }
            deploy::run(ctx, site, what, *yes).await
        }
        Command::Rollback { site, to, yes, .. } => {
            rollback::run(ctx, site, to.as_deref(), *yes).await
        }
        Command::Diff {
            site,
            to,
            git_ref,
            json,
        } => diff::run(ctx, site, *to, git_ref.as_deref(), *json).await,
        Command::Prune(args) => prune::run(ctx, args).await,
        Command::List {
            site,
            json,
            limit,
            all,
            commands,
        } => list::run(ctx, site, *json, *limit, *all, *commands),
        Command::Status { json } => status::run(ctx, *json).await,
        Command::Log { id } => log::run(ctx, id).await,
        Command::Run {
            site,
            name,
            server,
            yes,
            ..
        } => run::run(ctx, site, name.as_deref(), server.as_deref(), *yes).await,
        Command::Trust { server, yes } => trust::run(&ctx.config, server, *yes).await,
        Command::Unlock { site, force, .. } => unlock::run(ctx, site, *force).await,
        Command::Keygen {
            site,
            yes,
            git_host_key,
        } => keygen::run(ctx, site, *yes, git_host_key.as_deref()).await,
        Command::Env { command } => env::run(ctx, command).await,
        Command::Demo { .. }
        | Command::Init
        | Command::Completions { .. }
        | Command::Man { .. }
        | Command::Ssh { .. }
        | Command::Doctor { .. } => unreachable!("handled before the history is opened"),
    }
}
