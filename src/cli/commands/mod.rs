//! One file per subcommand: each takes its parsed options, calls the engine (or the history, or
//! the config) and prints through the CLI's table and line helpers.

pub mod dashboard;
pub mod demo;
pub mod deploy;
pub mod diff;
pub mod doctor;
pub mod env;
mod env_editor;
pub mod init;
pub mod keygen;
pub mod list;
pub mod log;
pub mod provision;
pub mod prune;
pub mod rollback;
pub mod run;
pub mod ssh;
pub mod status;
pub mod trust;
pub mod unlock;
