//! What goes out, in the deploy and rollback dialogs: the commits (short SHA, author, subject),
//! the files, migrations, lock files and env keys of the engine's diff, cut to the lines the
//! screen leaves (the commit list takes what the rest leaves, "… and N more" when long). A
//! target that lacks migrations the live release has is a warning in the theme's colour, each
//! migration named; what cannot be known says why, in the engine's words.

use crate::commit::short;
use crate::engine::diff::{Commit, Diff};
use crate::ui::app::Outgoing;
use crate::ui::theme::Theme;
use crate::ui::view::cut;
use crate::visible::visible;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};

/// The widest the section makes the dialog (a wide screen does not get 200-column lines).
pub(super) const MAX_WIDTH: usize = 96;

/// A block of lines kept or dropped whole when the screen is short; higher `keep` stays longer.
struct Block {
    keep: u8,
    lines: Vec<Line<'static>>,
    /// A commit count, its list to follow: `Some(true)` the commits taken back.
    list: Option<bool>,
}

/// The section for `o`, in at most `room` lines of at most `width` columns. `rollback`: the
/// commits the live release has and the target lacks are the ones listed first.
pub(super) fn lines(
    o: Option<&Outgoing>,
    rollback: bool,
    theme: &Theme,
    room: usize,
    width: usize,
) -> Vec<Line<'static>> {
    let Some(o) = o else { return vec![] };
    let width = width.clamp(20, MAX_WIDTH);
    let mut blocks = vec![block(0, vec![Line::from("")])];
    let fleet = o.sites.len() > 1;
    let first_site = o.sites.first().map(|(s, _)| s.as_str()).unwrap_or("");
    let mut lists: Option<&Diff> = None;
    match o.first() {
        None => blocks.push(block(
            9,
            vec![Line::from(Span::styled(
                if fleet {
                    format!("reading what goes out to {first_site}…")
                } else {
                    "reading what goes out…".to_string()
                },
                theme.dim(),
            ))],
        )),
        Some(Err(e)) => blocks.push(unknown(e, theme, width)),
        Some(Ok(d)) if !d.known => {
            blocks.push(unknown(d.unknown.as_deref().unwrap_or("?"), theme, width))
        }
        Some(Ok(d)) => {
            known(
                d,
                fleet.then_some(first_site),
                rollback,
                theme,
                width,
                &mut blocks,
            );
            lists = Some(d);
        }
    }
    // The fleet's other servers, one line each.
    let first_live = match o.first() {
        Some(Ok(d)) if d.known => Some(d.live_commit.clone()),
        _ => None,
    };
    for (site, r) in o.sites.iter().skip(1) {
        let text = match r {
            None => format!("  {site}: reading…"),
            Some(Err(e)) => format!("  {site}: cannot be known: {e}"),
            Some(Ok(d)) if !d.known => {
                format!(
                    "  {site}: cannot be known: {}",
                    d.unknown.as_deref().unwrap_or("?")
                )
            }
            Some(Ok(d)) if first_live.as_ref() == Some(&d.live_commit) => {
                format!("  {site}: live at the same commit: the same goes out")
            }
            Some(Ok(d)) => format!(
                "  {site}: live {} differs: {} commit(s) go out, {} taken back, {} file(s)",
                d.live_commit.as_deref().map(short).unwrap_or("(nothing)"),
                d.commits_out_count,
                d.commits_back_count,
                d.files_count
            ),
        };
        blocks.push(block(
            3,
            vec![Line::from(Span::raw(cut(&visible(&text, false), width)))],
        ));
    }
    // Drop the least needed blocks until the rest fits.
    while blocks.iter().map(|b| b.lines.len()).sum::<usize>() > room {
        let Some(i) = (0..blocks.len()).min_by_key(|&i| (blocks[i].keep, usize::MAX - i)) else {
            break;
        };
        blocks.remove(i);
    }
    let used: usize = blocks.iter().map(|b| b.lines.len()).sum();
    let mut out: Vec<Line<'static>> = Vec::new();
    let mut spare = room.saturating_sub(used);
    let mut first_list = true;
    for b in blocks {
        out.extend(b.lines);
        // The commit lists follow their counts, taking the spare lines.
        if let (Some(back), Some(d)) = (b.list, lists) {
            let (list, count) = if back {
                (&d.commits_back, d.commits_back_count)
            } else {
                (&d.commits_out, d.commits_out_count)
            };
            // Both lists: the first one shown gets half of the room.
            let both = d.commits_out_count > 0 && d.commits_back_count > 0;
            let share = if both && first_list {
                spare.div_ceil(2)
            } else {
                spare
            };
            first_list = false;
            let rows = commit_rows(list, count, share, width, theme);
            spare -= rows.len();
            out.extend(rows);
        }
    }
    out
}

