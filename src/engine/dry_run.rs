//! `deploy --dry-run`: what a deploy of a site would do, read in one exec per server that writes
//! nothing anywhere in the site's tree (`dry_run.sh`, then `diff.sh` with its private repository
//! in a temporary directory outside the tree) and records nothing in the history. It says what
//! goes out (the diff engine's `Diff`), which releases the prune after the deploy would delete
//! (the deploy's own plan, `prune::plan_after_success`, on the same history), the steps and hooks
//! in their order, the shared links, the env check and who holds the lock, and why a deploy would
//! be refused or fail.

use super::Engine;
use super::deploy::{check, default_script_off};
use super::diff::{Diff, DiffTarget};
use super::events::Action;
use super::job::Job;
use super::layout::Layout;
use super::protocol::{DiffReport, InspectReport, Key, Params, Report};
use super::scripts;
use super::source as local;
use crate::config::{CodeSource, SiteConfig, SiteRef};
use crate::engine::DeployOptions;
use crate::error::{Error, Result};
use crate::release::ReleaseName;
use crate::transport::Connector;
use serde::Serialize;

mod prune;
mod steps;
use steps::{Plan, steps};

/// The release name's pattern (`release::ReleaseName`), as the dry run tells it.
pub const RELEASE_PATTERN: &str = "ddMMYYYY-HHMMSS";

/// Stands for the deployment a dry run does not record (history ids start at 1).
const NOT_RECORDED: i64 = 0;

