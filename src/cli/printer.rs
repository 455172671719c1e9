//! The CLI's consumer of engine events: a plain, greppable log on stdout. Script output is set
//! apart from flipdeck's own lines by its gutter (`  | ` for stdout, `  ! ` for stderr), and every
//! line passes through `visible`, so a script can neither send escape sequences to the operator's
//! terminal nor print a line that passes for flipdeck's.

use crate::engine::{Event, EventKind};
use crate::transport::Stream;
use crate::visible::visible;
use std::io::Write;
use tokio::sync::mpsc::UnboundedReceiver;

/// The gutter before a line of script output on stdout.
pub const OUT_GUTTER: &str = "  | ";
/// The gutter before a line of script output on stderr.
pub const ERR_GUTTER: &str = "  ! ";

/// The line an event prints, if any, and whether it is script output. With `quiet`, only
/// notices and failures are shown.
fn render(kind: EventKind, quiet: bool, script_colors: bool) -> Option<String> {
    match kind {
        EventKind::StepStarted { step } if !quiet => Some(format!("==> {step}")),
        EventKind::StepFinished {
            step,
            ok: false,
            elapsed,
        } => Some(format!(
            "!!! {step} failed after {:.2}s",
            elapsed.as_secs_f64()
        )),
        EventKind::Log { stream, line } if !quiet => {
            let gutter = match stream {
                Stream::Stdout => OUT_GUTTER,
                Stream::Stderr => ERR_GUTTER,
            };
            Some(format!("{gutter}{}", visible(&line, script_colors)))
        }
        EventKind::Notice { message } => Some(format!("flipdeck: {message}")),
        EventKind::JobFinished { ok: true, summary } if !quiet => Some(format!("OK  {summary}")),
        EventKind::JobFinished { ok: false, summary } => Some(format!("ERR {summary}")),
        _ => None,
    }
}

/// Prints events until the channel closes. With `tagged` (several servers at once) every line
/// starts with its `SERVER/DOMAIN`, so interleaved output stays readable.
pub async fn print_events(
    mut rx: UnboundedReceiver<Event>,
    quiet: bool,
    tagged: bool,
    script_colors: bool,
) {
    let stdout = std::io::stdout();
    while let Some(ev) = rx.recv().await {
        let log = matches!(ev.kind, EventKind::Log { .. });
        let Some(line) = render(ev.kind, quiet, script_colors) else {
            continue;
        };
        // Script output was made visible above (keeping colours on request); the rest is made
        // visible whole, since step names and summaries quote the script and the server.
        let line = if log {
            line
        } else {
            visible(&line, false).into_owned()
        };
        let mut out = stdout.lock();
        let _ = if tagged {
            writeln!(out, "[{}] {line}", ev.site)
        } else {
            writeln!(out, "{line}")
        };
        let _ = out.flush();
    }
}
