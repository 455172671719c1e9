//! Provisioning: the layout and shared entries, then an initial deployment unless a release is
//! live, then (for sites with `nginx = true`) the nginx server block.

use super::Engine;
use super::deploy::{DeployOptions, Deployed};
use super::events::Action;
use super::fpm;
use super::job::Job;
use super::layout::Layout;
use super::protocol::ProvisionReport;
use super::scripts;
use crate::config::SiteRef;
use crate::error::{Error, Result};
use crate::transport::Connector;
use tokio_util::sync::CancellationToken;

pub enum Provisioned {
    Already { live: String },
    Initial(Deployed),
}

impl Engine {
    /// The spec's provisioning: layout and shared entries, then an initial deployment (the clone
    /// without the deploy script, or a placeholder without a repository) unless a release is live.
    pub async fn provision(
        &self,
        site: &SiteRef<'_>,
        connector: &dyn Connector,
    ) -> Result<Provisioned> {
        let target = connector.connect().await?;
        let layout = Layout::new(site.server.root.as_deref(), &site.site.domain);
        self.store
            .ensure_site(&site.server.name, &site.site.domain)?;
        let mut job = Job::new(self, site.key(), target.clone(), layout, Action::Provision);
        // Only a reload can cut requests, so without one there is nothing to warn about.
        let fpm_conf = site
            .server
            .php_fpm_config
            .as_deref()
            .filter(|_| site.server.reload_command.is_some());
        // The reload php_version adds, when reload_command does not replace it: say so, and check
        // that sudo can run it without a password.
        let php_reload = site.server.php_version.as_deref().and_then(|v| {
            let implied = crate::config::php_reload_command(v);
            (site.server.reload_command.as_deref() == Some(implied.as_str()))
                .then_some((v, implied))
        });
        if let Some((v, cmd)) = &php_reload {
            job.notice(format!(
                "php_version = \"{v}\": after each switch flipdeck runs `{cmd}` (reload_command replaces it, \"\" turns it off)"
            ));
        }
        let script = scripts::provision_layout(
            &job.prelude(),
            site.site,
            fpm_conf,
            php_reload.as_ref().map(|(_, c)| c.as_str()),
        );
        let r = job.run(&script, None, None).await.map_err(|_| {
            Error::failed(format!("connection lost while provisioning {}", site.key()))
        })?;
        if !r.status.success() {
            let msg = format!("provisioning {} failed ({})", site.key(), r.status);
            job.finish(false, msg.clone());
            return Err(Error::failed(msg));
        }
        // Without a configured root, the script has reported the login user's home by now.
        let layout = job.layout.clone();
        let rep: ProvisionReport = r.report();
        if let Some(conf) = fpm_conf
            && let Some(w) = fpm::warning(
                conf,
                rep.fpm_timeout.as_deref(),
                rep.fpm_unreadable,
                site.site
                    .nginx
                    .as_ref()
                    .is_some_and(|n| n.php_fpm_socket().is_some() && n.template.is_none()),
            )
        {
            job.notice(w);
        }
        if let Some((_, cmd)) = &php_reload {
            let server = &site.server.name;
            if rep.sudo_missing {
                job.notice(format!(
                    "warning: sudo is not installed on {server}, so `{cmd}` will fail after each switch; install sudo, or set reload_command"
                ));
            } else if rep.sudo_refused {
                let allowed = cmd.trim_start_matches("sudo ");
                job.notice(format!(
                    "warning: `sudo -n` cannot run `{allowed}` on {server} (it would ask for a password), so the reload after each switch will fail; allow it for the login user in sudoers (NOPASSWD), or set reload_command"
                ));
            }
        }
        let outcome = if let (Some(live), true) = (rep.live, rep.live_ok) {
            job.finish(true, format!("already provisioned; live release {live}"));
            Provisioned::Already { live }
        } else {
            job.finish(true, "layout ready");
            let opts = DeployOptions {
                branch: None,
                initial: true,
                ..Default::default()
            };
            // The initial deployment reuses this connection.
            Provisioned::Initial(
                self.deploy_on(
                    site,
                    connector,
                    target.clone(),
                    opts,
                    CancellationToken::new(),
                    None,
                )
                .await?,
            )
        };
        // nginx last, so the server block never points at a live path that does not exist yet.
        if let Some(nginx) = &site.site.nginx {
            self.install_nginx(site, target, layout, nginx).await?;
        }
        Ok(outcome)
    }
}
