//! Text from a server, made safe to put on an operator's terminal. A deploy script's output (and
//! anything quoting it: step names, errors, the stored log) can hold escape sequences that write
//! the clipboard (OSC 52), clear the screen, move the cursor, or a carriage return that hides what
//! came before it on the line. Every control character is shown as a visible escape instead, and
//! so are the Unicode controls that reorder text on screen. The colour sequences (SGR, `ESC [ … m`)
//! can be kept on request, since build tools colour their output.

use std::borrow::Cow;

/// `s` with every control character shown as an escape (`\r`, `\e`, `\x07`, `\u{202e}`), tabs
/// kept. With `keep_colors`, SGR sequences pass through untouched.
pub fn visible(s: &str, keep_colors: bool) -> Cow<'_, str> {
    if !s.chars().any(is_unsafe) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    let mut i = 0;
    while let Some(c) = s[i..].chars().next() {
        if c == '\x1b'
            && keep_colors
            && let Some(n) = sgr_len(&s[i..])
        {
            out.push_str(&s[i..i + n]);
            i += n;
            continue;
        }
        if is_unsafe(c) {
            match c {
                '\r' => out.push_str("\\r"),
                '\n' => out.push_str("\\n"),
                '\x1b' => out.push_str("\\e"),
                c if (c as u32) < 0x100 => out.push_str(&format!("\\x{:02x}", c as u32)),
                c => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            }
        } else {
            out.push(c);
        }
        i += c.len_utf8();
    }
    Cow::Owned(out)
}

/// `visible` for each line of a multi-line text (a table, a log), keeping its newlines.
pub fn visible_lines(s: &str) -> Cow<'_, str> {
    if !s.chars().any(|c| c != '\n' && is_unsafe(c)) {
        return Cow::Borrowed(s);
    }
    Cow::Owned(
        s.split('\n')
            .map(|l| visible(l, false))
            .collect::<Vec<_>>()
            .join("\n"),
    )
}

/// C0 (but tab), DEL and C1 controls, and the bidirectional overrides and isolates.
fn is_unsafe(c: char) -> bool {
    (c.is_control() && c != '\t') || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// The length of the SGR sequence `s` starts with, if it starts with one: `ESC [`, digits and
/// semicolons, `m`.
fn sgr_len(s: &str) -> Option<usize> {
    let rest = s.strip_prefix("\x1b[")?;
    let params = rest
        .bytes()
        .take_while(|b| b.is_ascii_digit() || *b == b';')
        .count();
    (rest.as_bytes().get(params) == Some(&b'm')).then_some(2 + params + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_become_visible_escapes() {
        assert!(matches!(visible("plain text\tok", false), Cow::Borrowed(_)));
        assert_eq!(visible("fake\rOK  deployed", false), "fake\\rOK  deployed");
        assert_eq!(
            visible("\x1b]52;c;cm0gLXJmIH4=\x07", false),
            "\\e]52;c;cm0gLXJmIH4=\\x07"
        );
        assert_eq!(visible("\x1b[2J\x1b[H", false), "\\e[2J\\e[H");
        assert_eq!(visible("c1 \u{9b}31m", false), "c1 \\x9b31m");
        assert_eq!(visible("del\x7f", false), "del\\x7f");
        assert_eq!(visible("abc\u{202e}fed", false), "abc\\u{202e}fed");
        assert_eq!(visible("grüße", false), "grüße");
        assert_eq!(visible_lines("a\nb\rc\n"), "a\nb\\rc\n");
        assert!(matches!(visible_lines("a\nb\n"), Cow::Borrowed(_)));
    }

    #[test]
    fn colours_are_kept_only_on_request() {
        let red = "\x1b[31merror\x1b[0m";
        assert_eq!(visible(red, false), "\\e[31merror\\e[0m");
        assert_eq!(visible(red, true), red);
        // Only SGR: a screen clear is escaped even then.
        assert_eq!(visible("\x1b[1;32mok\x1b[2J", true), "\x1b[1;32mok\\e[2J");
        assert_eq!(visible("\x1b[31", true), "\\e[31");
    }
}
