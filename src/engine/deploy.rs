//! The deployment pipeline: record → lock + build + switch (+ reload) → record → log, prune,
//! unlock. One connection, one round trip.

use super::Engine;
use super::events::{Action, EventKind};
use super::job::{Gate, Job, Reply, RunError, RunResult};
use super::layout::Layout;
use super::layout_check::LayoutCheck;
use super::protocol::{BAD_HOME, DeployReport, InspectReport, LOCK_HELD, ProvisionReport};
use super::scripts::{self, Source};
use super::source::{self as local, Artifact};
use crate::config::CodeSource;
use crate::config::SiteRef;
use crate::error::{Error, Result};
use crate::release::ReleaseName;
use crate::store::Status;
use crate::transport::Connector;
use crate::transport::Transport;
use chrono::Utc;
use std::path::PathBuf;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone, Default)]
pub struct DeployOptions {
    /// Deploy this branch instead of the configured one.
    pub branch: Option<String>,
    /// Provisioning's initial deployment: no deploy script (the spec), placeholder without a repo.
    pub initial: bool,
    /// Deploy this ref (a tag, a branch or a commit id) instead of the branch's newest commit.
    pub git_ref: Option<String>,
    /// `source = "artifact"`: what to send (`--artifact FILE`, or built once for a whole fleet);
    /// built from the repository when absent.
    pub artifact: Option<Artifact>,
    /// Instructions to a deploy that holds its switch (a watch, a paused rollout); see `hold`.
    pub hold: Option<super::hold::HoldReceiver>,
    /// A fleet's stepped rollout for this deploy (`deploy --canary --batch --pause`); `None`:
    /// the site's configured `rollout`, if any.
    pub rollout: Option<crate::config::Rollout>,
    /// Watch this many seconds after the switch instead of the site's `watch_s` (`deploy
    /// --watch`); 0 turns the watch off.
    pub watch_s: Option<u32>,
}

/// One server's part in a fleet deploy: the release name every server uses, the fleet's id, and
/// the gate where it waits for the others.
pub struct FleetMember {
    pub release: String,
    pub fleet_id: String,
    pub gate: Gate,
}

/// How a deploy with provisioning's layout step ended: deployed, or stopped at the layout because
/// a release (named here) is live already.
pub(super) enum Initial {
    Deployed(Deployed),
    Live(String),
}

/// What a successful deploy produced.
#[derive(Debug, Clone)]
pub struct Deployed {
    pub deployment_id: i64,
    pub release: String,
    pub commit: Option<String>,
    pub pruned: Vec<String>,
}

/// How `undo` left the site.
enum Undone {
    /// The new release is still live (switching back failed, or nothing was live before).
    Kept,
    /// The new release had gone live; this release serves again.
    SwitchedBack(String),
    /// The new release was not live: the release before still served.
    NotLive,
}

impl Engine {
    pub async fn deploy(
        &self,
        site: &SiteRef<'_>,
        connector: &dyn Connector,
        opts: DeployOptions,
        cancel: CancellationToken,
    ) -> Result<Deployed> {
        check(site, &opts)?;
        self.after_recovering(site, connector, || async {
            let target = connector.connect().await?;
            self.deploy_on(site, connector, target, opts.clone(), cancel.clone(), None)
                .await
        })
        .await
    }

    /// The deploy on an open connection; `connector` is only used to reconnect for the clean-up
    /// after a lost connection.
    pub(super) async fn deploy_on(
        &self,
        site: &SiteRef<'_>,
        connector: &dyn Connector,
        target: Arc<dyn Transport>,
        opts: DeployOptions,
        cancel: CancellationToken,
        fleet: Option<FleetMember>,
    ) -> Result<Deployed> {
        match self
            .deploy_with(site, connector, target, opts, cancel, fleet, None)
            .await?
            .0
        {
            Initial::Deployed(d) => Ok(d),
            Initial::Live(_) => unreachable!("only provisioning stops at a live release"),
        }
    }