fn block(keep: u8, lines: Vec<Line<'static>>) -> Block {
    Block {
        keep,
        lines,
        list: None,
    }
}

/// What cannot be known, and why.
fn unknown(why: &str, theme: &Theme, width: usize) -> Block {
    let why = visible(why, false);
    let text = if why.contains("cannot be known") {
        format!("⚠ {why}")
    } else {
        format!("⚠ What goes out cannot be known: {why}")
    };
    block(
        9,
        wrap(&text, width, 4)
            .into_iter()
            .map(|l| Line::from(Span::styled(l, theme.warn())))
            .collect(),
    )
}

/// The blocks of a known diff, in the order they show.
fn known(
    d: &Diff,
    on: Option<&str>,
    rollback: bool,
    theme: &Theme,
    width: usize,
    blocks: &mut Vec<Block>,
) {
    let live = d
        .live_commit
        .as_deref()
        .map(short)
        .unwrap_or("nothing live");
    let target = d.target_commit.as_deref().map(short).unwrap_or("?");
    let what = if rollback {
        "What the rollback changes on"
    } else {
        "What goes out to"
    };
    let title = match on {
        Some(site) => format!("{what} {site} (live {live} → {target}):"),
        None => format!(
            "{} (live {live} → {target}):",
            what.trim_end_matches(" on").trim_end_matches(" to")
        ),
    };
    blocks.push(block(
        8,
        vec![Line::from(Span::styled(
            cut(&visible(&title, false), width),
            theme.dim(),
        ))],
    ));
    // A rollback to an older release: its schema warning comes first, where the eyes are.
    if !d.migrations_removed.is_empty() {
        let strong = theme.warn().add_modifier(Modifier::BOLD);
        let heading = format!(
            "⚠ The schema is ahead of the code: the target lacks {} migration(s) the live release has:",
            d.migrations_removed.len()
        );
        let mut lines: Vec<Line<'static>> = wrap(&heading, width, 2)
            .into_iter()
            .map(|l| Line::from(Span::styled(l, strong)))
            .collect();
        for m in &d.migrations_removed {
            lines.push(Line::from(Span::styled(
                cut(&format!("    {}", visible(m, false)), width),
                theme.warn(),
            )));
        }
        blocks.push(block(10, lines));
    }
    let nothing = d.commits_out_count == 0 && d.commits_back_count == 0;
    if nothing && d.live_commit.is_some() {
        blocks.push(block(
            7,
            vec![Line::from(
                "  Nothing goes out: the live release is at the target's commit.",
            )],
        ));
    }
    let out = (
        false,
        d.commits_out_count,
        format!("  {} commit(s) go out:", d.commits_out_count),
    );
    let back = (
        true,
        d.commits_back_count,
        format!(
            "  {} commit(s) taken back (the live release has them, the target does not):",
            d.commits_back_count
        ),
    );
    let order = if rollback { [back, out] } else { [out, back] };
    for (is_back, count, text) in order {
        if count > 0 {
            let mut b = block(7, vec![Line::from(cut(&text, width))]);
            b.list = Some(is_back);
            blocks.push(b);
        }
    }
    if d.files_count > 0 {
        let names: Vec<String> = d.files.iter().map(|c| c.path.clone()).collect();
        let label = format!("  {} file(s) changed: ", d.files_count);
        let lines = listed(&label, &names, d.files_count, width, 3);
        blocks.push(block(4, lines.into_iter().map(Line::from).collect()));
    }
    let labelled = |keep: u8, label: &str, items: &[String], style: Style| {
        let label = format!("  {label}: ");
        let lines = listed(&label, items, items.len() as u64, width, 2);
        block(
            keep,
            lines
                .into_iter()
                .map(|l| Line::from(Span::styled(l, style)))
                .collect(),
        )
    };
    if !d.migrations_added.is_empty() {
        blocks.push(labelled(
            6,
            "migrations added",
            &d.migrations_added,
            Style::new(),
        ));
    }
    if !d.migrations_changed.is_empty() {
        blocks.push(labelled(
            6,
            "migrations changed",
            &d.migrations_changed,
            theme.warn(),
        ));
    }
    if !d.lock_files.is_empty() {
        let locks: Vec<String> = d.lock_files.iter().map(|c| c.path.clone()).collect();
        blocks.push(labelled(5, "lock files changed", &locks, Style::new()));
    }
    if !d.env_missing.is_empty() {
        let label = if d.env_file_missing {
            "no shared .env: the target's .env.example asks for"
        } else {
            "env keys the shared .env lacks"
        };
        blocks.push(labelled(6, label, &d.env_missing, theme.warn()));
    }
    // The schema warning is said above, once.
    for w in d
        .warnings
        .iter()
        .filter(|w| !w.contains("the schema is ahead of the code"))
    {
        blocks.push(block(
            6,
            wrap(&format!("⚠ {}", visible(w, false)), width, 3)
                .into_iter()
                .map(|l| Line::from(Span::styled(l, theme.warn())))
                .collect(),
        ));
    }
}

