//! Terminal set-up and a restore that runs on every way out: normal exit, error, panic in any
//! thread (via the panic hook), and signals (handled by the event loop, which then exits normally).

use crossterm::event::{DisableMouseCapture, EnableMouseCapture};
use crossterm::execute;
use crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use std::io::{Stdout, stdout};

pub type Term = Terminal<CrosstermBackend<Stdout>>;

/// Restores the terminal when dropped.
pub struct TerminalGuard;

pub fn restore() {
    let _ = disable_raw_mode();
    let _ = execute!(
        stdout(),
        DisableMouseCapture,
        LeaveAlternateScreen,
        crossterm::cursor::Show
    );
}

pub fn setup() -> std::io::Result<(Term, TerminalGuard)> {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore();
        previous(info);
    }));
    enable_raw_mode()?;
    let guard = TerminalGuard;
    execute!(stdout(), EnterAlternateScreen, EnableMouseCapture)?;
    let terminal = Terminal::new(CrosstermBackend::new(stdout()))?;
    Ok((terminal, guard))
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore();
    }
}

/// Takes the terminal back after `restore` (a command ran on it): raw mode, the alternate
/// screen, and the mouse if it was captured.
pub fn resume(mouse: bool) -> std::io::Result<()> {
    enable_raw_mode()?;
    execute!(stdout(), EnterAlternateScreen)?;
    if mouse {
        execute!(stdout(), EnableMouseCapture)?;
    }
    Ok(())
}

/// After the screen was someone else's: clears it and makes the next frame draw every cell
/// (without `Terminal::clear`, which asks the terminal for the cursor position).
pub fn redraw_all(term: &mut Term) -> std::io::Result<()> {
    execute!(
        stdout(),
        crossterm::terminal::Clear(crossterm::terminal::ClearType::All)
    )?;
    term.current_buffer_mut().reset();
    term.flush()?;
    term.swap_buffers();
    Ok(())
}

/// Puts `text` on the terminal's clipboard with OSC 52, which terminals (and tmux with
/// `set-clipboard on`) honour over SSH too. Control characters are left out.
pub fn copy(text: &str) -> std::io::Result<()> {
    use base64::Engine as _;
    use std::io::Write;
    let clean: String = text.chars().filter(|c| !c.is_control()).collect();
    let b64 = base64::engine::general_purpose::STANDARD.encode(clean.as_bytes());
    let mut out = stdout();
    write!(out, "\x1b]52;c;{b64}\x07")?;
    out.flush()
}

/// Captures the mouse (the wheel scrolls the panes), or leaves it to the terminal.
pub fn mouse(capture: bool) -> std::io::Result<()> {
    if capture {
        execute!(stdout(), EnableMouseCapture)
    } else {
        execute!(stdout(), DisableMouseCapture)
    }
}
