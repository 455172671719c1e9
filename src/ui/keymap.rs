//! The one keymap: every key the dashboard answers to, in every layer (the three panes, the
//! dialogs, the help popup and the filter input), with how it is spelled and what it does. Key
//! handling, the help popup, the status bar, the dialogs' buttons and the README's key table are
//! all generated from `BINDINGS`, so they cannot disagree.

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

/// What has the keyboard: the focused pane, or what is drawn over the panes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layer {
    Pane(Pane),
    /// A confirm dialog: deploy, rollback, prune preview, quit.
    Dialog,
    Help,
    /// Typing a filter after `/`. A character no binding takes is typed into the filter.
    Filter,
    /// Typing a protected site's domain to confirm its deploy or rollback. A character no
    /// binding takes is typed.
    Typing,
    /// The site commands' picker (`x`).
    Picker,
    /// Over the panes, while the selected site's deploy holds its switch (the watch after the
    /// switch; a paused rollout): its keys take precedence over the panes' (`x` reverts rather
    /// than opening the site-commands picker).
    Holding,
}

impl From<Pane> for Layer {
    fn from(p: Pane) -> Layer {
        Layer::Pane(p)
    }
}

impl Layer {
    /// In the panes a key's modifiers must be exactly the binding's (`R` is not `r`, Ctrl-C is not
    /// `c`). Over the panes a key counts whatever else is held, as long as the binding's modifiers
    /// are among them (Shift-Tab still switches a dialog's button; Ctrl-C still needs Ctrl).
    fn exact_modifiers(self) -> bool {
        matches!(self, Layer::Pane(_) | Layer::Holding)
    }
}

/// Everything a key can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    // The panes.
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
    /// Quit (asks first while a job runs); from a dialog or the help too.
    Quit,
    /// The pane to the left (the tree) / to the right (the table).
    FocusLeft,
    FocusRight,
    FocusTree,
    FocusTable,
    FocusLog,
    /// The first `g` of `gg` (go to the top).
    GoTop,
    /// Enter on a site: its deployments get the focus.
    OpenSite,
    /// Wrap the log's long lines, or not.
    ToggleWrap,
    /// Scroll the log sideways.
    ScrollLeft,
    ScrollRight,
    /// Copy the selected deployment's id, or the selected log line (OSC 52).
    Copy,
    /// Capture the mouse, or give it back to the terminal (to select text).
    ToggleMouse,
    /// Edit the selected site's shared .env (`flipdeck env edit`, the dashboard suspended).
    EditEnv,
    /// Open the picker of the site's commands.
    Commands,
    // Dialogs and the help popup.
    /// Press the dialog's confirming button.
    Confirm,
    /// Press the dialog's Cancel button.
    Cancel,
    /// Close the dialog or the help without doing anything.
    Close,
    /// Move the focus to the other button.
    SwitchButton,
    /// The deploy dialog: type the exact ref to deploy.
    EditRef,
    /// Press the focused button.
    PressButton,
    // A held deploy (a stepped rollout, a watch after the switch).
    /// Switch the rollout's next batch now.
    NextBatch,
    /// Switch every server left, without pausing again.
    AllBatches,
    /// Put every server already switched back on the release it had, at once (the way back).
    Revert,
    // The filter input.
    KeepFilter,
    ClearFilter,
    DeleteChar,
}

pub struct Binding {
    /// How the README, the help popup and the help's dialog line spell the keys. Bindings that
    /// share a spelling share a row (`↑/↓ j/k`: move up / move down).
    pub keys: &'static str,
    pub codes: &'static [(KeyCode, KeyModifiers)],
    pub action: Action,
    /// What it does, in the help popup and the README; `None` leaves it out of both.
    pub help: Option<&'static str>,
    /// The layers where it applies (for a pane, also where the status bar shows it).
    pub layers: &'static [Layer],
    /// Its short form, `"KEY word"`: a pane's status-bar hint, a dialog button's key, the filter
    /// line's hints. The panes show only some in the status bar (the rest only in help, to keep
    /// the bar short enough for 80 columns).
    pub bar: Option<&'static str>,
}

const TREE: Layer = Layer::Pane(Pane::Tree);
const TABLE: Layer = Layer::Pane(Pane::Table);
const LOG: Layer = Layer::Pane(Pane::Log);
const PANES: &[Layer] = &[TREE, TABLE, LOG];
const NONE: KeyModifiers = KeyModifiers::NONE;
const SHIFT: KeyModifiers = KeyModifiers::SHIFT;
const CTRL: KeyModifiers = KeyModifiers::CONTROL;

