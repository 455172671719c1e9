//! `flipdeck diff`: what goes out between the live release and a target (the configured branch's
//! tip, a ref, or a deployment of the history), read on the server in one exec (`diff.sh`) that
//! changes nothing of the site: commits both ways, files, migrations, lock files, and the env keys
//! the target needs that the shared `.env` lacks. Commit subjects, authors and paths arrive
//! hex-encoded, so whatever they hold reaches the caller as data, never as a marker or a line.

use super::Engine;
use super::events::Action;
use super::job::Job;
use super::layout::Layout;
use super::protocol::{DiffReport, Params};
use super::scripts;
use crate::config::SiteRef;
use crate::error::{Error, Result};
use crate::transport::Connector;
use serde::Serialize;

/// How many commits (each way) and files are listed; the counts are always whole.
pub const MAX_COMMITS: usize = 50;
pub const MAX_FILES: usize = 200;
/// How long the server's fetch may take (where it has `timeout`) before the diff says the
/// repository cannot be reached.
pub const FETCH_TIMEOUT_S: u32 = 60;

/// What to compare the live release with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DiffTarget {
    /// The tip of this branch (the site's configured one when `None`), fetched now.
    Branch(Option<String>),
    /// A branch, tag or commit of the repository, fetched now.
    Ref(String),
    /// A deployment of the history (a rollback target).
    Deployment(i64),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Commit {
    pub sha: String,
    pub author: String,
    pub subject: String,
}

/// A path that differs: `added`, `modified`, `deleted` or `type_changed` (in the target,
/// compared with the live release).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    pub status: &'static str,
    pub path: String,
}

/// What goes out, for one server.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Diff {
    pub site: String,
    /// `branch main`, `ref v1.2`, `deployment #7 (release …)`.
    pub target: String,
    pub target_commit: Option<String>,
    pub live_release: Option<String>,
    pub live_commit: Option<String>,
    /// False when what goes out cannot be known; `unknown` says why.
    pub known: bool,
    pub unknown: Option<String>,
    /// The server has no repository cache yet (everything was fetched from the repository).
    pub no_cache: bool,
    /// The fetch failed (git's last line); with `stale`, the cache's copy was compared instead.
    pub fetch_error: Option<String>,
    pub stale: bool,
    pub commits_out_count: u64,
    pub commits_out: Vec<Commit>,
    /// Commits the live release has and the target lacks (a rollback takes them away).
    pub commits_back_count: u64,
    pub commits_back: Vec<Commit>,
    pub files_count: u64,
    pub files: Vec<Change>,
    pub migrations_added: Vec<String>,
    pub migrations_removed: Vec<String>,
    pub migrations_changed: Vec<String>,
    pub lock_files: Vec<Change>,
    /// Keys the target's `.env.example` names that the shared `.env` lacks (names only).
    pub env_missing: Vec<String>,
    /// The shared `.env` does not exist.
    pub env_file_missing: bool,
    pub warnings: Vec<String>,
}

/// What `diff.sh` is told for one comparison, and what reading its report needs.
pub(super) struct DiffRequest {
    /// `branch main`, `ref v1.2`, `deployment #7 (release …)`.
    pub what: String,
    /// `source = "push"`: the server compares with what its cache has.
    pub push: bool,
    pub params: Params,
}

impl Engine {
    /// Compares the live release of `site` with `target`. One connection, one exec; nothing
    /// of the site changes (see `diff.sh`).
    pub async fn diff(
        &self,
        site: &SiteRef<'_>,
        connector: &dyn Connector,
        target: &DiffTarget,
    ) -> Result<Diff> {
        let layout = Layout::new(site.server.root.as_deref(), &site.site.domain);
        let req = self.diff_request(site, target, &layout, false)?;
        let target_conn = connector.connect().await?;
        let mut job = Job::new(self, site.key(), target_conn, layout, Action::Inspect);
        let script = job.prelude().script(req.params.clone(), &[scripts::DIFF]);
        let r = job
            .run(&script, None, None)
            .await
            .map_err(|e| e.read_failed(format_args!("comparing {}", site.key())))?;
        let ok = r.status.success();
        job.finish(ok, if ok { "compared" } else { "compare failed" });
        if !ok {
            return Err(Error::failed(format!(
                "could not compare {} at step {} ({})",
                site.key(),
                r.last_step.as_deref().unwrap_or("start"),
                r.status
            )));
        }
        let rep: DiffReport = r.report();
        if rep.no_site {
            return Err(Error::not_provisioned(&site.key(), &job.layout.base()));
        }
        Ok(self.diff_read(site, &req, &rep))
    }

