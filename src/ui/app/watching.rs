//! The watch after the switch as the dashboard keeps it: per site (`SERVER/DOMAIN`), what its
//! deploy's watch reported so far, drawn beside the log (`view::signals`) from this snapshot. A
//! site whose watch runs holds its switch: `Layer::Holding`'s keys apply to it.

use super::{App, Effect};
use crate::config::AutoRevert;
use crate::engine::hold::Hold;
use crate::engine::{Event, EventKind};
use std::collections::VecDeque;

/// How many samples a watch keeps (the sparklines' width at most), and application-log lines.
const SAMPLES: usize = 120;
const APP_LINES: usize = 50;

/// One site's watch.
#[derive(Debug, Clone, Default)]
pub struct WatchView {
    pub seconds: u32,
    pub auto_revert: Option<AutoRevert>,
    /// The rollout step it watches after ("the canary (step 1 of 3)"); each step's watch
    /// starts afresh.
    pub after: Option<String>,
    /// Per sample: 2xx and 5xx per second (rates over the sample's length).
    pub ok_per_s: VecDeque<f64>,
    pub errors_per_s: VecDeque<f64>,
    pub left: u32,
    /// The newest application-log lines, oldest first.
    pub app: VecDeque<String>,
    /// `None` while it runs; then kept (`Some(None)`) or reverted, with why.
    pub ended: Option<Option<String>>,
    /// The revert key was pressed (said until the watch ends).
    pub revert_asked: bool,
}

impl WatchView {
    pub fn running(&self) -> bool {
        self.ended.is_none()
    }
}

impl App {
    /// A watch event: kept here, never in the log. True when `ev` was one.
    pub(super) fn on_watch_event(&mut self, ev: &Event) -> bool {
        match &ev.kind {
            EventKind::WatchStarted {
                seconds,
                auto_revert,
                after,
            } => {
                let threshold = auto_revert
                    .map(|a| {
                        format!(
                            " (auto_revert at {}/s 5xx for {} s)",
                            a.errors_5xx_per_s, a.for_s
                        )
                    })
                    .unwrap_or_default();
                self.log_line(
                    ev.job,
                    format!(
                        "flipdeck: watching for {seconds} s after the switch{}{threshold}; the switch is held: x reverts",
                        after.as_ref().map(|a| format!(" of {a}")).unwrap_or_default()
                    ),
                );
                // A server switched in an earlier step is watched again: a new watch, its
                // samples and lines from now on.
                self.watches.insert(
                    ev.site.clone(),
                    WatchView {
                        seconds: *seconds,
                        auto_revert: *auto_revert,
                        after: after.clone(),
                        left: *seconds,
                        ..WatchView::default()
                    },
                );
            }
            EventKind::WatchSecond {
                left,
                by_class,
                ms,
                app,
                app_more,
                ..
            } => {
                let Some(w) = self.watches.get_mut(&ev.site) else {
                    return true;
                };
                let per_s = |n: u32| f64::from(n) * 1000.0 / f64::from((*ms).max(1));
                w.ok_per_s.push_back(per_s(by_class[0]));
                w.errors_per_s.push_back(per_s(by_class[3]));
                if w.ok_per_s.len() > SAMPLES {
                    w.ok_per_s.pop_front();
                    w.errors_per_s.pop_front();
                }
                w.left = *left;
                w.app.extend(app.iter().cloned());
                if *app_more > 0 {
                    w.app.push_back(format!("({app_more} more lines)"));
                }
                while w.app.len() > APP_LINES {
                    w.app.pop_front();
                }
            }
            EventKind::WatchEnded { reverted } => {
                // The deploy's own notice says how it ended, in the log.
                if let Some(w) = self.watches.get_mut(&ev.site) {
                    w.ended = Some(reverted.clone());
                    w.left = 0;
                }
            }
            _ => return false,
        }
        self.dirty = true;
        true
    }

    /// A line of flipdeck's own in the log of the deployment job `job` writes.
    fn log_line(&mut self, job: u64, text: String) {
        if let Some(buf) = self
            .job_deployment
            .get(&job)
            .and_then(|id| self.logs.get_mut(id))
        {
            buf.push(crate::ui::logbuf::LineKind::Notice, text);
        }
    }

    /// The watches of the selected site's domain (every server of a fleet), by site key.
    pub fn shown_watches(&self) -> Vec<(&str, &WatchView)> {
        let Some(sel) = self.sites.get(self.selected) else {
            return Vec::new();
        };
        let mut v: Vec<(&str, &WatchView)> = self
            .sites
            .iter()
            .filter(|s| s.domain == sel.domain)
            .filter_map(|s| Some((s.key.as_str(), self.watches.get(&s.key)?)))
            .collect();
        v.sort_by_key(|(k, _)| *k);
        v
    }

    /// The selected site's deploy holds its switch (its watch runs): `Layer::Holding` applies.
    pub fn holding(&self) -> bool {
        self.sites
            .get(self.selected)
            .and_then(|s| self.watches.get(&s.key))
            .is_some_and(WatchView::running)
    }

    /// `x` while holding: revert every server of the selected site's domain that holds.
    pub(super) fn revert_held(&mut self) -> Vec<Effect> {
        let Some(sel) = self.sites.get(self.selected) else {
            return vec![];
        };
        let domain = sel.domain.clone();
        let keys: Vec<String> = self
            .sites
            .iter()
            .filter(|s| s.domain == domain)
            .map(|s| s.key.clone())
            .filter(|k| self.watches.get(k).is_some_and(WatchView::running))
            .collect();
        keys.into_iter()
            .map(|site| {
                if let Some(w) = self.watches.get_mut(&site) {
                    w.revert_asked = true;
                }
                Effect::Hold {
                    site,
                    hold: Hold::Revert,
                }
            })
            .collect()
    }
}