/// Up to `room` lines of commits, the last one "… and N more" when they do not all fit.
fn commit_rows(
    list: &[Commit],
    count: u64,
    room: usize,
    width: usize,
    theme: &Theme,
) -> Vec<Line<'static>> {
    if room == 0 {
        return vec![];
    }
    let all = (count as usize).max(list.len());
    let shown = if all <= room {
        list.len().min(room)
    } else {
        room - 1
    }
    .min(list.len());
    let author_w = list
        .iter()
        .take(shown)
        .map(|c| visible(&c.author, false).chars().count())
        .max()
        .unwrap_or(0)
        .min(16);
    let mut rows: Vec<Line<'static>> = list
        .iter()
        .take(shown)
        .map(|c| {
            let sha = format!("    {} ", visible(&c.sha, false));
            let author = format!("{:<author_w$}  ", cut(&visible(&c.author, false), author_w));
            let rest = width.saturating_sub(sha.chars().count() + author.chars().count());
            Line::from(vec![
                Span::styled(sha, theme.key()),
                Span::styled(author, theme.dim()),
                Span::raw(cut(&visible(&c.subject, false), rest)),
            ])
        })
        .collect();
    let more = count.saturating_sub(shown as u64);
    if more > 0 && rows.len() < room {
        rows.push(Line::from(Span::styled(
            format!("    … and {more} more"),
            theme.dim(),
        )));
    }
    rows
}