/// What a deploy of one server would do.
#[derive(Debug, Clone, Serialize)]
pub struct DryRun {
    pub site: String,
    /// The deploy would go ahead; else `refused` says why (each reason once).
    pub would_deploy: bool,
    pub refused: Vec<String>,
    /// `server`, `push` or `artifact` (the site's `source`).
    pub source: &'static str,
    /// `branch main`, `ref v1.4`, `artifact sha256:… (…)`.
    pub target: String,
    pub branch: String,
    pub git_ref: Option<String>,
    pub target_commit: Option<String>,
    pub live_release: Option<String>,
    /// The name the release would get if the deploy started now, and its directory.
    pub release: String,
    pub release_pattern: &'static str,
    pub release_path: Option<String>,
    /// Who holds the site's lock right now (`stale`: a flipdeck of this machine that is gone,
    /// which the deploy would recover first).
    pub lock: Option<LockHolder>,
    /// What goes out (as `flipdeck diff`); `None` with `diff_unknown` saying why.
    pub diff: Option<Diff>,
    pub diff_unknown: Option<String>,
    pub prune: PrunePreview,
    /// What the deploy runs, in order, when it succeeds.
    pub steps: Vec<Step>,
    /// What runs when it fails after taking the lock.
    pub on_failure: Vec<Step>,
    pub shared_links: Vec<SharedLink>,
    pub cached: Vec<CachedPath>,
    pub env: EnvPreview,
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct LockHolder {
    pub holder: String,
    pub stale: bool,
}

/// A release the prune after the deploy deletes, keeps, or never looks at, and why.
#[derive(Debug, Clone, Serialize)]
pub struct PruneEntry {
    pub release: String,
    /// `None`: the new release (not recorded yet), or a directory the history does not know.
    pub deployment_id: Option<i64>,
    /// The release the live link points at now.
    pub live_now: bool,
    pub why: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct PrunePreview {
    pub keep: u32,
    pub delete: Vec<PruneEntry>,
    pub kept: Vec<PruneEntry>,
    /// Directories on the server the prune never deletes (not successful deployments of this
    /// history, or not in it at all).
    pub untouched: Vec<PruneEntry>,
}

/// One step of the deploy: its name as the log shows it (`==> NAME`), what it does, and the
/// user's own command it runs (the deploy script, a hook, the reload, the health check).
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    pub step: &'static str,
    pub does: String,
    pub command: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SharedLink {
    pub path: String,
    /// `file` or `dir`.
    pub kind: &'static str,
    /// The link's target, relative to the link.
    pub link: String,
    /// `present` in shared/; `missing` (seeded from the release, else created empty); `link` (a
    /// symlink on its way: the deploy would fail); `unknown` (not read).
    pub shared: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct CachedPath {
    pub path: String,
    /// The live release has it: the new release starts from a copy.
    pub from_live: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct EnvPreview {
    pub require_env: bool,
    /// The target has a `.env.example` and the site shares `.env`: the keys were compared.
    pub checked: bool,
    pub missing: Vec<String>,
}

/// `dry_run.sh`'s own keys.
#[derive(Debug, Clone, Default)]
struct DryReport {
    shared: Vec<(usize, String)>,
    cached: Vec<(usize, bool)>,
}

impl Report for DryReport {
    fn take(&mut self, key: Key, v: &str) {
        let (i, state) = v.split_once(' ').unwrap_or((v, ""));
        let Ok(i) = i.parse::<usize>() else { return };
        match key {
            Key::DryShared => self.shared.push((i, state.to_string())),
            Key::DryCached => self.cached.push((i, state == "present")),
            _ => {}
        }
    }
}

fn entries(list: &[String]) -> Vec<&str> {
    list.iter().map(|e| e.trim_end_matches('/')).collect()
}

impl Engine {
    /// What `deploy` with `opts` would do on `site` if it started at `now` (`fleet`: one server
    /// of a fleet deploy, whose servers share `now` and so the release name). One connection,
    /// one exec; nothing changes on the server or in the history.
    pub async fn dry_run(
        &self,
        site: &SiteRef<'_>,
        connector: &dyn Connector,
        opts: &DeployOptions,
        fleet: bool,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<DryRun> {
        let branch = check(site, opts)?;
        let s = site.site;
        let mut refused = Vec::new();
        let mut warnings = Vec::new();
        let layout = Layout::new(site.server.root.as_deref(), &s.domain);
        let artifact = matches!(s.source, CodeSource::Artifact { .. })
            && (opts.artifact.is_some() || s.repository.is_some());
        // What this machine would contribute, read only (a push's commit; an artifact is not
        // built by a dry run).
        let (target, mut target_commit) = self.dry_target(site, opts, &branch, &mut refused);
        let diff_target = match &opts.git_ref {
            Some(r) => DiffTarget::Ref(r.clone()),
            None => DiffTarget::Branch(Some(branch.clone())),
        };
        let req = if artifact {
            None
        } else {
            Some(self.diff_request(site, &diff_target, &layout, true)?)
        };
        let shared = entries(&s.shared);
        let cached = entries(&s.cached);
        let params = req
            .as_ref()
            .map_or_else(Params::new, |r| r.params.clone())
            .list("shared", &shared)
            .list("cached", &cached);
        let conn = connector.connect().await?;
        let mut job = Job::new(self, site.key(), conn, layout, Action::Inspect);
        let parts: &[&str] = if req.is_some() {
            &[scripts::DRY_RUN, scripts::DIFF]
        } else {
            &[scripts::DRY_RUN]
        };
        let script = job.prelude().script(params, parts);
        let r = job
            .run(&script, None, None)
            .await
            .map_err(|e| e.read_failed(format_args!("reading {}", site.key())))?;
        let ok = r.status.success();
        job.finish(ok, if ok { "dry run read" } else { "dry run failed" });
        if !ok {
            return Err(Error::failed(format!(
                "could not read {} for the dry run at step {} ({})",
                site.key(),
                r.last_step.as_deref().unwrap_or("start"),
                r.status
            )));
        }
        let ins: InspectReport = r.report();
        let dry: DryReport = r.report();
        let rep: DiffReport = r.report();
        let live_release = ins
            .live
            .as_deref()
            .map(|l| l.rsplit('/').next().unwrap_or(l).to_string())
            .filter(|l| !l.is_empty());

        // What goes out.
        let (diff, diff_unknown) = match &req {
            None => (
                None,
                Some("source = \"artifact\": releases are built trees without git history".into()),
            ),
            Some(_) if rep.no_site => (
                None,
                Some(format!(
                    "{} does not exist yet: the deploy creates the layout (`flipdeck provision` does it with the shared paths seeded)",
                    job.layout.base()
                )),
            ),
            Some(req) => {
                let d = self.diff_read(site, req, &rep);
                let why = d.unknown.clone();
                (Some(d), why)
            }
        };
        if let Some(d) = &diff {
            let push = matches!(s.source, CodeSource::Push);
            match (&d.unknown, push) {
                (Some(why), false) => refused.push(format!("the deploy would fail: {why}")),
                (Some(why), true) => warnings.push(format!(
                    "what goes out cannot be listed from the server's cache ({why}); the deploy pushes this machine's commit"
                )),
                (None, false) if d.fetch_error.is_some() => refused.push(format!(
                    "the deploy would fail at fetch: the repository cannot be fetched ({})",
                    d.fetch_error.as_deref().unwrap_or_default()
                )),
                _ => {}
            }
            match (&target_commit, &d.target_commit) {
                (None, Some(c)) => target_commit = Some(c.clone()),
                (Some(mine), Some(theirs)) if push && mine != theirs => warnings.push(format!(
                    "the server's cache has {} for {target}; the deploy pushes {} from this machine: the commits listed stop at the cache's",
                    crate::commit::short(theirs),
                    crate::commit::short(mine)
                )),
                _ => {}
            }
        }

        // The lock, and the live link the switch replaces.
        let lock = ins.lock.as_ref().map(|holder| {
            let stale = super::lock::held_by_dead_local_process(holder, &self.identity.host);
            LockHolder {
                holder: holder.clone(),
                stale,
            }
        });
        match &lock {
            Some(l) if l.stale => warnings.push(format!(
                "the lock is held by a flipdeck of this machine that is gone ({}): the deploy would first recover what it left, as `flipdeck status` does",
                l.holder
            )),
            Some(l) => refused.push(format!(
                "{} is locked by {}: the deploy would be refused",
                site.key(),
                l.holder
            )),
            None => {}
        }
        if ins.live_not_link {
            refused.push(format!(
                "{} exists and is not a symlink: the switch would fail",
                job.layout.live()
            ));
        }

        // The release name, as the deploy would choose it now (the history's names and the
        // server's directories taken).
        let row = self.store.find_site(&site.server.name, &s.domain)?;
        let second = ReleaseName::next_free(now, &[]).to_string();
        let mut taken = match &row {
            Some(row) => self.store.release_names_at(row.id, &second)?,
            None => vec![],
        };
        taken.extend(ins.releases.iter().cloned());
        let release = if fleet {
            second
        } else {
            ReleaseName::next_free(now, &taken).to_string()
        };
        let release_path = job
            .layout
            .root
            .is_some()
            .then(|| job.layout.release(&release));

        let prune =
            self.prune_preview(row.as_ref().map(|r| r.id), s, &release, &ins, &live_release)?;

        // Shared links and cached paths.
        let shared_links: Vec<SharedLink> = shared
            .iter()
            .enumerate()
            .map(|(i, e)| {
                let state = dry
                    .shared
                    .iter()
                    .find(|(n, _)| *n == i + 1)
                    .map_or("unknown".to_string(), |(_, st)| st.clone());
                let up = "../".repeat(e.matches('/').count() + 1);
                SharedLink {
                    path: e.to_string(),
                    kind: if SiteConfig::shared_is_file(&s.shared[i]) {
                        "file"
                    } else {
                        "dir"
                    },
                    link: format!("{up}shared/{e}"),
                    shared: state,
                }
            })
            .collect();
        for l in shared_links.iter().filter(|l| l.shared == "link") {
            refused.push(format!(
                "shared path {} goes through a symlink in shared/: the deploy would fail at links",
                l.path
            ));
        }
        let cached: Vec<CachedPath> = cached
            .iter()
            .enumerate()
            .map(|(i, e)| CachedPath {
                path: e.to_string(),
                from_live: dry.cached.iter().any(|(n, p)| *n == i + 1 && *p),
            })
            .collect();

        // The env check before the switch.
        let env_checked = rep.env_example && super::env::shares_env(s) && diff.is_some();
        let env = EnvPreview {
            require_env: s.require_env,
            checked: env_checked,
            missing: diff
                .as_ref()
                .map(|d| d.env_missing.clone())
                .unwrap_or_default(),
        };
        if s.require_env && !env.missing.is_empty() {
            refused.push(format!(
                "the shared .env lacks keys that .env.example has: {} (require_env = true): the deploy would fail at step env, before the switch",
                env.missing.join(" ")
            ));
        }

        let run_script = !default_script_off(s, opts.git_ref.is_some(), artifact);
        if !run_script {
            warnings.push(format!(
                "the default deployment script (`{}`) is not run for {}",
                crate::config::DEFAULT_SCRIPT,
                if artifact {
                    "an artifact"
                } else {
                    "an exact ref"
                }
            ));
        }
        let (steps, on_failure) = steps(
            site,
            Plan {
                branch: &branch,
                git_ref: opts.git_ref.as_deref(),
                artifact,
                run_script,
                fleet,
                stepped: fleet && (opts.rollout.is_some() || site.site.rollout.is_some()),
                release: &release,
                link: &job.layout.link_target(&release),
                env_example: rep.env_example,
                prune: prune.delete.len(),
                watch_s: opts.watch_s.unwrap_or(site.site.watch.seconds),
            },
        );
        // The user's commands and the repository's URL may hold secrets: redacted as the
        // history's copy of the deploy script is.
        let redact = |v: Vec<Step>| -> Vec<Step> {
            v.into_iter()
                .map(|st| Step {
                    does: self.redactor.apply(&st.does).into_owned(),
                    command: st.command.map(|c| self.redactor.apply(&c).into_owned()),
                    ..st
                })
                .collect()
        };
        let (steps, on_failure) = (redact(steps), redact(on_failure));
        // A reason given twice (a fleet's shared cause) is said once.
        refused.dedup();
        Ok(DryRun {
            site: site.key(),
            would_deploy: refused.is_empty(),
            refused,
            source: s.source.as_str(),
            target,
            branch,
            git_ref: opts.git_ref.clone(),
            target_commit,
            live_release,
            release,
            release_pattern: RELEASE_PATTERN,
            release_path,
            lock,
            diff,
            diff_unknown,
            prune,
            steps,
            on_failure,
            shared_links,
            cached,
            env,
            warnings,
        })
    }

    /// What the deploy would deploy, in words, and its commit where this machine knows it (a
    /// push's local commit, an artifact's `--commit`). A push whose ref this machine's
    /// repository lacks would be refused before anything is sent.
    fn dry_target(
        &self,
        site: &SiteRef<'_>,
        opts: &DeployOptions,
        branch: &str,
        refused: &mut Vec<String>,
    ) -> (String, Option<String>) {
        let named = match &opts.git_ref {
            Some(r) => format!("ref {r}"),
            None => format!("branch {branch}"),
        };
        match (&site.site.source, &site.site.repository, &opts.artifact) {
            (CodeSource::Artifact { .. }, _, Some(a)) => (
                format!(
                    "artifact sha256:{} ({})",
                    a.sha256,
                    local::size(a.bytes.len())
                ),
                a.commit.clone(),
            ),
            (CodeSource::Artifact { build, .. }, Some(_), None) => (
                format!(
                    "artifact built on this machine from {named}{}",
                    build
                        .as_deref()
                        .map(|b| format!(" with `{b}`"))
                        .unwrap_or_default()
                ),
                None,
            ),
            (CodeSource::Push, Some(repo), _) => {
                let rev = match &opts.git_ref {
                    Some(r) => r.clone(),
                    None => format!("refs/heads/{branch}"),
                };
                match local::resolve(std::path::Path::new(repo), &rev, &named) {
                    Ok(c) => (format!("{named}, pushed from this machine"), Some(c)),
                    Err(e) => {
                        refused.push(format!("the deploy would be refused: {e}"));
                        (named, None)
                    }
                }
            }
            _ => (named, None),
        }
    }
}
