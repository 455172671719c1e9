//! The CLI's consumer of engine events: a plain, greppable log on stdout.

use crate::engine::{Event, EventKind};
use crate::target::Stream;
use std::io::Write;
use tokio::sync::mpsc::UnboundedReceiver;

/// Prints events until the channel closes. With `quiet`, only notices and failures are shown.
pub async fn print_events(mut rx: UnboundedReceiver<Event>, quiet: bool) {
    let stdout = std::io::stdout();
    while let Some(ev) = rx.recv().await {
        let mut out = stdout.lock();
        let _ = match ev.kind {
            EventKind::StepStarted { step } if !quiet => writeln!(out, "==> {step}"),
            EventKind::StepFinished {
                step,
                ok: false,
                elapsed,
            } => {
                writeln!(out, "!!! {step} failed after {:.2}s", elapsed.as_secs_f64())
            }
            EventKind::Log { stream, line } if !quiet => match stream {
                Stream::Stdout => writeln!(out, "    {line}"),
                Stream::Stderr => writeln!(out, "  ! {line}"),
            },
            EventKind::Notice { message } => writeln!(out, "flipdeck: {message}"),
            EventKind::JobFinished { ok: true, summary } if !quiet => {
                writeln!(out, "OK  {summary}")
            }
            EventKind::JobFinished { ok: false, summary } => writeln!(out, "ERR {summary}"),
            _ => Ok(()),
        };
        let _ = out.flush();
    }
}
