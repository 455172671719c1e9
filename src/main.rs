//! The binary's edge: color-eyre's panic hook, then the CLI. Inside the library errors are typed
//! (`flipdeck::error::Error`); only here do they become words for a person.

use color_eyre::config::{HookBuilder, Theme};
use std::io::IsTerminal;

fn main() {
    install_hooks();
    let code = match flipdeck::cli::main() {
        Ok(code) => code,
        Err(e) => {
            let code = e.exit_code();
            report(e);
            code
        }
    };
    std::process::exit(code);
}

/// color-eyre's panic report (a panic is a bug: its location and backtrace hints are for the bug
/// report), coloured only on a terminal and without `NO_COLOR`. The dashboard puts its terminal
/// restore in front of the hook installed here.
fn install_hooks() {
    let plain = std::env::var_os("NO_COLOR").is_some() || !std::io::stderr().is_terminal();
    let builder = HookBuilder::default();
    let builder = if plain {
        builder.theme(Theme::new())
    } else {
        builder
    };
    // Installing can only fail if a hook is already set, which nothing before main does.
    let _ = builder.install();
}

/// The error once, on one line, and the command that gets past it on the next where there is one.
/// (color-eyre's own report frames a message over several numbered lines; an operator's error is
/// one sentence, which the tests hold flipdeck to, so the panic hook is color-eyre's and this is
/// not.)
fn report(e: flipdeck::error::Error) {
    // Errors quote the server (a lock holder, a script's last words): shown as visible text.
    let visible = |s: &str| flipdeck::visible::visible(s, false).into_owned();
    eprintln!("flipdeck: {}", visible(&e.to_string()));
    if let Some(s) = e.suggestion() {
        eprintln!("suggestion: {}", visible(&s));
    }
}
