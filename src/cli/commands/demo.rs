//! `demo`: build the sandbox, open the dashboard on it, remove it afterwards unless kept.

use crate::config::Config;
use crate::error::Result;
use crate::store::Store;
use std::path::PathBuf;
use std::sync::Arc;

pub async fn run(dir: Option<PathBuf>, keep: bool, ascii: bool) -> Result<()> {
    eprintln!(
        "flipdeck: building the demo sandbox (a sample app, a local server, a few deployments)…"
    );
    let demo = crate::demo::Demo::build(dir).await?;
    let r = async {
        let config = Config::load(&demo.config_path)?;
        let store = Arc::new(Store::open(&demo.db_path)?);
        let header = Some(demo.header(keep));
        crate::ui::run(
            config,
            store,
            crate::ui::Options {
                header,
                ascii,
                db: Some(demo.db_path.clone()),
            },
        )
        .await
    }
    .await;
    if keep {
        println!("The demo sandbox is kept in {}", demo.dir.display());
        println!("Its config: {}", demo.config_path.display());
        println!(
            "Try: flipdeck --config '{}' --db '{}' list {}",
            demo.config_path.display(),
            demo.db_path.display(),
            crate::demo::SHOP
        );
    } else {
        demo.remove();
    }
    r
}