    /// Checks what `target` names and makes `diff.sh`'s parameters. `outside`: its private
    /// repository goes in a temporary directory outside the site's tree rather than in
    /// `.flipdeck/`, so not even a directory's mtime there changes (`deploy --dry-run`).
    pub(super) fn diff_request(
        &self,
        site: &SiteRef<'_>,
        target: &DiffTarget,
        layout: &Layout,
        outside: bool,
    ) -> Result<DiffRequest> {
        let Some(repo) = site.site.repository.as_deref() else {
            return Err(Error::usage(format!(
                "{} has no repository (its releases are placeholders): there is nothing to compare",
                site.key()
            )));
        };
        let push = match &site.site.source {
            crate::config::CodeSource::Server => false,
            crate::config::CodeSource::Push => true,
            crate::config::CodeSource::Artifact { .. } => {
                return Err(Error::usage(format!(
                    "{} deploys artifacts (source = \"artifact\"): its releases are built trees without git history, so what goes out cannot be known",
                    site.key()
                )));
            }
        };
        let (kind, name, commit, what) = match target {
            DiffTarget::Branch(b) => {
                let b = b.as_deref().unwrap_or(&site.site.branch);
                check_ref(b)?;
                (
                    "branch",
                    b.to_string(),
                    String::new(),
                    format!("branch {b}"),
                )
            }
            DiffTarget::Ref(r) => {
                check_ref(r)?;
                ("ref", r.clone(), String::new(), format!("ref {r}"))
            }
            DiffTarget::Deployment(id) => {
                let d = self.deployment_of(site, *id)?;
                let release = d.release_name.clone().unwrap_or_default();
                let what = if release.is_empty() {
                    format!("deployment #{id}")
                } else {
                    format!("deployment #{id} (release {release})")
                };
                (
                    "release",
                    release,
                    d.commit_sha.clone().unwrap_or_default(),
                    what,
                )
            }
        };
        let params = Params::new()
            .set("repo", repo)
            .set("target_kind", kind)
            .set("target", &name)
            .set("target_commit", &commit)
            .set("migrations", &site.site.migrations)
            .set("max_commits", &MAX_COMMITS.to_string())
            .set("max_files", &MAX_FILES.to_string())
            .set("fetch_timeout", &FETCH_TIMEOUT_S.to_string())
            .flag("server_fetch", !push)
            .flag("env_check", super::env::shares_env(site.site))
            .flag("scratch_out", outside)
            .export("GIT_SSH_COMMAND", &scripts::git_ssh_command(layout))
            .export("GIT_SSH_VARIANT", "ssh");
        Ok(DiffRequest { what, push, params })
    }

    /// `diff.sh`'s report as a `Diff` (of a provisioned site), with git's words redacted.
    pub(super) fn diff_read(
        &self,
        site: &SiteRef<'_>,
        req: &DiffRequest,
        rep: &DiffReport,
    ) -> Diff {
        let mut d = read(site.key(), req.what.clone(), rep);
        if req.push && d.stale && d.fetch_error.is_none() {
            d.warnings.push(
                "source = \"push\": compared with what the server's cache got at the last deploy; newer commits of this machine's repository are not counted"
                    .into(),
            );
        }
        // git's words may name the repository's URL with its credentials.
        if let Some(e) = &d.fetch_error {
            let e = self.redactor.apply(e).into_owned();
            for w in d.warnings.iter_mut() {
                *w = w.replace(d.fetch_error.as_deref().unwrap_or_default(), &e);
            }
            if let Some(u) = d.unknown.as_mut() {
                *u = u.replace(d.fetch_error.as_deref().unwrap_or_default(), &e);
            }
            d.fetch_error = Some(e);
        }
        d
    }

    fn deployment_of(&self, site: &SiteRef<'_>, id: i64) -> Result<crate::store::Deployment> {
        let row = self
            .store
            .ensure_site(&site.server.name, &site.site.domain)?;
        let d = self
            .store
            .get(id)?
            .filter(|d| d.site_id == row.id)
            .ok_or_else(|| {
                Error::failed(format!(
                    "no deployment #{id} for {} (see `flipdeck list {}`)",
                    site.key(),
                    site.key()
                ))
            })?;
        if d.release_name.is_none() && d.commit_sha.is_none() {
            return Err(Error::failed(format!(
                "deployment #{id} of {} has neither a release nor a commit to compare with",
                site.key()
            )));
        }
        Ok(d)
    }
}

fn check_ref(r: &str) -> Result<()> {
    crate::validate::branch(r).map_err(|why| Error::usage(format!("ref {r:?} {why}")))
}

