//! `status [--json]`: every site as its server has it (the history is updated to match), with
//! any drift, lock or error in the row; fails when a site could not be read.

use crate::cli::Ctx;
use crate::cli::tables;
use crate::error::{Error, Result};
use crate::visible::visible_lines;

pub async fn run(ctx: &Ctx, json: bool) -> Result<()> {
    let mut rows = Vec::new();
    let mut failed = 0;
    for site in ctx.config.sites() {
        let inspection = match ctx.connector(&site) {
            Ok(c) => ctx.engine.refresh(&site, c.as_ref()).await,
            Err(e) => Err(e),
        };
        if inspection.is_err() {
            failed += 1;
        }
        rows.push(tables::StatusRow::build(
            &ctx.engine.store,
            &site,
            inspection,
        )?);
    }
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&rows).expect("serializable")
        );
    } else {
        print!("{}", visible_lines(&tables::status(&rows)));
    }
    // The errors are in the table's rows; this only sets the exit code and says where to look.
    if failed > 0 {
        return Err(Error::failed(format!(
            "{failed} site(s) could not be read; see the error column"
        )));
    }
    Ok(())
}
