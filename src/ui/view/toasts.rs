//! Toasts stack in the top-right corner of the area they are given (the log pane): never over
//! the table's newest rows. What does not fit is left out until older ones fade.

use crate::ui::app::App;
use crate::ui::theme::Theme;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

pub(super) fn draw(f: &mut Frame<'_>, app: &App, theme: &Theme, area: Rect) {
    let mut y = area.y + 1;
    for t in app.toasts.iter().rev() {
        let w = (t.text.chars().count() as u16 + 4)
            .min(area.width.saturating_sub(2))
            .max(10);
        let lines = (t.text.chars().count() as u16)
            .div_ceil(w.saturating_sub(4).max(1))
            .max(1);
        let h = lines + 2;
        if y + h > area.bottom() {
            break;
        }
        let rect = Rect::new(area.right().saturating_sub(w + 1), y, w, h);
        y += h;
        let style = if t.error { theme.error() } else { theme.ok() };
        let block = Block::default().borders(Borders::ALL).border_style(style);
        f.render_widget(Clear, rect);
        f.render_widget(
            Paragraph::new(t.text.as_str())
                .wrap(Wrap { trim: true })
                .block(block),
            rect,
        );
    }
}