/// The typed report as a `Diff` (decoding the hex lists).
fn read(site: String, target: String, rep: &DiffReport) -> Diff {
    let mut d = Diff {
        site,
        target,
        target_commit: rep.target.clone(),
        live_release: rep.live.clone().filter(|l| !l.is_empty()),
        live_commit: rep.live_commit.clone(),
        no_cache: rep.no_cache,
        fetch_error: rep
            .fetch_failed
            .as_deref()
            .map(|h| String::from_utf8_lossy(&unhex(h)).trim().to_string()),
        stale: rep.stale,
        ..Diff::default()
    };
    let unknown = if let Some(why) = &rep.no_target {
        Some(why.clone())
    } else if rep.target.is_none() {
        Some(match (&d.fetch_error, rep.no_cache) {
            (Some(e), true) => format!(
                "the repository cannot be fetched ({e}) and the server has no repository cache yet"
            ),
            (Some(e), false) => format!("the repository cannot be fetched ({e})"),
            (None, true) => {
                "the server has no repository cache yet (a deploy makes it)".to_string()
            }
            (None, false) => "the server reported no target commit".to_string(),
        })
    } else {
        None
    };
    if let Some(why) = unknown {
        d.unknown = Some(why);
        return d;
    }
    d.known = true;
    d.commits_out_count = rep.ahead.unwrap_or(0);
    d.commits_out = commits(&rep.commits_out);
    d.commits_back_count = rep.behind.unwrap_or(0);
    d.commits_back = commits(&rep.commits_back);
    d.files_count = rep.files.unwrap_or(0);
    d.files = changes(&rep.file_list);
    for c in changes(&rep.migrations) {
        match c.status {
            "added" => d.migrations_added.push(c.path),
            "deleted" => d.migrations_removed.push(c.path),
            _ => d.migrations_changed.push(c.path),
        }
    }
    d.lock_files = changes(&rep.locks);
    d.env_missing = rep.env_lacks.clone();
    d.env_file_missing = rep.env_none;
    if rep.live_not_git {
        d.warnings.push(
            "the live release is not a git checkout: everything of the target is listed as new"
                .into(),
        );
    }
    if let (Some(e), true) = (&d.fetch_error, d.stale) {
        d.warnings.push(format!(
            "the repository cannot be fetched ({e}): compared with the server's cache as of its last fetch"
        ));
    }
    if !d.migrations_removed.is_empty() {
        d.warnings.push(format!(
            "the target lacks {} migration(s) the live release has (the schema is ahead of the code): {}",
            d.migrations_removed.len(),
            d.migrations_removed.join(", ")
        ));
    }
    if rep.env_unreadable {
        d.warnings
            .push("the shared .env cannot be read: its keys were not compared".into());
    }
    d
}

/// Bytes from hex (an odd or bad digit ends it).
fn unhex(h: &str) -> Vec<u8> {
    h.as_bytes()
        .chunks_exact(2)
        .map_while(|p| u8::from_str_radix(std::str::from_utf8(p).ok()?, 16).ok())
        .collect()
}

/// NUL-separated fields of hex `h` (a last empty one, after a final NUL, dropped).
fn fields(h: &str) -> Vec<String> {
    let bytes = unhex(h);
    if bytes.is_empty() {
        return vec![];
    }
    let mut v: Vec<String> = bytes
        .split(|b| *b == 0)
        .map(|f| String::from_utf8_lossy(f).into_owned())
        .collect();
    if v.last().is_some_and(String::is_empty) {
        v.pop();
    }
    v
}

/// `git log -z --format=%h%x00%an%x00%s`: three fields a commit.
fn commits(h: &str) -> Vec<Commit> {
    fields(h)
        .chunks_exact(3)
        .map(|c| Commit {
            sha: c[0].trim_start_matches('\n').to_string(),
            author: c[1].clone(),
            subject: c[2].clone(),
        })
        .collect()
}

/// `git diff --name-status -z`: a status and a path a change.
fn changes(h: &str) -> Vec<Change> {
    fields(h)
        .chunks_exact(2)
        .map(|c| Change {
            status: match c[0].as_str() {
                "A" => "added",
                "D" => "deleted",
                "T" => "type_changed",
                _ => "modified",
            },
            path: c[1].clone(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    #[test]
    fn reads_what_diff_sh_sends() {
        let c = commits(&hex(
            b"abc1234\0Ann \"$(x)\"\0fix \x1b[31m it\0def5678\0Bo\0two",
        ));
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].author, "Ann \"$(x)\"");
        assert_eq!(c[0].subject, "fix \x1b[31m it");
        assert_eq!(c[1].sha, "def5678");
        let f = changes(&hex(b"A\0database/migrations/x.php\0M\0composer.lock\0"));
        assert_eq!(f[0].status, "added");
        assert_eq!(f[1].path, "composer.lock");
        assert!(changes("").is_empty());
        assert_eq!(unhex("61zz62"), b"a");
    }
}
