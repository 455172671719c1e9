//! The CLI's consumer of engine events: a plain, greppable log on stdout. Script output is set
//! apart from flipdeck's own lines by its gutter (`  | ` for stdout, `  ! ` for stderr), and every
//! line passes through `visible`, so a script can neither send escape sequences to the operator's
//! terminal nor print a line that passes for flipdeck's.

use crate::engine::{Event, EventKind};
use crate::transport::Stream;
use crate::visible::visible;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::sync::mpsc::UnboundedReceiver;

/// With `--json`, stdout carries only JSON lines: every human line goes to stderr instead.
static HUMAN_TO_STDERR: AtomicBool = AtomicBool::new(false);

/// Sends the human output to stderr from now on (`--json`).
pub fn human_to_stderr() {
    HUMAN_TO_STDERR.store(true, Ordering::Relaxed);
}

/// Where a human line goes: stdout, or stderr under `--json`.
fn human_out() -> Box<dyn Write> {
    if HUMAN_TO_STDERR.load(Ordering::Relaxed) {
        Box::new(std::io::stderr().lock())
    } else {
        Box::new(std::io::stdout().lock())
    }
}

/// Prints one line of a command's own human output (a result line, a summary).
pub fn say_line(line: impl std::fmt::Display) {
    let mut out = human_out();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// `println!` for a command's human output: stdout, or stderr under `--json`.
macro_rules! say {
    ($($t:tt)*) => { $crate::cli::printer::say_line(format_args!($($t)*)) };
}
pub(crate) use say;

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
        EventKind::RolloutServer { state, .. } => Some(format!("rollout: {}", state.as_str())),
        EventKind::RolloutStep { step, steps, phase } => {
            Some(crate::cli::rollout::step_line(step, steps, &phase))
        }
        EventKind::WatchStarted {
            seconds,
            auto_revert,
            after,
        } => Some(format!(
            "watching for {seconds} s after the switch{}{}; the switch is held: Ctrl-C reverts",
            after.map(|a| format!(" of {a}")).unwrap_or_default(),
            auto_revert
                .map(|a| format!(
                    " (auto_revert at {}/s 5xx for {} s)",
                    a.errors_5xx_per_s, a.for_s
                ))
                .unwrap_or_default()
        )),
        EventKind::WatchSecond {
            second,
            left,
            by_class: [c2, c3, c4, c5],
            ms,
            app,
            app_more,
        } if !quiet => {
            let mut l = format!(
                "watch {second:>3}  2xx {c2:>5}  3xx {c3:>4}  4xx {c4:>4}  5xx {c5:>4}  in {:.1} s  ({left} s left)",
                f64::from(ms) / 1000.0
            );
            for a in app {
                l.push_str(&format!("\n{OUT_GUTTER}app: {a}"));
            }
            if app_more > 0 {
                l.push_str(&format!("\n{OUT_GUTTER}app: ({app_more} more lines)"));
            }
            Some(l)
        }
        // The deploy says how it ended (kept, or reverted and why) in its own notice.
        EventKind::WatchEnded { .. } => None,
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
    while let Some(ev) = rx.recv().await {
        write_event(&ev, quiet, tagged, script_colors);
    }
}

/// Prints one event's line, if it has one, where human output goes.
pub fn write_event(ev: &Event, quiet: bool, tagged: bool, script_colors: bool) {
    let log = matches!(ev.kind, EventKind::Log { .. });
    let Some(line) = render(ev.kind.clone(), quiet, script_colors) else {
        return;
    };
    // Script output was made visible above (keeping colours on request); the rest is made
    // visible whole, since step names and summaries quote the script and the server.
    let line = if log {
        line
    } else {
        visible(&line, false).into_owned()
    };
    let mut out = human_out();
    let _ = if tagged {
        writeln!(out, "[{}] {line}", ev.site)
    } else {
        writeln!(out, "{line}")
    };
    let _ = out.flush();
}
