//! `log ID`: the stored output of a deployment, or the server's `deployment.log` when the history
//! has none, then the webhook notifications sent about it. Every line is made visible (see
//! `crate::visible`): a log is the script's output.

use crate::cli::Ctx;
use crate::error::Result;
use crate::visible::visible;
use std::io::Write;

pub async fn run(ctx: &Ctx, id: i64) -> Result<()> {
    let text = crate::deployment_log::read(&ctx.engine, &ctx.config, id).await?;
    let mut out = std::io::stdout().lock();
    for line in text.lines() {
        let _ = writeln!(out, "{}", visible(line, ctx.script_colors));
    }
    // The webhook notifications about it (its deploy, or rollbacks to it), after the output.
    for n in ctx.engine.store.notifications(id)? {
        let how = match &n.error {
            None => format!("sent after {} attempt(s)", n.attempts),
            Some(e) => format!("failed after {} attempt(s): {e}", n.attempts),
        };
        let line = format!(
            "flipdeck: notification of the {} ({}) to {}: {how}, {}",
            n.action,
            n.event,
            n.target,
            crate::store::ts(n.at)
        );
        let _ = writeln!(out, "{}", visible(&line, false));
    }
    Ok(())
}
