//! What running jobs report (engine events): a deployment's status moves its row at once, and
//! its steps and output lines go to that deployment's log.

use super::{App, Effect};
use crate::engine::{Event, EventKind};
use crate::store::Status;
use crate::ui::logbuf::{LineKind, LogBuf};

impl App {
    pub fn on_engine(&mut self, ev: Event) -> Vec<Effect> {
        let mut fx = vec![];
        if self.on_command_event(&ev) || self.on_watch_event(&ev) {
            return fx;
        }
        let line = match ev.kind {
            EventKind::Status {
                deployment_id,
                status,
            } => {
                self.job_deployment.insert(ev.job, deployment_id);
                let cap = self.log_cap;
                self.logs
                    .entry(deployment_id)
                    .or_insert_with(|| LogBuf::new(cap));
                self.live_status.insert(deployment_id, status);
                // The row changes at once; the reload brings new rows and the final fields.
                if let Some(d) = self
                    .site_mut(&ev.site)
                    .and_then(|s| s.deployments.iter_mut().find(|d| d.id == deployment_id))
                {
                    d.status = status;
                    self.dirty = true;
                }
                if matches!(status, Status::Pending | Status::Success | Status::Failed) {
                    fx.push(Effect::LoadDeployments(ev.site.clone()));
                }
                None
            }
            EventKind::StepStarted { step } => Some((LineKind::Step, format!("==> {step}"))),
            EventKind::Log { stream, line } => Some((
                if stream == crate::transport::Stream::Stderr {
                    LineKind::Err
                } else {
                    LineKind::Out
                },
                line,
            )),
            EventKind::Notice { message } => {
                Some((LineKind::Notice, format!("flipdeck: {message}")))
            }
            EventKind::RolloutServer { state, .. } => {
                self.on_rollout_server(&ev.site, state);
                None
            }
            EventKind::RolloutStep { step, steps, phase } => {
                self.on_rollout_step(&ev.site, step, steps, phase);
                None
            }
            // A warning's notice is in the log already; a failure says it in its summary.
            EventKind::StepFinished { .. }
            | EventKind::JobStarted { .. }
            | EventKind::JobFinished { .. }
            | EventKind::EnvMissing { .. } => None,
            // Kept by `on_watch_event`, drawn beside the log.
            EventKind::WatchStarted { .. }
            | EventKind::WatchSecond { .. }
            | EventKind::WatchEnded { .. } => None,
        };
        if let (Some((kind, text)), Some(id)) = (line, self.job_deployment.get(&ev.job)) {
            if let Some(buf) = self.logs.get_mut(id) {
                buf.push(kind, text);
            }
            // Only a change to the visible log needs a redraw.
            if self.selected_deployment().map(|d| d.id) == Some(*id) {
                self.dirty = true;
            }
        }
        fx
    }
}
