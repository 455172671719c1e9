//! The one keymap: key handling, the help popup, the status bar and the README's key table are all
//! generated from `BINDINGS`, so they cannot disagree.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// Which pane has the keyboard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pane {
    Tree,
    Table,
    Log,
}

impl Pane {
    pub fn next(self) -> Pane {
        match self {
            Pane::Tree => Pane::Table,
            Pane::Table => Pane::Log,
            Pane::Log => Pane::Tree,
        }
    }

    pub fn prev(self) -> Pane {
        match self {
            Pane::Tree => Pane::Log,
            Pane::Table => Pane::Tree,
            Pane::Log => Pane::Table,
        }
    }
}

/// Everything a key can ask for, outside modals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Up,
    Down,
    FocusNext,
    FocusPrev,
    OpenLog,
    Deploy,
    Rollback,
    Prune,
    Refresh,
    ToggleFollow,
    End,
    PageUp,
    PageDown,
    Home,
    Filter,
    Help,
    Quit,
}

pub struct Binding {
    /// How the README and the help popup spell the keys.
    pub keys: &'static str,
    pub codes: &'static [(KeyCode, KeyModifiers)],
    pub action: Action,
    pub help: &'static str,
    /// The panes where it applies (and is shown in the status bar).
    pub panes: &'static [Pane],
    /// Its short form in the status bar, if shown there (the rest only in help, to keep the bar
    /// short enough for 80 columns).
    pub bar: Option<&'static str>,
}

const ALL: &[Pane] = &[Pane::Tree, Pane::Table, Pane::Log];
const NONE: KeyModifiers = KeyModifiers::NONE;
const SHIFT: KeyModifiers = KeyModifiers::SHIFT;
const CTRL: KeyModifiers = KeyModifiers::CONTROL;

pub const BINDINGS: &[Binding] = &[
    Binding {
        keys: "↑/↓ j/k",
        codes: &[(KeyCode::Up, NONE), (KeyCode::Char('k'), NONE)],
        action: Action::Up,
        help: "move up",
        panes: ALL,
        bar: None,
    },
    Binding {
        keys: "↑/↓ j/k",
        codes: &[(KeyCode::Down, NONE), (KeyCode::Char('j'), NONE)],
        action: Action::Down,
        help: "move down",
        panes: ALL,
        bar: None,
    },
    Binding {
        keys: "Tab",
        codes: &[(KeyCode::Tab, NONE)],
        action: Action::FocusNext,
        help: "next pane (tree → table → log)",
        panes: ALL,
        bar: Some("Tab pane"),
    },
    Binding {
        keys: "Shift-Tab",
        codes: &[(KeyCode::BackTab, SHIFT), (KeyCode::BackTab, NONE)],
        action: Action::FocusPrev,
        help: "previous pane",
        panes: ALL,
        bar: None,
    },
    Binding {
        keys: "Enter",
        codes: &[(KeyCode::Enter, NONE)],
        action: Action::OpenLog,
        help: "open the deployment's log",
        panes: &[Pane::Table],
        bar: Some("Enter log"),
    },
    Binding {
        keys: "d",
        codes: &[(KeyCode::Char('d'), NONE)],
        action: Action::Deploy,
        help: "deploy the selected site",
        panes: &[Pane::Tree, Pane::Table],
        bar: Some("d deploy"),
    },
    Binding {
        keys: "r",
        codes: &[(KeyCode::Char('r'), NONE)],
        action: Action::Rollback,
        help: "roll back to the selected deployment",
        panes: &[Pane::Table],
        bar: Some("r rollback"),
    },
    Binding {
        keys: "p",
        codes: &[(KeyCode::Char('p'), NONE)],
        action: Action::Prune,
        help: "prune old releases (preview first)",
        panes: &[Pane::Tree, Pane::Table],
        bar: Some("p prune"),
    },
    Binding {
        keys: "R",
        codes: &[(KeyCode::Char('R'), SHIFT), (KeyCode::Char('R'), NONE)],
        action: Action::Refresh,
        help: "refresh from the server",
        panes: &[Pane::Tree, Pane::Table],
        bar: Some("R refresh"),
    },
    Binding {
        keys: "f",
        codes: &[(KeyCode::Char('f'), NONE)],
        action: Action::ToggleFollow,
        help: "toggle follow",
        panes: &[Pane::Log],
        bar: Some("f follow"),
    },
    Binding {
        keys: "End/G",
        codes: &[
            (KeyCode::End, NONE),
            (KeyCode::Char('G'), SHIFT),
            (KeyCode::Char('G'), NONE),
        ],
        action: Action::End,
        help: "go to the end (resumes follow)",
        panes: &[Pane::Log, Pane::Table, Pane::Tree],
        bar: Some("G end"),
    },
    Binding {
        keys: "PgUp/PgDn",
        codes: &[(KeyCode::PageUp, NONE)],
        action: Action::PageUp,
        help: "page up",
        panes: ALL,
        bar: None,
    },
    Binding {
        keys: "PgUp/PgDn",
        codes: &[(KeyCode::PageDown, NONE)],
        action: Action::PageDown,
        help: "page down",
        panes: ALL,
        bar: None,
    },
    Binding {
        keys: "Home",
        codes: &[(KeyCode::Home, NONE)],
        action: Action::Home,
        help: "go to the top",
        panes: ALL,
        bar: None,
    },
    Binding {
        keys: "/",
        codes: &[(KeyCode::Char('/'), NONE)],
        action: Action::Filter,
        help: "filter deployments (branch, SHA, status)",
        panes: &[Pane::Tree, Pane::Table],
        bar: Some("/ filter"),
    },
    Binding {
        keys: "?",
        codes: &[(KeyCode::Char('?'), NONE), (KeyCode::Char('?'), SHIFT)],
        action: Action::Help,
        help: "help",
        panes: ALL,
        bar: Some("? help"),
    },
    Binding {
        keys: "q/Ctrl-C",
        codes: &[(KeyCode::Char('q'), NONE), (KeyCode::Char('c'), CTRL)],
        action: Action::Quit,
        help: "quit (asks when a job is running)",
        panes: ALL,
        bar: Some("q quit"),
    },
];

