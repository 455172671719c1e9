//! Replays `demo.tape` against the real binary in a real terminal (tmux): every `Type`, key and
//! `Sleep` is sent as written, and after each `# expect:` the screen must show that text.

use crate::support::tmux::{self, Tmux};
use std::time::Duration;

#[derive(Debug, PartialEq)]
enum Step {
    Type(String),
    Key(&'static str, usize),
    Sleep(Duration),
    Expect(String),
    ExpectExit,
}

fn tmux_key(name: &str) -> Option<&'static str> {
    Some(match name {
        "Enter" => "Enter",
        "Tab" => "Tab",
        "Escape" => "Escape",
        "Up" => "Up",
        "Down" => "Down",
        "Left" => "Left",
        "Right" => "Right",
        "Backspace" => "BSpace",
        "Space" => "Space",
        "PageUp" => "PageUp",
        "PageDown" => "PageDown",
        "Ctrl+C" => "C-c",
        _ => return None,
    })
}

fn duration(s: &str) -> Duration {
    if let Some(ms) = s.strip_suffix("ms") {
        Duration::from_millis(ms.parse().unwrap())
    } else if let Some(sec) = s.strip_suffix('s') {
        Duration::from_secs_f64(sec.parse().unwrap())
    } else {
        Duration::from_secs_f64(s.parse().unwrap())
    }
}

/// The tape's commands, failing on anything this replay would not understand.
fn parse(tape: &str) -> Vec<Step> {
    let mut steps = Vec::new();
    for (n, raw) in tape.lines().enumerate() {
        let line = raw.trim();
        if let Some(text) = line.strip_prefix("# expect:") {
            steps.push(Step::Expect(text.trim().to_string()));
            continue;
        }
        if line == "# expect-exit" {
            steps.push(Step::ExpectExit);
            continue;
        }
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (cmd, rest) = line.split_once(' ').unwrap_or((line, ""));
        let cmd = cmd.split('@').next().unwrap();
        match cmd {
            "Output" | "Set" | "Require" | "Hide" | "Show" | "Screenshot" => {}
            "Type" => {
                let text = rest
                    .trim()
                    .strip_prefix('"')
                    .and_then(|r| r.strip_suffix('"'))
                    .unwrap_or_else(|| panic!("line {}: Type needs a quoted string", n + 1));
                steps.push(Step::Type(text.to_string()));
            }
            "Sleep" => steps.push(Step::Sleep(duration(rest.trim()))),
            other => {
                let key = tmux_key(other)
                    .unwrap_or_else(|| panic!("line {}: unknown tape command {other:?}", n + 1));
                let count = rest.trim().parse().unwrap_or(1);
                steps.push(Step::Key(key, count));
            }
        }
    }
    steps
}

#[test]
fn the_parser_reads_vhs_commands() {
    let steps = parse(
        "Output x.gif\nSet FontSize 14\nType \"flipdeck demo\"\nEnter\nDown 3\nSleep 500ms\n# a comment\n# expect: hi there\n# expect-exit\n",
    );
    assert_eq!(
        steps,
        vec![
            Step::Type("flipdeck demo".into()),
            Step::Key("Enter", 1),
            Step::Key("Down", 3),
            Step::Sleep(Duration::from_millis(500)),
            Step::Expect("hi there".into()),
            Step::ExpectExit,
        ]
    );
}

#[test]
fn demo_tape_replays_against_the_real_binary() {
    if !tmux::available() {
        return;
    }
    let tape = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/demo.tape")).unwrap();
    let steps = parse(&tape);
    assert!(
        steps
            .iter()
            .filter(|s| matches!(s, Step::Expect(_)))
            .count()
            >= 8,
        "the tape checks what it shows"
    );
    let home = tempfile::tempdir().unwrap();
    let bin_dir = std::path::Path::new(env!("CARGO_BIN_EXE_flipdeck"))
        .parent()
        .unwrap()
        .to_path_buf();
    // A shell like the one VHS records in: flipdeck on PATH, no config (so the demo is all there is).
    let cmd = format!(
        "env PATH='{}':\"$PATH\" HOME='{h}' XDG_CONFIG_HOME='{h}/config' XDG_DATA_HOME='{h}/data' TMPDIR='{h}' PS1='$ ' sh",
        bin_dir.display(),
        h = home.path().display()
    );
    let t = Tmux::start(&cmd, 120, 36);
    let wait = Duration::from_secs(30);
    for step in &steps {
        match step {
            Step::Type(text) => t.keys(&["-l", text]),
            Step::Key(k, n) => {
                for _ in 0..*n {
                    t.keys(&[k]);
                }
            }
            Step::Sleep(d) => std::thread::sleep(*d),
            Step::Expect(text) => {
                t.wait_for(text, wait);
            }
            Step::ExpectExit => {
                let deadline = std::time::Instant::now() + wait;
                while t.screen().contains("Servers") {
                    assert!(
                        std::time::Instant::now() < deadline,
                        "flipdeck did not exit:\n{}",
                        t.screen()
                    );
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
        }
    }
    // The demo removed its sandbox on exit.
    let left: Vec<_> = std::fs::read_dir(home.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .filter(|n| n.to_string_lossy().starts_with("flipdeck-demo-"))
        .collect();
    assert!(left.is_empty(), "sandbox left behind: {left:?}");
}
