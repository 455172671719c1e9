//! Where everything goes on the screen, as one function of the frame's size. Drawing lays the
//! screen out with it, and the state is told the same geometry before each frame (the mouse finds
//! a pane by where it is; a page in the log is the log's height).

use ratatui::layout::{Constraint, Layout, Rect};

/// The frame's three rows.
#[derive(Debug, Clone, Copy)]
pub struct Screen {
    pub header: Rect,
    /// The panes, or the welcome text when no site is configured.
    pub body: Rect,
    pub status_bar: Rect,
}

/// Where each pane is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Areas {
    pub tree: Rect,
    pub table: Rect,
    pub log: Rect,
}

pub fn screen(area: Rect) -> Screen {
    let rows = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(3),
        Constraint::Length(1),
    ])
    .split(area);
    Screen {
        header: rows[0],
        body: rows[1],
        status_bar: rows[2],
    }
}

/// The tree on the left; the table above the log on the right.
pub fn panes(body: Rect) -> Areas {
    let tree_w = (body.width / 4).clamp(22, 40);
    let cols = Layout::horizontal([Constraint::Length(tree_w), Constraint::Min(20)]).split(body);
    let right =
        Layout::vertical([Constraint::Percentage(45), Constraint::Percentage(55)]).split(cols[1]);
    Areas {
        tree: cols[0],
        table: right[0],
        log: right[1],
    }
}

/// How many log lines fit in the log pane (inside its border).
pub fn log_lines(log: Rect) -> usize {
    log.height.saturating_sub(2) as usize
}
