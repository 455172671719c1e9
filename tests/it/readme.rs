//! The README's key table and CLI table must match the real keymap and `--help`.

use std::process::Command;

fn readme() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap()
}

/// The rows of the first table under the heading `## {title}`.
fn table_rows(readme: &str, title: &str) -> Vec<Vec<String>> {
    let start = readme
        .find(&format!("\n## {title}\n"))
        .unwrap_or_else(|| panic!("README has no section {title}"));
    let section = &readme[start + 1..];
    let section = &section[..section[3..].find("\n## ").map_or(section.len(), |i| i + 3)];
    section
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .skip(2)
        .map(|l| {
            l.trim_matches('|')
                .split(" | ")
                .map(|c| c.trim().replace("\\|", "|").trim_matches('`').to_string())
                .collect()
        })
        .collect()
}

#[test]
fn key_table_matches_the_keymap() {
    let rows = table_rows(&readme(), "Key bindings");
    let expected: Vec<Vec<String>> = flipdeck::ui::keymap::help_rows()
        .into_iter()
        .map(|(k, h)| vec![k.to_string(), h])
        .collect();
    assert_eq!(
        rows, expected,
        "regenerate the README's key table from src/ui/keymap.rs"
    );
}

fn help(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_flipdeck"))
        .args(args)
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn cli_table_matches_help() {
    let rows = table_rows(&readme(), "CLI");
    let top = help(&[]);
    let commands: Vec<String> = top
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .map(|l| l.split_whitespace().next().unwrap().to_string())
        .filter(|c| c != "help")
        .collect();
    let documented: Vec<String> = rows
        .iter()
        .map(|r| r[0].split_whitespace().next().unwrap().to_string())
        .collect();
    assert_eq!(
        documented, commands,
        "the CLI table lists exactly the commands, in --help's order"
    );
    for (row, cmd) in rows.iter().zip(&commands) {
        let usage = &row[0];
        let h = help(&[cmd]);
        let usage_line = h.lines().find(|l| l.starts_with("Usage:")).unwrap();
        // Positional arguments: <SITE> in --help is SITE in the README.
        for word in usage_line.split_whitespace().filter(|w| w.starts_with('<')) {
            let name = word.trim_matches(|c| c == '<' || c == '>' || c == '[' || c == ']');
            assert!(usage.contains(name), "README `{usage}` lacks {name}");
        }
        let flags: Vec<&str> = h
            .lines()
            .filter_map(|l| l.split_whitespace().find(|w| w.starts_with("--")))
            // `--watch[=<SECS>]`: an optional value is the flag's business, not a word of its own.
            .map(|w| w.trim_end_matches(',').split("[=").next().unwrap_or(w))
            .filter(|f| {
                ![
                    "--config",
                    "--db",
                    "--script-colors",
                    "--stage",
                    "--ascii",
                    "--help",
                    "--version",
                ]
                .contains(f)
            })
            .collect();
        for f in &flags {
            assert!(usage.contains(f), "README `{usage}` lacks {f}");
        }
        for f in usage
            .split(|c: char| c.is_whitespace() || c == '[' || c == ']' || c == '|')
            .filter(|w| w.starts_with("--"))
        {
            assert!(
                flags.contains(&f),
                "README `{usage}` documents {f}, which `{cmd} --help` does not have"
            );
        }
    }
    // Global options are documented once, on the `flipdeck [...]` line above the table.
    let global = readme()
        .lines()
        .find(|l| l.starts_with("flipdeck [--config"))
        .expect("the usage line")
        .to_string();
    for g in ["--config", "--db", "--script-colors", "--stage", "--ascii"] {
        assert!(global.contains(g), "the usage line `{global}` lacks {g}");
    }
    for code in ["0", "1", "2"] {
        assert!(
            readme().contains(&format!("`{code}`")),
            "exit code {code} documented"
        );
    }
}
