//! The watch after the switch, beside the log: per server a sparkline of 2xx and of 5xx per
//! second with the current rates, the seconds left, the auto_revert threshold, and the newest
//! lines of the application's log. Drawn from the App's snapshot (`app::watching`).

use super::pane_block;
use crate::ui::app::App;
use crate::ui::theme::Theme;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use std::collections::VecDeque;

const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// The newest `width` values as bars, scaled to the largest of them (all lowest when all 0).
fn sparkline(values: &VecDeque<f64>, width: usize) -> String {
    let shown: Vec<f64> = values
        .iter()
        .skip(values.len().saturating_sub(width))
        .copied()
        .collect();
    let max = shown.iter().copied().fold(0.0, f64::max);
    shown
        .iter()
        .map(|v| match max {
            m if m <= 0.0 => BARS[0],
            m => BARS[((v / m) * (BARS.len() - 1) as f64).round() as usize],
        })
        .collect()
}

/// Whether the pane is shown: the selected site's domain has a watch.
pub(super) fn shown(app: &App) -> bool {
    !app.shown_watches().is_empty()
}

pub(super) fn draw(f: &mut Frame<'_>, app: &App, theme: &Theme, area: Rect) {
    let watches = app.shown_watches();
    let Some((_, first)) = watches.first() else {
        return;
    };
    let after = first
        .after
        .as_ref()
        .map(|a| format!(" after {a}"))
        .unwrap_or_default();
    let title = match &first.ended {
        None => format!(" watch{after} · {} s left ", first.left),
        // A rollout step's watch passing keeps nothing yet: the rollout goes on.
        Some(None) if first.after.is_some() => format!(" watch{after}: passed "),
        Some(None) => " watch ended: kept ".to_string(),
        Some(Some(_)) => " watch ended: reverted ".to_string(),
    };
    let inner_w = area.width.saturating_sub(2) as usize;
    // "web1 5xx 12345/s " before the bars.
    let bars_w = inner_w.saturating_sub(18).max(1);
    let mut lines: Vec<Line<'_>> = Vec::new();
    if let Some(a) = first.auto_revert {
        lines.push(Line::styled(
            format!(
                "auto_revert at {}/s 5xx for {} s",
                a.errors_5xx_per_s, a.for_s
            ),
            theme.dim(),
        ));
    }
    for (key, w) in &watches {
        let server = key.split('/').next().unwrap_or(key);
        let rate = |v: &VecDeque<f64>| v.back().copied().unwrap_or(0.0);
        lines.push(Line::from(vec![
            Span::styled(format!("{server:<5.5} "), theme.key()),
            Span::raw(format!("2xx {:>5.0}/s ", rate(&w.ok_per_s))),
            Span::styled(sparkline(&w.ok_per_s, bars_w), theme.ok()),
        ]));
        let hot = w
            .auto_revert
            .is_some_and(|a| rate(&w.errors_per_s) >= a.errors_5xx_per_s);
        lines.push(Line::from(vec![
            Span::raw("      "),
            Span::styled(
                format!("5xx {:>5.0}/s ", rate(&w.errors_per_s)),
                if hot { theme.error() } else { theme.dim() },
            ),
            Span::styled(sparkline(&w.errors_per_s, bars_w), theme.error()),
        ]));
        match &w.ended {
            Some(Some(why)) => lines.push(Line::styled(why.clone(), theme.error())),
            Some(None) if w.after.is_some() => lines.push(Line::styled("passed", theme.ok())),
            Some(None) => lines.push(Line::styled("kept: the new release stays", theme.ok())),
            None if w.revert_asked => lines.push(Line::styled("reverting…", theme.warn())),
            None => {}
        }
    }
    // The newest application-log lines of the servers, as many as fit.
    let room = (area.height.saturating_sub(2) as usize).saturating_sub(lines.len() + 1);
    if room > 0 {
        let app_lines: Vec<&String> = watches.iter().flat_map(|(_, w)| w.app.iter()).collect();
        lines.push(Line::styled(
            if app_lines.is_empty() {
                "app log: no new lines"
            } else {
                "app log:"
            },
            theme.dim(),
        ));
        for l in app_lines.iter().skip(app_lines.len().saturating_sub(room)) {
            lines.push(Line::raw(l.to_string()));
        }
    }
    let block = pane_block(title, false, theme);
    f.render_widget(Paragraph::new(lines).block(block), area);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparklines_scale_to_their_largest_value() {
        let v: VecDeque<f64> = [0.0, 5.0, 10.0].into_iter().collect();
        assert_eq!(sparkline(&v, 10), "▁▅█");
        assert_eq!(sparkline(&v, 2), "▅█", "the newest that fit");
        let z: VecDeque<f64> = [0.0, 0.0].into_iter().collect();
        assert_eq!(sparkline(&z, 5), "▁▁");
    }
}
