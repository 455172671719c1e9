//! `flipdeck keygen`: a deploy key for one site, made on its server, and the git host's key
//! pinned there, so that the site's fetches need neither the operator's agent nor the login
//! user's own keys (see `scripts::git_ssh_command`).

use super::Engine;
use super::events::Action;
use super::job::Job;
use super::layout::Layout;
use super::protocol::KeygenReport;
use super::scripts;
use crate::config::SiteRef;
use crate::error::{Error, Result};
use crate::transport::Connector;

/// Where a repository is reached over SSH: `ssh://[user@]host[:port]/path` or `user@host:path`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitHost {
    pub host: String,
    pub port: u16,
}

impl GitHost {
    /// The git host of `repository`, or why it has none (not an SSH URL).
    pub fn of(repository: &str) -> std::result::Result<GitHost, String> {
        let not_ssh = || {
            format!(
                "the repository {repository} is not reached over SSH (ssh://… or user@host:path): a deploy key is for those"
            )
        };
        let (host, port) = if let Some(rest) = repository.strip_prefix("ssh://") {
            let authority = rest.split('/').next().unwrap_or("");
            let hostport = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
            match hostport.strip_prefix('[') {
                Some(v6) => {
                    let (h, p) = v6.split_once(']').ok_or_else(not_ssh)?;
                    (h.to_string(), p.strip_prefix(':').unwrap_or(""))
                }
                None => match hostport.rsplit_once(':') {
                    Some((h, p)) => (h.to_string(), p),
                    None => (hostport.to_string(), ""),
                },
            }
        } else if !repository.contains("://") && !repository.starts_with('/') {
            let (before, _) = repository.split_once(':').ok_or_else(not_ssh)?;
            let host = before.rsplit_once('@').map_or(before, |(_, h)| h);
            (host.to_string(), "")
        } else {
            return Err(not_ssh());
        };
        crate::validate::ssh_host(&host).map_err(|_| not_ssh())?;
        let port = match port {
            "" => 22,
            p => p.parse().ok().filter(|&p| p > 0).ok_or_else(not_ssh)?,
        };
        Ok(GitHost { host, port })
    }
}

impl Engine {
    /// Makes the site's deploy key if it has none, and looks up the git host among the pinned
    /// keys. Not pinned: with `pin` (a `SHA256:` fingerprint the operator confirmed), the key
    /// the git host presents with that fingerprint is pinned; without, the report lists what it
    /// presents, for the operator to check. One connection, one exec.
    pub async fn keygen(
        &self,
        site: &SiteRef<'_>,
        connector: &dyn Connector,
        pin: Option<&str>,
    ) -> Result<KeygenReport> {
        let repository = site.site.repository.as_deref().ok_or_else(|| {
            Error::usage(format!(
                "site {} has no repository: a deploy key is for reading one",
                site.key()
            ))
        })?;
        let git = GitHost::of(repository).map_err(Error::usage)?;
        let target = connector.connect().await?;
        let layout = Layout::new(site.server.root.as_deref(), &site.site.domain);
        let mut job = Job::new(self, site.key(), target, layout, Action::Keygen);
        let comment = format!("flipdeck deploy key for {}", site.key());
        let script = scripts::keygen(
            &job.prelude(),
            &git.host,
            git.port,
            &comment,
            pin.unwrap_or(""),
        );
        let r = job.run(&script, None, None).await.map_err(|_| {
            Error::failed(format!(
                "connection lost while making the deploy key of {}",
                site.key()
            ))
        })?;
        let report: KeygenReport = r.report();
        if !r.status.success() || report.public_key.is_none() {
            job.finish(false, "keygen failed");
            let step = r.last_step.as_deref().unwrap_or("key");
            return Err(Error::failed(format!(
                "keygen for {} failed at {step} ({}); the server's output is above",
                site.key(),
                r.status
            )));
        }
        job.finish(true, "deploy key ready");
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::GitHost;

    fn host(r: &str) -> Result<(String, u16), String> {
        GitHost::of(r).map(|g| (g.host, g.port))
    }

    #[test]
    fn ssh_forms_and_the_rest() {
        assert_eq!(
            host("git@github.com:org/app.git"),
            Ok(("github.com".into(), 22))
        );
        assert_eq!(
            host("ssh://git@git.example:2222/org/app.git"),
            Ok(("git.example".into(), 2222))
        );
        assert_eq!(
            host("ssh://git.example/app"),
            Ok(("git.example".into(), 22))
        );
        assert_eq!(host("ssh://u@[::1]:2200/app"), Ok(("::1".into(), 2200)));
        for other in [
            "https://github.com/org/app.git",
            "/srv/app.git",
            "file:///srv/app.git",
            "ssh://-oProxyCommand=x/app",
        ] {
            assert!(host(other).is_err(), "{other}");
        }
    }
}