/// The action a key asks for in `pane`, if any.
pub fn lookup(key: KeyEvent, pane: Pane) -> Option<Action> {
    let mods = key.modifiers & (KeyModifiers::SHIFT | KeyModifiers::CONTROL | KeyModifiers::ALT);
    BINDINGS
        .iter()
        .filter(|b| b.panes.contains(&pane))
        .find(|b| b.codes.iter().any(|&(c, m)| c == key.code && m == mods))
        .map(|b| b.action)
}

/// The help lines: each distinct key spelling once, with what it does.
pub fn help_rows() -> Vec<(&'static str, String)> {
    let mut rows: Vec<(&'static str, String)> = Vec::new();
    for b in BINDINGS {
        match rows.iter_mut().find(|(k, _)| *k == b.keys) {
            Some((_, h)) => {
                if !h.contains(b.help) {
                    h.push_str(" / ");
                    h.push_str(b.help);
                }
            }
            None => rows.push((b.keys, b.help.to_string())),
        }
    }
    rows
}

/// The status bar's hints for the focused pane.
pub fn bar_hints(pane: Pane) -> Vec<(&'static str, &'static str)> {
    BINDINGS
        .iter()
        .filter(|b| b.panes.contains(&pane))
        .filter_map(|b| b.bar)
        .map(|label| label.split_once(' ').unwrap_or((label, "")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(c: KeyCode, m: KeyModifiers) -> KeyEvent {
        KeyEvent::new(c, m)
    }

    #[test]
    fn keys_resolve_per_pane() {
        assert_eq!(
            lookup(key(KeyCode::Char('j'), NONE), Pane::Tree),
            Some(Action::Down)
        );
        assert_eq!(lookup(key(KeyCode::Up, NONE), Pane::Log), Some(Action::Up));
        assert_eq!(
            lookup(key(KeyCode::Char('r'), NONE), Pane::Table),
            Some(Action::Rollback)
        );
        assert_eq!(
            lookup(key(KeyCode::Char('r'), NONE), Pane::Tree),
            None,
            "rollback needs a deployment"
        );
        assert_eq!(
            lookup(key(KeyCode::Char('R'), SHIFT), Pane::Tree),
            Some(Action::Refresh)
        );
        assert_eq!(
            lookup(key(KeyCode::Char('c'), CTRL), Pane::Log),
            Some(Action::Quit)
        );
        assert_eq!(lookup(key(KeyCode::Char('c'), NONE), Pane::Log), None);
        assert_eq!(
            lookup(key(KeyCode::BackTab, SHIFT), Pane::Table),
            Some(Action::FocusPrev)
        );
        assert_eq!(
            lookup(key(KeyCode::Char('G'), SHIFT), Pane::Log),
            Some(Action::End)
        );
    }

    #[test]
    fn no_key_is_bound_twice_in_a_pane() {
        for pane in [Pane::Tree, Pane::Table, Pane::Log] {
            let mut seen = Vec::new();
            for b in BINDINGS.iter().filter(|b| b.panes.contains(&pane)) {
                for c in b.codes {
                    assert!(!seen.contains(c), "{c:?} bound twice in {pane:?}");
                    seen.push(*c);
                }
            }
        }
    }

    #[test]
    fn help_and_bar_come_from_the_table() {
        let rows = help_rows();
        assert!(
            rows.iter()
                .any(|(k, h)| *k == "↑/↓ j/k" && h.contains("move up") && h.contains("move down"))
        );
        assert_eq!(rows.iter().filter(|(k, _)| *k == "PgUp/PgDn").count(), 1);
        let bar = bar_hints(Pane::Table);
        assert!(bar.iter().any(|(k, h)| *k == "r" && *h == "rollback"));
        assert!(!bar_hints(Pane::Tree).iter().any(|(k, _)| *k == "r"));
    }
}
