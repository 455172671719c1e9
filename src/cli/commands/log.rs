//! `log ID`: the stored output of a deployment, or the server's `deployment.log` when the history
//! has none, then the webhook notifications sent about it; `log cID`, the output of a command run.
//! Every line is made visible (see `crate::visible`): a log is the script's output.

use crate::cli::Ctx;
use crate::error::{Error, Result};
use crate::visible::visible;
use std::io::Write;

pub async fn run(ctx: &Ctx, id: &str) -> Result<()> {
    let (text, deployment) = match id.strip_prefix('c') {
        Some(run) => {
            let run: i64 = run.parse().map_err(|_| bad(id))?;
            let text =
                ctx.engine.store.command_output(run)?.ok_or_else(|| {
                    Error::failed(format!("no command run c{run} in the history"))
                })?;
            (text, None)
        }
        None => {
            let id: i64 = id.parse().map_err(|_| bad(id))?;
            let text = crate::deployment_log::read(&ctx.engine, &ctx.config, id).await?;
            (text, Some(id))
        }
    };
    let mut out = std::io::stdout().lock();
    for line in text.lines() {
        let _ = writeln!(out, "{}", visible(line, ctx.script_colors));
    }
    // The webhook notifications about a deployment (its deploy, or rollbacks to it), after the
    // output; a command run sends none.
    let notifications = match deployment {
        Some(id) => ctx.engine.store.notifications(id)?,
        None => Vec::new(),
    };
    for n in notifications {
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

fn bad(id: &str) -> Error {
    Error::usage(format!(
        "{:?} is not a deployment ID (a number) or a command run (c and a number)",
        visible(id, false)
    ))
}
