//! `flipdeck unlock`: removes a site's deploy lock (and stops its holder's processes).

use super::Engine;
use super::events::Action;
use super::job::Job;
use super::layout::Layout;
use super::lock::live_local_holder;
use super::protocol::{InspectReport, UnlockReport};
use super::scripts;
use crate::config::SiteRef;
use crate::error::{Error, Result};
use crate::transport::Connector;

impl Engine {
    /// by a running flipdeck on this machine is only removed with `force`.
    pub async fn unlock(
        &self,
        site: &SiteRef<'_>,
        connector: &dyn Connector,
        force: bool,
    ) -> Result<Option<String>> {
        let target = connector.connect().await?;
        let layout = Layout::new(site.server.root.as_deref(), &site.site.domain);
        let mut job = Job::new(self, site.key(), target, layout, Action::Unlock);
        if !force {
            let r = job
                .run(&scripts::inspect(&job.prelude()), None, None)
                .await
                .map_err(|_| {
                    Error::failed(format!("cannot reach {} to read its lock", site.key()))
                })?;
            let InspectReport { lock, .. } = r.report();
            if let Some(holder) = lock
                && let Some(pid) = live_local_holder(&holder, &self.identity.host)
            {
                job.finish(false, "lock held by a running process");
                return Err(Error::failed(format!(
                    "the lock of {} is held by {holder}, and process {pid} is still running on this machine; \
                     stop it first, or use `flipdeck unlock {} --force`",
                    site.key(),
                    site.key()
                )));
            }
        }
        let r = job
            .run(&scripts::force_unlock(&job.prelude()), None, None)
            .await
            .map_err(|_| {
                Error::failed(format!("connection lost while unlocking {}", site.key()))
            })?;
        if !r.status.success() {
            job.finish(false, "unlock failed");
            return Err(Error::failed(format!(
                "could not remove the lock of {} ({})",
                site.key(),
                r.status
            )));
        }
        job.finish(true, "unlocked");
        let rep: UnlockReport = r.report();
        Ok(if rep.no_lock {
            None
        } else {
            Some(rep.holder.unwrap_or_else(|| "unknown".into()))
        })
    }
}