pub const BINDINGS: &[Binding] = &[
    // ---- the panes ----
    Binding {
        keys: "↑/↓ j/k",
        codes: &[(KeyCode::Up, NONE), (KeyCode::Char('k'), NONE)],
        action: Action::Up,
        help: Some("move up"),
        layers: PANES,
        bar: None,
    },
    Binding {
        keys: "↑/↓ j/k",
        codes: &[(KeyCode::Down, NONE), (KeyCode::Char('j'), NONE)],
        action: Action::Down,
        help: Some("move down"),
        layers: PANES,
        bar: None,
    },
    Binding {
        keys: "h/l ←/→",
        codes: &[(KeyCode::Char('h'), NONE), (KeyCode::Left, NONE)],
        action: Action::FocusLeft,
        help: Some("pane to the left / to the right (←/→ scroll the log)"),
        layers: &[TREE, TABLE],
        bar: None,
    },
    Binding {
        keys: "h/l ←/→",
        codes: &[(KeyCode::Char('l'), NONE), (KeyCode::Right, NONE)],
        action: Action::FocusRight,
        help: Some("pane to the left / to the right (←/→ scroll the log)"),
        layers: &[TREE, TABLE],
        bar: None,
    },
    Binding {
        keys: "h/l ←/→",
        codes: &[(KeyCode::Char('h'), NONE)],
        action: Action::FocusLeft,
        help: None,
        layers: &[LOG],
        bar: None,
    },
    Binding {
        keys: "h/l ←/→",
        codes: &[(KeyCode::Left, NONE)],
        action: Action::ScrollLeft,
        help: None,
        layers: &[LOG],
        bar: None,
    },
    Binding {
        keys: "h/l ←/→",
        codes: &[(KeyCode::Right, NONE)],
        action: Action::ScrollRight,
        help: None,
        layers: &[LOG],
        bar: None,
    },
    Binding {
        keys: "1/2/3",
        codes: &[(KeyCode::Char('1'), NONE)],
        action: Action::FocusTree,
        help: Some("go to the tree / the table / the log"),
        layers: PANES,
        bar: None,
    },
    Binding {
        keys: "1/2/3",
        codes: &[(KeyCode::Char('2'), NONE)],
        action: Action::FocusTable,
        help: Some("go to the tree / the table / the log"),
        layers: PANES,
        bar: None,
    },
    Binding {
        keys: "1/2/3",
        codes: &[(KeyCode::Char('3'), NONE)],
        action: Action::FocusLog,
        help: Some("go to the tree / the table / the log"),
        layers: PANES,
        bar: None,
    },
    Binding {
        keys: "Tab",
        codes: &[(KeyCode::Tab, NONE)],
        action: Action::FocusNext,
        help: Some("next pane (tree → table → log)"),
        layers: PANES,
        bar: Some("Tab pane"),
    },
    Binding {
        keys: "Shift-Tab",
        codes: &[(KeyCode::BackTab, SHIFT), (KeyCode::BackTab, NONE)],
        action: Action::FocusPrev,
        help: Some("previous pane"),
        layers: PANES,
        bar: None,
    },
    Binding {
        keys: "Enter",
        codes: &[(KeyCode::Enter, NONE)],
        action: Action::OpenSite,
        help: Some("show the site's deployments (tree)"),
        layers: &[TREE],
        bar: None,
    },
    Binding {
        keys: "Enter",
        codes: &[(KeyCode::Enter, NONE)],
        action: Action::OpenLog,
        help: Some("open the deployment's log (table)"),
        layers: &[TABLE],
        bar: Some("Enter log"),
    },
    Binding {
        keys: "d",
        codes: &[(KeyCode::Char('d'), NONE)],
        action: Action::Deploy,
        help: Some("deploy the selected site"),
        layers: &[TREE, TABLE],
        bar: Some("d deploy"),
    },
    Binding {
        keys: "r",
        codes: &[(KeyCode::Char('r'), NONE)],
        action: Action::Rollback,
        help: Some("roll back to the selected deployment"),
        layers: &[TABLE],
        bar: Some("r rollback"),
    },
    Binding {
        keys: "p",
        codes: &[(KeyCode::Char('p'), NONE)],
        action: Action::Prune,
        help: Some("prune old releases (preview first)"),
        layers: &[TREE, TABLE],
        bar: Some("p prune"),
    },
    Binding {
        keys: "e",
        codes: &[(KeyCode::Char('e'), NONE)],
        action: Action::EditEnv,
        help: Some("edit the site's shared .env in $EDITOR (the dashboard steps aside)"),
        layers: &[TREE, TABLE],
        bar: None,
    },
    Binding {
        keys: "x",
        codes: &[(KeyCode::Char('x'), NONE)],
        action: Action::Commands,
        help: Some("run one of the site's commands (a picker)"),
        layers: &[TREE, TABLE],
        bar: None,
    },
    Binding {
        keys: "R",
        codes: &[(KeyCode::Char('R'), SHIFT), (KeyCode::Char('R'), NONE)],
        action: Action::Refresh,
        help: Some("refresh from the server"),
        layers: &[TREE, TABLE],
        bar: Some("R refresh"),
    },
    Binding {
        keys: "f",
        codes: &[(KeyCode::Char('f'), NONE)],
        action: Action::ToggleFollow,
        help: Some("toggle follow"),
        layers: &[LOG],
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
        help: Some("go to the end (resumes follow)"),
        layers: &[LOG, TABLE, TREE],
        bar: Some("G end"),
    },
    Binding {
        keys: "PgUp/PgDn",
        codes: &[(KeyCode::PageUp, NONE)],
        action: Action::PageUp,
        help: Some("page up"),
        layers: PANES,
        bar: None,
    },
    Binding {
        keys: "PgUp/PgDn",
        codes: &[(KeyCode::PageDown, NONE)],
        action: Action::PageDown,
        help: Some("page down"),
        layers: PANES,
        bar: None,
    },
    Binding {
        keys: "Home/gg",
        codes: &[(KeyCode::Home, NONE)],
        action: Action::Home,
        help: Some("go to the top"),
        layers: PANES,
        bar: None,
    },
    Binding {
        keys: "Home/gg",
        codes: &[(KeyCode::Char('g'), NONE)],
        action: Action::GoTop,
        help: Some("go to the top"),
        layers: PANES,
        bar: None,
    },
    Binding {
        keys: "/",
        codes: &[(KeyCode::Char('/'), NONE)],
        action: Action::Filter,
        help: Some("filter the focused pane (sites; deployments by branch, SHA, status)"),
        layers: &[TREE, TABLE],
        bar: Some("/ filter"),
    },
    Binding {
        keys: "Esc",
        codes: &[(KeyCode::Esc, NONE)],
        action: Action::ClearFilter,
        help: Some("clear the focused pane's filter"),
        layers: &[TREE, TABLE],
        bar: None,
    },
    Binding {
        keys: "w",
        codes: &[(KeyCode::Char('w'), NONE)],
        action: Action::ToggleWrap,
        help: Some("wrap long log lines (off: ←/→ scroll sideways)"),
        layers: &[LOG],
        bar: Some("w wrap"),
    },
    Binding {
        keys: "y",
        codes: &[(KeyCode::Char('y'), NONE)],
        action: Action::Copy,
        help: Some("copy the deployment's id / the selected log line (OSC 52)"),
        layers: &[TABLE, LOG],
        bar: Some("y copy"),
    },
    Binding {
        keys: "M",
        codes: &[(KeyCode::Char('M'), SHIFT), (KeyCode::Char('M'), NONE)],
        action: Action::ToggleMouse,
        help: Some("mouse capture on/off (off: the terminal selects text)"),
        layers: PANES,
        bar: None,
    },
    Binding {
        keys: "?",
        codes: &[(KeyCode::Char('?'), NONE), (KeyCode::Char('?'), SHIFT)],
        action: Action::Help,
        help: Some("help"),
        layers: PANES,
        bar: Some("? help"),
    },
    Binding {
        keys: "q/Ctrl-C",
        codes: &[(KeyCode::Char('q'), NONE), (KeyCode::Char('c'), CTRL)],
        action: Action::Quit,
        help: Some("quit (asks when a job is running)"),
        layers: PANES,
        bar: Some("q quit"),
    },
    // ---- dialogs (confirm deploy, rollback, prune, quit) ----
    Binding {
        keys: "y",
        codes: &[(KeyCode::Char('y'), NONE), (KeyCode::Char('Y'), NONE)],
        action: Action::Confirm,
        help: Some("confirms"),
        layers: &[Layer::Dialog],
        bar: Some("y confirm"),
    },
    Binding {
        keys: "n/Esc",
        codes: &[(KeyCode::Char('n'), NONE), (KeyCode::Char('N'), NONE)],
        action: Action::Cancel,
        help: Some("cancels"),
        layers: &[Layer::Dialog],
        bar: Some("n Cancel"),
    },
    Binding {
        keys: "n/Esc",
        codes: &[(KeyCode::Esc, NONE)],
        action: Action::Close,
        help: Some("cancels"),
        layers: &[Layer::Dialog],
        bar: Some("Esc closes"),
    },
    Binding {
        keys: "Tab",
        codes: &[
            (KeyCode::Tab, NONE),
            (KeyCode::BackTab, NONE),
            (KeyCode::Left, NONE),
            (KeyCode::Right, NONE),
            (KeyCode::Char('h'), NONE),
            (KeyCode::Char('l'), NONE),
        ],
        action: Action::SwitchButton,
        help: Some("switches the button"),
        layers: &[Layer::Dialog],
        bar: None,
    },
    Binding {
        keys: "r",
        codes: &[(KeyCode::Char('r'), NONE)],
        action: Action::EditRef,
        // Not in the help: the deploy dialog says it where it applies.
        help: None,
        layers: &[Layer::Dialog],
        bar: Some("r ref"),
    },
    // Not in the help: the buttons show which one is focused.
    Binding {
        keys: "Enter",
        codes: &[(KeyCode::Enter, NONE)],
        action: Action::PressButton,
        help: None,
        layers: &[Layer::Dialog],
        bar: None,
    },
    // Ctrl-C always means quit, even from a dialog or the help; the panes' row says so.
    Binding {
        keys: "Ctrl-C",
        codes: &[(KeyCode::Char('c'), CTRL)],
        action: Action::Quit,
        help: None,
        layers: &[Layer::Dialog, Layer::Help, Layer::Typing, Layer::Picker],
        bar: None,
    },
    // ---- the help popup ----
    Binding {
        keys: "Esc or ?",
        codes: &[
            (KeyCode::Esc, NONE),
            (KeyCode::Char('?'), NONE),
            (KeyCode::Char('q'), NONE),
            (KeyCode::Enter, NONE),
        ],
        action: Action::Close,
        help: Some("closes this help"),
        layers: &[Layer::Help],
        bar: None,
    },
    // ---- typing a filter (any other character is typed into it) ----
    Binding {
        keys: "Enter",
        codes: &[(KeyCode::Enter, NONE)],
        action: Action::KeepFilter,
        help: Some("keeps the filter"),
        layers: &[Layer::Filter],
        bar: Some("Enter keep"),
    },
    Binding {
        keys: "Esc",
        codes: &[(KeyCode::Esc, NONE)],
        action: Action::ClearFilter,
        help: Some("clears it"),
        layers: &[Layer::Filter],
        bar: Some("Esc clear"),
    },
    Binding {
        keys: "Backspace",
        codes: &[(KeyCode::Backspace, NONE)],
        action: Action::DeleteChar,
        help: Some("deletes the last character"),
        layers: &[Layer::Filter],
        bar: None,
    },
    // ---- the site commands' picker ----
    Binding {
        keys: "↑/↓ j/k",
        codes: &[(KeyCode::Up, NONE), (KeyCode::Char('k'), NONE)],
        action: Action::Up,
        help: Some("choose"),
        layers: &[Layer::Picker],
        bar: None,
    },
    Binding {
        keys: "↑/↓ j/k",
        codes: &[(KeyCode::Down, NONE), (KeyCode::Char('j'), NONE)],
        action: Action::Down,
        help: Some("choose"),
        layers: &[Layer::Picker],
        bar: None,
    },
    Binding {
        keys: "Enter",
        codes: &[(KeyCode::Enter, NONE)],
        action: Action::Confirm,
        help: Some("runs it on every server of the site"),
        layers: &[Layer::Picker],
        bar: Some("Enter run"),
    },
    Binding {
        keys: "Esc",
        codes: &[(KeyCode::Esc, NONE), (KeyCode::Char('q'), NONE)],
        action: Action::Close,
        help: Some("closes"),
        layers: &[Layer::Picker],
        bar: Some("Esc close"),
    },
    // ---- while the selected site's deploy holds its switch: a stepped rollout, a watch after
    // the switch (before the panes' keys) ----
    Binding {
        keys: "n",
        codes: &[(KeyCode::Char('n'), NONE)],
        action: Action::NextBatch,
        help: Some("a paused rollout: switch the next batch now"),
        layers: &[Layer::Holding],
        bar: Some("n next"),
    },
    Binding {
        keys: "a",
        codes: &[(KeyCode::Char('a'), NONE)],
        action: Action::AllBatches,
        help: Some("a rollout: switch every server left, no more pauses"),
        layers: &[Layer::Holding],
        bar: Some("a all"),
    },
    Binding {
        keys: "x",
        codes: &[(KeyCode::Char('x'), NONE)],
        action: Action::Revert,
        help: Some("revert every server switched (a rollout, a watch)"),
        layers: &[Layer::Holding],
        bar: Some("x revert"),
    },
    // ---- typing a protected site's domain (any other character is typed) ----
    Binding {
        keys: "Enter",
        codes: &[(KeyCode::Enter, NONE)],
        action: Action::Confirm,
        help: Some("confirms once the domain is typed exactly"),
        layers: &[Layer::Typing],
        bar: Some("Enter confirm"),
    },
    Binding {
        keys: "Esc",
        codes: &[(KeyCode::Esc, NONE)],
        action: Action::Close,
        help: Some("cancels"),
        layers: &[Layer::Typing],
        bar: Some("Esc cancel"),
    },
    Binding {
        keys: "Backspace",
        codes: &[(KeyCode::Backspace, NONE)],
        action: Action::DeleteChar,
        help: Some("deletes the last character"),
        layers: &[Layer::Typing],
        bar: None,
    },
];

