//! What provisioning checks besides the layout (PHP-FPM's config, the reload `php_version`
//! implies), and what it says about it; the layout step's report is read in the same exec as the
//! initial deploy (see `Engine::provision`).

use super::fpm;
use super::protocol::ProvisionReport;
use crate::config::SiteRef;

/// What provisioning checks besides the layout, and what it says about it. Owned: the job says
/// the warnings as the layout step ends (see `Job::before_step`).
#[derive(Clone)]
pub(super) struct LayoutCheck {
    /// PHP-FPM's main config, read only when there is a reload (only a reload can cut requests).
    pub fpm_conf: Option<String>,
    /// The reload php_version adds, when reload_command does not replace it: `(version, command)`.
    pub php_reload: Option<(String, String)>,
    server: String,
    nginx: bool,
}

impl LayoutCheck {
    pub fn new(site: &SiteRef<'_>) -> LayoutCheck {
        let fpm_conf = site
            .server
            .php_fpm_config
            .clone()
            .filter(|_| site.server.reload_command.is_some());
        let php_reload = site.server.php_version.as_deref().and_then(|v| {
            let implied = crate::config::php_reload_command(v);
            (site.server.reload_command.as_deref() == Some(implied.as_str()))
                .then(|| (v.to_string(), implied))
        });
        LayoutCheck {
            fpm_conf,
            php_reload,
            server: site.server.name.clone(),
            // A socket in flipdeck's own server block is what PHP-FPM's timeout matters for.
            nginx: site
                .site
                .nginx
                .as_ref()
                .is_some_and(|n| n.php_fpm_socket().is_some() && n.template.is_none()),
        }
    }

    /// Said before the script runs: the reload php_version adds.
    pub fn before(&self) -> Option<String> {
        let (v, cmd) = self.php_reload.as_ref()?;
        Some(format!(
            "php_version = \"{v}\": after each switch flipdeck runs `{cmd}` (reload_command replaces it, \"\" turns it off)"
        ))
    }

    /// What the layout step's report calls for: a reload that would cut requests, a sudo that
    /// cannot run the reload.
    pub fn warnings(&self, rep: &ProvisionReport) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(conf) = &self.fpm_conf
            && let Some(w) = fpm::warning(
                conf,
                rep.fpm_timeout.as_deref(),
                rep.fpm_unreadable,
                self.nginx,
            )
        {
            out.push(w);
        }
        if let Some((_, cmd)) = &self.php_reload {
            let server = &self.server;
            if rep.sudo_missing {
                out.push(format!(
                    "warning: sudo is not installed on {server}, so `{cmd}` will fail after each switch; install sudo, or set reload_command"
                ));
            } else if rep.sudo_refused {
                let allowed = cmd.trim_start_matches("sudo ");
                out.push(format!(
                    "warning: `sudo -n` cannot run `{allowed}` on {server} (it would ask for a password), so the reload after each switch will fail; allow it for the login user in sudoers (NOPASSWD), or set reload_command"
                ));
            }
        }
        out
    }
}
