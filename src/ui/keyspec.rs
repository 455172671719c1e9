//! The config's `[keys]`: action names, key spellings (`d`, `D`, `ctrl-d`, `F5`, `enter`), and
//! the keymap they make. An unknown action, a key that cannot be read and two actions asking for
//! the same key are config errors at the entry's line.

use super::keymap::{Action, Keymap};
use crate::config::Config;
use crate::error::{Error, Result};
use crossterm::event::{KeyCode, KeyModifiers};

/// The actions `[keys]` can remap, by the name the config uses.
pub const ACTIONS: &[(&str, Action)] = &[
    ("up", Action::Up),
    ("down", Action::Down),
    ("next_pane", Action::FocusNext),
    ("previous_pane", Action::FocusPrev),
    ("pane_left", Action::FocusLeft),
    ("pane_right", Action::FocusRight),
    ("tree", Action::FocusTree),
    ("table", Action::FocusTable),
    ("log", Action::FocusLog),
    ("open_site", Action::OpenSite),
    ("open_log", Action::OpenLog),
    ("deploy", Action::Deploy),
    ("rollback", Action::Rollback),
    ("prune", Action::Prune),
    ("refresh", Action::Refresh),
    ("edit_env", Action::EditEnv),
    ("commands", Action::Commands),
    ("follow", Action::ToggleFollow),
    ("end", Action::End),
    ("top", Action::Home),
    ("page_up", Action::PageUp),
    ("page_down", Action::PageDown),
    ("filter", Action::Filter),
    ("clear_filter", Action::ClearFilter),
    ("wrap", Action::ToggleWrap),
    ("scroll_left", Action::ScrollLeft),
    ("scroll_right", Action::ScrollRight),
    ("copy", Action::Copy),
    ("mouse", Action::ToggleMouse),
    ("help", Action::Help),
    ("quit", Action::Quit),
    // While the selected site's deploy holds its switch (a rollout, a watch).
    ("next_batch", Action::NextBatch),
    ("all_batches", Action::AllBatches),
    ("revert", Action::Revert),
];

/// The keymap with the config's `[keys]`.
pub fn keymap(config: &Config) -> Result<Keymap> {
    let mut map = Keymap::default();
    let err = |line: usize, what: String| Error::config(&config.path, Some(line), what);
    for b in &config.keys {
        let Some(&(_, action)) = ACTIONS.iter().find(|(n, _)| *n == b.action) else {
            let names: Vec<&str> = ACTIONS.iter().map(|(n, _)| *n).collect();
            let why = format!(
                ": keys.{} is not an action; the actions are {}",
                b.action,
                names.join(", ")
            );
            return Err(err(b.line, why));
        };
        let mut codes = Vec::new();
        for k in &b.keys {
            codes
                .extend(parse(k).map_err(|why| err(b.line, format!(": keys.{} {why}", b.action)))?);
        }
        map = map
            .remap(action, codes, b.keys.join("/"))
            .map_err(|why| err(b.line, format!(": keys.{} {why}", b.action)))?;
    }
    // After every entry, so that two actions can swap keys.
    if let Some((_, one, other)) = map.clash() {
        let name = |a: Action| {
            ACTIONS
                .iter()
                .find(|(_, x)| *x == a)
                .map_or("?", |(n, _)| n)
        };
        let (mine, theirs) = match config.keys.iter().find(|b| b.action == name(other)) {
            Some(b) => (b, one),
            None => (
                config
                    .keys
                    .iter()
                    .find(|b| b.action == name(one))
                    .expect("one was remapped"),
                other,
            ),
        };
        let why = format!(
            ": keys.{} takes a key that {} has in the same pane; give one of them another key",
            mine.action,
            name(theirs)
        );
        return Err(err(mine.line, why));
    }
    Ok(map)
}