/// A key as a terminal sends it.
pub type Code = (KeyCode, KeyModifiers);

/// An action asked for by other keys than the table's: the action, its keys, how they are spelled.
type Remap = (Action, Vec<Code>, String);

/// The keymap in use: the table above, with the config's `[keys]` giving pane actions other
/// keys (see `keyspec`). The default (no remapping) is the table itself.
#[derive(Debug, Clone, Default)]
pub struct Keymap {
    /// An action, the keys that now ask for it in the panes, and how they are spelled.
    remapped: Vec<Remap>,
}

static DEFAULT: Keymap = Keymap {
    remapped: Vec::new(),
};

impl Keymap {
    /// The table with `action` asking for `codes` (spelled `keys`) in every pane it applies in,
    /// instead of its own keys there (and over the panes, for a held switch's). Refuses an action
    /// neither binds.
    pub fn remap(
        mut self,
        action: Action,
        codes: Vec<Code>,
        keys: String,
    ) -> Result<Keymap, String> {
        if !BINDINGS
            .iter()
            .any(|b| b.action == action && b.remappable())
        {
            return Err(format!("{action:?} is not an action of the panes"));
        }
        self.remapped.retain(|(a, ..)| *a != action);
        self.remapped.push((action, codes, keys));
        Ok(self)
    }

