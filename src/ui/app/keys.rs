//! The keyboard (and the mouse wheel): a key is looked up in the keymap for the layer that has
//! the keyboard, and the action it names changes the state.

use super::{App, Effect, Modal};
use crate::ui::keymap::{self, Action, Layer, Pane};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseEvent, MouseEventKind};
use ratatui::layout::Position;

impl App {
    /// What has the keyboard: an open dialog or the help, else the filter being typed, else the
    /// focused pane.
    pub fn layer(&self) -> Layer {
        match &self.modal {
            Some(Modal::TypeDomain { .. }) => Layer::Typing,
            Some(m) if m.is_confirm() => Layer::Dialog,
            Some(_) => Layer::Help,
            None if self.filter_editing => Layer::Filter,
            None => Layer::Pane(self.focus),
        }
    }

    pub fn on_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        self.dirty = true;
        if self.quitting {
            return vec![];
        }
        let layer = self.layer();
        let action = keymap::lookup(key, layer);
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
            Layer::Filter => {
                self.on_filter_key(key, action);
                vec![]
            }
            Layer::Pane(_) => match action {
                Some(a) => self.on_action(a),
                None => vec![],
            },
        }
    }

    /// Typing a filter: the keymap's filter keys, and any other character is typed.
    fn on_filter_key(&mut self, key: KeyEvent, action: Option<Action>) {
        match action {
            Some(Action::KeepFilter) => self.filter_editing = false,
            Some(Action::ClearFilter) => {
                self.filter.clear();
                self.filter_editing = false;
            }
            Some(Action::DeleteChar) => {
                self.filter.pop();
            }
            _ => {
                if let KeyCode::Char(c) = key.code
                    && !key.modifiers.contains(KeyModifiers::CONTROL)
                {
                    self.filter.push(c)
                }
            }
        }
        if let Some(i) = self.sites.get_mut(self.selected) {
            i.table_sel = 0;
        }
        self.log_top = None;
    }

    /// An action in the panes.
    pub fn on_action(&mut self, action: Action) -> Vec<Effect> {
        self.dirty = true;
        match action {
            Action::Quit => return self.request_quit(),
            Action::Help => self.open_help(),
            Action::FocusNext => self.focus = self.focus.next(),
            Action::FocusPrev => self.focus = self.focus.prev(),
            Action::Up => return self.move_by(-1),
            Action::Down => return self.move_by(1),
            Action::PageUp => return self.move_by(-(self.page() as isize)),
            Action::PageDown => return self.move_by(self.page() as isize),
            Action::Home => return self.move_to_start(),
            Action::End => return self.move_to_end(),
            Action::ToggleFollow => self.toggle_follow(),
            Action::Filter => {
                self.filter_editing = true;
                self.focus = Pane::Table;
            }
            Action::OpenLog => {
                self.focus = Pane::Log;
                self.log_top = None;
                return self.ensure_log();
            }
            Action::Deploy => self.ask_deploy(),
            Action::Rollback => return self.ask_rollback(),
            Action::Prune => return self.ask_prune(),
            Action::Refresh => return self.refresh(),
            // The dialogs' and the filter's actions are not bound in the panes.
            Action::Confirm
            | Action::Cancel
            | Action::Close
            | Action::SwitchButton
            | Action::PressButton
            | Action::KeepFilter
            | Action::ClearFilter
            | Action::DeleteChar => {}
        }
        vec![]
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
