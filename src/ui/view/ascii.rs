//! ASCII mode (no UTF-8 locale, or `--ascii`): the drawn frame folded to ASCII, cell by cell, so
//! borders, symbols and whatever else is on screen stay readable on a terminal that would show
//! `lqqk` and `_` for them. Box drawing becomes `+`, `-`, `|`; states keep a distinct mark.

use ratatui::buffer::Buffer;

/// Every cell of `buf` in ASCII.
pub(super) fn fold(buf: &mut Buffer) {
    for cell in buf.content.iter_mut() {
        let sym = cell.symbol();
        if sym.is_ascii() {
            continue;
        }
        let c = sym.chars().next().unwrap_or(' ');
        cell.set_symbol(one(c));
    }
}

/// The ASCII stand-in of one character.
fn one(c: char) -> &'static str {
    match c {
        '─' | '━' | '═' | '╌' => "-",
        '│' | '┃' | '║' | '▏' | '▕' => "|",
        '┌' | '┐' | '└' | '┘' | '├' | '┤' | '┬' | '┴' | '┼' | '╭' | '╮' | '╰' | '╯' => {
            "+"
        }
        '✓' => "+",
        '✗' => "x",
        '●' => "*",
        '…' => ".",
        '▾' => "v",
        '›' => ">",
        '→' => ">",
        '←' => "<",
        '↑' => "^",
        '↓' => "v",
        '·' => ".",
        '—' | '–' => "-",
        '◌' => "o",
        '⚠' => "!",
        // The spinner's braille frames: a turning bar.
        '⠋' | '⠸' | '⠦' => "|",
        '⠙' | '⠼' | '⠧' => "/",
        '⠹' | '⠴' | '⠇' | '⠏' => "-",
        _ => "?",
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_symbol_the_dashboard_draws_has_a_readable_stand_in() {
        for c in "─│┌┐└┘✓✗●…▾›→↑↓·—◌⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏".chars()
        {
            assert_ne!(super::one(c), "?", "{c}");
        }
    }
}
