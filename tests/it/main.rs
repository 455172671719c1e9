//! Every integration test, in one binary so CI links the library once. Each module is one
//! area; `support` holds the harness they share (real git, sshd, tmux, nginx and PHP-FPM).

mod dashboard;
mod dashboard_e2e;
mod dashboard_live;
mod dashboard_world;
mod demo_recording;
mod demo_tape;
mod deploy_script;
mod doctor;
mod fault_matrix;
mod faults;
mod fleet;
mod flows;
mod hostile_trees;
mod layout;
mod limits;
mod messages;
mod operators;
mod permissions;
mod pool;
mod properties;
mod reach;
mod readme;
mod real_app;
mod redaction;
mod release_log;
mod repo_cache;
mod round_trips;
mod shared_links;
mod sources;
mod ssh_cli;
mod ssh_target;
mod support;
mod terminal_safety;
mod toolbox;
mod web;
