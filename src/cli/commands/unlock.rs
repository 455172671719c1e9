//! `unlock SITE [--force]`: removes a stale deploy lock and says who held it.

use crate::cli::Ctx;
use crate::cli::printer::say;
use crate::error::Result;
use crate::visible::visible;

pub async fn run(ctx: &Ctx, site: &str, force: bool) -> Result<()> {
    let site = ctx.config.find_site(site)?;
    match ctx
        .engine
        .unlock(&site, ctx.connector(&site)?.as_ref(), force)
        .await?
    {
        Some(holder) => say!(
            "removed the lock of {}, held by {}",
            site.key(),
            visible(&holder, false)
        ),
        None => say!("{} was not locked", site.key()),
    }
    Ok(())
}
