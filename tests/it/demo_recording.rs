//! The README's animation (`assets/demo.cast` and `assets/demo.svg`, made by
//! `scripts/record-demo.py` from the real binary replaying `demo.tape`) must show what the tape
//! expects, in the tape's order. `demo_tape` checks the tape against the current binary, so a UI
//! change that the recording does not show fails here until the recording is made again.

use serde_json::Value;

fn read(path: &str) -> String {
    std::fs::read_to_string(format!("{}/{path}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// The text of each frame of the cast, colours removed.
fn frames() -> Vec<String> {
    let sgr = regex::Regex::new("\x1b\\[[0-9;?]*[A-Za-z]").unwrap();
    read("assets/demo.cast")
        .lines()
        .skip(1)
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            sgr.replace_all(v[2].as_str().unwrap(), "").into_owned()
        })
        .collect()
}

#[test]
fn the_recording_shows_what_the_tape_expects_in_order() {
    let frames = frames();
    assert!(frames.len() > 10, "a moving picture");
    let header: Value =
        serde_json::from_str(read("assets/demo.cast").lines().next().unwrap()).unwrap();
    assert_eq!(header["version"], 2);
    let svg = read("assets/demo.svg");
    let mut at = 0;
    for line in read("demo.tape").lines() {
        let Some(want) = line.trim().strip_prefix("# expect:") else {
            continue;
        };
        let want = want.trim();
        let found = frames[at..].iter().position(|f| f.contains(want));
        let Some(i) = found else {
            panic!(
                "the recording does not show {want:?} after frame {at}: run scripts/record-demo.py"
            );
        };
        at += i;
        let escaped = want
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;");
        // The SVG keeps each run of one style as one text element; the words are all there.
        for word in escaped.split_whitespace() {
            assert!(
                svg.contains(word),
                "assets/demo.svg lacks {word:?}: run scripts/record-demo.py"
            );
        }
    }
    assert!(svg.contains("@keyframes"), "animated");
}
