//! `keygen SITE [--yes --git-host-key FINGERPRINT]`: a deploy key for one site on its server. The
//! git host's key is pinned only once the operator has confirmed its fingerprint (asked on a
//! terminal, or given with `--git-host-key`), never taken on trust.

use crate::cli::Ctx;
use crate::error::{Error, Result};
use crate::visible::visible;
use std::io::{BufRead, IsTerminal, Write};

pub async fn run(ctx: &Ctx, site: &str, yes: bool, git_host_key: Option<&str>) -> Result<()> {
    if yes && git_host_key.is_none() {
        return Err(Error::usage(
            "--yes needs --git-host-key SHA256:…, the fingerprint you checked with the git host",
        ));
    }
    let site = ctx.config.find_site(site)?;
    let connector = ctx.connector(&site)?;
    let mut report = ctx.engine.keygen(&site, connector.as_ref(), None).await?;
    if !report.pinned {
        let scanned = &report.git_host_keys;
        let choice = match git_host_key {
            Some(fp) if scanned.iter().any(|(f, _)| f == fp) => fp.to_string(),
            Some(fp) => {
                return Err(Error::failed(format!(
                    "the git host presented no key with the fingerprint {fp} (it presented: {}); nothing was pinned",
                    describe(scanned)
                )));
            }
            None => ask(scanned)?,
        };
        report = ctx
            .engine
            .keygen(&site, connector.as_ref(), Some(&choice))
            .await?;
        if !report.pinned {
            return Err(Error::failed("the git host's key could not be pinned"));
        }
        println!("pinned the git host's key {choice} for {}", site.key());
    } else {
        println!("the git host's key is already pinned for {}", site.key());
    }
    let public = report.public_key.unwrap_or_default();
    println!(
        "{} deploy key of {}; add it to the repository's git host as a read-only deploy key:",
        if report.created { "made the" } else { "the" },
        site.key()
    );
    println!("{}", visible(&public, false));
    println!("the site's deploys now fetch with this key only (no agent needed)");
    Ok(())
}

fn describe(keys: &[(String, String)]) -> String {
    let all: Vec<String> = keys.iter().map(|(f, t)| format!("{t} {f}")).collect();
    all.join(", ")
}

/// Shows the git host's preferred key (ed25519 when it has one) and asks whether it is right.
fn ask(keys: &[(String, String)]) -> Result<String> {
    let (fp, kind) = keys
        .iter()
        .find(|(_, t)| t == "ED25519")
        .or_else(|| keys.first())
        .ok_or_else(|| Error::failed("the git host presented no key"))?;
    println!("the git host presents a {kind} key with fingerprint {fp}");
    if !std::io::stdin().is_terminal() {
        return Err(Error::failed(
            "not pinning without confirmation: stdin is not a terminal; compare the fingerprint with your git host's, then pass --yes --git-host-key FINGERPRINT",
        ));
    }
    print!("Is this your git host's key (compare it with the fingerprints it publishes)? [y/N] ");
    let _ = std::io::stdout().flush();
    let mut answer = String::new();
    let _ = std::io::stdin().lock().read_line(&mut answer);
    if !matches!(answer.trim(), "y" | "Y" | "yes") {
        return Err(Error::failed("git host key not pinned"));
    }
    Ok(fp.clone())
}
