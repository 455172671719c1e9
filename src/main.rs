//! The binary's edge: color-eyre's reports and panic hook, then the CLI. Inside the library errors
//! are typed (`flipdeck::error::Error`); only here do they become a report for a person.

use color_eyre::Section;
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

/// Reports without source locations or environment hints (they speak to developers, not to the
/// person running a deploy), coloured only on a terminal and without `NO_COLOR`. The dashboard
/// puts its terminal restore in front of the panic hook installed here.
fn install_hooks() {
    if std::env::var_os("RUST_LIB_BACKTRACE").is_none() {
        // A failed deploy is not a bug: its report gets no backtrace, even with RUST_BACKTRACE
        // set (panics keep theirs). Set before any thread starts, so nothing reads it meanwhile.
        // SAFETY: single-threaded here, first thing in main.
        unsafe { std::env::set_var("RUST_LIB_BACKTRACE", "0") };
    }
    let plain = std::env::var_os("NO_COLOR").is_some() || !std::io::stderr().is_terminal();
    let builder = HookBuilder::default()
        .display_location_section(false)
        .display_env_section(false);
    let builder = if plain {
        builder.theme(Theme::new())
    } else {
        builder
    };
    // Installing can only fail if a hook is already set, which nothing before main does.
    let _ = builder.install();
}

/// The error once, and the command that gets past it where there is one.
fn report(e: flipdeck::error::Error) {
    let suggestion = e.suggestion();
    let mut report = color_eyre::eyre::Report::msg(e.to_string());
    if let Some(s) = suggestion {
        report = report.suggestion(s);
    }
    eprintln!("Error: {report:?}");
}