    /// `deploy_on`, or with `provision` provisioning's exec: its layout step first, in the same
    /// script, which stops there when a release is live already. Returns the layout as the
    /// script left it known (the root it reported).
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn deploy_with(
        &self,
        site: &SiteRef<'_>,
        connector: &dyn Connector,
        target: Arc<dyn Transport>,
        opts: DeployOptions,
        cancel: CancellationToken,
        fleet: Option<FleetMember>,
        provision: Option<LayoutCheck>,
    ) -> Result<(Initial, Layout)> {
        let branch = check(site, &opts)?;
        let layout = Layout::new(site.server.root.as_deref(), &site.site.domain);
        let row = self
            .store
            .ensure_site(&site.server.name, &site.site.domain)?;
        let action = if opts.initial {
            Action::Provision
        } else {
            Action::Deploy
        };
        let mut job = Job::new(self, site.key(), target, layout, action);
        if !opts.initial {
            job.hooks = site.site.hooks.clone();
        }
        if let Some(said) = provision.as_ref().and_then(LayoutCheck::before) {
            job.notice(said);
        }
        // What this machine does first (resolve, build): a failure here has touched nothing.
        let mut out = |stream: Option<crate::transport::Stream>, l: String| match stream {
            Some(stream) => job.local_line(stream, l),
            None => job.notice(l),
        };
        let material = match self.material(&mut out, site, &opts, &branch).await {
            Ok(m) => m,
            Err(e) => {
                // The error says why, once; this only ends the job.
                job.finish(false, format!("{} not deployed", site.key()));
                return Err(e);
            }
        };
        let push_ref = match &opts.git_ref {
            Some(r) => format!("refs/flipdeck/ref/{r}"),
            None => format!("refs/heads/{branch}"),
        };
        let source = match (&material, &site.site.repository) {
            (Material::Push { commit, .. }, _) => Source::Push {
                branch: &branch,
                commit,
                push_ref: &push_ref,
                detached: opts.git_ref.is_some(),
            },
            (Material::Artifact(a), _) => Source::Artifact {
                gzip: a.gzip,
                commit: a.commit.as_deref(),
            },
            (Material::Server, Some(repo)) => Source::Git {
                repository: repo,
                branch: &branch,
                rev: opts.git_ref.as_deref(),
            },
            (Material::Server, None) => Source::Placeholder,
        };
        // The spec's default script (`git fetch && git pull`) would leave an exact ref for the
        // branch's head, and an artifact has no git: there it is not run.
        let default_off = default_script_off(
            site.site,
            opts.git_ref.is_some(),
            matches!(material, Material::Artifact(_)),
        );
        let run_script = !opts.initial && !default_off;
        let script_text = if run_script {
            &site.site.deployment_script
        } else {
            ""
        };
        let script_text = self.redactor.apply(script_text);
        let id = self
            .store
            .create_deployment(&row, &script_text, &branch, &job.reference())?;
        job.attach_deployment(id);
        let sha256 = match &material {
            Material::Artifact(a) => Some(a.sha256.as_str()),
            _ => None,
        };
        let kind = if matches!(source, Source::Placeholder) {
            None
        } else {
            Some(site.site.source.as_str())
        };
        self.store
            .set_origin(id, kind, opts.git_ref.as_deref(), sha256)?;
        job.emit(EventKind::Status {
            deployment_id: id,
            status: Status::Pending,
        });

        let now = Utc::now();
        // A stepped rollout's reason for stopping, said in this server's record.
        let fleet_why = fleet.as_ref().and_then(|f| f.gate.why.clone());
        let (release, gate) = match fleet {
            Some(f) => {
                self.store.set_fleet(id, &f.fleet_id)?;
                (f.release, Some(f.gate))
            }
            None => {
                let second = ReleaseName::next_free(now, &[]).to_string();
                let taken = self.store.release_names_at(row.id, &second)?;
                (ReleaseName::next_free(now, &taken).to_string(), None)
            }
        };
        // Without a configured root the paths are known once the script has reported $HOME.
        let placed = job.layout.root.is_some();
        let paths = (job.layout.release(&release), job.layout.log_file(&release));
        self.store.mark_updating_at(
            id,
            &release,
            placed.then_some((paths.0.as_str(), paths.1.as_str())),
            now,
        )?;
        job.emit(EventKind::Status {
            deployment_id: id,
            status: Status::Updating,
        });
        let what = match (&material, &opts.git_ref) {
            (Material::Artifact(a), _) => format!(
                "artifact sha256:{} ({}{})",
                a.sha256,
                local::size(a.bytes.len()),
                a.commit
                    .as_deref()
                    .map(|c| format!(", built from {}", crate::commit::short(c)))
                    .unwrap_or_default()
            ),
            (Material::Push { commit, .. }, Some(r)) => {
                format!("ref {r} = {}, pushed", crate::commit::short(commit))
            }
            (Material::Push { commit, .. }, None) => {
                format!("branch {branch} = {}, pushed", crate::commit::short(commit))
            }
            (_, Some(r)) => format!("ref {r}"),
            (_, None) => format!("branch {branch}"),
        };
        let starting = format!(
            "{} {} release {release} (deployment #{id}, {what}) on {}",
            action.as_str(),
            site.key(),
            job.target.describe()
        );
        match &provision {
            None => job.notice(starting),
            // Said once the layout step has reported, as the deploy proper starts (it takes the
            // lock first): with a release live there is no initial deployment to announce.
            Some(check) => {
                let (check, mut starting) = (check.clone(), Some(starting));
                job.before_step = Some(Box::new(move |step, vars| match step {
                    "lock" => {
                        let mut said = check.warnings(&vars.report());
                        said.extend(starting.take());
                        said
                    }
                    _ => Vec::new(),
                }));
            }
        }
        if default_off && !opts.initial {
            job.notice(format!(
                "the default deployment script (`{}`) is not run for {}; set deployment_script to run your build steps",
                crate::config::DEFAULT_SCRIPT,
                if opts.git_ref.is_some() {
                    "an exact ref"
                } else {
                    "an artifact"
                }
            ));
        }
        match &material {
            Material::Push { repo, commit } => {
                let (repo, commit) = (repo.clone(), commit.clone());
                job.feed = Some(Box::new(move |vars| {
                    let haves = vars.report::<DeployReport>().haves;
                    Box::pin(async move {
                        let pack = local::pack(repo, commit.clone(), haves).await?;
                        // Nothing to send: an empty frame (the script then indexes nothing).
                        Ok(match local::pack_objects(&pack) {
                            0 => (
                                Vec::new(),
                                format!(
                                    "push: the server's cache has {} already; nothing to send",
                                    crate::commit::short(&commit)
                                ),
                            ),
                            n => {
                                let size = local::size(pack.len());
                                let note = format!(
                                    "push: sending the server's cache {n} objects ({size})"
                                );
                                (pack, note)
                            }
                        })
                    })
                }));
            }
            Material::Artifact(a) => job.payload = Some(super::protocol::frame(&a.bytes)),
            Material::Server => {}
        }

        // One round trip: lock, build, switch and reload; then the script waits while the success
        // is recorded here, and writes the log it is sent, prunes and unlocks. Only the build can
        // be cancelled: it touches nothing live.
        let new = self
            .store
            .get(id)?
            .expect("the deployment was just recorded");
        let plan = super::prune::plan_after_success(
            &self.store.list_with_dirs(row.id)?,
            &new,
            site.site.keep as usize,
        );
        let names: Vec<String> = plan.delete.iter().map(|d| d.release.clone()).collect();
        // A failing health check switches back at once. Provisioning's first release has nothing
        // to go back to (and nginx may not serve it yet).
        let health = site.site.health_check.as_ref().filter(|_| !opts.initial);
        // The watch after the switch: this deploy's own for one server; a fleet's coordinator runs
        // its servers' together (the gate's `watch`).
        let watch_s = match opts.initial {
            false => opts.watch_s.unwrap_or(site.site.watch.seconds),
            true => 0,
        };
        let after = scripts::AfterSwitch {
            reload: site.server.reload_command.as_deref(),
            health,
            // Like the deploy script, no hook runs for provisioning's initial deployment.
            hooks: (!opts.initial).then_some(&site.site.hooks),
        };
        let finish = scripts::Finish {
            prune: &names,
            relog: &crate::release_log::prefix(
                "deploy",
                &release,
                Some(&branch),
                &job.who,
                Some(&crate::store::ts(now)),
                Some(id),
            ),
            gated: gate.is_some(),
            hold: watch_s > 0 && gate.is_none(),
        };
        let script = match &provision {
            None => scripts::deploy(
                &job.prelude(),
                site.site,
                &release,
                &source,
                run_script,
                after,
                finish,
            ),
            Some(check) => scripts::provision_deploy(
                &job.prelude(),
                site.site,
                scripts::LayoutChecks {
                    fpm_conf: check.fpm_conf.as_deref(),
                    php_reload: check.php_reload.as_ref().map(|(_, cmd)| cmd.as_str()),
                },
                &release,
                &source,
                after,
                finish,
            ),
        };
        let mut recorded: Option<Result<Option<String>>> = None;
        let reply: Reply<'_, '_> = Box::new(|job, vars| {
            if let Err(e) = job.engine.follow_reserved(job, id, &release) {
                recorded = Some(Err(e));
                return job.log.clone().into_bytes();
            }
            let commit = vars.report::<DeployReport>().commit;
            let sha = commit.as_deref().unwrap_or("");
            let stored = job.engine.store.finish_success(id, sha, Utc::now());
            if stored.is_ok() {
                job.emit(EventKind::Status {
                    deployment_id: id,
                    status: Status::Success,
                });
            }
            recorded = Some(stored.map(|()| commit));
            let mut log = job.log.clone().into_bytes();
            log.extend_from_slice(b"==> done\n");
            log
        });
        let watched = super::aftercare::Watched {
            job: job.id,
            site: job.site.clone(),
            server: site.server.name.clone(),
            target: job.target.clone(),
            marker: job.marker().to_string(),
            token: job.token.clone(),
            script: scripts::signals(&job.prelude(), &site.site.watch, watch_s),
            access_log: site.site.watch.access_log.clone(),
            revert_why: job.revert_why.clone(),
            said: Default::default(),
        };
        let ran = match gate {
            // aftercare: a watched fleet member hands the coordinator its part of the watch, and
            // an interruption once switched is the watch's to answer (a revert), as below.
            Some(mut g) if watch_s > 0 && g.watch.is_some() => {
                if let Some(tx) = g.watch.take() {
                    let _ = tx.send(watched);
                }
                let (s_tx, s_rx) = tokio::sync::oneshot::channel();
                let to_coordinator = g.switched.replace(s_tx);
                let building = CancellationToken::new();
                let forward = async {
                    tokio::select! {
                        r = s_rx => if r.is_ok() && let Some(tx) = to_coordinator {
                            let _ = tx.send(());
                        },
                        _ = cancel.cancelled() => building.cancel(),
                    }
                };
                let (ran, ()) =
                    tokio::join!(job.converse_gated(&script, &building, reply, g), forward);
                let reverted = job
                    .revert_why
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .is_some();
                if matches!(&ran, Ok(r) if r.status.success()) && !reverted {
                    job.notice("watched after the switch with the rest of the fleet: kept");
                }
                ran
            }
            Some(g) => job.converse_gated(&script, &cancel, reply, g).await,
            None if watch_s > 0 => {
                let why = job.revert_why.clone();
                let (gate, switched, verdict) = hold_gate();
                // Before the switch, an interruption cancels the build as it always does; once
                // switched, it is the watch's to answer (a revert).
                let building = CancellationToken::new();
                let watch = async {
                    tokio::select! {
                        r = switched => r.ok()?,
                        _ = cancel.cancelled() => {
                            building.cancel();
                            return None;
                        }
                    }
                    let v = self
                        .aftercare(
                            std::slice::from_ref(&watched),
                            watch_s,
                            site.site.watch.auto_revert,
                            opts.hold.as_ref(),
                            &cancel,
                            None,
                        )
                        .await;
                    if let super::aftercare::Verdict::Revert(w) = &v {
                        *why.lock().unwrap_or_else(|p| p.into_inner()) = Some(w.clone());
                    }
                    let _ = verdict.send(v == super::aftercare::Verdict::Keep);
                    Some(v)
                };
                let (ran, verdict) =
                    tokio::join!(job.converse_gated(&script, &building, reply, gate), watch);
                if verdict == Some(super::aftercare::Verdict::Keep) && ran.is_ok() {
                    job.notice(format!("watched {watch_s} s after the switch: kept"));
                }
                ran
            }
            None => job.converse(&script, &cancel, reply).await,
        };
        if let Some(check) = &provision
            && let Some(stopped) = self.stopped_at_layout(&mut job, id, site, check, &ran)
        {
            return stopped.map(|p| (p, job.layout.clone()));
        }
        let release = match job.reserved.clone() {
            Some(r) if r != release => {
                job.notice(format!(
                    "release name {release} was taken on the server (another deploy in the same second); this deploy is {r}"
                ));
                self.follow_reserved(&job, id, &release)?;
                r
            }
            _ => release,
        };
        if !placed && job.layout.root.is_some() {
            let (path, log) = (job.layout.release(&release), job.layout.log_file(&release));
            self.store.set_paths(id, Some(&path), Some(&log))?;
        }
        let (commit, pruned) = match (recorded, ran) {
            // Live and recorded: the rest (log, prune, unlock) cannot undo the deploy.
            (Some(stored), ran) => {
                let commit = stored.map_err(|e| {
                    Error::failed(format!(
                        "{} release {release} is live, but recording it in the history database failed ({e}); \
                         once the history can be written, `flipdeck status` records it from the server's release log",
                        site.key()
                    ))
                })?;
                let pruned = match ran {
                    Ok(r) => self.apply_pruned(&mut job, &plan, &r.report::<DeployReport>().prune),
                    Err(_) => {
                        job.notice(format!(
                            "deployed, but the final step (log, prune, unlock) did not complete; \
                             if the site stays locked run `flipdeck unlock {}`",
                            site.key()
                        ));
                        Vec::new()
                    }
                };
                (commit, pruned)
            }
            (None, Ok(r)) if !r.report::<DeployReport>().built => {
                return Err(self.build_failed(&mut job, id, site, r));
            }
            (None, Ok(r)) => {
                let why =
                    fleet_why.and_then(|w| w.lock().unwrap_or_else(|p| p.into_inner()).clone());
                return Err(self.switch_failed(&mut job, id, &release, r, why).await);
            }
            (None, Err(e)) => {
                return Err(self
                    .interrupted(&mut job, id, Some(&release), e, connector)
                    .await);
            }
        };
        let summary = format!(
            "deployed {} release {release}{} (#{id})",
            site.key(),
            commit
                .as_deref()
                .map(|c| format!(" at {}", crate::commit::short(c)))
                .unwrap_or_default()
        );
        job.flush();
        job.finish(true, summary);
        let layout = job.layout.clone();
        let deployed = Deployed {
            deployment_id: id,
            release,
            commit,
            pruned,
        };
        Ok((Initial::Deployed(deployed), layout))
    }

