//! The scriptable CLI: one consumer of the engine's events.

mod args;
mod printer;
mod tables;

pub use args::{Cli, Command};

use crate::config::{self, Config, SiteRef};
use crate::engine::{self, DeployOptions, Engine, PruneOptions, RollbackOptions};
use crate::error::{Error, Result};
use crate::store::{DeploymentJson, Store};
use clap::Parser;
use std::path::PathBuf;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

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

struct Ctx {
    config: Config,
    engine: Arc<Engine>,
    printer: tokio::task::JoinHandle<()>,
}

impl Ctx {
    fn open(cli: &Cli, quiet: bool) -> Result<Ctx> {
        let config = Config::load(&config_path(cli))?;
        let db = cli.db.clone().unwrap_or_else(config::default_db_path);
        let store = Arc::new(Store::open(&db)?);
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let tagged = site_count(&config, cli.command.as_ref()) > 1;
        let printer = tokio::spawn(printer::print_events(rx, quiet, tagged));
        let engine = Arc::new(
            Engine::new(store, tx, crate::transport::connect::connector_for)
                .with_redactor(config.redactor.clone()),
        );
        Ok(Ctx {
            config,
            engine,
            printer,
        })
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

/// Runs `f` on every site, at most `parallel` at once, and reports each outcome in order.
async fn on_each_site<'c, T, F, Fut>(
    config: &'c Config,
    sites: &[SiteRef<'c>],
    f: F,
) -> Vec<(String, Result<T>)>
where
    F: Fn(SiteRef<'c>) -> Fut,
    Fut: std::future::Future<Output = Result<T>>,
{
    let limit = tokio::sync::Semaphore::new(config.parallel);
    let runs = sites.iter().map(|s| {
        let (limit, f) = (&limit, &f);
        async move {
            let _permit = limit.acquire().await.expect("never closed");
            (s.key(), f(s.clone()).await)
        }
    });
    futures_util::future::join_all(runs).await
}

fn config_path(cli: &Cli) -> PathBuf {
    cli.config
        .clone()
        .unwrap_or_else(config::default_config_path)
}

fn connector(site: &SiteRef<'_>) -> Result<Arc<dyn crate::transport::Connector>> {
    crate::transport::connect::connector_for(site.server)
}

async fn run(cli: Cli) -> Result<()> {
    let Some(command) = &cli.command else {
        return dashboard(&cli).await;
    };
    match command {
        Command::Demo { dir, keep } => return demo(dir.clone(), *keep).await,
        Command::Init => return init(&cli),
        _ => {}
    }
    let quiet = matches!(
        command,
        Command::List { .. } | Command::Status { .. } | Command::Log { .. } | Command::Trust { .. }
    );
    let ctx = Ctx::open(&cli, quiet)?;
    let r = dispatch(&ctx, command).await;
    ctx.done(r).await
}

/// No command: the dashboard on the config, or the demo when there is no config file yet.
async fn dashboard(cli: &Cli) -> Result<()> {
    let path = config_path(cli);
    if !path.exists() && cli.config.is_none() {
        return demo(None, false).await;
    }
    let config = Config::load(&path)?;
    let db = cli.db.clone().unwrap_or_else(config::default_db_path);
    let store = Arc::new(Store::open(&db)?);
    crate::ui::run(config, store, None).await
}

/// `demo`: build the sandbox, open the dashboard on it, remove it afterwards unless kept.
async fn demo(dir: Option<PathBuf>, keep: bool) -> Result<()> {
    eprintln!(
        "flipdeck: building the demo sandbox (a sample app, a local server, a few deployments)…"
    );
    let demo = crate::demo::Demo::build(dir).await?;
    let r = async {
        let config = Config::load(&demo.config_path)?;
        let store = Arc::new(Store::open(&demo.db_path)?);
        crate::ui::run(config, store, Some(demo.header(keep))).await
    }
    .await;
    if keep {
        println!("The demo sandbox is kept in {}", demo.dir.display());
        println!("Its config: {}", demo.config_path.display());
        println!(
            "Try: flipdeck --config '{}' --db '{}' list {}",
            demo.config_path.display(),
            demo.db_path.display(),
            crate::demo::SHOP
        );
    } else {
        demo.remove();
    }
    r
}

/// `init`: the commented example config at the config path; an existing file is never replaced.
fn init(cli: &Cli) -> Result<()> {
    let path = config_path(cli);
    if path.exists() {
        return Err(Error::failed(format!(
            "{} already exists; not overwriting it",
            path.display()
        )));
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::failed(format!("cannot create {}: {e}", dir.display())))?;
    }
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .map_err(|e| Error::failed(format!("cannot write {}: {e}", path.display())))?;
    f.write_all(include_str!("../../assets/config.example.toml").as_bytes())
        .map_err(|e| Error::failed(format!("cannot write {}: {e}", path.display())))?;
    println!("{}", path.display());
    Ok(())
}

async fn dispatch(ctx: &Ctx, command: &Command) -> Result<()> {
    let engine = &ctx.engine;
    match command {
        Command::Provision { site } => {
            // A bare domain on several servers provisions every one of them, in parallel.
            let sites = ctx.config.find_sites(site)?;
            let results = on_each_site(&ctx.config, &sites, |s| async move {
                let c = connector(&s)?;
                engine.provision(&s, c.as_ref()).await
            })
            .await;
            let mut failed = Vec::new();
            for (key, r) in results {
                match r {
                    Ok(engine::Provisioned::Already { live }) => {
                        println!("{key} is already provisioned; live release: {live}")
                    }
                    Ok(engine::Provisioned::Initial(d)) => println!(
                        "provisioned {key}: initial deployment #{} release {}",
                        d.deployment_id, d.release
                    ),
                    Err(e) if sites.len() == 1 => return Err(e),
                    Err(e) => {
                        eprintln!("flipdeck: {key}: {e}");
                        failed.push(key);
                    }
                }
            }
            if failed.is_empty() {
                Ok(())
            } else {
                Err(Error::failed(format!(
                    "provisioning failed on {}",
                    failed.join(", ")
                )))
            }
        }
        Command::Deploy { site, branch } => {
            let mut sites = ctx.config.find_sites(site)?;
            let cancel = CancellationToken::new();
            let watcher = tokio::spawn(cancel_on_signal(cancel.clone()));
            let opts = DeployOptions {
                branch: branch.clone(),
                initial: false,
            };
            let r = if sites.len() == 1 {
                let site = sites.remove(0);
                engine
                    .deploy(&site, connector(&site)?.as_ref(), opts, cancel)
                    .await
                    .map(|_| ())
            } else {
                fleet_summary(
                    engine
                        .deploy_fleet(&sites, ctx.config.parallel, opts, cancel)
                        .await?,
                )
            };
            watcher.abort();
            r
        }
        Command::Rollback { site, to } => {
            let mut sites = ctx.config.find_sites(site)?;
            if sites.len() > 1 {
                let results = engine
                    .rollback_fleet(&sites, ctx.config.parallel, to.as_deref())
                    .await?;
                let mut failed = Vec::new();
                for (key, r) in &results {
                    match r {
                        Ok(r) => println!("OK  {key}: rolled back to #{} ({})", r.to, r.release),
                        Err(e) => {
                            println!("ERR {key}: {e}");
                            failed.push(key.clone());
                        }
                    }
                }
                return if failed.is_empty() {
                    Ok(())
                } else {
                    Err(Error::failed(format!(
                        "the fleet rollback failed on {}; the other servers were put back",
                        failed.join(", ")
                    )))
                };
            }
            let site = sites.remove(0);
            let opts = match to.as_deref().map(|t| t.parse::<i64>()) {
                Some(Ok(id)) => RollbackOptions {
                    to: Some(id),
                    to_release: None,
                },
                Some(Err(_)) => RollbackOptions {
                    to: None,
                    to_release: to.clone(),
                },
                None => RollbackOptions::default(),
            };
            engine
                .rollback(&site, connector(&site)?.as_ref(), opts)
                .await
                .map(|_| ())
        }
        Command::Prune(args) => prune(ctx, args).await,
        Command::List {
            site,
            json,
            limit,
            all,
        } => {
            let site = ctx.config.find_site(site)?;
            let limit = (!*all).then(|| limit.map_or(args::LIST_DEFAULT, |l| l as usize));
            let (list, total) = match engine
                .store
                .find_site(&site.server.name, &site.site.domain)?
            {
                Some(row) => {
                    let list = engine.store.list(row.id, limit)?;
                    // Counted only when there may be more: a long history is not scanned.
                    let total = if Some(list.len()) == limit {
                        engine.store.count(row.id)?
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
            if *json {
                let v: Vec<DeploymentJson<'_>> = list.iter().map(DeploymentJson::from).collect();
                println!(
                    "{}",
                    serde_json::to_string_pretty(&v).expect("serializable")
                );
                if let Some(more) = more {
                    eprintln!("flipdeck: {more}");
                }
            } else {
                print!("{}", tables::deployments(&list));
                if let Some(more) = more {
                    println!("({more})");
                }
            }
            Ok(())
        }
        Command::Status { json } => status(ctx, *json).await,
        Command::Log { id } => log(ctx, *id).await,
        Command::Trust { server, yes } => trust(&ctx.config, server, *yes).await,
        Command::Demo { .. } | Command::Init => unreachable!("handled before the config is read"),
        Command::Unlock { site, force } => {
            let site = ctx.config.find_site(site)?;
            match engine
                .unlock(&site, connector(&site)?.as_ref(), *force)
                .await?
            {
                Some(holder) => println!("removed the lock of {}, held by {holder}", site.key()),
                None => println!("{} was not locked", site.key()),
            }
            Ok(())
        }
    }
}

/// One line per server of a fleet deploy, and the verdict: a fleet succeeded only if every server did.
fn fleet_summary(results: Vec<(String, Result<engine::Deployed>)>) -> Result<()> {
    let mut failed = Vec::new();
    for (key, r) in &results {
        match r {
            Ok(d) => println!("OK  {key}: release {} (#{})", d.release, d.deployment_id),
            Err(e) => {
                println!("ERR {key}: {e}");
                failed.push(key.clone());
            }
        }
    }
    if failed.is_empty() {
        println!("fleet deployed to {} servers", results.len());
        Ok(())
    } else {
        Err(Error::failed(format!(
            "the fleet deploy failed on {}; no server kept the new release",
            failed.join(", ")
        )))
    }
}

/// `trust SERVER`: show the host key, ask, and record it in known_hosts. A changed key is refused.
async fn trust(config: &Config, name: &str, yes: bool) -> Result<()> {
    use crate::transport::ssh::{self, TrustOutcome};
    use std::io::{BufRead, IsTerminal, Write};
    let server = config
        .servers
        .iter()
        .find(|s| s.name == name)
        .ok_or_else(|| {
            let names: Vec<&str> = config.servers.iter().map(|s| s.name.as_str()).collect();
            Error::usage(format!(
                "no server {name:?} in {}; servers: {}",
                config.path.display(),
                names.join(", ")
            ))
        })?;
    if server.transport != config::TransportKind::Ssh {
        return Err(Error::usage(format!(
            "server {name} uses the local transport: there is no host key to trust"
        )));
    }
    let params = crate::transport::connect::params_for(server)?;
    let info = ssh::fetch_host_key(&params)
        .await
        .map_err(|e| Error::failed(e.to_string()))?;
    println!(
        "{name} ({}:{}) presents a {} key with fingerprint {}",
        params.host, params.port, info.key_type, info.fingerprint_sha256
    );
    if let ssh::HostKeyStatus::Known = ssh::check_known_host(
        &params.known_hosts_file,
        &params.host,
        params.port,
        &info.key,
    )
    .map_err(|e| Error::failed(e.to_string()))?
    {
        println!("already trusted in {}", params.known_hosts_file.display());
        return Ok(());
    }
    if !yes {
        if !std::io::stdin().is_terminal() {
            return Err(Error::failed(
                "not trusting without confirmation: stdin is not a terminal; compare the fingerprint, then pass --yes",
            ));
        }
        print!(
            "Trust this key and add it to {}? [y/N] ",
            params.known_hosts_file.display()
        );
        let _ = std::io::stdout().flush();
        let mut answer = String::new();
        let _ = std::io::stdin().lock().read_line(&mut answer);
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            return Err(Error::failed("host key not trusted"));
        }
    }
    match ssh::trust_host_key(&params, &info).map_err(|e| Error::failed(e.to_string()))? {
        TrustOutcome::Added => println!("added to {}", params.known_hosts_file.display()),
        TrustOutcome::AlreadyKnown => {
            println!("already trusted in {}", params.known_hosts_file.display())
        }
    }
    Ok(())
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

async fn prune(ctx: &Ctx, args: &args::PruneArgs) -> Result<()> {
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
    let mut failures = Vec::new();
    for site in &sites {
        match ctx
            .engine
            .prune(site, connector(site)?.as_ref(), opts.clone())
            .await
        {
            Ok(p) if args.dry_run => {
                println!(
                    "{}: would delete {} release(s), keep {}",
                    site.key(),
                    p.plan.delete.len(),
                    p.plan.keep.len() + p.kept_live.len()
                );
                for i in &p.plan.delete {
                    println!(
                        "  delete {}  (deployment #{}, {})",
                        i.release, i.deployment_id, i.path
                    );
                }
                for r in &p.kept_live {
                    println!("  keep   {r}  (live on the server)");
                }
            }
            Ok(p) => println!("{}: deleted {} release(s)", site.key(), p.deleted.len()),
            Err(e) => {
                eprintln!("flipdeck: {e}");
                failures.push(site.key());
            }
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(Error::failed(format!(
            "prune failed for {}",
            failures.join(", ")
        )))
    }
}

async fn status(ctx: &Ctx, json: bool) -> Result<()> {
    let mut rows = Vec::new();
    let mut failed = 0;
    for site in ctx.config.sites() {
        let inspection = match connector(&site) {
            Ok(c) => ctx.engine.refresh(&site, c.as_ref()).await,
            Err(e) => Err(e),
        };
        if inspection.is_err() {
            failed += 1;
        }
        rows.push(tables::StatusRow::build(
            &ctx.engine.store,
            &site,
            inspection,
        )?);
    }
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&rows).expect("serializable")
        );
    } else {
        print!("{}", tables::status(&rows));
    }
    if failed > 0 {
        return Err(Error::failed(format!(
            "{failed} site(s) could not be read; see the error column"
        )));
    }
    Ok(())
}

async fn log(ctx: &Ctx, id: i64) -> Result<()> {
    let store = &ctx.engine.store;
    let d = store
        .get(id)?
        .ok_or_else(|| Error::failed(format!("no deployment #{id} in the history")))?;
    if let Some(out) = store.output(id)? {
        print!("{out}");
        return Ok(());
    }
    let (server, domain) = store.site_of(id)?.expect("a deployment has a site");
    let path = d
        .log_file_path
        .filter(|_| d.deployment_path.is_some())
        .ok_or_else(|| {
            Error::failed(format!(
                "deployment #{id} has no stored output and its release directory is gone"
            ))
        })?;
    let site = ctx.config.find_site(&format!("{server}/{domain}"))?;
    print!(
        "{}",
        ctx.engine
            .fetch_log(&site, connector(&site)?.as_ref(), &path)
            .await?
    );
    Ok(())
}
