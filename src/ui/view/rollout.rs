//! The stepped rollout of the selected site's domain in one line, on the log pane's bottom
//! border: the step, what it does (switching, paused for the operator or for how long,
//! reverting), how many servers are live, and the keys that apply (from the keymap).

use crate::engine::events::{RolloutPhase, RolloutState};
use crate::ui::app::App;
use crate::ui::keymap::Layer;
use crate::ui::theme::Theme;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

pub(super) fn draw(f: &mut Frame<'_>, app: &App, theme: &Theme, log: Rect) {
    let Some(site) = app.site() else { return };
    if site.running.is_none() || log.height < 3 || log.width < 12 {
        return;
    }
    let Some(r) = app.rollout_of(&site.domain) else {
        return;
    };
    let live = r
        .servers
        .values()
        .filter(|s| matches!(s, RolloutState::Live | RolloutState::Committed))
        .count();
    // A step's watch counts down with its servers' samples.
    let left = app
        .shown_watches()
        .iter()
        .filter(|(_, w)| w.running())
        .map(|(_, w)| w.left)
        .max();
    let text = match &r.phase {
        None => "building on every server ".to_string(),
        Some(p) => format!(
            "step {}/{} · {} · {live}/{} live ",
            r.step,
            r.steps,
            phase_words(p, left),
            r.servers.len()
        ),
    };
    let mut spans = vec![Span::styled(" rollout ", theme.key()), Span::raw(text)];
    if app.holding_rollout().is_some() {
        for (k, h) in app.keymap.bar_hints(Layer::Holding) {
            spans.push(Span::styled(format!("· {k}"), theme.key()));
            spans.push(Span::raw(format!(" {h} ")));
        }
    }
    let area = Rect {
        x: log.x + 1,
        y: log.y + log.height - 1,
        width: log.width - 2,
        height: 1,
    };
    let style = match r.phase {
        Some(RolloutPhase::Reverting { .. } | RolloutPhase::Reverted { .. }) => theme.error(),
        _ => theme.warn(),
    };
    f.render_widget(Paragraph::new(Line::from(spans)).style(style), area);
}

/// What the rollout does, in a few words.
fn phase_words(p: &RolloutPhase, left: Option<u32>) -> String {
    match p {
        RolloutPhase::Watching { seconds, .. } => {
            format!("watching ({} s left)", left.unwrap_or(*seconds))
        }
        RolloutPhase::Switching { servers } => format!("switching {}", servers.join(", ")),
        RolloutPhase::Switched { .. } => "switched".to_string(),
        RolloutPhase::Paused { pause: None } => "paused (manual)".to_string(),
        RolloutPhase::Paused { pause: Some(d) } => {
            format!("paused ({})", crate::config::Pause::For(*d))
        }
        RolloutPhase::Reverting { .. } => "reverting every server".to_string(),
        RolloutPhase::Reverted { .. } => "reverted".to_string(),
        RolloutPhase::Committing => "committing".to_string(),
    }
}