    /// Provisioning's script ended in its layout step: a release is live already, or the layout
    /// failed. Either way no deployment began, so its record goes (as a refused deploy's does).
    fn stopped_at_layout(
        &self,
        job: &mut Job<'_>,
        id: i64,
        site: &SiteRef<'_>,
        check: &LayoutCheck,
        ran: &Result<RunResult, RunError>,
    ) -> Option<Result<Initial>> {
        let in_layout = |step: &Option<String>| step.as_deref() == Some("layout");
        let stopped = match ran {
            Ok(r) if in_layout(&r.last_step) => Ok(r),
            Err(RunError::Transport { step, .. }) if in_layout(step) => Err(()),
            _ => return None,
        };
        if let Err(err) = self.store.discard_refused(id) {
            job.notice(format!(
                "could not remove the record of the deployment that did not begin: {err}"
            ));
        }
        Some(match stopped {
            Ok(r) if r.status.success() => {
                let rep: ProvisionReport = r.report();
                for said in check.warnings(&rep) {
                    job.notice(said);
                }
                let live = rep.live.unwrap_or_default();
                job.finish(true, format!("already provisioned; live release {live}"));
                Ok(Initial::Live(live))
            }
            Ok(r) => {
                let msg = format!("provisioning {} failed ({})", site.key(), r.status);
                job.finish(false, msg.clone());
                Err(Error::failed(msg))
            }
            Err(()) => Err(Error::failed(format!(
                "connection lost while provisioning {}",
                site.key()
            ))),
        })
    }

