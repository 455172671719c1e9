//! `ssh SITE [--server S]`: an interactive shell in the site's live release. Over SSH it is a
//! pty on the same connection stack as every job (russh: known_hosts, keys, bastions), with the
//! local terminal in raw mode for the session (restored on every way out), its size sent at the
//! start and on each resize; on the local transport it is `$SHELL`, started in the release. Either
//! way flipdeck exits with the shell's exit status.

use crate::config::{Config, SiteRef, TransportKind};
use crate::error::{Error, Result};
use crate::shell::quote;
use crate::transport::{ExitStatus, Pty, ShellInput};
use std::io::{IsTerminal, Write};

pub async fn run(config: &Config, site: &str, server: Option<&str>) -> Result<()> {
    let sites = super::run::on_server(config.find_sites(site)?, server)?;
    if sites.len() > 1 {
        let servers: Vec<&str> = sites.iter().map(|s| s.server.name.as_str()).collect();
        return Err(Error::usage(format!(
            "{} is on several servers; pick one with --server: {}",
            sites[0].site.domain,
            servers.join(", ")
        )));
    }
    let site = &sites[0];
    let code = match site.server.transport {
        TransportKind::Local => local_shell(site)?,
        TransportKind::Ssh => remote_shell(site).await?,
    };
    // The shell's status is flipdeck's: nothing is left to clean up (the terminal is restored).
    let _ = std::io::stdout().flush();
    std::process::exit(code)
}

/// The shell code that enters the live release and starts the login user's shell there.
/// `root` is shell code for the root (quoted, or `"${HOME%/}"`).
fn enter_script(root: &str, domain: &str, then: &str) -> String {
    format!(
        "root={root}; domain={d}; live=\"$root/$domain\"\n\
         if [ ! -L \"$live\" ]; then echo \"flipdeck: $live is not a symlink: the site has no live release (provision or deploy it first)\" >&2; exit 1; fi\n\
         rel=$(cd \"$live\" && pwd -P) || exit 1\n\
         cd \"$rel\" || exit 1\n\
         export FLIPDECK_RELEASE=\"${{rel##*/}}\" FLIPDECK_RELEASE_PATH=\"$rel\" FLIPDECK_DOMAIN=\"$domain\" FLIPDECK_SHARED_PATH=\"$root/deployments/$domain/shared\"\n\
         {then}",
        d = quote(domain)
    )
}

/// The local transport: `$SHELL` (else `/bin/sh`) on this terminal, in the live release.
fn local_shell(site: &SiteRef<'_>) -> Result<i32> {
    let root = site
        .server
        .root
        .as_deref()
        .ok_or_else(|| Error::usage(format!("server {} has no root", site.server.name)))?;
    let shell = std::env::var("SHELL")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "/bin/sh".into());
    let script = enter_script(&quote(root), &site.site.domain, "exec \"$0\"");
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg(&shell)
        .status()
        .map_err(|e| Error::failed(format!("cannot start {shell}: {e}")))?;
    use std::os::unix::process::ExitStatusExt;
    Ok(status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0)))
}

/// Over SSH: a pty of this terminal's size, raw mode here, keys and resizes forwarded.
async fn remote_shell(site: &SiteRef<'_>) -> Result<i32> {
    if !std::io::stdin().is_terminal() || !std::io::stdout().is_terminal() {
        return Err(Error::usage(
            "flipdeck ssh needs a terminal (stdin and stdout); for a command, use `flipdeck run`",
        ));
    }
    let target = crate::transport::connect::connector_for(site.server)?
        .connect()
        .await?;
    let root = match &site.server.root {
        Some(r) => quote(r.trim_end_matches('/')),
        None => "\"${HOME%/}\"".to_string(),
    };
    let script = enter_script(&root, &site.site.domain, "exec \"${SHELL:-/bin/sh}\" -l");
    let (cols, rows) = crossterm::terminal::size().unwrap_or((80, 24));
    let pty = Pty {
        term: std::env::var("TERM")
            .ok()
            .filter(|t| !t.is_empty())
            .unwrap_or_else(|| "dumb".into()),
        cols,
        rows,
    };
    let (in_tx, in_rx) = tokio::sync::mpsc::unbounded_channel();
    let (out_tx, mut out_rx) = tokio::sync::mpsc::unbounded_channel::<Vec<u8>>();
    let raw = RawMode::enable()?;
    // Keystrokes: read from a thread of its own (a blocking read; it ends with the process).
    let keys = in_tx.clone();
    std::thread::spawn(move || {
        use std::io::Read;
        let mut buf = [0u8; 4096];
        let mut stdin = std::io::stdin().lock();
        loop {
            match stdin.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    if keys.send(ShellInput::Data(buf[..n].to_vec())).is_err() {
                        return;
                    }
                }
            }
        }
    });
    let resizes = tokio::spawn(forward_resizes(in_tx));
    let printer = tokio::spawn(async move {
        while let Some(bytes) = out_rx.recv().await {
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(&bytes);
            let _ = out.flush();
        }
    });
    let session = target.interactive(&script, pty, in_rx, out_tx);
    let ended = tokio::select! {
        r = session => Some(r),
        _ = hang_up() => None,
    };
    resizes.abort();
    let _ = printer.await;
    drop(raw);
    match ended {
        None => Err(Error::failed("the session was ended by a signal")),
        Some(Err(e)) => Err(Error::failed(e.to_string())),
        Some(Ok(ExitStatus::Code(c))) => Ok(c),
        Some(Ok(ExitStatus::Signal(s))) => {
            eprintln!("flipdeck: the remote shell was killed by signal {s}");
            Ok(1)
        }
    }
}

/// Sends the terminal's size whenever it changes (SIGWINCH).
async fn forward_resizes(tx: tokio::sync::mpsc::UnboundedSender<ShellInput>) {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut winch) = signal(SignalKind::window_change()) else {
        return;
    };
    while winch.recv().await.is_some() {
        if let Ok((cols, rows)) = crossterm::terminal::size()
            && tx.send(ShellInput::Resize { cols, rows }).is_err()
        {
            return;
        }
    }
}

/// SIGTERM or SIGHUP: the session ends (and the terminal is restored) rather than the process
/// dying in raw mode.
async fn hang_up() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut hup)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::hangup()),
    ) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = hup.recv() => {}
    }
}

/// The local terminal in raw mode for as long as this lives (dropped on every way out, a panic
/// included).
struct RawMode;

impl RawMode {
    fn enable() -> Result<RawMode> {
        crossterm::terminal::enable_raw_mode()
            .map_err(|e| Error::failed(format!("cannot put the terminal in raw mode: {e}")))?;
        Ok(RawMode)
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        let _ = crossterm::terminal::disable_raw_mode();
    }
}