    /// The remapped action of a pane binding's action, if any.
    fn remapped(&self, b: &Binding, layer: Layer) -> Option<&Remap> {
        if !matches!(layer, Layer::Pane(_) | Layer::Holding) {
            return None;
        }
        self.remapped.iter().find(|(a, ..)| *a == b.action)
    }

    /// The keys of `layer` as (action, its keys): the table's, or what remaps them.
    fn codes(&self, layer: Layer) -> impl Iterator<Item = (Action, &[(KeyCode, KeyModifiers)])> {
        let mut seen: Vec<Action> = Vec::new();
        in_layer(layer).filter_map(move |b| match self.remapped(b, layer) {
            Some((a, codes, _)) if !seen.contains(a) => {
                seen.push(*a);
                Some((*a, codes.as_slice()))
            }
            Some(_) => None,
            None => Some((b.action, b.codes)),
        })
    }

    /// The action a key asks for in `layer`, if any.
    pub fn lookup(&self, key: KeyEvent, layer: Layer) -> Option<Action> {
        let held =
            key.modifiers & (KeyModifiers::SHIFT | KeyModifiers::CONTROL | KeyModifiers::ALT);
        let fits = |m: KeyModifiers| {
            if layer.exact_modifiers() {
                m == held
            } else {
                key.modifiers.contains(m)
            }
        };
        self.codes(layer)
            .find(|(_, codes)| codes.iter().any(|&(c, m)| c == key.code && fits(m)))
            .map(|(a, _)| a)
    }