    /// The record follows the release name the server reserved, if it is not `chosen`.
    fn follow_reserved(&self, job: &Job<'_>, id: i64, chosen: &str) -> Result<()> {
        match job.reserved.as_deref() {
            Some(r) if r != chosen => {
                let paths = job
                    .layout
                    .root
                    .is_some()
                    .then(|| (job.layout.release(r), job.layout.log_file(r)));
                self.store.rename_release(
                    id,
                    r,
                    paths.as_ref().map(|(p, l)| (p.as_str(), l.as_str())),
                )
            }
            _ => Ok(()),
        }
    }

    /// Built, but the switch or the reload failed. The script switched back after a failed
    /// reload; if it could not, the new release may still be live and is switched back here.
    async fn switch_failed(
        &self,
        job: &mut Job<'_>,
        id: i64,
        release: &str,
        r: RunResult,
        fleet_why: Option<String>,
    ) -> Error {
        let rep: DeployReport = r.report();
        let commit = rep.commit.clone();
        // Why it was told to go back (the watch's or the fleet's words), for when it could not.
        let told = rep.revert_why.clone().or_else(|| fleet_why.clone());
        // The release's name, as the history and the release log name it (the script reports
        // the link's target, which may be a path).
        let back_to = rep
            .switch
            .prev
            .as_deref()
            .filter(|p| !p.is_empty())
            .map(|p| p.rsplit('/').next().unwrap_or(p))
            .unwrap_or("no release (nothing was live before)");
        let health_failed = rep.switch.health_failed.as_deref();
        // The after_switch hook failed: named with its code and its last command.
        let hook = rep.switch.hook_failed("after_switch").map(|h| {
            let at = job
                .last_command
                .as_deref()
                .map(|c| format!(" at `{c}`"))
                .unwrap_or_default();
            format!("the after_switch hook failed (exit code {}){at}", h.code)
        });
        let why = match (rep.switch.switched_back, health_failed) {
            _ if rep.aborted && fleet_why.is_some() => {
                format!("not switched: {}", fleet_why.unwrap_or_default())
            }
            // The watch's (or the operator's) revert says why itself, a rollout's step watch too
            // (the rollout's reason is the same words, for the servers it never switched).
            _ if rep.reverted && rep.switch.failed_step.as_deref() == Some("watch") => format!(
                "{}; switched back to {back_to}",
                rep.revert_why.as_deref().unwrap_or("reverted")
            ),
            _ if rep.reverted && fleet_why.is_some() => {
                format!(
                    "switched back to {back_to}: {}",
                    fleet_why.unwrap_or_default()
                )
            }
            _ if rep.aborted => {
                "not switched: another server of the fleet failed to build".to_string()
            }
            _ if rep.reverted => {
                format!("switched back to {back_to}: another server of the fleet failed to switch")
            }
            (true, _) if hook.is_some() => {
                format!("{}; switched back to {back_to}", hook.unwrap_or_default())
            }
            (false, _) if hook.is_some() => hook.unwrap_or_default(),
            (true, Some(detail)) => {
                format!("health check failed: {detail}; switched back to {back_to}")
            }
            (true, None) => format!("reload failed ({}); switched back to {back_to}", r.status),
            (false, Some(detail)) => format!("health check failed: {detail}"),
            (false, None) => format!("switch failed ({})", r.status),
        };
        self.hook_warnings(job, &rep);
        let why = if rep.switch.switched && !rep.switch.switched_back {
            // The script did not switch back (it died, or its switch back failed): flipdeck
            // does, and the record says which way it went (the fleet's and the watch's words
            // above say it already).
            let said = rep.aborted || rep.reverted;
            match self.undo(job, Some(release), "switch").await {
                Undone::Kept => {
                    let why = match (said, told) {
                        (true, Some(told)) => format!("{told}; switching back failed"),
                        _ => format!("{why}; switching back failed"),
                    };
                    return self.record_kept(job, id, &why, commit.as_deref());
                }
                Undone::SwitchedBack(to) if !said => format!("{why}; switched back to {to}"),
                Undone::SwitchedBack(_) | Undone::NotLive => why,
            }
        } else {
            self.cleanup_after_failure(job, Some(release), Some((release, "switch")))
                .await;
            why
        };
        if rep.reverted && rep.switch.failed_step.as_deref() == Some("watch") {
            return self.record_reverted(job, id, &why, commit.as_deref());
        }
        self.record_failure(job, id, &why, commit.as_deref())
    }

