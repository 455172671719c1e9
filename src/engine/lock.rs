//! The site's deploy lock as the engine sees it: the refusal when someone else holds it, getting
//! past a lock left by a killed flipdeck of this machine, and telling such a dead holder from a
//! live one. (The lock itself is taken and released on the server: `take_lock` and `unlock` in
//! `assets/remote/lib.sh`.)

use super::Engine;
use super::protocol::LockOwner;
use crate::config::SiteRef;
use crate::error::{Error, Result};
use crate::transport::Connector;

impl Engine {
    /// The refusal when `holder` has the site's lock. A holder that is a dead flipdeck of this
    /// machine makes a stale lock (`Error::is_stale_lock`), which `after_recovering` gets out
    /// of.
    pub(super) fn locked(&self, site: &SiteRef<'_>, holder: &str) -> Error {
        Error::Locked {
            site: site.key(),
            holder: holder.to_string(),
            stale: held_by_dead_local_process(holder, &self.identity.host),
        }
    }

    /// Runs `op`; if a killed flipdeck of this machine holds the site's lock, recovers what it left
    /// (as `status` does) and runs `op` once more.
    pub(super) async fn after_recovering<T, F, Fut>(
        &self,
        site: &SiteRef<'_>,
        connector: &dyn Connector,
        mut op: F,
    ) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T>>,
    {
        match op().await {
            Err(e) if e.is_stale_lock() => {
                self.refresh(site, connector).await?;
                op().await
            }
            r => r,
        }
    }
}

/// Whether a lock holder line names a process of this machine that no longer exists.
pub(super) fn held_by_dead_local_process(holder: &str, this_host: &str) -> bool {
    on_this_host(holder, this_host) && live_local_holder(holder, this_host).is_none()
}

/// Whether a lock holder line (`user@host pid=...`) names this host.
pub(super) fn on_this_host(holder: &str, this_host: &str) -> bool {
    holder
        .parse::<LockOwner>()
        .is_ok_and(|o| o.host() == Some(this_host))
}

/// The pid of a lock holder that is a live process on this host, if it is one.
pub(super) fn live_local_holder(holder: &str, this_host: &str) -> Option<i32> {
    let owner: LockOwner = holder.parse().ok()?;
    if owner.host()? != this_host {
        return None;
    }
    let pid = owner.pid?;
    pid_alive(pid).then_some(pid)
}

pub(super) fn pid_alive(pid: i32) -> bool {
    // SAFETY: signal 0 only checks for existence.
    pid > 0 && unsafe { libc::kill(pid, 0) } == 0
}