/// `label` and as many of `items` as fit in `max` lines of `width` (the next ones indented),
/// then "… and N more" (of `count`).
fn listed(label: &str, items: &[String], count: u64, width: usize, max: usize) -> Vec<String> {
    const INDENT: &str = "      ";
    let len = |s: &str| s.chars().count();
    let prefix = |i: usize| if i == 0 { label } else { INDENT };
    let text = |i: usize, line: &[String]| format!("{}{}", prefix(i), line.join(", "));
    let mut lines: Vec<Vec<String>> = vec![vec![]];
    for item in items {
        let item = visible(item, false).into_owned();
        let i = lines.len() - 1;
        let mut with = lines[i].clone();
        with.push(item.clone());
        // One column kept for the comma that ends a line when the list goes on.
        if len(&text(i, &with)) < width {
            lines[i] = with;
        } else if lines[i].is_empty() {
            lines[i].push(cut(&item, width.saturating_sub(len(prefix(i)) + 1)));
        } else if lines.len() < max {
            let room = width.saturating_sub(INDENT.len() + 1);
            lines.push(vec![cut(&item, room)]);
        } else {
            break;
        }
    }
    let mut shown: u64 = lines.iter().map(|l| l.len() as u64).sum();
    if shown < count {
        // Room on the last line to say how many are left: items go back until it fits.
        let i = lines.len() - 1;
        let tail = |n: u64, empty: bool| format!("{}… and {n} more", if empty { "" } else { ", " });
        while len(&text(i, &lines[i])) + len(&tail(count - shown, lines[i].is_empty())) > width
            && !lines[i].is_empty()
        {
            if lines[i].len() == 1 {
                let room = width
                    .saturating_sub(len(prefix(i)) + len(&tail(count - shown, false)))
                    .max(1);
                if len(&lines[i][0]) <= room || room < 4 {
                    lines[i].pop();
                    shown -= 1;
                } else {
                    lines[i][0] = cut(&lines[i][0], room);
                }
            } else {
                lines[i].pop();
                shown -= 1;
            }
        }
        let t = tail(count - shown, lines[i].is_empty());
        lines[i].push(String::new());
        let last = lines[i].len() - 1;
        lines[i][last] = t;
    }
    let n = lines.len();
    lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let mut t = prefix(i).to_string();
            for (j, item) in l.iter().enumerate() {
                // The "… and N more" brings its own separator.
                if j > 0 && !item.starts_with(", …") {
                    t.push_str(", ");
                }
                t.push_str(item);
            }
            if i + 1 < n {
                t.push(',');
            }
            cut(&t, width)
        })
        .collect()
}

/// `text` in at most `max` lines of `width` (the last cut), broken between words.
fn wrap(text: &str, width: usize, max: usize) -> Vec<String> {
    let mut lines = super::wrap_words(text, width);
    if lines.len() > max {
        let rest = lines.split_off(max - 1).join(" ");
        lines.push(cut(&rest, width));
    }
    lines.into_iter().map(|l| cut(&l, width)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ui::view::cut;

    #[test]
    fn lists_fill_their_lines_and_count_the_rest() {
        let items: Vec<String> = ["a.php", "b.php", "c.php"].map(String::from).into();
        assert_eq!(
            listed("  x: ", &items, 3, 80, 1),
            ["  x: a.php, b.php, c.php"]
        );
        assert_eq!(
            listed("  x: ", &items, 5, 80, 1),
            ["  x: a.php, b.php, c.php, … and 2 more"]
        );
        assert_eq!(
            listed("  x: ", &items, 3, 18, 2),
            ["  x: a.php, b.php,", "      c.php"]
        );
        for w in 10..40 {
            for max in 1..4 {
                let l = listed("  files: ", &items, 9, w, max);
                assert!(l.len() <= max, "{l:?}");
                assert!(l.iter().all(|l| l.chars().count() <= w), "{w}: {l:?}");
            }
        }
        let one = listed("  x: ", &items, 9, 26, 1);
        assert_eq!(one, ["  x: a.php, … and 8 more"]);
        let long = vec!["x".repeat(100)];
        assert!(listed("  x: ", &long, 1, 30, 2)[0].chars().count() <= 30);
        assert_eq!(cut("abcdef", 4), "abc…");
        assert_eq!(
            wrap("one two three four five", 9, 2),
            ["one two", "three fo…"]
        );
    }
}