    /// The watch after the switch reverted the deployment: the release before serves again. It
    /// is recorded failed with why (the history's `error`), and said as a revert, not a failure
    /// of the deploy's steps.
    fn record_reverted(&self, job: &mut Job<'_>, id: i64, why: &str, sha: Option<&str>) -> Error {
        job.notice(format!("deployment #{id} {why}"));
        job.flush();
        let stored = self.store.finish_failed(id, why, sha, Utc::now());
        job.emit(EventKind::Status {
            deployment_id: id,
            status: Status::Failed,
        });
        job.finish(false, format!("deployment #{id} {why}"));
        Error::Reverted(match stored {
            Ok(()) => format!("deployment #{id} of {} {why}", job.site),
            Err(e) => format!(
                "deployment #{id} of {} {why} (and recording it failed: {e})",
                job.site
            ),
        })
    }

    /// The hooks that ran after the failure (after_rollback on the switch back, on_failure) and
    /// failed: a warning each; the deploy's own failure stands.
    fn hook_warnings(&self, job: &mut Job<'_>, rep: &DeployReport) {
        for h in &rep.switch.hooks_failed {
            let when = match h.hook.as_str() {
                "after_rollback" => "after switching back",
                "on_failure" => "after the failure",
                _ => continue,
            };
            job.notice(format!(
                "warning: the {} hook failed (exit code {}) {when}; the deploy's outcome is unchanged",
                h.hook, h.code
            ));
        }
    }

