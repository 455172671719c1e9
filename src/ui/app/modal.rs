//! The dialogs and the help popup: opening them, and the keymap's dialog actions answering them.
//! Confirm dialogs open with Cancel focused: a destructive action takes a deliberate key.

use super::{App, Effect, Modal};
use crate::commit::short;
use crate::engine;
use crate::engine::diff::DiffTarget;
use crate::store::Deployment;
use crate::ui::keymap::Action;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// A protected site's dialog asks for the domain to be typed.
fn guard(modal: Modal, protected: bool) -> Modal {
    if protected {
        Modal::TypeDomain {
            typed: String::new(),
            then: Box::new(modal),
        }
    } else {
        modal
    }
}

impl App {
    pub(super) fn open_help(&mut self) {
        self.modal = Some(Modal::Help);
    }

    /// Asks before deploying the selected site, or its whole fleet when its domain is on several
    /// servers.
    pub(super) fn ask_deploy(&mut self) -> Vec<Effect> {
        let Some(s) = self.site() else { return vec![] };
        if let Some(why) = self.deploy_refusal(&s.key.clone()) {
            self.toast(format!("cannot deploy: {why}"), true);
            return vec![];
        }
        let Some(s) = self.site() else { return vec![] };
        let servers: Vec<String> = self
            .sites
            .iter()
            .filter(|o| o.domain == s.domain)
            .map(|o| o.server.clone())
            .collect();
        // A fleet is protected when any of its servers' sites is.
        let protected = self
            .sites
            .iter()
            .any(|o| o.domain == s.domain && o.protected);
        let modal = Modal::ConfirmDeploy {
            site: s.key.clone(),
            server: s.server.clone(),
            domain: s.domain.clone(),
            branch: s.branch.clone(),
            fleet: if servers.len() > 1 { servers } else { vec![] },
            git_ref: String::new(),
        };
        let outgoing = self.ask_deploy_outgoing(&modal);
        self.modal = Some(guard(modal, protected));
        self.confirm_focused = false;
        outgoing
    }

    /// Asks what a deploy dialog's deploy sends out: to its own server first, then to the
    /// fleet's others; the branch's newest commit, or the dialog's ref.
    fn ask_deploy_outgoing(&mut self, modal: &Modal) -> Vec<Effect> {
        let Modal::ConfirmDeploy {
            site,
            domain,
            fleet,
            git_ref,
            ..
        } = modal
        else {
            return vec![];
        };
        let mut sites = vec![site.clone()];
        sites.extend(
            fleet
                .iter()
                .map(|srv| format!("{srv}/{domain}"))
                .filter(|k| k != site),
        );
        let target = if git_ref.is_empty() {
            DiffTarget::Branch(None)
        } else {
            DiffTarget::Ref(git_ref.clone())
        };
        self.ask_outgoing(sites, target)
    }

    /// Asks before rolling back to the selected deployment, or says why it cannot.
    pub(super) fn ask_rollback(&mut self) -> Vec<Effect> {
        let Some(s) = self.site() else { return vec![] };
        if let Some(why) = self.refusal(&s.key) {
            self.toast(format!("cannot roll back: {why}"), true);
            return vec![];
        }
        let Some(d) = self.selected_deployment() else {
            self.toast("no deployment selected", true);
            return vec![];
        };
        if let Some(why) = engine::rollback_refusal(d) {
            self.toast(format!("cannot roll back: {why}"), true);
            return vec![];
        }
        let describe = |d: &Deployment| {
            format!(
                "#{} {} ({})",
                d.id,
                d.release_name.as_deref().unwrap_or("?"),
                d.commit_sha.as_deref().map(short).unwrap_or("no commit")
            )
        };
        let modal = Modal::ConfirmRollback {
            site: s.key.clone(),
            server: s.server.clone(),
            domain: s.domain.clone(),
            from: s
                .active()
                .map(describe)
                .unwrap_or_else(|| "nothing live".into()),
            to: describe(d),
            to_id: d.id,
        };
        let (key, to_id) = (s.key.clone(), d.id);
        self.modal = Some(guard(modal, s.protected));
        self.confirm_focused = false;
        // What the live release has that the target lacks, and its migrations.
        self.ask_outgoing(vec![key], DiffTarget::Deployment(to_id))
    }

    /// Opens the prune preview and asks for its dry run.
    pub(super) fn ask_prune(&mut self) -> Vec<Effect> {
        let Some(s) = self.site() else { return vec![] };
        if let Some(why) = self.refusal(&s.key) {
            self.toast(format!("cannot prune: {why}"), true);
            return vec![];
        }
        let key = s.key.clone();
        self.modal = Some(Modal::PrunePreview {
            site: key.clone(),
            plan: None,
        });
        self.confirm_focused = false;
        vec![Effect::PrunePreview(key)]
    }

    /// Why a deploy of `site` cannot start: for a fleet domain, why any of its servers cannot.
    fn deploy_refusal(&self, site: &str) -> Option<String> {
        let domain = &self.sites.iter().find(|s| s.key == site)?.domain;
        self.refusal(site).or_else(|| {
            self.sites
                .iter()
                .filter(|o| &o.domain == domain)
                .find_map(|o| self.refusal(&o.key))
        })
    }

    /// Why the open dialog cannot be confirmed now that the world changed under it (the site
    /// locked, a job started there, the server dropped, the target release went away).
    pub fn dialog_refusal(&self) -> Option<String> {
        self.refusal_for(self.modal.as_ref()?)
    }

