//! Moving the selection in the tree and the table, and the log's viewport (following its tail,
//! or paused at a line).

use super::{App, Effect};
use crate::ui::keymap::Pane;

impl App {
    /// How far PgUp/PgDn move: a screenful in the log, ten rows elsewhere.
    pub(super) fn page(&self) -> usize {
        match self.focus {
            Pane::Log => self.log_height.max(1),
            _ => 10,
        }
    }

    /// Moves the focused pane's selection (the log: its first line) by `delta`, within bounds.
    pub(super) fn move_by(&mut self, delta: isize) -> Vec<Effect> {
        match self.focus {
            Pane::Tree => {
                // Through the sites the tree shows (its filter).
                let shown = self.visible_sites();
                if shown.is_empty() {
                    return vec![];
                }
                let at = shown.iter().position(|&i| i == self.selected).unwrap_or(0) as isize;
                let next = shown[(at + delta).clamp(0, shown.len() as isize - 1) as usize];
                if next != self.selected {
                    self.selected = next;
                    self.command_shown = None;
                    self.log_top = None;
                    return self.ensure_log();
                }
            }
            Pane::Table => {
                let n = self.visible_deployments().len();
                if n == 0 {
                    return vec![];
                }
                let s = &mut self.sites[self.selected];
                let next = (s.table_sel as isize + delta).clamp(0, n as isize - 1) as usize;
                if next != s.table_sel {
                    s.table_sel = next;
                    self.command_shown = None;
                    self.log_top = None;
                    return self.ensure_log();
                }
            }
            Pane::Log => {
                let max_top = self.tail_top();
                let top = self.log_top.unwrap_or(max_top) as isize;
                let next = (top + delta).clamp(0, max_top as isize) as usize;
                // Scrolling up pauses follow; reaching the end by scrolling resumes it.
                self.log_top = if next >= max_top && delta > 0 {
                    None
                } else {
                    Some(next)
                };
            }
        }
        vec![]
    }

    pub(super) fn move_to_start(&mut self) -> Vec<Effect> {
        match self.focus {
            Pane::Log => {
                self.log_top = Some(0);
                vec![]
            }
            _ => self.move_by(-(isize::MAX / 2)),
        }
    }

    pub(super) fn move_to_end(&mut self) -> Vec<Effect> {
        match self.focus {
            Pane::Log => {
                self.log_top = None;
                vec![]
            }
            _ => self.move_by(isize::MAX / 2),
        }
    }

    /// Pauses a following log where it is, or resumes following.
    pub(super) fn toggle_follow(&mut self) {
        self.log_top = match self.log_top {
            None => Some(self.tail_top()),
            Some(_) => None,
        };
    }
}