    fn build_failed(&self, job: &mut Job<'_>, id: i64, site: &SiteRef<'_>, r: RunResult) -> Error {
        if r.status == crate::transport::ExitStatus::Code(LOCK_HELD)
            && let Some(holder) = r.report::<DeployReport>().holder
        {
            // Refused before anything was made: no deployment, so no record and no release name
            // (one would only stand for a release that another job owns).
            let e = self.locked(site, &holder);
            job.flush();
            if let Err(err) = self.store.discard_refused(id) {
                job.notice(format!(
                    "could not remove the record of the refused deploy: {err}"
                ));
            }
            job.finish(false, format!("refused: {e}"));
            return e;
        }
        let rep: DeployReport = r.report();
        let step = rep
            .switch
            .failed_step
            .as_deref()
            .or(r.last_step.as_deref())
            .unwrap_or("build");
        if let Some(e) = job.feed_error.take() {
            let why = format!("{step} failed: {e}");
            return self.record_failure(job, id, &why, None);
        }
        let bad_home =
            job.layout.root.is_none() && r.status == crate::transport::ExitStatus::Code(BAD_HOME);
        let why = if bad_home {
            format!(
                "the login user's home on {} cannot be the root; set root in the config",
                site.server.name
            )
        } else if r.status.success() {
            format!("{step}: the deploy script exited early (a line ran `exit`)")
        } else if step == "script"
            && let Some(cmd) = &job.last_command
        {
            format!("the deploy script failed ({}) at `{cmd}`", r.status)
        } else {
            match &rep.why {
                Some(why) => format!("{step} failed ({}): {why}", r.status),
                None => format!("{step} failed ({})", r.status),
            }
        };
        // The build script's exit trap has already removed the half release and released the lock.
        self.hook_warnings(job, &rep);
        self.record_failure(job, id, &why, None)
    }

    /// Cancelled or connection lost before the switch completed: the live site was not touched
    /// unless the switch itself was under way, which is checked by reading the live link.
    async fn interrupted(
        &self,
        job: &mut Job<'_>,
        id: i64,
        release: Option<&str>,
        e: RunError,
        connector: &dyn Connector,
    ) -> Error {
        let (why, step) = match &e {
            RunError::Cancelled { step } => ("cancelled", step.clone()),
            RunError::Transport { step, error } => {
                job.notice(format!("{error}"));
                ("connection lost", step.clone())
            }
        };
        let why = format!("{why} during {}", step.as_deref().unwrap_or("start"));
        if matches!(e, RunError::Transport { .. }) {
            match connector.connect().await {
                Ok(t) => job.target = t,
                Err(err) => {
                    job.notice(format!(
                        "could not reconnect to clean up ({err}); the site may stay locked: check with `flipdeck status`, then `flipdeck unlock {}`",
                        job.site
                    ));
                    return self.record_failure(job, id, &why, None);
                }
            }
        }
        // What the interrupted script started may still run on the server (a lost connection
        // leaves it all; a cancelled exec may leave a reload or a build step): stop it before the
        // site is put back, so it cannot switch or write anything afterwards.
        if !matches!(job.run(&scripts::stop_own(&job.prelude(), false), None, None).await, Ok(r) if r.status.success())
        {
            job.notice("could not stop what the interrupted deploy left running on the server");
        }
        match self
            .undo(job, release, step.as_deref().unwrap_or("start"))
            .await
        {
            Undone::Kept => self.record_kept(job, id, &why, None),
            Undone::SwitchedBack(to) => {
                self.record_failure(job, id, &format!("{why}; switched back to {to}"), None)
            }
            Undone::NotLive => self.record_failure(job, id, &why, None),
        }
    }