    /// Two actions of one layer asking for the same key, if any: (the key, the two actions).
    pub fn clash(&self) -> Option<((KeyCode, KeyModifiers), Action, Action)> {
        for layer in [TREE, TABLE, LOG, Layer::Holding] {
            let mut seen: Vec<((KeyCode, KeyModifiers), Action)> = Vec::new();
            for (a, codes) in self.codes(layer) {
                for c in codes {
                    match seen.iter().find(|(k, other)| k == c && *other != a) {
                        Some((_, other)) => return Some((*c, *other, a)),
                        None => seen.push((*c, a)),
                    }
                }
            }
        }
        None
    }

    /// How a binding's keys are spelled, remapped or not.
    fn spelling<'a>(&'a self, b: &'a Binding) -> &'a str {
        match self
            .remapped
            .iter()
            .find(|(a, ..)| *a == b.action && b.remappable())
        {
            Some((_, _, keys)) => keys,
            None => b.keys,
        }
    }

    /// The help popup's and the README's key table: the panes' keys, each spelling once, with
    /// what it does.
    pub fn help_rows(&self) -> Vec<(String, String)> {
        self.rows(
            BINDINGS
                .iter()
                .filter(|b| b.in_panes() || b.layers.contains(&Layer::Holding)),
        )
    }

