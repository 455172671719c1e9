//! The dashboard's live state: every site of one server read in one exec (`inspect_server.sh`):
//! its live link, lock, release directories and what its release log gained since the last read.
//! Nothing is written, neither on the server nor in the history: a site whose state changed is
//! then brought in line by [`Engine::refresh`], which imports and settles as `status` does.

use super::Engine;
use super::events::Action;
use super::job::Job;
use super::layout::Layout;
use super::protocol::{EnvStatus, InspectReport, ServerReport};
use super::refresh::LiveState;
use super::scripts;
use crate::config::ServerConfig;
use crate::error::{Error, Result};
use crate::transport::Connector;

/// One site as the server showed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteState {
    pub domain: String,
    pub live: LiveState,
    pub releases: Vec<String>,
    pub lock: Option<String>,
    /// The release log's lines after the offset asked for (the newest ones when it was 0).
    pub relog: Vec<String>,
    /// The release log's size now: the offset for the next read.
    pub relog_size: u64,
    /// The shared .env: missing, or the keys the live release's `.env.example` has and it lacks
    /// (names only). `None` for a site that does not share `.env`.
    pub env: Option<EnvStatus>,
}

impl Engine {
    /// Reads every site of `server` in one exec. `offsets` gives, per domain, the release log's
    /// size at the last read (a domain not in it is read from its newest lines).
    pub async fn watch(
        &self,
        server: &ServerConfig,
        connector: &dyn Connector,
        offsets: &std::collections::HashMap<String, u64>,
    ) -> Result<Vec<SiteState>> {
        let sites: Vec<(String, u64, bool)> = server
            .sites
            .iter()
            .map(|s| {
                let at = offsets.get(&s.domain).copied().unwrap_or(0);
                (s.domain.clone(), at, super::env::shares_env(s))
            })
            .collect();
        let Some((first, _, _)) = sites.first() else {
            return Ok(vec![]);
        };
        let target = connector.connect().await?;
        let layout = Layout::new(server.root.as_deref(), first);
        let mut job = Job::new(self, server.name.clone(), target, layout, Action::Inspect);
        let script = scripts::inspect_server(&job.prelude(), &sites);
        let r = job
            .run(&script, None, None)
            .await
            .map_err(|e| e.read_failed(format_args!("cannot read {}", server.name)))?;
        if !r.status.success() {
            job.finish(false, "inspect failed");
            return Err(Error::failed(format!(
                "cannot read {} ({})",
                server.name, r.status
            )));
        }
        job.finish(true, "inspected");
        let report: ServerReport = r.report();
        Ok(report
            .sites
            .into_iter()
            .map(|(domain, i, relog_size, env)| {
                let shares = server
                    .sites
                    .iter()
                    .any(|s| s.domain == domain && super::env::shares_env(s));
                site_state(domain, i, relog_size, shares.then_some(env))
            })
            .collect())
    }
}

fn site_state(
    domain: String,
    i: InspectReport,
    relog_size: u64,
    env: Option<EnvStatus>,
) -> SiteState {
    let InspectReport {
        live,
        live_not_link,
        releases,
        lock,
        relog,
        // A symlink posing as a release: the refresh that follows any change reports it.
        linked: _,
    } = i;
    SiteState {
        domain,
        live: match (live, live_not_link) {
            (Some(t), _) => LiveState::Link(t),
            (None, true) => LiveState::NotALink,
            _ => LiveState::Missing,
        },
        releases,
        lock,
        relog,
        relog_size,
        env,
    }
}
