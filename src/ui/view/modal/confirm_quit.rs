//! Asks before quitting while jobs run, and says what quitting does to them.

use super::Dialog;
use ratatui::text::Line;

pub(super) fn dialog(running: usize) -> Dialog<'static> {
    if running == 0 {
        return Dialog {
            title: " Quit? ",
            body: vec![Line::from("No job is running any more: nothing to cancel.")],
            confirm: Some("Quit"),
            outgoing: None,
        };
    }
    Dialog {
        title: " Quit? ",
        body: vec![
            Line::from(format!("{running} job(s) still running.")),
            Line::from("Quitting cancels them cleanly: the lock is released and"),
            Line::from("the deployment is recorded failed (\"cancelled\")."),
        ],
        confirm: Some("Quit"),
        outgoing: None,
    }
}
