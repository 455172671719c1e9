//! `diff SITE [--to ID | --ref REF] [--json]`: what goes out between the live release and a
//! target, on every server of the site (one exec each, at most `parallel` at once); changes
//! nothing. `--json`: one object per server, one line each.

use crate::cli::Ctx;
use crate::cli::each_site::on_each_site;
use crate::cli::printer::say;
use crate::engine::diff::{Commit, Diff, DiffTarget};
use crate::error::{Error, Result};
use crate::visible::visible;

/// How many files the human summary lists (`--json` has up to `MAX_FILES`).
const SHOW_FILES: usize = 20;

pub async fn run(
    ctx: &Ctx,
    spec: &str,
    to: Option<i64>,
    git_ref: Option<&str>,
    json: bool,
) -> Result<()> {
    let sites = ctx.config.find_sites(spec)?;
    let target = match (to, git_ref) {
        (Some(id), _) => DiffTarget::Deployment(id),
        (None, Some(r)) => DiffTarget::Ref(r.to_string()),
        (None, None) => DiffTarget::Branch(None),
    };
    let target = &target;
    let outcomes = on_each_site(&ctx.config, &sites, |site| async move {
        let connector = ctx.connector(&site)?;
        ctx.engine.diff(&site, connector.as_ref(), target).await
    })
    .await;
    let mut failed = Vec::new();
    for (key, outcome) in outcomes {
        match outcome {
            Ok(d) => {
                if json {
                    println!("{}", serde_json::to_string(&d).expect("a diff serializes"));
                } else if d.known {
                    print_human(&d);
                }
                if let Some(why) = &d.unknown {
                    failed.push(format!("what goes out to {key} cannot be known: {why}"));
                }
            }
            Err(e) if sites.len() == 1 => return Err(e),
            Err(e) => failed.push(format!("{key}: {e}")),
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(Error::failed(failed.join("; ")))
    }
}

fn short(sha: &Option<String>) -> String {
    sha.as_deref()
        .map_or("?".into(), |s| s.chars().take(7).collect())
}

fn v(s: &str) -> String {
    visible(s, false).into_owned()
}

pub(crate) fn print_human(d: &Diff) {
    let live = match &d.live_release {
        Some(r) => format!("live {} ({})", v(r), short(&d.live_commit)),
        None => "nothing live".to_string(),
    };
    say!(
        "{}: {live} -> {} ({})",
        d.site,
        v(&d.target),
        short(&d.target_commit)
    );
    if d.commits_out_count == 0 && d.commits_back_count == 0 && d.live_commit.is_some() {
        say!("  nothing goes out: the live release is at the target's commit");
    }
    commits("commit(s) go out", d.commits_out_count, &d.commits_out);
    commits(
        "commit(s) taken back (the live release has them, the target does not)",
        d.commits_back_count,
        &d.commits_back,
    );
    if d.files_count > 0 {
        say!("  {} file(s) changed:", d.files_count);
        for f in d.files.iter().take(SHOW_FILES) {
            say!("    {} {}", f.status, v(&f.path));
        }
        let more = d
            .files_count
            .saturating_sub(SHOW_FILES.min(d.files.len()) as u64);
        if more > 0 {
            say!("    … and {more} more");
        }
    }
    list("migrations added", &d.migrations_added);
    list("migrations removed", &d.migrations_removed);
    list("migrations changed", &d.migrations_changed);
    let locks: Vec<String> = d.lock_files.iter().map(|c| c.path.clone()).collect();
    list("lock files changed", &locks);
    if d.env_file_missing && !d.env_missing.is_empty() {
        say!("  there is no shared .env: every key of the target's .env.example is missing");
    }
    if !d.env_missing.is_empty() {
        say!(
            "  keys the shared .env lacks: {}",
            v(&d.env_missing.join(" "))
        );
    }
    for w in &d.warnings {
        say!("WARN {}", v(w));
    }
}

fn commits(what: &str, count: u64, list: &[Commit]) {
    if count == 0 {
        return;
    }
    say!("  {count} {what}:");
    for c in list {
        say!("    {} {} ({})", v(&c.sha), v(&c.subject), v(&c.author));
    }
    if count > list.len() as u64 {
        say!("    … and {} more", count - list.len() as u64);
    }
}

fn list(what: &str, items: &[String]) {
    if !items.is_empty() {
        say!("  {what}: {}", v(&items.join(", ")));
    }
}
