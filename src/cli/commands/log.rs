//! `log ID`: the stored output of a deployment, or the server's `deployment.log` when the history
//! has none.

use crate::cli::Ctx;
use crate::error::Result;

pub async fn run(ctx: &Ctx, id: i64) -> Result<()> {
    print!(
        "{}",
        crate::deployment_log::read(&ctx.engine, &ctx.config, id).await?
    );
    Ok(())
}
