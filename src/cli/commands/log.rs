//! `log ID`: the stored output of a deployment, or the server's `deployment.log` when the history
//! has none; `log cID`, the output of a command run. Every line is made visible (see
//! `crate::visible`): a log is the script's output.

use crate::cli::Ctx;
use crate::error::{Error, Result};
use crate::visible::visible;
use std::io::Write;

pub async fn run(ctx: &Ctx, id: &str) -> Result<()> {
    let text = match id.strip_prefix('c') {
        Some(run) => {
            let run: i64 = run.parse().map_err(|_| bad(id))?;
            ctx.engine
                .store
                .command_output(run)?
                .ok_or_else(|| Error::failed(format!("no command run c{run} in the history")))?
        }
        None => {
            let id: i64 = id.parse().map_err(|_| bad(id))?;
            crate::deployment_log::read(&ctx.engine, &ctx.config, id).await?
        }
    };
    let mut out = std::io::stdout().lock();
    for line in text.lines() {
        let _ = writeln!(out, "{}", visible(line, ctx.script_colors));
    }
    Ok(())
}

fn bad(id: &str) -> Error {
    Error::usage(format!(
        "{:?} is not a deployment ID (a number) or a command run (c and a number)",
        visible(id, false)
    ))
}
