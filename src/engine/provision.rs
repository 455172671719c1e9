//! Provisioning, in one exec: the layout and shared entries, then an initial deployment unless a
//! release is live (the same script goes on into the deploy), then (for sites with
//! `nginx = true`) the nginx server block.

use super::Engine;
use super::deploy::{DeployOptions, Deployed, Initial};
use super::layout_check::LayoutCheck;
use crate::config::SiteRef;
use crate::error::Result;
use crate::transport::Connector;
use tokio_util::sync::CancellationToken;

pub enum Provisioned {
    Already { live: String },
    Initial(Deployed),
}

impl Engine {
    /// The spec's provisioning: layout and shared entries, then an initial deployment (the clone
    /// without the deploy script, or a placeholder without a repository) unless a release is live,
    /// all in one exec; then the nginx server block, if the site has one.
    pub async fn provision(
        &self,
        site: &SiteRef<'_>,
        connector: &dyn Connector,
    ) -> Result<Provisioned> {
        let target = connector.connect().await?;
        let opts = DeployOptions {
            branch: None,
            initial: true,
            ..Default::default()
        };
        let (initial, layout) = self
            .deploy_with(
                site,
                connector,
                target.clone(),
                opts,
                CancellationToken::new(),
                None,
                Some(LayoutCheck::new(site)),
            )
            .await?;
        // nginx last, so the server block never points at a live path that does not exist yet.
        if let Some(nginx) = &site.site.nginx {
            self.install_nginx(site, target, layout, nginx).await?;
        }
        Ok(match initial {
            Initial::Deployed(d) => Provisioned::Initial(d),
            Initial::Live(live) => Provisioned::Already { live },
        })
    }
}
