//! Starting jobs: what a confirmed dialog starts, and a refresh. One job at a time per site; a
//! second one is refused with a toast.

use super::{App, Effect, Modal};
use crate::engine;

impl App {
    /// What confirming `modal` does: start its job, or (quitting) cancel every running one.
    pub(super) fn confirmed(&mut self, modal: Modal) -> Vec<Effect> {
        self.forget_outgoing();
        match modal {
            Modal::ConfirmDeploy {
                site,
                fleet,
                domain,
                git_ref,
                ..
            } if !fleet.is_empty() => {
                let keys: Vec<String> = fleet.iter().map(|srv| format!("{srv}/{domain}")).collect();
                if let Some(busy) = keys
                    .iter()
                    .find(|k| self.site_mut(k).is_some_and(|s| s.running.is_some()))
                {
                    let msg =
                        format!("{busy} is busy: the fleet deploys when every server is free");
                    self.toast(msg, true);
                    return vec![];
                }
                for k in &keys {
                    if let Some(s) = self.site_mut(k) {
                        s.running = Some(engine::Action::Deploy);
                    }
                }
                // A rollout before this one is over: its states go.
                self.rollouts.remove(&domain);
                self.select_newest = Some(site);
                if git_ref.is_empty() {
                    vec![Effect::DeployFleet(domain)]
                } else {
                    vec![Effect::DeployRef {
                        site: domain,
                        git_ref,
                        fleet: true,
                    }]
                }
            }
            Modal::ConfirmDeploy { site, git_ref, .. } => {
                let effect = if git_ref.is_empty() {
                    Effect::Deploy(site.clone())
                } else {
                    Effect::DeployRef {
                        site: site.clone(),
                        git_ref,
                        fleet: false,
                    }
                };
                self.start_job(&site, engine::Action::Deploy, effect)
            }
            Modal::ConfirmRollback { site, to_id, .. } => self.start_job(
                &site,
                engine::Action::Rollback,
                Effect::Rollback {
                    site: site.clone(),
                    to: to_id,
                },
            ),
            Modal::PrunePreview {
                site,
                plan: Some(Ok((plan, _))),
            } if !plan.delete.is_empty() => {
                self.start_job(&site, engine::Action::Prune, Effect::Prune(site.clone()))
            }
            Modal::PrunePreview { .. } => vec![],
            Modal::Commands { .. } => self.run_picked(modal),
            Modal::ConfirmQuit { .. } => {
                self.quitting = true;
                // The jobs may have ended while the dialog was open: then there is nothing to wait for.
                if self.running_jobs() == 0 {
                    self.should_quit = true;
                    return vec![];
                }
                self.toast(
                    "cancelling running jobs cleanly… (q again leaves now)",
                    false,
                );
                vec![Effect::CancelAll]
            }
            // A typed confirmation is answered by `on_typing_key`, which confirms what it guards.
            Modal::Help | Modal::TypeDomain { .. } | Modal::TypeRef { .. } => vec![],
        }
    }

    fn start_job(&mut self, site: &str, action: engine::Action, effect: Effect) -> Vec<Effect> {
        let Some(s) = self.site_mut(site) else {
            return vec![];
        };
        if let Some(a) = s.running {
            let msg = format!("{site} is busy: a {} is running", a.as_str());
            self.toast(msg, true);
            return vec![];
        }
        s.running = Some(action);
        if action == engine::Action::Deploy {
            self.select_newest = Some(site.to_string());
        }
        vec![effect]
    }

    /// Re-reads the selected site's server, unless a job runs on it.
    pub(super) fn refresh(&mut self) -> Vec<Effect> {
        let Some(s) = self.site() else { return vec![] };
        let key = s.key.clone();
        if s.running.is_none() {
            return self.start_job(
                &key,
                engine::Action::Inspect,
                Effect::Refresh {
                    site: key.clone(),
                    quiet: false,
                },
            );
        }
        self.toast(format!("{key} is busy; refresh when the job is done"), true);
        vec![]
    }
}
