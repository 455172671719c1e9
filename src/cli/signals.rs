//! Ctrl-C, SIGTERM and SIGHUP end a running job cleanly: the engine is cancelled and cleans up on
//! the server (a deploy's half release and lock, a command's processes), and the run is recorded.

use tokio_util::sync::CancellationToken;

/// Waits for the first of the three signals, says `what` is done about it, and cancels.
pub async fn cancel_on_signal(cancel: CancellationToken, what: &'static str) {
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
    eprintln!("flipdeck: {what}");
    cancel.cancel();
}
