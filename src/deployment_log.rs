//! A deployment's log, for the CLI's `log` and the dashboard's log pane alike: the output the
//! history stored, or else, when it has none, the release's `deployment.log` read from the server.

use crate::config::Config;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::store::Store;

/// Where a deployment's log is to be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogSource {
    /// The history holds the output.
    Stored(String),
    /// The history holds none: the `deployment.log` at `path` on the server of `site`
    /// (`SERVER/DOMAIN`).
    Server { site: String, path: String },
}

/// Where the log of deployment `id` is. Only reads the history, so it can run on a blocking
/// thread. Fails when there is no such deployment, or no stored output and no release directory.
pub fn locate(store: &Store, id: i64) -> Result<LogSource> {
    let d = store
        .get(id)?
        .ok_or_else(|| Error::failed(format!("no deployment #{id} in the history")))?;
    if let Some(out) = store.output(id)? {
        return Ok(LogSource::Stored(out));
    }
    let (server, domain) = store.site_of(id)?.expect("a deployment has a site");
    let path = d
        .log_file_path
        .filter(|_| d.deployment_path.is_some())
        .ok_or_else(|| {
            Error::failed(format!(
                "deployment #{id} has no stored output and its release directory is gone"
            ))
        })?;
    Ok(LogSource::Server {
        site: format!("{server}/{domain}"),
        path,
    })
}

/// The log of deployment `id`: the stored output, else the server's `deployment.log` (one
/// connection to the site's server, as `config` describes it).
pub async fn read(engine: &Engine, config: &Config, id: i64) -> Result<String> {
    let store = engine.store.clone();
    let source = tokio::task::spawn_blocking(move || locate(&store, id))
        .await
        .map_err(|e| Error::failed(e.to_string()))??;
    match source {
        LogSource::Stored(text) => Ok(text),
        LogSource::Server { site, path } => {
            let site = config.find_site(&site)?;
            let connector = crate::transport::connect::connector_for(site.server)?;
            engine.fetch_log(&site, connector.as_ref(), &path).await
        }
    }
}
