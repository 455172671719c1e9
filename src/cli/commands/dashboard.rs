//! No command: the dashboard on the config, or the demo when there is no config file yet.

use crate::config::Config;
use crate::error::Result;
use crate::store::Store;
use std::path::Path;
use std::sync::Arc;

/// `explicit`: the config path was given (`--config`, `FLIPDECK_CONFIG`), so a missing file is
/// an error rather than a first run.
/// `stage`: only that stage's servers (`--stage`); `ascii`: ASCII borders and symbols.
pub async fn run(
    config_path: &Path,
    explicit: bool,
    db_path: &Path,
    stage: Option<&str>,
    ascii: bool,
) -> Result<()> {
    if !config_path.exists() && !explicit {
        return super::demo::run(None, false, ascii).await;
    }
    let mut config = Config::load(config_path)?;
    if let Some(stage) = stage {
        config.retain_stage(stage)?;
    }
    let store = Arc::new(Store::open(db_path)?);
    crate::ui::run(
        config,
        store,
        crate::ui::Options {
            header: None,
            ascii,
            db: Some(db_path.to_path_buf()),
        },
    )
    .await
}
