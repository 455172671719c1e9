//! The CLI's consumer of engine events: a plain, greppable log on stdout.

use crate::engine::{Event, EventKind};
use crate::transport::Stream;
use std::io::Write;
use tokio::sync::mpsc::UnboundedReceiver;

/// The line an event prints, if any. With `quiet`, only notices and failures are shown.
fn render(kind: EventKind, quiet: bool) -> Option<String> {
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
        EventKind::Log {
            stream: Stream::Stdout,
            line,
        } if !quiet => Some(format!("    {line}")),
        EventKind::Log {
            stream: Stream::Stderr,
            line,
        } if !quiet => Some(format!("  ! {line}")),
        EventKind::Notice { message } => Some(format!("flipdeck: {message}")),
        EventKind::JobFinished { ok: true, summary } if !quiet => Some(format!("OK  {summary}")),
        EventKind::JobFinished { ok: false, summary } => Some(format!("ERR {summary}")),
        _ => None,
    }
}

/// Prints events until the channel closes. With `tagged` (several servers at once) every line
/// starts with its `SERVER/DOMAIN`, so interleaved output stays readable.
pub async fn print_events(mut rx: UnboundedReceiver<Event>, quiet: bool, tagged: bool) {
    let stdout = std::io::stdout();
    while let Some(ev) = rx.recv().await {
        let Some(line) = render(ev.kind, quiet) else {
            continue;
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
