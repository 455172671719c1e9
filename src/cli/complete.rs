//! Shell completion and the man page. `flipdeck completions SHELL` prints a script that calls
//! flipdeck back at every TAB (clap_complete's dynamic engine, activated by `FLIPDECK_COMPLETE`),
//! so subcommands and flags always match the binary, and SITE, SERVER and `--stage` complete
//! from the config: the one named by `--config` on the line being completed, else
//! `$FLIPDECK_CONFIG`, else the default path. A config that cannot be read completes nothing.

use super::args::{Cli, Shell};
use crate::error::{Error, Result};
use clap::CommandFactory;
use clap_complete::env::EnvCompleter;
use std::path::{Path, PathBuf};

/// The environment variable that turns a run of flipdeck into a completion request.
pub const COMPLETE_ENV: &str = "FLIPDECK_COMPLETE";

/// Answers a completion request (and exits) when the shell's script called us; else returns.
pub fn answer_if_asked() {
    clap_complete::CompleteEnv::with_factory(Cli::command)
        .var(COMPLETE_ENV)
        .complete();
}

/// The script that registers flipdeck's completion with `shell`, calling `flipdeck` from `PATH`.
pub fn script(shell: Shell) -> Result<String> {
    let mut out = Vec::new();
    let completer: &dyn EnvCompleter = match shell {
        Shell::Bash => &clap_complete::env::Bash,
        Shell::Zsh => &clap_complete::env::Zsh,
        Shell::Fish => &clap_complete::env::Fish,
    };
    completer
        .write_registration(COMPLETE_ENV, "flipdeck", "flipdeck", "flipdeck", &mut out)
        .map_err(|e| Error::failed(format!("cannot write the completion script: {e}")))?;
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// `flipdeck man`: writes `flipdeck.1` (the top page, every subcommand in it) into `dir`.
pub fn write_man(dir: &Path) -> Result<PathBuf> {
    let cmd = Cli::command();
    let mut page = Vec::new();
    let man = clap_mangen::Man::new(cmd.clone());
    let io = |e: std::io::Error| Error::failed(format!("cannot render the man page: {e}"));
    man.render_title(&mut page).map_err(io)?;
    man.render_name_section(&mut page).map_err(io)?;
    man.render_synopsis_section(&mut page).map_err(io)?;
    man.render_description_section(&mut page).map_err(io)?;
    man.render_options_section(&mut page).map_err(io)?;
    // One section with every subcommand, its usage, its words and its options, so the single
    // page is the whole reference.
    page.extend_from_slice(b".SH COMMANDS\n");
    for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
        let usage = sub
            .clone()
            .bin_name(format!("flipdeck {}", sub.get_name()))
            .render_usage()
            .to_string();
        let usage = usage.trim_start_matches("Usage: ");
        page.extend_from_slice(format!(".TP\n\\fB{}\\fR\n", roff_escape(usage)).as_bytes());
        if let Some(about) = sub.get_about() {
            page.extend_from_slice(format!("{}\n", roff_escape(&about.to_string())).as_bytes());
        }
        for arg in sub.get_arguments().filter(|a| !a.is_global_set()) {
            let Some(help) = arg.get_help() else { continue };
            let name = match arg.get_long() {
                Some(l) => format!("--{l}"),
                None => arg.get_id().as_str().to_uppercase(),
            };
            page.extend_from_slice(
                format!(
                    ".RS\n.TP\n\\fB{}\\fR\n{}\n.RE\n",
                    roff_escape(&name),
                    roff_escape(&help.to_string())
                )
                .as_bytes(),
            );
        }
    }
    man.render_extra_section(&mut page).map_err(io)?;
    man.render_version_section(&mut page).map_err(io)?;
    std::fs::create_dir_all(dir)
        .map_err(|e| Error::failed(format!("cannot create {}: {e}", dir.display())))?;
    let path = dir.join("flipdeck.1");
    std::fs::write(&path, page)
        .map_err(|e| Error::failed(format!("cannot write {}: {e}", path.display())))?;
    Ok(path)
}

/// Text safe in a roff paragraph: backslashes doubled, a leading `.` or `'` escaped, `-` as a
/// minus (so options can be searched and copied).
fn roff_escape(s: &str) -> String {
    let s = s.replace('\\', "\\\\").replace('-', "\\-");
    let s = s.replace("\n.", "\n\\&.").replace("\n'", "\n\\&'");
    if s.starts_with('.') || s.starts_with('\'') {
        format!("\\&{s}")
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roff_escapes_what_roff_would_read() {
        assert_eq!(roff_escape("--json"), "\\-\\-json");
        assert_eq!(roff_escape(".x"), "\\&.x");
        assert_eq!(roff_escape("a\\b"), "a\\\\b");
    }

    #[test]
    fn every_shell_has_a_script_calling_flipdeck() {
        for sh in [Shell::Bash, Shell::Zsh, Shell::Fish] {
            let s = script(sh).unwrap();
            assert!(s.contains(COMPLETE_ENV), "{sh:?}: {s}");
            assert!(s.contains("flipdeck"), "{sh:?}");
        }
    }
}
