//! `log ID`: the stored output of a deployment, or the server's `deployment.log` when the history
//! has none. Every line is made visible (see `crate::visible`): a log is the script's output.

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
    Ok(())
}