    fn rows<'a>(&'a self, bindings: impl Iterator<Item = &'a Binding>) -> Vec<(String, String)> {
        let mut rows: Vec<(String, String)> = Vec::new();
        for b in bindings {
            let Some(help) = b.help else { continue };
            let keys = self.spelling(b);
            match rows.iter_mut().find(|(k, _)| k == keys) {
                Some((_, h)) => {
                    if !h.contains(help) {
                        h.push_str(" / ");
                        h.push_str(help);
                    }
                }
                None => rows.push((keys.to_string(), help.to_string())),
            }
        }
        rows
    }

    /// The short hints of `layer`, as (key, word): the status bar's for a pane, the filter line's.
    pub fn bar_hints(&self, layer: Layer) -> Vec<(String, &'static str)> {
        in_layer(layer)
            .filter_map(|b| {
                let (key, word) = split(b.bar?);
                Some(match self.remapped(b, layer) {
                    Some((_, _, keys)) => (keys.clone(), word),
                    None => (key.to_string(), word),
                })
            })
            .collect()
    }
}

impl Binding {
    /// What `[keys]` may remap: the panes' keys and a held switch's.
    fn remappable(&self) -> bool {
        self.in_panes() || self.layers.contains(&Layer::Holding)
    }

    fn in_panes(&self) -> bool {
        self.layers.iter().any(|l| matches!(l, Layer::Pane(_)))
    }
}

/// The action a key asks for in `layer` with the table's keys, if any.
pub fn lookup(key: KeyEvent, layer: Layer) -> Option<Action> {
    DEFAULT.lookup(key, layer)
}

fn in_layer(layer: Layer) -> impl Iterator<Item = &'static Binding> {
    BINDINGS.iter().filter(move |b| b.layers.contains(&layer))
}

/// The help popup's and the README's key table with the table's keys.
pub fn help_rows() -> Vec<(String, String)> {
    DEFAULT.help_rows()
}

