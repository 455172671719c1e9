//! `doctor [SERVER] [--json]`: every configured server (or one) checked in one exec each, in
//! parallel; a table per server of each check, its result and the fix for each failure. Exit 1
//! when something would break a deploy.

use crate::config::Config;
use crate::engine::doctor::{self, Finding};
use crate::error::{Error, Result};
use crate::visible::visible;

pub async fn run(config: &Config, only: Option<&str>, json: bool) -> Result<()> {
    let servers: Vec<_> = config
        .servers
        .iter()
        .filter(|s| only.is_none_or(|n| s.name == n))
        .collect();
    if servers.is_empty() {
        let names: Vec<&str> = config.servers.iter().map(|s| s.name.as_str()).collect();
        return Err(Error::usage(match only {
            Some(n) => format!(
                "no server {n:?} in {}; servers: {}",
                config.path.display(),
                names.join(", ")
            ),
            None => format!("no servers in {}", config.path.display()),
        }));
    }
    let limit = tokio::sync::Semaphore::new(config.parallel);
    let runs = servers.iter().map(|s| {
        let limit = &limit;
        async move {
            let _permit = limit.acquire().await.expect("never closed");
            match crate::transport::connect::connector_for(s) {
                Ok(c) => doctor::examine(s, c.as_ref()).await,
                Err(e) => vec![Finding {
                    check: "connect",
                    outcome: doctor::Outcome::Fail,
                    detail: e.to_string(),
                    fix: e.suggestion(),
                }],
            }
        }
    });
    let results = futures_util::future::join_all(runs).await;
    let mut failed: Vec<&str> = Vec::new();
    for (server, findings) in servers.iter().zip(&results) {
        if json {
            for f in findings {
                let mut v = serde_json::to_value(f).expect("serializable");
                v["server"] = server.name.clone().into();
                println!("{v}");
            }
        } else {
            print!("{}", table(&server.name, findings));
        }
        if doctor::any_failed(findings) {
            failed.push(&server.name);
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(Error::failed(format!(
            "a deploy would fail on {}: see the fixes above",
            failed.join(", ")
        )))
    }
}

/// One server's findings: check, result (outcome and detail), fix.
fn table(server: &str, findings: &[Finding]) -> String {
    let mut out = format!("{server}\n");
    let w = findings
        .iter()
        .map(|f| f.check.len())
        .max()
        .unwrap_or(5)
        .max(5);
    out.push_str(&format!(
        "  {:<w$}  {:<4}  {}\n",
        "CHECK", "", "RESULT / FIX"
    ));
    for f in findings {
        out.push_str(&format!(
            "  {:<w$}  {:<4}  {}\n",
            f.check,
            f.outcome.as_str(),
            visible(&f.detail, false)
        ));
        if let Some(fix) = &f.fix {
            out.push_str(&format!(
                "  {:<w$}  {:<4}  fix: {}\n",
                "",
                "",
                visible(fix, false)
            ));
        }
    }
    out.push('\n');
    out
}
