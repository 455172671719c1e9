//! A deploy script's output cannot drive the operator's terminal or pass for flipdeck's own lines:
//! control characters are shown as visible escapes in `deploy` and `log`, script lines carry their
//! gutter, and colours pass only with `--script-colors`. Over both transports.

use crate::support::{DOMAIN, Harness};

/// A script that tries it all: a carriage return hiding a fake success line, an OSC 52 clipboard
/// write, a screen clear with colours on stderr, a C1 control and a right-to-left override.
const HOSTILE: &str = r"deployment_script = '''
printf 'fake\rOK  deployed example.test\n'
printf '\033]52;c;cm0gLXJmIH4=\007clip\n'
printf '\033[2J\033[31mred\033[0m\n' >&2
printf 'c1 \302\233 bidi \342\200\256 end\n'
'''";

fn no_control_characters(text: &str) {
    let bad: Vec<char> = text
        .chars()
        .filter(|c| (c.is_control() && *c != '\n' && *c != '\t') || *c == '\u{202e}')
        .collect();
    assert!(
        bad.is_empty(),
        "control characters {bad:?} reached the terminal:\n{text}"
    );
}

fn script_output_is_shown_as_visible_text(h: Harness) {
    h.write_config(HOSTILE);
    let out = h.ok(&["deploy", DOMAIN]);
    no_control_characters(&out);
    assert!(
        out.contains("  | fake\\rOK  deployed example.test"),
        "{out}"
    );
    assert!(out.contains("  | \\e]52;c;cm0gLXJmIH4=\\x07clip"), "{out}");
    assert!(out.contains("  ! \\e[2J\\e[31mred\\e[0m"), "{out}");
    assert!(out.contains("c1 \\x9b bidi \\u{202e} end"), "{out}");
    assert!(
        !out.lines()
            .any(|l| l.starts_with("OK  deployed example.test")),
        "a script line passed for flipdeck's:\n{out}"
    );
    // The stored log, read back, is made visible the same way.
    let id = h.list()[0]["id"].to_string();
    let log = h.ok(&["log", &id]);
    no_control_characters(&log);
    assert!(
        log.contains("\\e]52;c;") && log.contains("fake\\rOK"),
        "{log}"
    );

    // Colours on request; every other sequence is still escaped.
    let out = h.ok(&["--script-colors", "deploy", DOMAIN]);
    assert!(out.contains("\x1b[31mred\x1b[0m"), "{out}");
    assert!(out.contains("\\e[2J") && out.contains("\\e]52;"), "{out}");
    assert!(!out.contains('\r') && !out.contains('\x07'), "{out}");
}

#[test]
fn local_script_output_is_shown_as_visible_text() {
    script_output_is_shown_as_visible_text(Harness::local());
}

#[test]
fn ssh_script_output_is_shown_as_visible_text() {
    if let Some(h) = Harness::ssh() {
        script_output_is_shown_as_visible_text(h);
    }
}