    /// After an interruption: if the new release went live, switch back to the one before; then
    /// remove the release (unless it has to stay live) and our lock, running `on_failure` (told
    /// the step that failed) if the script did not.
    async fn undo(&self, job: &mut Job<'_>, release: Option<&str>, step: &str) -> Undone {
        let mut remove = release;
        let mut back_to = None;
        if let (Some(rel), Ok(live)) = (release, self.read_live(job).await)
            && live
                .as_deref()
                .map(|l| l.rsplit('/').next() == Some(rel))
                .unwrap_or(false)
        {
            let prev = self.previous_link(job, rel);
            match prev {
                Some(p) => {
                    let hook = job.hooks.after_rollback.clone();
                    let back = hook.as_deref().map(|h| (h, rel));
                    let sw = scripts::switch(&job.prelude(), &p, back);
                    match job.run(&sw, None, None).await {
                        Ok(r) if r.status.success() => {
                            back_to = Some(p.rsplit('/').next().unwrap_or(&p).to_string());
                            let rep: super::protocol::SwitchReport = r.report();
                            if let Some(h) = rep.hook_failed("after_rollback") {
                                job.notice(format!(
                                    "warning: the after_rollback hook failed (exit code {}) after switching back; the deploy's outcome is unchanged",
                                    h.code
                                ));
                            }
                        }
                        _ => {
                            job.notice(
                                "the new release is live and switching back failed; it is kept",
                            );
                            remove = None;
                        }
                    }
                }
                None => {
                    job.notice("the new release went live before the interruption and nothing was live before; it is kept");
                    remove = None;
                }
            }
        }
        self.cleanup_after_failure(job, remove, release.map(|r| (r, step)))
            .await;
        match back_to {
            _ if release.is_some() && remove.is_none() => Undone::Kept,
            Some(to) => Undone::SwitchedBack(to),
            None => Undone::NotLive,
        }
    }

    /// The link target of the release that was active before `release`, from the history.
    fn previous_link(&self, job: &Job<'_>, release: &str) -> Option<String> {
        let id = job.deployment_id?;
        let d = self.store.get(id).ok()??;
        let site = self.store.site_row(d.site_id).ok()?;
        let active = self.store.get(site.active_deployment_id?).ok()??;
        let name = active.release_name?;
        (name != release && active.deployment_path.is_some()).then(|| job.layout.link_target(&name))
    }

    pub(super) async fn read_live(&self, job: &mut Job<'_>) -> Result<Option<String>, ()> {
        let s = scripts::inspect(&job.prelude());
        match job.run(&s, None, None).await {
            Ok(r) if r.status.success() => Ok(r.report::<InspectReport>().live),
            _ => Err(()),
        }
    }

    /// Removes `release` (unless live) and our lock; `failed` (the failed release, the step)
    /// runs the site's `on_failure` first, unless the deploy's script already did.
    pub(super) async fn cleanup_after_failure(
        &self,
        job: &mut Job<'_>,
        release: Option<&str>,
        failed: Option<(&str, &str)>,
    ) {
        let hook = job.hooks.on_failure.clone();
        let on_failure = match (hook.as_deref(), failed) {
            (Some(hook), Some((release, step))) => Some(scripts::OnFailure {
                hook,
                release,
                step,
            }),
            _ => None,
        };
        let s = scripts::cleanup(&job.prelude(), release, on_failure);
        if !matches!(job.run(&s, None, None).await, Ok(r) if r.status.success()) {
            job.notice("cleanup after the failure did not complete; check with `flipdeck status`");
        }
    }

    /// The deployment failed after its switch and could not be switched back: its release is what
    /// runs, so the history makes it the active deployment (never a failed one) and says why.
    fn record_kept(&self, job: &mut Job<'_>, id: i64, why: &str, sha: Option<&str>) -> Error {
        job.notice(format!(
            "deployment #{id}: {why}; its release could not be taken down, so it stays live and is recorded as the active deployment"
        ));
        job.flush();
        let stored = self.store.finish_success(id, sha.unwrap_or(""), Utc::now());
        job.emit(EventKind::Status {
            deployment_id: id,
            status: Status::Success,
        });
        job.finish(false, format!("deployment #{id} is live but: {why}"));
        let stored = stored
            .err()
            .map(|e| format!(" (and recording it failed: {e})"));
        Error::failed(format!(
            "deployment #{id} of {} is live, but {why}{}",
            job.site,
            stored.unwrap_or_default()
        ))
    }

    pub(super) fn record_failure(
        &self,
        job: &mut Job<'_>,
        id: i64,
        why: &str,
        sha: Option<&str>,
    ) -> Error {
        job.notice(format!(
            "deployment #{id} failed: {why}; the live site was left as it was"
        ));
        job.flush();
        let stored = self.store.finish_failed(id, why, sha, Utc::now());
        job.emit(EventKind::Status {
            deployment_id: id,
            status: Status::Failed,
        });
        job.finish(false, format!("deployment #{id} failed: {why}"));
        match stored {
            Ok(()) => Error::failed(format!("deployment #{id} of {} failed: {why}", job.site)),
            Err(e) => Error::failed(format!(
                "deployment #{id} of {} failed: {why} (and recording it failed: {e})",
                job.site
            )),
        }
    }
}

