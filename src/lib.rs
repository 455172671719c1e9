//! flipdeck: zero-downtime, symlink-based deployments of web sites, over SSH or locally.
//!
//! The engine (`engine`) runs the flows on a `transport::Transport` and reports `engine::Event`s; the
//! CLI (`cli`) and the dashboard consume them; `store` keeps the history.

pub mod cli;
pub mod commit;
pub mod config;
pub mod demo;
pub mod deployment_log;
pub mod engine;
pub mod envfile;
pub mod error;
pub mod notify;
pub mod paths;
pub mod permissions;
pub mod redact;
pub mod release;
pub mod release_log;
pub mod shell;
pub mod store;
pub mod transport;
pub mod ui;
pub mod validate;
pub mod visible;