/// A key as written in the config, as the codes a terminal sends for it. A capital letter is
/// sent with or without Shift, depending on the terminal: both count.
pub fn parse(spec: &str) -> std::result::Result<Vec<(KeyCode, KeyModifiers)>, String> {
    let bad = || {
        format!(
            "has a key {spec:?} that is not a key (try \"d\", \"D\", \"ctrl-d\", \"alt-x\", \"F5\", \"enter\", \"space\")"
        )
    };
    let mut mods = KeyModifiers::NONE;
    let mut rest = spec;
    loop {
        let lower = rest.to_ascii_lowercase();
        let (m, len) = if lower.starts_with("ctrl-") {
            (KeyModifiers::CONTROL, 5)
        } else if lower.starts_with("alt-") {
            (KeyModifiers::ALT, 4)
        } else if lower.starts_with("shift-") && rest.len() > 6 {
            (KeyModifiers::SHIFT, 6)
        } else {
            break;
        };
        mods |= m;
        rest = &rest[len..];
    }
    let code = match rest.to_ascii_lowercase().as_str() {
        "enter" | "return" => KeyCode::Enter,
        "esc" | "escape" => KeyCode::Esc,
        "tab" if mods.contains(KeyModifiers::SHIFT) => KeyCode::BackTab,
        "tab" => KeyCode::Tab,
        "backtab" => KeyCode::BackTab,
        "space" => KeyCode::Char(' '),
        "backspace" => KeyCode::Backspace,
        "up" => KeyCode::Up,
        "down" => KeyCode::Down,
        "left" => KeyCode::Left,
        "right" => KeyCode::Right,
        "home" => KeyCode::Home,
        "end" => KeyCode::End,
        "pgup" | "pageup" => KeyCode::PageUp,
        "pgdn" | "pagedown" => KeyCode::PageDown,
        "delete" | "del" => KeyCode::Delete,
        "insert" => KeyCode::Insert,
        f if f.len() > 1
            && f.starts_with('f')
            && f[1..].parse::<u8>().is_ok_and(|n| (1..=12).contains(&n)) =>
        {
            KeyCode::F(f[1..].parse().expect("checked"))
        }
        _ => {
            let mut chars = rest.chars();
            match (chars.next(), chars.next()) {
                (Some(c), None) if !c.is_control() => KeyCode::Char(c),
                _ => return Err(bad()),
            }
        }
    };
    Ok(match code {
        KeyCode::Char(c) if c.is_ascii_uppercase() => {
            vec![(code, mods | KeyModifiers::SHIFT), (code, mods)]
        }
        KeyCode::BackTab => vec![(code, mods), (code, mods | KeyModifiers::SHIFT)],
        _ => vec![(code, mods)],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings() {
        assert_eq!(
            parse("d").unwrap(),
            [(KeyCode::Char('d'), KeyModifiers::NONE)]
        );
        assert_eq!(
            parse("ctrl-d").unwrap(),
            [(KeyCode::Char('d'), KeyModifiers::CONTROL)]
        );
        assert_eq!(parse("F5").unwrap(), [(KeyCode::F(5), KeyModifiers::NONE)]);
        assert_eq!(parse("D").unwrap().len(), 2);
        assert!(parse("ctrl-").is_err());
        assert!(parse("dd").is_err());
        assert!(parse("F13").is_err());
    }

    #[test]
    fn every_pane_action_has_a_name() {
        for b in super::super::keymap::BINDINGS {
            if b.layers
                .iter()
                .any(|l| matches!(l, super::super::keymap::Layer::Pane(_)))
                && b.action != Action::GoTop
            {
                assert!(
                    ACTIONS.iter().any(|(_, a)| *a == b.action),
                    "{:?} has no name",
                    b.action
                );
            }
        }
    }

    #[test]
    fn a_held_switchs_keys_can_be_remapped() {
        use super::super::keymap::Layer;
        use crossterm::event::KeyEvent;
        let key = |c| KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE);
        let map = Keymap::default()
            .remap(Action::Revert, parse("u").unwrap(), "u".into())
            .unwrap();
        assert_eq!(map.lookup(key('u'), Layer::Holding), Some(Action::Revert));
        assert_eq!(map.lookup(key('x'), Layer::Holding), None);
        // The site-commands picker keeps its x in the panes.
        assert_eq!(
            map.lookup(key('x'), Layer::Pane(super::super::keymap::Pane::Tree)),
            Some(Action::Commands)
        );
        assert!(
            ACTIONS
                .iter()
                .any(|(n, a)| *n == "next_batch" && *a == Action::NextBatch)
        );
    }
}
