//! The keyboard (and the mouse wheel): a key is looked up in the keymap for the layer that has
//! the keyboard, and the action it names changes the state.

use super::{App, Effect, Modal};
use crate::ui::keymap::{Action, Layer, Pane};

/// How far `←`/`→` scroll the log sideways.
const SIDEWAYS: usize = 8;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseEvent, MouseEventKind};
use ratatui::layout::Position;

impl App {
    /// What has the keyboard: an open dialog or the help, else the filter being typed, else the
    /// focused pane.
    pub fn layer(&self) -> Layer {
        match &self.modal {
            Some(Modal::TypeDomain { .. } | Modal::TypeRef { .. }) => Layer::Typing,
            Some(Modal::Commands { .. }) => Layer::Picker,
            Some(m) if m.is_confirm() => Layer::Dialog,
            Some(_) => Layer::Help,
            None if self.filter_editing => Layer::Filter,
            None => Layer::Pane(self.focus),
        }
    }

    pub fn on_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        self.dirty = true;
        let layer = self.layer();
        let action = self.keymap.lookup(key, layer);
        if self.quitting {
            // Jobs are being cancelled; quit again to leave without waiting for them.
            if action == Some(Action::Quit) {
                self.should_quit = true;
            }
            return vec![];
        }
        // `g` waits for a second `g`; any other key forgets it.
        let pending_g = std::mem::take(&mut self.pending_g);
        if pending_g && action == Some(Action::GoTop) {
            return self.on_action(Action::Home);
        }
        // A deploy holding its switch on the selected site (a rollout, a watch): its keys first
        // (see `Layer::Holding`).
        if matches!(layer, Layer::Pane(_))
            && (self.holding_rollout().is_some() || self.holding())
            && let Some(a) = self.keymap.lookup(key, Layer::Holding)
        {
            return self.on_holding_action(a);
        }
        match layer {
            Layer::Dialog => match action {
                Some(a) => self.on_dialog_action(a),
                None => vec![],
            },
            Layer::Help => match action {
                Some(a) => self.on_help_action(a),
                None => vec![],
            },
            Layer::Typing => self.on_typing_key(key, action),
            Layer::Picker => match action {
                Some(a) => self.on_picker_action(a),
                None => vec![],
            },
            Layer::Filter => {
                self.on_filter_key(key, action);
                vec![]
            }
            Layer::Pane(_) | Layer::Holding => match action {
                Some(a) => self.on_action(a),
                None => vec![],
            },
        }
    }

    /// Typing a filter (the tree's or the table's): the keymap's filter keys, and any other
    /// character is typed.
    fn on_filter_key(&mut self, key: KeyEvent, action: Option<Action>) {
        let tree = self.filter_pane == Pane::Tree;
        let text = if tree {
            &mut self.site_filter
        } else {
            &mut self.filter
        };
        match action {
            Some(Action::KeepFilter) => self.filter_editing = false,
            Some(Action::ClearFilter) => {
                text.clear();
                self.filter_editing = false;
            }
            Some(Action::DeleteChar) => {
                text.pop();
            }
            _ => {
                if let KeyCode::Char(c) = key.code
                    && !key.modifiers.contains(KeyModifiers::CONTROL)
                {
                    text.push(c)
                }
            }
        }
        if tree {
            self.select_first_matching_site();
        } else if let Some(i) = self.sites.get_mut(self.selected) {
            i.table_sel = 0;
        }
        self.log_top = None;
    }

    /// The tree's filter changed: the selection moves to the first site it lets through, unless
    /// the selected one passes.
    fn select_first_matching_site(&mut self) {
        let f = self.site_filter.to_lowercase();
        let passes = |i: usize| self.sites[i].key.to_lowercase().contains(&f);
        if self.sites.is_empty() || passes(self.selected) {
            return;
        }
        if let Some(i) = (0..self.sites.len()).find(|&i| passes(i)) {
            self.selected = i;
        }
    }

    /// An action in the panes.
    pub fn on_action(&mut self, action: Action) -> Vec<Effect> {
        self.dirty = true;
        match action {
            Action::Quit => return self.request_quit(),
            Action::Help => self.open_help(),
            Action::FocusNext => self.focus = self.focus.next(),
            Action::FocusPrev => self.focus = self.focus.prev(),
            Action::FocusLeft => self.focus = Pane::Tree,
            Action::FocusRight if self.focus == Pane::Tree => self.focus = Pane::Table,
            Action::FocusRight => {}
            Action::FocusTree => self.focus = Pane::Tree,
            Action::FocusTable => self.focus = Pane::Table,
            Action::FocusLog => {
                self.focus = Pane::Log;
                return self.ensure_log();
            }
            Action::OpenSite => self.focus = Pane::Table,
            Action::GoTop => self.pending_g = true,
            Action::ToggleWrap => {
                self.wrap = !self.wrap;
                self.log_left = 0;
            }
            Action::ScrollLeft => self.log_left = self.log_left.saturating_sub(SIDEWAYS),
            Action::ScrollRight if !self.wrap => self.log_left += SIDEWAYS,
            Action::ScrollRight => {}
            Action::Copy => return self.copy(),
            Action::ToggleMouse => {
                self.mouse = !self.mouse;
                let word = if self.mouse {
                    "mouse captured: the wheel scrolls (M gives it back)"
                } else {
                    "mouse released: select text with it (M captures it again)"
                };
                self.toast(word, false);
                return vec![Effect::MouseCapture(self.mouse)];
            }
            Action::ClearFilter => {
                match self.focus {
                    Pane::Tree => self.site_filter.clear(),
                    _ => self.filter.clear(),
                }
                self.log_top = None;
            }
            Action::Up => return self.move_by(-1),
            Action::Down => return self.move_by(1),
            Action::PageUp => return self.move_by(-(self.page() as isize)),
            Action::PageDown => return self.move_by(self.page() as isize),
            Action::Home => return self.move_to_start(),
            Action::End => return self.move_to_end(),
            Action::ToggleFollow => self.toggle_follow(),
            Action::Filter => {
                self.filter_editing = true;
                self.filter_pane = if self.focus == Pane::Tree {
                    Pane::Tree
                } else {
                    Pane::Table
                };
                self.focus = self.filter_pane;
            }
            Action::OpenLog => {
                self.command_shown = None;
                self.focus = Pane::Log;
                self.log_top = None;
                return self.ensure_log();
            }
            Action::Deploy => return self.ask_deploy(),
            Action::Rollback => return self.ask_rollback(),
            Action::Prune => return self.ask_prune(),
            Action::Refresh => return self.refresh(),
            Action::EditEnv => match self.site() {
                // Its lock would refuse the write, after the editing.
                Some(s) if s.running.is_some() => {
                    let msg = format!("a job runs on {}: edit its .env when it is done", s.key);
                    self.toast(msg, true);
                }
                Some(s) => return vec![Effect::EditEnv(s.key.clone())],
                None => {}
            },
            Action::Commands => self.open_commands(),
            // The dialogs', the filter's and a held switch's actions are not bound in the panes.
            Action::Confirm
            | Action::Cancel
            | Action::Close
            | Action::SwitchButton
            | Action::EditRef
            | Action::PressButton
            | Action::KeepFilter
            | Action::DeleteChar
            | Action::NextBatch
            | Action::AllBatches
            | Action::Revert => {}
        }
        vec![]
    }

    /// `n`, `a`, `x` while the selected site's rollout holds; `x` while its watch does.
    fn on_holding_action(&mut self, action: Action) -> Vec<Effect> {
        use crate::engine::hold::Hold;
        if self.holding_rollout().is_none() {
            return match action {
                Action::Revert => self.revert_held(),
                _ => vec![],
            };
        }
        match action {
            Action::NextBatch => self.tell_rollout(Hold::Next),
            Action::AllBatches => self.tell_rollout(Hold::All),
            Action::Revert => self.tell_rollout(Hold::Revert),
            _ => vec![],
        }
    }

    /// `y`: the selected deployment's id in the table, the selected log line in the log (the
    /// top line while paused, the newest while following), onto the terminal's clipboard.
    fn copy(&mut self) -> Vec<Effect> {
        let text = match self.focus {
            Pane::Log => self.current_log().and_then(|b| {
                let at = self.log_top.unwrap_or(b.len().saturating_sub(1));
                b.window(at, 1).next().map(|(_, l)| l.clone())
            }),
            _ => self.selected_deployment().map(|d| d.id.to_string()),
        };
        match text {
            Some(t) => {
                let shown: String = t.chars().take(40).collect();
                self.toast(format!("copied: {shown}"), false);
                vec![Effect::Copy(t)]
            }
            None => {
                self.toast("nothing selected to copy", true);
                vec![]
            }
        }
    }

    /// The wheel scrolls the pane under the pointer, without moving the focus.
    pub fn on_mouse(&mut self, m: MouseEvent) -> Vec<Effect> {
        let delta = match m.kind {
            MouseEventKind::ScrollUp => -3,
            MouseEventKind::ScrollDown => 3,
            _ => return vec![],
        };
        let at = Position::new(m.column, m.row);
        let pane = if self.areas.log.contains(at) {
            Pane::Log
        } else if self.areas.table.contains(at) {
            Pane::Table
        } else if self.areas.tree.contains(at) {
            Pane::Tree
        } else {
            return vec![];
        };
        let saved = self.focus;
        self.focus = pane;
        let fx = self.move_by(delta);
        self.focus = saved;
        self.dirty = true;
        fx
    }
}
