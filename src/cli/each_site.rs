//! Commands that act on several sites (a fleet's bare domain, or every configured site): run on
//! each, print each outcome, then fail naming the sites that failed. One site failing does not
//! stop the others, and the exit code still says that something failed.

use crate::config::{Config, SiteRef};
use crate::error::{Error, Result};
use crate::visible::visible;

/// Runs `f` on every site, at most `config.parallel` at once, and returns each outcome in the
/// order of `sites`, keyed by `SERVER/DOMAIN`.
pub async fn on_each_site<'c, T, F, Fut>(
    config: &'c Config,
    sites: &[SiteRef<'c>],
    f: F,
) -> Vec<(String, Result<T>)>
where
    F: Fn(SiteRef<'c>) -> Fut,
    Fut: std::future::Future<Output = Result<T>>,
{
    let limit = tokio::sync::Semaphore::new(config.parallel);
    let runs = sites.iter().map(|s| {
        let (limit, f) = (&limit, &f);
        async move {
            let _permit = limit.acquire().await.expect("never closed");
            (s.key(), f(s.clone()).await)
        }
    });
    futures_util::future::join_all(runs).await
}

/// The sites that failed so far, for a command that prints each outcome as soon as it has it
/// (`report_each` is the same for outcomes collected first).
#[derive(Debug, Default)]
pub struct Failures(Vec<String>);

impl Failures {
    /// Prints one site's outcome through `ok` or `err`; a failed site is remembered.
    pub fn report<T>(
        &mut self,
        key: &str,
        outcome: Result<T>,
        ok: impl FnOnce(T),
        err: impl FnOnce(&Error),
    ) {
        match outcome {
            Ok(v) => ok(v),
            Err(e) => {
                err(&e);
                self.0.push(key.to_string());
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The failed sites (`SERVER/DOMAIN`, comma-separated).
    pub fn sites(&self) -> String {
        self.0.join(", ")
    }

    /// `Ok` when no site failed, else a failure whose message `summary` makes from the failed
    /// sites (`SERVER/DOMAIN`, comma-separated).
    pub fn verdict(self, summary: impl FnOnce(&str) -> String) -> Result<()> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(Error::failed(summary(&self.sites())))
        }
    }
}

/// Prints every outcome in order (`ok` or `err`, given the site's `SERVER/DOMAIN`), then fails
/// with `summary` of the failed sites if any failed.
pub fn report_each<T>(
    outcomes: Vec<(String, Result<T>)>,
    mut ok: impl FnMut(&str, T),
    mut err: impl FnMut(&str, &Error),
    summary: impl FnOnce(&str) -> String,
) -> Result<()> {
    let mut failures = Failures::default();
    for (key, outcome) in outcomes {
        failures.report(&key, outcome, |v| ok(&key, v), |e| err(&key, e));
    }
    failures.verdict(summary)
}

/// A failed server of a fleet, on stdout with the `OK  ` lines of the others.
pub fn fleet_err(key: &str, e: &Error) {
    crate::cli::printer::say_line(format_args!(
        "ERR {key}: {}",
        visible(&e.to_string(), false)
    ));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_each_fails_naming_every_failed_site() {
        let mut seen = Vec::new();
        let r = report_each(
            vec![
                ("a/x".to_string(), Ok(1)),
                ("b/x".to_string(), Err(Error::failed("down"))),
                ("c/x".to_string(), Err(Error::usage("bad"))),
            ],
            |key, v| seen.push(format!("{key} {v}")),
            |_, _| {},
            |sites| format!("failed on {sites}"),
        );
        assert_eq!(seen, ["a/x 1"]);
        let e = r.unwrap_err();
        assert_eq!(e.to_string(), "failed on b/x, c/x");
        assert_eq!(e.exit_code(), crate::error::EXIT_FAILED);
        assert!(
            report_each(
                vec![("a/x".into(), Ok(()))],
                |_, _| {},
                |_, _| {},
                |_| unreachable!()
            )
            .is_ok()
        );
    }
}
