//! What the screen shows when no site is configured: where the config is read from, and how to
//! write one.

use crate::ui::app::App;
use crate::ui::theme::Theme;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};

pub(super) fn draw(f: &mut Frame<'_>, app: &App, theme: &Theme, area: Rect) {
    let text = vec![
        Line::from(Span::styled(
            "No sites configured yet.",
            Style::new().add_modifier(Modifier::BOLD),
        )),
        Line::from(""),
        Line::from(format!(
            "flipdeck reads its config from {}",
            app.config_path
        )),
        Line::from(""),
        Line::from("Create it with `flipdeck init` (a commented example), or write one like:"),
        Line::from(""),
        Line::from(Span::styled("  [[servers]]", theme.dim())),
        Line::from(Span::styled("  name = \"web1\"", theme.dim())),
        Line::from(Span::styled("  host = \"web1.example.com\"", theme.dim())),
        Line::from(Span::styled("  [[servers.sites]]", theme.dim())),
        Line::from(Span::styled("  domain = \"example.com\"", theme.dim())),
        Line::from(Span::styled(
            "  repository = \"git@github.com:acme/example.git\"",
            theme.dim(),
        )),
        Line::from(""),
        Line::from("Or try `flipdeck demo` for a sandbox with sample sites."),
    ];
    let block = Block::default()
        .borders(Borders::ALL)
        .title(" Welcome ")
        .border_style(theme.border());
    f.render_widget(
        Paragraph::new(text).block(block).wrap(Wrap { trim: false }),
        area,
    );
}
