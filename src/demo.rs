//! The embedded demo: a sandbox with a sample PHP app repository (from `assets/demo-app/`), a
//! local-target server with two sites, and a few past deployments made by running the real engine.

use crate::config::{Config, SiteRef};
use crate::engine::{DeployOptions, Engine};
use crate::error::{Error, Result};
use crate::store::Store;
use crate::transport::LocalConnector;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

const APP_FILES: &[(&str, &str)] = &[
    (
        "public/index.php",
        include_str!("../assets/demo-app/public/index.php"),
    ),
    ("build.sh", include_str!("../assets/demo-app/build.sh")),
    ("README.md", include_str!("../assets/demo-app/README.md")),
];

pub const SHOP: &str = "shop.example.test";
pub const BLOG: &str = "blog.example.test";

pub struct Demo {
    pub dir: PathBuf,
    pub config_path: PathBuf,
    pub db_path: PathBuf,
    /// Whether `dir` was created here (and so may be removed whole).
    created: bool,
}

fn git(dir: &Path, args: &[&str]) -> Result<()> {
    let out = Command::new("git")
        .args([
            "-c",
            "user.name=Demo Dev",
            "-c",
            "user.email=dev@example.test",
        ])
        .args([
            "-c",
            "init.defaultBranch=main",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .current_dir(dir)
        .output()
        .map_err(|e| Error::failed(format!("the demo needs git: {e}")))?;
    if !out.status.success() {
        return Err(Error::failed(format!(
            "git {} failed in the demo sandbox: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(())
}

/// A TOML basic string (JSON's escapes are TOML's).
fn toml_str(s: &str) -> String {
    serde_json::to_string(s).expect("a string serializes")
}

fn config_text(dir: &Path, pause: &str) -> String {
    format!(
        r#"# flipdeck demo: one local server with two sites. Try the CLI against it:
#   flipdeck --config '{cfg}' list {SHOP}
[[servers]]
name = "demo"
transport = "local"
root = {root}

[[servers.sites]]
domain = "{SHOP}"
repository = {repo}
branch = "main"
deployment_script = "{pause}sh build.sh"
keep = 5

# This site's branch fails to build: deploying it shows the live site staying as it was.
[[servers.sites]]
domain = "{BLOG}"
repository = {repo}
branch = "broken"
deployment_script = "{pause}sh build.sh"
keep = 5
"#,
        cfg = dir.join("config.toml").display(),
        root = toml_str(&dir.join("srv").display().to_string()),
        repo = toml_str(&dir.join("app").display().to_string()),
    )
}

impl Demo {
    /// Builds the sandbox in `dir` (which must be missing or empty) or in a new temp directory.
    pub async fn build(dir: Option<PathBuf>) -> Result<Demo> {
        let (dir, created) = match dir {
            Some(d) if d.exists() => {
                let empty = std::fs::read_dir(&d)
                    .map(|mut r| r.next().is_none())
                    .unwrap_or(false);
                if !empty {
                    return Err(Error::usage(format!(
                        "{} is not empty; give a new or empty directory",
                        d.display()
                    )));
                }
                (d, false)
            }
            Some(d) => {
                std::fs::create_dir_all(&d)
                    .map_err(|e| Error::failed(format!("cannot create {}: {e}", d.display())))?;
                (d, true)
            }
            None => {
                let t = tempfile::Builder::new()
                    .prefix("flipdeck-demo-")
                    .tempdir()
                    .map_err(|e| Error::failed(format!("cannot create a sandbox: {e}")))?;
                (t.keep(), true)
            }
        };
        let dir = std::fs::canonicalize(&dir).unwrap_or(dir);
        let demo = Demo {
            config_path: dir.join("config.toml"),
            db_path: dir.join("history.db"),
            dir,
            created,
        };
        demo.seed().await.inspect_err(|_| demo.remove())?;
        Ok(demo)
    }

    async fn seed(&self) -> Result<()> {
        let app = self.dir.join("app");
        let io = |e: std::io::Error| Error::failed(format!("cannot write the demo app: {e}"));
        for (path, text) in APP_FILES {
            let p = app.join(path);
            std::fs::create_dir_all(p.parent().expect("has a parent")).map_err(io)?;
            std::fs::write(p, text).map_err(io)?;
        }
        std::fs::create_dir_all(self.dir.join("srv")).map_err(io)?;
        std::fs::write(&self.config_path, config_text(&self.dir, "")).map_err(io)?;
        // The past deployments run the real engine, without the build's pauses.
        let quick = Config::parse(
            &config_text(&self.dir, "FLIPDECK_DEMO_PAUSE=0 "),
            &self.config_path,
        )?;
        let store = Arc::new(Store::open(&self.db_path)?);
        let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
        let engine = Engine::new(store, tx, crate::transport::connect::direct());
        let deploy = async |site: &str, branch: Option<&str>| -> Result<()> {
            let s: SiteRef<'_> = quick.find_site(site)?;
            let opts = DeployOptions {
                branch: branch.map(str::to_string),
                initial: false,
                ..Default::default()
            };
            engine
                .deploy(&s, &LocalConnector, opts, CancellationToken::new())
                .await
                .map(|_| ())
        };
        git(&app, &["init", "-q"])?;
        for (version, message) in [
            ("1.0.0", "First release"),
            ("1.1.0", "Add the checkout page"),
            ("1.2.0", "Faster product search"),
        ] {
            std::fs::write(app.join("VERSION"), format!("{version}\n")).map_err(io)?;
            git(&app, &["add", "-A"])?;
            git(&app, &["commit", "-qm", message])?;
            deploy(SHOP, None).await?;
        }
        deploy(BLOG, Some("main")).await?;
        git(&app, &["checkout", "-qb", "broken"])?;
        std::fs::write(app.join("BROKEN"), "this branch's asset build fails\n").map_err(io)?;
        std::fs::write(app.join("VERSION"), "1.3.0-rc1\n").map_err(io)?;
        git(&app, &["add", "-A"])?;
        git(&app, &["commit", "-qm", "WIP: charts (build broken)"])?;
        git(&app, &["checkout", "-q", "main"])?;
        // Fails on purpose: the history shows a failure that left the live site alone.
        let _ = deploy(BLOG, None).await;
        Ok(())
    }

    pub fn header(&self, keep: bool) -> String {
        format!(
            "DEMO · sandbox {}{}",
            self.dir.display(),
            if keep {
                " (kept)"
            } else {
                " (removed on exit)"
            }
        )
    }

    /// Removes the sandbox (only what the demo made).
    pub fn remove(&self) {
        if self.created {
            let _ = std::fs::remove_dir_all(&self.dir);
        } else if let Ok(entries) = std::fs::read_dir(&self.dir) {
            for e in entries.flatten() {
                let p = e.path();
                let _ = if p.is_dir() {
                    std::fs::remove_dir_all(&p)
                } else {
                    std::fs::remove_file(&p)
                };
            }
        }
    }
}