/// One layer's keys as a sentence, each spelling once: `y confirms, n/Esc cancels, …`.
pub fn layer_help(layer: Layer) -> String {
    DEFAULT
        .rows(in_layer(layer))
        .into_iter()
        .map(|(k, h)| format!("{k} {h}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The short hints of `layer` with the table's keys.
pub fn bar_hints(layer: Layer) -> Vec<(String, &'static str)> {
    DEFAULT.bar_hints(layer)
}

/// The short hint of `action` in `layer`, as (key, word): the key a dialog button shows.
pub fn hint(layer: Layer, action: Action) -> (&'static str, &'static str) {
    in_layer(layer)
        .filter(|b| b.action == action)
        .find_map(|b| b.bar)
        .map(split)
        .unwrap_or_else(|| panic!("the keymap has no hint for {action:?} in {layer:?}"))
}

fn split(label: &'static str) -> (&'static str, &'static str) {
    label.split_once(' ').unwrap_or((label, ""))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(c: KeyCode, m: KeyModifiers) -> KeyEvent {
        KeyEvent::new(c, m)
    }

    const ALL_LAYERS: [Layer; 7] = [
        TREE,
        TABLE,
        LOG,
        Layer::Dialog,
        Layer::Help,
        Layer::Filter,
        Layer::Holding,
    ];

    #[test]
    fn keys_resolve_per_pane() {
        assert_eq!(
            lookup(key(KeyCode::Char('j'), NONE), TREE),
            Some(Action::Down)
        );
        assert_eq!(lookup(key(KeyCode::Up, NONE), LOG), Some(Action::Up));
        assert_eq!(
            lookup(key(KeyCode::Char('r'), NONE), TABLE),
            Some(Action::Rollback)
        );
        assert_eq!(
            lookup(key(KeyCode::Char('r'), NONE), TREE),
            None,
            "rollback needs a deployment"
        );
        assert_eq!(
            lookup(key(KeyCode::Char('R'), SHIFT), TREE),
            Some(Action::Refresh)
        );
        assert_eq!(
            lookup(key(KeyCode::Char('c'), CTRL), LOG),
            Some(Action::Quit)
        );
        assert_eq!(lookup(key(KeyCode::Char('c'), NONE), LOG), None);
        assert_eq!(
            lookup(key(KeyCode::BackTab, SHIFT), TABLE),
            Some(Action::FocusPrev)
        );
        assert_eq!(
            lookup(key(KeyCode::Char('G'), SHIFT), LOG),
            Some(Action::End)
        );
    }

    #[test]
    fn keys_resolve_over_the_panes() {
        let dialog = |c, m| lookup(key(c, m), Layer::Dialog);
        assert_eq!(dialog(KeyCode::Char('Y'), SHIFT), Some(Action::Confirm));
        assert_eq!(dialog(KeyCode::Char('n'), NONE), Some(Action::Cancel));
        assert_eq!(dialog(KeyCode::Esc, NONE), Some(Action::Close));
        assert_eq!(dialog(KeyCode::BackTab, SHIFT), Some(Action::SwitchButton));
        assert_eq!(dialog(KeyCode::Enter, NONE), Some(Action::PressButton));
        assert_eq!(dialog(KeyCode::Char('c'), CTRL), Some(Action::Quit));
        assert_eq!(dialog(KeyCode::Char('c'), NONE), None);
        assert_eq!(dialog(KeyCode::Char('d'), NONE), None);
        let help = |c| lookup(key(c, NONE), Layer::Help);
        assert_eq!(help(KeyCode::Char('q')), Some(Action::Close));
        assert_eq!(help(KeyCode::Char('j')), None);
        let filter = |c, m| lookup(key(c, m), Layer::Filter);
        assert_eq!(filter(KeyCode::Enter, NONE), Some(Action::KeepFilter));
        assert_eq!(filter(KeyCode::Esc, NONE), Some(Action::ClearFilter));
        assert_eq!(filter(KeyCode::Backspace, NONE), Some(Action::DeleteChar));
        assert_eq!(filter(KeyCode::Char('q'), NONE), None, "typed");
        assert_eq!(filter(KeyCode::Char('c'), CTRL), None);
    }

    #[test]
    fn no_key_is_bound_twice_in_a_layer() {
        for layer in ALL_LAYERS {
            let mut seen = Vec::new();
            for b in in_layer(layer) {
                for c in b.codes {
                    assert!(!seen.contains(c), "{c:?} bound twice in {layer:?}");
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
        assert!(
            !rows.iter().any(|(_, h)| h.contains("confirms")),
            "dialog keys have their own line"
        );
        let bar = bar_hints(TABLE);
        assert!(bar.iter().any(|(k, h)| *k == "r" && *h == "rollback"));
        assert!(!bar_hints(TREE).iter().any(|(k, _)| *k == "r"));
        assert_eq!(
            layer_help(Layer::Dialog),
            "y confirms, n/Esc cancels, Tab switches the button"
        );
        assert_eq!(layer_help(Layer::Help), "Esc or ? closes this help");
        assert_eq!(
            bar_hints(Layer::Filter),
            [("Enter".to_string(), "keep"), ("Esc".to_string(), "clear")]
        );
        assert_eq!(hint(Layer::Dialog, Action::Confirm).0, "y");
        assert_eq!(hint(Layer::Dialog, Action::Cancel), ("n", "Cancel"));
        assert_eq!(hint(Layer::Dialog, Action::Close), ("Esc", "closes"));
    }
}
