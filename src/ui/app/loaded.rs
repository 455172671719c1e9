//! Results of background work: deployment lists, stored logs, prune previews, what a refresh
//! read on the server, and how a job ended.

use super::{App, Effect, Loaded, Modal};
use crate::store::Status;
use crate::ui::logbuf::{LineKind, LogBuf};

impl App {
    pub fn on_loaded(&mut self, loaded: Loaded) -> Vec<Effect> {
        // A periodic read changes the screen only when the server did.
        self.dirty |= !matches!(loaded, Loaded::Watched { .. } | Loaded::Health { .. });
        match loaded {
            Loaded::Deployments { site, mut list } => {
                // A list read before the latest event must not move a row back in its lifecycle.
                let rank = |s: Status| match s {
                    Status::Pending => 0,
                    Status::Updating => 1,
                    Status::Success | Status::Failed => 2,
                };
                for d in &mut list {
                    if let Some(&st) = self.live_status.get(&d.id)
                        && rank(st) > rank(d.status)
                    {
                        d.status = st;
                    }
                }
                let select_newest = self.select_newest.as_deref() == Some(site.as_str());
                let selected_key = self.site().map(|s| s.key.clone());
                let prev_id = self.selected_deployment().map(|d| d.id);
                if let Some(s) = self.site_mut(&site) {
                    s.deployments = list;
                    s.loaded = true;
                    // Keep the selection on the same deployment when rows are added above it.
                    s.table_sel = match (select_newest, prev_id) {
                        (true, _) => 0,
                        (false, Some(id)) if selected_key.as_deref() == Some(site.as_str()) => {
                            s.deployments.iter().position(|d| d.id == id).unwrap_or(0)
                        }
                        _ => s.table_sel.min(s.deployments.len().saturating_sub(1)),
                    };
                }
                if select_newest {
                    self.select_newest = None;
                    self.log_top = None;
                }
                if selected_key.as_deref() == Some(site.as_str()) {
                    return self.ensure_log();
                }
            }
            Loaded::Log {
                deployment_id,
                text,
            } => {
                let cap = self.log_cap;
                let buf = self
                    .logs
                    .entry(deployment_id)
                    .or_insert_with(|| LogBuf::new(cap));
                // A live log that already has lines is fresher than the stored copy.
                if buf.is_empty() {
                    match text {
                        Ok(t) => buf.load(&t),
                        Err(e) => buf.push(LineKind::Notice, format!("flipdeck: no log: {e}")),
                    }
                }
            }
            Loaded::PrunePreview { site, result } => {
                if let Some(Modal::PrunePreview { site: s, plan }) = &mut self.modal
                    && *s == site
                {
                    *plan = Some(result);
                }
            }
            Loaded::Refreshed {
                site,
                quiet,
                result,
            } => {
                let Some(s) = self.site_mut(&site) else {
                    return vec![];
                };
                if !quiet {
                    s.running = None;
                }
                let toast = match result {
                    Ok(i) => {
                        s.lock = i.lock.clone();
                        s.drift = i.drift.clone();
                        let mut msg = format!("{site}: refreshed");
                        if let Some(d) = &i.drift {
                            msg.push_str(&format!("; drift: {d} (history updated)"));
                        }
                        if !i.missing.is_empty() {
                            msg.push_str(&format!(
                                "; {} release(s) missing on the server",
                                i.missing.len()
                            ));
                        }
                        let noteworthy = i.drift.is_some() || !i.missing.is_empty();
                        (!quiet || noteworthy).then_some((msg, i.drift.is_some()))
                    }
                    Err(e) => Some((format!("{site}: cannot read the server: {e}"), true)),
                };
                if let Some((msg, error)) = toast {
                    self.toast(msg, error);
                }
                if self.quitting && self.running_jobs() == 0 {
                    self.should_quit = true;
                }
                return vec![Effect::LoadDeployments(site)];
            }
            Loaded::Outgoing {
                generation,
                site,
                result,
            } => self.on_outgoing(generation, site, result.map(|d| *d)),
            Loaded::Health { server, health } => return self.on_health(server, health),
            Loaded::Watched { sites } => return self.on_watched(sites),
            Loaded::Notified(w) => {
                if let Some(buf) = w.deployment_id.and_then(|id| self.logs.get_mut(&id)) {
                    buf.push(LineKind::Notice, format!("flipdeck: {}", w.message));
                }
                self.toast(format!("{}: {}", w.site, w.message), true);
            }
            Loaded::JobDone { site, ok, message } => {
                if let Some(s) = self.site_mut(&site) {
                    s.running = None;
                    if ok {
                        s.lock = None;
                    }
                }
                self.toast(message, !ok);
                if self.quitting && self.running_jobs() == 0 {
                    self.should_quit = true;
                }
                return vec![Effect::LoadDeployments(site)];
            }
        }
        vec![]
    }
}
