//! Fetching a deployment's log from the server.

use super::Engine;
use crate::config::SiteRef;
use crate::error::{Error, Result};
use crate::transport::Connector;

impl Engine {
    /// A deployment's output from the server's `deployment.log` (when the DB has none).
    pub async fn fetch_log(
        &self,
        site: &SiteRef<'_>,
        connector: &dyn Connector,
        path: &str,
    ) -> Result<String> {
        let target = connector.connect().await?;
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let status = target
            .exec(&super::scripts::read_log(path), None, tx)
            .await?;
        let mut out = String::new();
        while let Ok(l) = rx.try_recv() {
            if l.stream == crate::transport::Stream::Stdout {
                out.push_str(&l.line);
                out.push('\n');
            }
        }
        if !status.success() {
            return Err(Error::failed(format!(
                "cannot read {path} on {} ({status})",
                site.key()
            )));
        }
        Ok(out)
    }
}
