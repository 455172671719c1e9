//! Connecting to `transport = "ssh"` servers.

use crate::config::ServerConfig;
use crate::engine::Connector;
use crate::error::{Error, Result};
use std::sync::Arc;

pub fn connector_for(server: &ServerConfig) -> Result<Arc<dyn Connector>> {
    Err(Error::failed(format!(
        "server {}: the ssh transport is not available in this build",
        server.name
    )))
}
