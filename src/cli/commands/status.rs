//! `status [--json]`: every site as its server has it (the history is updated to match), with
//! any drift, lock or error in the row; fails when a site could not be read. Each server is read
//! over one connection, every site of it in turn, and at most `parallel` servers at once: 500
//! sites on 20 servers are 20 connections, never 500 at stock sshd's `MaxStartups`.

use crate::cli::Ctx;
use crate::cli::tables;
use crate::config::SiteRef;
use crate::error::{Error, Result};
use crate::transport::{Connector, Transport};
use crate::visible::visible_lines;
use async_trait::async_trait;
use std::sync::Arc;
use tokio::sync::OnceCell;

/// One connection for every site of a server: the first job opens it, the others reuse it. A
/// server that cannot be reached is tried once: its other sites get the same answer at once.
struct OneConnection {
    inner: Arc<dyn Connector>,
    open: OnceCell<std::result::Result<Arc<dyn Transport>, String>>,
}

#[async_trait]
impl Connector for OneConnection {
    async fn connect(&self) -> Result<Arc<dyn Transport>> {
        let mut first = None;
        let open = self
            .open
            .get_or_init(|| async {
                self.inner.connect().await.map_err(|e| {
                    let text = e.to_string();
                    first = Some(e);
                    text
                })
            })
            .await;
        match (open, first) {
            (Ok(t), _) => Ok(t.clone()),
            // The first to fail reports the error itself, with its suggestion.
            (Err(_), Some(e)) => Err(e),
            (Err(text), None) => Err(Error::failed(text.clone())),
        }
    }
}

pub async fn run(ctx: &Ctx, json: bool) -> Result<()> {
    let sites: Vec<SiteRef<'_>> = ctx.config.sites().collect();
    // Sites grouped by server, in the config's order.
    let mut servers: Vec<Vec<usize>> = Vec::new();
    for (i, s) in sites.iter().enumerate() {
        match servers
            .iter_mut()
            .find(|g| sites[g[0]].server.name == s.server.name)
        {
            Some(g) => g.push(i),
            None => servers.push(vec![i]),
        }
    }
    let slots = tokio::sync::Semaphore::new(ctx.config.parallel);
    let reads = servers.iter().map(|group| {
        let (sites, slots) = (&sites, &slots);
        async move {
            let _slot = slots.acquire().await.expect("never closed");
            let conn = ctx.connector(&sites[group[0]]).map(|inner| OneConnection {
                inner,
                open: OnceCell::new(),
            });
            let mut out = Vec::new();
            for &i in group {
                let r = match &conn {
                    Ok(c) => ctx.engine.refresh(&sites[i], c).await,
                    Err(e) => Err(Error::failed(e.to_string())),
                };
                out.push((i, r));
            }
            out
        }
    });
    let mut results: Vec<_> = futures_util::future::join_all(reads)
        .await
        .into_iter()
        .flatten()
        .collect();
    results.sort_by_key(|(i, _)| *i);
    let mut rows = Vec::new();
    let mut failed = 0;
    for (i, inspection) in results {
        if inspection.is_err() {
            failed += 1;
        }
        rows.push(tables::StatusRow::build(
            &ctx.engine.store,
            &sites[i],
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
