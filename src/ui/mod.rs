//! The dashboard: a server/site tree, the deployments table and a live log pane, driven by the
//! same engine as the CLI. State lives in `app`, drawing in `view` (both laid out by `layout`),
//! keys in `keymap`, work in `worker`.

pub mod app;
pub mod keymap;
pub mod keyspec;
pub mod layout;
pub mod logbuf;
mod terminal;
pub mod theme;
pub mod view;
pub mod worker;

use crate::config::Config;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::store::Store;
use crate::transport::pool::Pool;
use app::{App, SiteView};
use crossterm::event::{Event as TermEvent, EventStream, KeyEventKind};
use futures_util::StreamExt;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::signal::unix::{SignalKind, signal};

/// At most ~60 frames a second, however fast logs arrive.
const FRAME: Duration = Duration::from_millis(16);
const TICK: Duration = Duration::from_millis(100);

/// The tree's sites, in config order, grouped by stage (stages in the order they first appear,
/// servers without one last).
pub fn site_views(config: &Config) -> Vec<SiteView> {
    let mut stages: Vec<Option<&str>> = Vec::new();
    for s in &config.servers {
        if !stages.contains(&s.stage.as_deref()) {
            stages.push(s.stage.as_deref());
        }
    }
    let rank = |st: Option<&str>| match st {
        None => usize::MAX,
        st => stages.iter().position(|o| *o == st).unwrap_or(usize::MAX),
    };
    let mut sites: Vec<_> = config.sites().collect();
    sites.sort_by_key(|s| rank(s.server.stage.as_deref()));
    sites
        .into_iter()
        .map(|s| SiteView {
            key: s.key(),
            server: s.server.name.clone(),
            domain: s.site.domain.clone(),
            branch: s.site.branch.clone(),
            transport: match s.server.transport {
                crate::config::TransportKind::Local => "local".into(),
                crate::config::TransportKind::Ssh => "ssh".into(),
            },
            deployments: vec![],
            loaded: false,
            running: None,
            lock: None,
            drift: None,
            table_sel: 0,
            stage: s.server.stage.clone(),
            protected: s.protected(),
            env: None,
        })
        .collect()
}

/// How the dashboard is opened.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// A note for the header (the demo's).
    pub header: Option<String>,
    /// `--ascii`: ASCII borders and symbols whatever the locale.
    pub ascii: bool,
    /// The history database's path, for the commands the dashboard steps aside for (`e`).
    pub db: Option<std::path::PathBuf>,
}

