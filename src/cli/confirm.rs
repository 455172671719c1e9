//! `protected = true`: a deploy or rollback of the site asks for its domain first. On a terminal
//! the operator types it; without one, `--yes` is required, and a run without it does nothing and
//! exits 2, so a CI job cannot touch a protected site by accident.

use crate::config::SiteRef;
use crate::error::{Error, Result};
use std::io::{BufRead, IsTerminal, Write};

/// Asks before `action` (`deploy`, `roll back`) on `sites` when one of them is protected.
pub fn protected(sites: &[SiteRef<'_>], action: &str, yes: bool) -> Result<()> {
    let Some(site) = sites.iter().find(|s| s.protected()) else {
        return Ok(());
    };
    if yes {
        return Ok(());
    }
    let domain = &site.site.domain;
    let which = if sites.len() > 1 {
        format!("{domain} (on {} servers)", sites.len())
    } else {
        site.key()
    };
    if !std::io::stdin().is_terminal() {
        return Err(Error::usage(format!(
            "{which} is protected and there is no terminal to confirm on; nothing was done. \
             Pass --yes to {action} it anyway"
        )));
    }
    // The question goes to stderr: stdout may be JSON events.
    eprint!("{which} is protected. Type its domain to {action} it: ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    let _ = std::io::stdin().lock().read_line(&mut answer);
    if answer.trim() == domain {
        Ok(())
    } else {
        Err(Error::failed(format!(
            "{answer:?} is not {domain:?}; nothing was done",
            answer = answer.trim()
        )))
    }
}

/// Asks `question` (`[y/N]`) on the terminal; with `yes`, does not ask. Without a terminal and
/// without `yes`: a usage error, nothing done.
pub fn ask(question: &str, yes: bool) -> Result<bool> {
    if yes {
        return Ok(true);
    }
    if !std::io::stdin().is_terminal() {
        return Err(Error::usage(
            "there is no terminal to confirm on; nothing was done. Pass --yes to go ahead anyway",
        ));
    }
    eprint!("{question} [y/N] ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    let _ = std::io::stdin().lock().read_line(&mut answer);
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}
