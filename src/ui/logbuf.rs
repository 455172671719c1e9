//! A bounded log buffer: the dashboard keeps the last `cap` lines of each log in memory; the full
//! log is in the history DB and on the server.

use std::collections::VecDeque;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineKind {
    Out,
    Err,
    Step,
    Notice,
}

#[derive(Debug, Clone)]
pub struct LogBuf {
    lines: VecDeque<(LineKind, String)>,
    cap: usize,
    /// Lines dropped off the front since the start (so a scrolled view can stay put).
    dropped: usize,
}

pub const DEFAULT_CAP: usize = 10_000;

impl LogBuf {
    pub fn new(cap: usize) -> LogBuf {
        LogBuf {
            lines: VecDeque::with_capacity(cap.min(1024)),
            cap: cap.max(1),
            dropped: 0,
        }
    }

    /// Adds a line; its control characters become visible escapes (see `crate::visible`), so a
    /// script's output cannot drive the operator's terminal through the dashboard either.
    pub fn push(&mut self, kind: LineKind, line: String) {
        let line = match crate::visible::visible(&line, false) {
            std::borrow::Cow::Borrowed(_) => line,
            std::borrow::Cow::Owned(safe) => safe,
        };
        if self.lines.len() == self.cap {
            self.lines.pop_front();
            self.dropped += 1;
        }
        self.lines.push_back((kind, line));
    }

    /// Replaces the content with a stored log (step headers recognised).
    pub fn load(&mut self, text: &str) {
        self.lines.clear();
        for l in text.lines() {
            let kind = if l.starts_with("==> ") {
                LineKind::Step
            } else if l.starts_with("flipdeck: ") {
                LineKind::Notice
            } else {
                LineKind::Out
            };
            self.push(kind, l.to_string());
        }
    }

    pub fn len(&self) -> usize {
        self.lines.len()
    }

    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    pub fn dropped(&self) -> usize {
        self.dropped
    }

    /// Lines `start..start+n` (only these are laid out).
    pub fn window(&self, start: usize, n: usize) -> impl Iterator<Item = &(LineKind, String)> {
        self.lines
            .range(start.min(self.lines.len())..(start + n).min(self.lines.len()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_and_windowed() {
        let mut b = LogBuf::new(3);
        for i in 0..5 {
            b.push(LineKind::Out, i.to_string());
        }
        assert_eq!(b.len(), 3);
        assert_eq!(b.dropped(), 2);
        let w: Vec<&str> = b.window(1, 5).map(|(_, l)| l.as_str()).collect();
        assert_eq!(w, ["3", "4"]);
        b.load("==> clone\nhello\nflipdeck: hi\n");
        assert_eq!(b.window(0, 1).next().unwrap().0, LineKind::Step);
    }
}