/// Runs the dashboard until the user quits.
pub async fn run(config: Config, store: Arc<Store>, options: Options) -> Result<()> {
    let keymap = keyspec::keymap(&config)?;
    let theme = theme::Theme::from_config(&config, options.ascii);
    let (ev_tx, mut ev_rx) = tokio::sync::mpsc::unbounded_channel();
    let (ld_tx, mut ld_rx) = tokio::sync::mpsc::unbounded_channel();
    let (health_tx, mut health_rx) = tokio::sync::mpsc::unbounded_channel();
    let pool = Pool::new(
        crate::transport::connect::direct(),
        config.parallel,
        Some(health_tx),
    );
    let engine = Arc::new(
        Engine::new(store, ev_tx, pool.connectors()).with_redactor(config.redactor.clone()),
    );
    let mut app = App::new(site_views(&config), config.path.display().to_string());
    app.header = options.header;
    app.keymap = Arc::new(keymap);
    let refresh = config.refresh;
    let config_path = config.path.clone();
    let worker = worker::Worker::new(Arc::new(config), engine, ld_tx, pool);
    let io = |e: std::io::Error| Error::failed(format!("terminal error: {e}"));

    let (mut term, _guard) = terminal::setup().map_err(io)?;
    let mut input = EventStream::new();
    let (mut sigterm, mut sighup) = (
        signal(SignalKind::terminate()).map_err(io)?,
        signal(SignalKind::hangup()).map_err(io)?,
    );
    for fx in app.start() {
        worker.run(fx);
    }
    worker.keep_servers(refresh);
    let mut last_draw = Instant::now() - FRAME;
    let mut next_tick = Instant::now() + TICK;
    let mut forced_quit: Option<Instant> = None;
    loop {
        if app.dirty && last_draw.elapsed() >= FRAME {
            draw(&mut term, &mut app, &theme).map_err(io)?;
            last_draw = Instant::now();
        }
        if app.should_quit || forced_quit.is_some_and(|t| t.elapsed() > Duration::from_secs(15)) {
            break;
        }
        let frame_due = tokio::time::Instant::from_std(last_draw + FRAME);
        let tick_due = tokio::time::Instant::from_std(next_tick);
        // The next moment an age on screen changes: the only wake-up of an idle dashboard.
        let ages = app.next_age_change(chrono::Utc::now());
        let age_due = tokio::time::Instant::now() + ages.unwrap_or(Duration::from_secs(3600));
        let mut effects = Vec::new();
        tokio::select! {
            ev = input.next() => match ev {
                Some(Ok(TermEvent::Key(k))) if k.kind != KeyEventKind::Release => effects = app.on_key(k),
                Some(Ok(TermEvent::Mouse(m))) => effects = app.on_mouse(m),
                Some(Ok(TermEvent::Resize(..))) => app.dirty = true,
                Some(Ok(_)) => {}
                Some(Err(_)) | None => break,
            },
            Some(ev) = ev_rx.recv() => {
                effects = app.on_engine(ev);
                // Take whatever else is queued now, so a flood of log lines costs one frame.
                for _ in 0..50_000 {
                    match ev_rx.try_recv() {
                        Ok(ev) => effects.extend(app.on_engine(ev)),
                        Err(_) => break,
                    }
                }
            },
            Some(l) = ld_rx.recv() => effects = app.on_loaded(l),
            Some((server, health)) = health_rx.recv() => {
                effects = app.on_loaded(app::Loaded::Health { server, health });
            },
            _ = tokio::time::sleep_until(tick_due), if app.animating() => {
                app.tick();
                next_tick = Instant::now() + TICK;
            },
            _ = tokio::time::sleep_until(age_due), if ages.is_some() => app.dirty = true,
            _ = tokio::time::sleep_until(frame_due), if app.dirty => {},
            _ = sigterm.recv() => { forced_quit.get_or_insert_with(Instant::now); effects = quit_now(&mut app); },
            _ = sighup.recv() => { forced_quit.get_or_insert_with(Instant::now); effects = quit_now(&mut app); },
        }
        if !app.animating() {
            next_tick = Instant::now() + TICK;
        }
        for fx in effects {
            match fx {
                app::Effect::Copy(text) => terminal::copy(&text).map_err(io)?,
                app::Effect::MouseCapture(on) => terminal::mouse(on).map_err(io)?,
                app::Effect::EditEnv(site) => {
                    // The input stream's reader would take the editor's keys: it goes, and a
                    // new one reads once the dashboard is back.
                    drop(input);
                    let outcome =
                        step_aside(&config_path, options.db.as_deref(), &site, app.mouse).await;
                    input = EventStream::new();
                    terminal::redraw_all(&mut term).map_err(io)?;
                    app.dirty = true;
                    match outcome {
                        Ok(()) => worker.run(app::Effect::Refresh { site, quiet: true }),
                        Err(e) => app.toast(e, true),
                    }
                }
                fx => worker.run(fx),
            }
        }
    }
    Ok(())
}

/// Leaves the screen to `flipdeck env edit SITE` (this binary, same config and history), on the
/// terminal as the CLI has it, waits for Enter so its last lines can be read, and takes the
/// screen back. Jobs keep running meanwhile; their events wait in the queue.
async fn step_aside(
    config: &std::path::Path,
    db: Option<&std::path::Path>,
    site: &str,
    mouse: bool,
) -> std::result::Result<(), String> {
    terminal::restore();
    let exe = std::env::current_exe().map_err(|e| format!("cannot find flipdeck itself: {e}"))?;
    let mut c = tokio::process::Command::new("sh");
    // The command's own lines (the diff, the outcome) stay on screen until Enter.
    c.arg("-c")
        .arg("\"$0\" \"$@\"; printf '\\n[press Enter to return to the dashboard] '; read -r _")
        .arg(&exe)
        .arg("--config")
        .arg(config);
    if let Some(db) = db {
        c.arg("--db").arg(db);
    }
    c.args(["env", "edit", site]);
    let status = c.status().await;
    let back = terminal::resume(mouse).map_err(|e| format!("terminal error: {e}"));
    status.map_err(|e| format!("cannot run flipdeck env edit: {e}"))?;
    back
}

/// A signal asks to go: cancel jobs cleanly, then leave when they are done.
fn quit_now(app: &mut App) -> Vec<app::Effect> {
    app.quitting = true;
    if app.running_jobs() == 0 {
        app.should_quit = true;
    }
    vec![app::Effect::CancelAll]
}

/// Tells the App the frame's size, then draws it from the App, which drawing only reads.
fn draw(term: &mut terminal::Term, app: &mut App, theme: &theme::Theme) -> std::io::Result<()> {
    use crossterm::terminal::{BeginSynchronizedUpdate, EndSynchronizedUpdate};
    let size = term.size()?;
    app.resize(ratatui::layout::Rect::new(0, 0, size.width, size.height));
    crossterm::execute!(std::io::stdout(), BeginSynchronizedUpdate)?;
    let r = term.draw(|f| view::draw(f, app, theme));
    crossterm::execute!(std::io::stdout(), EndSynchronizedUpdate)?;
    app.dirty = false;
    r.map(|_| ())
}
