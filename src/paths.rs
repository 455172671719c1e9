//! Where flipdeck's files live on this machine, and who runs it: the home directory, the default
//! config and history paths (XDG), and the local user name. Read from the environment in this one
//! place, so every part agrees.

use std::path::{Path, PathBuf};

/// `$HOME`, or `/` when it is unset (a service without a home still gets absolute paths).
pub fn home_dir() -> PathBuf {
    std::env::var_os("HOME").map_or_else(|| PathBuf::from("/"), PathBuf::from)
}

/// Where the config lives when neither `--config` nor `FLIPDECK_CONFIG` says.
pub fn default_config_path() -> PathBuf {
    xdg_dir("XDG_CONFIG_HOME", ".config").join("flipdeck/config.toml")
}

/// Where the history DB lives when neither `--db` nor `FLIPDECK_DB` says.
pub fn default_db_path() -> PathBuf {
    xdg_dir("XDG_DATA_HOME", ".local/share").join("flipdeck/history.db")
}

/// An XDG base directory: the variable when it holds an absolute path (the spec says relative
/// ones are to be ignored), else its fallback under the home directory.
fn xdg_dir(var: &str, fallback: &str) -> PathBuf {
    match std::env::var_os(var) {
        Some(v) if Path::new(&v).is_absolute() => PathBuf::from(v),
        _ => home_dir().join(fallback),
    }
}

/// The local user's name from `$USER`, when it is set and not empty. Callers choose the fallback,
/// because it means different things: the SSH login defaults to `root`, a lock's holder is named
/// by its uid.
pub fn local_user() -> Option<String> {
    std::env::var("USER").ok().filter(|u| !u.is_empty())
}