    fn refusal_for(&self, modal: &Modal) -> Option<String> {
        match modal {
            Modal::ConfirmDeploy { site, .. } => self.deploy_refusal(site),
            Modal::ConfirmRollback { site, to_id, .. } => self.refusal(site).or_else(|| {
                let s = self.sites.iter().find(|s| &s.key == site)?;
                match s.deployments.iter().find(|d| d.id == *to_id) {
                    Some(d) => engine::rollback_refusal(d),
                    None => Some(format!("deployment #{to_id} is no longer listed")),
                }
            }),
            Modal::PrunePreview { site, .. } => self.refusal(site),
            Modal::Commands { sites, .. } => sites.iter().find_map(|s| self.command_refusal(s)),
            // Typing the domain stands for the dialog it leads to.
            Modal::TypeDomain { then, .. } | Modal::TypeRef { then, .. } => self.refusal_for(then),
            Modal::ConfirmQuit { .. } | Modal::Help => None,
        }
    }

    /// Quits at once when nothing runs; asks first when jobs do.
    pub(super) fn request_quit(&mut self) -> Vec<Effect> {
        let running = self.running_jobs();
        if running == 0 {
            self.should_quit = true;
        } else {
            self.modal = Some(Modal::ConfirmQuit { running });
            self.confirm_focused = false;
        }
        vec![]
    }

    /// A key's action in an open dialog.
    pub(super) fn on_dialog_action(&mut self, action: Action) -> Vec<Effect> {
        let Some(modal) = self.modal.clone() else {
            return vec![];
        };
        let confirm = match action {
            Action::Quit => {
                self.modal = None;
                return self.request_quit();
            }
            Action::SwitchButton => {
                self.confirm_focused = !self.confirm_focused;
                return vec![];
            }
            Action::EditRef => {
                if let Modal::ConfirmDeploy { git_ref, .. } = &modal {
                    self.modal = Some(Modal::TypeRef {
                        typed: git_ref.clone(),
                        then: Box::new(modal.clone()),
                    });
                }
                return vec![];
            }
            Action::Confirm => true,
            Action::Cancel | Action::Close => false,
            Action::PressButton => self.confirm_focused,
            _ => return vec![],
        };
        if confirm && let Some(why) = self.dialog_refusal() {
            // The dialog stays, saying why; Esc closes it.
            self.toast(format!("not now: {why}"), true);
            return vec![];
        }
        self.modal = None;
        self.confirm_focused = false;
        if !confirm {
            return vec![];
        }
        self.confirmed(modal)
    }

    /// A key in the typed confirmation of a protected site: Enter confirms only when the domain
    /// was typed exactly; any character no binding takes is typed.
    pub(super) fn on_typing_key(&mut self, key: KeyEvent, action: Option<Action>) -> Vec<Effect> {
        if matches!(self.modal, Some(Modal::TypeRef { .. })) {
            return self.on_ref_key(key, action);
        }
        let Some(Modal::TypeDomain { typed, then }) = &mut self.modal else {
            return vec![];
        };
        match action {
            Some(Action::Quit) => {
                self.modal = None;
                return self.request_quit();
            }
            Some(Action::Close) => self.modal = None,
            Some(Action::DeleteChar) => {
                typed.pop();
            }
            Some(Action::Confirm) => {
                if then.domain() == Some(typed.as_str()) {
                    let then = (**then).clone();
                    self.modal = None;
                    return self.confirmed(then);
                }
                let want = then.domain().unwrap_or("").to_string();
                self.toast(format!("type {want} exactly to confirm"), true);
            }
            _ => {
                if let KeyCode::Char(c) = key.code
                    && !key.modifiers.contains(KeyModifiers::CONTROL)
                    && typed.len() < 253
                {
                    typed.push(c);
                }
            }
        }
        vec![]
    }

    /// A key while typing the deploy dialog's ref: Enter takes it when it is a valid ref (or
    /// empty: the branch's newest commit), Esc leaves it as it was; both go back to the dialog.
    fn on_ref_key(&mut self, key: KeyEvent, action: Option<Action>) -> Vec<Effect> {
        let Some(Modal::TypeRef { typed, then }) = &mut self.modal else {
            return vec![];
        };
        match action {
            Some(Action::Quit) => {
                self.modal = None;
                return self.request_quit();
            }
            Some(Action::Close) => self.modal = Some((**then).clone()),
            Some(Action::DeleteChar) => {
                typed.pop();
            }
            Some(Action::Confirm) => {
                let r = typed.trim().to_string();
                if let Err(why) = crate::validate::git_ref(&r).or_else(|e| match r.is_empty() {
                    true => Ok(()),
                    false => Err(e),
                }) {
                    self.toast(format!("{r:?} {why}"), true);
                    return vec![];
                }
                let mut back = (**then).clone();
                let mut changed = false;
                if let Modal::ConfirmDeploy { git_ref, .. } = &mut back {
                    changed = *git_ref != r;
                    *git_ref = r;
                }
                // Another target: what goes out is read again, the older answer dropped.
                let fx = if changed {
                    self.ask_deploy_outgoing(&back)
                } else {
                    vec![]
                };
                self.modal = Some(back);
                return fx;
            }
            _ => {
                if let KeyCode::Char(c) = key.code
                    && !key.modifiers.contains(KeyModifiers::CONTROL)
                    && typed.len() < 255
                {
                    typed.push(c);
                }
            }
        }
        vec![]
    }

    /// A key's action in the help popup.
    pub(super) fn on_help_action(&mut self, action: Action) -> Vec<Effect> {
        match action {
            Action::Quit => {
                self.modal = None;
                self.request_quit()
            }
            Action::Close => {
                self.modal = None;
                vec![]
            }
            _ => vec![],
        }
    }
}