/// The gate of a single server's deploy that holds its switch for the watch: no build gate, only
/// `switched` (told once the script is ready) and the verdict (true: commit).
fn hold_gate() -> (
    Gate,
    tokio::sync::oneshot::Receiver<()>,
    tokio::sync::oneshot::Sender<bool>,
) {
    let (s_tx, s_rx) = tokio::sync::oneshot::channel();
    let (c_tx, c_rx) = tokio::sync::oneshot::channel();
    let gate = Gate {
        switched: Some(s_tx),
        commit: Some(c_rx),
        ..Gate::default()
    };
    (gate, s_rx, c_tx)
}

/// What this machine contributes to a deploy, made before the server is asked anything.
enum Material {
    /// The server fetches (or there is no repository: a placeholder).
    Server,
    /// The commit to send the server's cache from the local repository.
    Push {
        repo: PathBuf,
        commit: String,
    },
    Artifact(Artifact),
}

impl Engine {
    /// Resolves a push's commit in the local repository, or builds (or takes) an artifact.
    /// `out` is told each line of a build (`None`: flipdeck's own message).
    async fn material(
        &self,
        out: &mut (dyn FnMut(Option<crate::transport::Stream>, String) + Send),
        site: &SiteRef<'_>,
        opts: &DeployOptions,
        branch: &str,
    ) -> Result<Material> {
        let (rev, what) = match &opts.git_ref {
            Some(r) => (r.clone(), r.clone()),
            None => (format!("refs/heads/{branch}"), format!("branch {branch}")),
        };
        match (&site.site.source, &site.site.repository) {
            (CodeSource::Server, _) => Ok(Material::Server),
            (CodeSource::Push, None) => Ok(Material::Server),
            (CodeSource::Push, Some(repo)) => {
                let repo = PathBuf::from(repo);
                let commit = local::resolve(&repo, &rev, &what)?;
                Ok(Material::Push { repo, commit })
            }
            (CodeSource::Artifact { .. }, _) if opts.artifact.is_some() => {
                Ok(Material::Artifact(opts.artifact.clone().expect("checked")))
            }
            (CodeSource::Artifact { .. }, None) => Ok(Material::Server),
            (CodeSource::Artifact { build, dir }, Some(repo)) => {
                let repo = local::build_repository(repo)?;
                let commit = local::resolve(&repo, &rev, &what)?;
                out(
                    None,
                    format!(
                        "building the artifact of {} in a clean checkout on this machine",
                        crate::commit::short(&commit)
                    ),
                );
                let mut line = |stream, l: String| out(Some(stream), l);
                let built =
                    local::build(&repo, &commit, build.as_deref(), dir.as_deref(), &mut line)
                        .await
                        .map_err(|e| {
                            Error::failed(format!("{e}; nothing was sent to {}", site.server.name))
                        })?;
                Ok(Material::Artifact(built))
            }
        }
    }

    /// `source = "artifact"` for a fleet: built once, the same bytes for every server.
    pub(super) async fn fleet_artifact(
        &self,
        site: &SiteRef<'_>,
        opts: &DeployOptions,
    ) -> Result<Option<Artifact>> {
        if !matches!(site.site.source, CodeSource::Artifact { .. })
            || opts.artifact.is_some()
            || site.site.repository.is_none()
        {
            return Ok(opts.artifact.clone());
        }
        let branch = check(site, opts)?;
        // Its lines are told as one job of its own, under the first server's site.
        let (job, key) = (self.new_job_id(), site.key());
        let mut out = |stream: Option<crate::transport::Stream>, line: String| {
            let line = self.redactor.apply(&line).into_owned();
            self.emit(
                job,
                &key,
                match stream {
                    Some(stream) => EventKind::Log { stream, line },
                    None => EventKind::Notice { message: line },
                },
            )
        };
        match self.material(&mut out, site, opts, &branch).await? {
            Material::Artifact(a) => Ok(Some(a)),
            _ => Ok(None),
        }
    }
}

/// Whether the site's deploy script is the spec's default one that a deploy does not run: for an
/// exact ref (`git fetch && git pull` would leave it for the branch's head) or an artifact (no git).
pub(super) fn default_script_off(
    site: &crate::config::SiteConfig,
    exact_ref: bool,
    artifact: bool,
) -> bool {
    site.deployment_script == crate::config::DEFAULT_SCRIPT && (exact_ref || artifact)
}

/// Validates the options; returns the branch to deploy.
pub(super) fn check(site: &SiteRef<'_>, opts: &DeployOptions) -> Result<String> {
    let branch = opts
        .branch
        .as_deref()
        .unwrap_or(&site.site.branch)
        .to_string();
    crate::validate::branch(&branch).map_err(|w| Error::usage(format!("branch {branch:?} {w}")))?;
    if let Some(r) = &opts.git_ref {
        crate::validate::git_ref(r)
            .map_err(|w| Error::usage(format!("--ref {r:?} {w}; nothing was changed")))?;
    }
    if opts.artifact.is_some() && !matches!(site.site.source, CodeSource::Artifact { .. }) {
        return Err(Error::usage(format!(
            "--artifact needs source = \"artifact\" for {}",
            site.key()
        )));
    }
    if site.site.repository.is_none() && !opts.initial && opts.artifact.is_none() {
        return Err(Error::usage(format!(
            "site {} has no repository; set `repository` in the config to deploy it",
            site.key()
        )));
    }
    Ok(branch)
}
