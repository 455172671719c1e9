//! A fleet's stepped rollout (`rollout = { canary = 1, batches = ["50%", "100%"], pause = "manual" }`
//! on the site, or `deploy --canary --batch --pause`): how many servers switch in each step and
//! how long the rollout waits between steps. The same words are read from the config and from
//! the command line, so both say the same things wrong the same way.

use std::time::Duration;

/// How far a rollout has got after one step: a share of the fleet or a number of servers,
/// counted from the start (cumulative).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// `"50%"`: at least this share of all servers switched by the end of the step (rounded up).
    Percent(u32),
    /// `3`: this many servers switched by the end of the step.
    Count(usize),
}

impl Reach {
    /// How many servers of a fleet of `n` this reaches.
    pub fn of(self, n: usize) -> usize {
        match self {
            Reach::Percent(p) => (n * p as usize).div_ceil(100),
            Reach::Count(c) => c,
        }
    }

    /// `"50%"` or `"3"`.
    pub fn parse(text: &str) -> Result<Reach, String> {
        let t = text.trim();
        let bad = || {
            format!(
                "{text:?} is not a batch: write a share of the fleet (\"50%\") or a number of servers (3)"
            )
        };
        if let Some(p) = t.strip_suffix('%') {
            let p: u32 = p.trim().parse().map_err(|_| bad())?;
            if !(1..=100).contains(&p) {
                return Err(format!("{text:?}: a share must be from 1% to 100%"));
            }
            return Ok(Reach::Percent(p));
        }
        match t.parse::<usize>() {
            Ok(0) => Err(format!("{text:?}: a batch must reach at least one server")),
            Ok(c) => Ok(Reach::Count(c)),
            Err(_) => Err(bad()),
        }
    }
}

impl std::fmt::Display for Reach {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reach::Percent(p) => write!(f, "{p}%"),
            Reach::Count(c) => write!(f, "{c}"),
        }
    }
}

/// What the rollout does between two steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pause {
    /// Wait for the operator (the dashboard's `n`/`a`, Enter/`a` on the CLI's terminal).
    Manual,
    /// Wait this long, then go on (the operator may still go on earlier or revert).
    For(Duration),
}

impl Pause {
    /// `"manual"`, or a duration: `"30s"`, `"2m"`, `"500ms"`, `"0s"` (no pause).
    pub fn parse(text: &str) -> Result<Pause, String> {
        let t = text.trim();
        if t == "manual" {
            return Ok(Pause::Manual);
        }
        let bad = || {
            format!(
                "{text:?} is not a pause: write \"manual\" or a duration such as \"30s\", \"2m\" or \"500ms\""
            )
        };
        let (num, unit) = t
            .find(|c: char| !c.is_ascii_digit())
            .map(|i| t.split_at(i))
            .ok_or_else(bad)?;
        let n: u64 = num.parse().map_err(|_| bad())?;
        let d = match unit {
            "ms" => Duration::from_millis(n),
            "s" => Duration::from_secs(n),
            "m" => Duration::from_secs(n.checked_mul(60).ok_or_else(bad)?),
            "h" => Duration::from_secs(n.checked_mul(3600).ok_or_else(bad)?),
            _ => return Err(bad()),
        };
        if d > Duration::from_secs(24 * 3600) {
            return Err(format!("{text:?}: a pause is at most 24h"));
        }
        Ok(Pause::For(d))
    }
}

impl std::fmt::Display for Pause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Pause::Manual => write!(f, "manual"),
            Pause::For(d) if d.subsec_millis() != 0 || d.as_secs() == 0 && !d.is_zero() => {
                write!(f, "{}ms", d.as_millis())
            }
            Pause::For(d) => write!(f, "{}s", d.as_secs()),
        }
    }
}

/// A rollout as configured: the canary count, the cumulative batches after it, and the pause
/// before each step after the first (one for all, or one each).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rollout {
    pub canary: usize,
    pub batches: Vec<Reach>,
    pub pauses: Pauses,
}

/// `pause = "30s"` (the same between every two steps) or `pause = ["manual", "30s"]` (one per
/// wait, in order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pauses {
    Every(Pause),
    Each(Vec<Pause>),
}

impl Rollout {
    /// Checks the rollout against itself and a fleet of `n` servers: the cumulative servers
    /// switched after each step (never empty steps), or why it cannot run there.
    pub fn steps(&self, n: usize) -> Result<Vec<usize>, String> {
        if n < 2 {
            return Err(format!(
                "a stepped rollout needs a fleet: the domain is on {n} server"
            ));
        }
        if self.canary >= n {
            return Err(format!(
                "canary = {} must be smaller than the fleet ({n} servers), so that a batch follows it",
                self.canary
            ));
        }
        if self.batches.is_empty() {
            return Err("batches cannot be empty: the last one must be \"100%\"".into());
        }
        let mut steps = Vec::new();
        if self.canary > 0 {
            steps.push(self.canary);
        }
        let mut last = self.canary;
        for (i, b) in self.batches.iter().enumerate() {
            let reach = b.of(n);
            if reach > n {
                return Err(format!(
                    "batch {b} reaches {reach} servers; the fleet has {n}"
                ));
            }
            if reach <= last {
                return Err(format!(
                    "batch {} ({b}) switches no server more than the step before it ({last} of {n}): batches count from the start and must grow",
                    i + 1
                ));
            }
            steps.push(reach);
            last = reach;
        }
        if last != n {
            let b = self.batches.last().expect("not empty");
            return Err(format!(
                "the last batch ({b}) reaches {last} of {n} servers; it must reach every server (\"100%\")"
            ));
        }
        if let Pauses::Each(list) = &self.pauses
            && list.len() != steps.len() - 1
        {
            return Err(format!(
                "pause lists {} pauses; this rollout waits {} times (once before each step after the first)",
                list.len(),
                steps.len() - 1
            ));
        }
        Ok(steps)
    }

    /// The wait before step `k` (0-based, `k` ≥ 1).
    pub fn pause_before(&self, k: usize) -> Pause {
        match &self.pauses {
            Pauses::Every(p) => *p,
            Pauses::Each(list) => list
                .get(k - 1)
                .copied()
                .unwrap_or(Pause::For(Duration::ZERO)),
        }
    }

    /// Whether some wait is for the operator.
    pub fn any_manual(&self) -> bool {
        match &self.pauses {
            Pauses::Every(p) => *p == Pause::Manual,
            Pauses::Each(list) => list.contains(&Pause::Manual),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(canary: usize, batches: &[&str], pause: &str) -> Rollout {
        Rollout {
            canary,
            batches: batches.iter().map(|b| Reach::parse(b).unwrap()).collect(),
            pauses: Pauses::Every(Pause::parse(pause).unwrap()),
        }
    }

    #[test]
    fn steps_are_cumulative_and_checked() {
        assert_eq!(r(1, &["50%", "100%"], "manual").steps(4), Ok(vec![1, 2, 4]));
        assert_eq!(r(1, &["3", "100%"], "1s").steps(10), Ok(vec![1, 3, 10]));
        assert_eq!(r(0, &["50%", "100%"], "1s").steps(3), Ok(vec![2, 3]));
        assert_eq!(r(2, &["100%"], "1s").steps(5), Ok(vec![2, 5]));
        let e = r(1, &["50%", "100%"], "1s").steps(2).unwrap_err();
        assert!(e.contains("must grow"), "{e}");
        let e = r(1, &["50%"], "1s").steps(4).unwrap_err();
        assert!(e.contains("must reach every server"), "{e}");
        let e = r(4, &["100%"], "1s").steps(4).unwrap_err();
        assert!(e.contains("smaller than the fleet"), "{e}");
        let e = r(1, &["5"], "1s").steps(4).unwrap_err();
        assert!(e.contains("the fleet has 4"), "{e}");
        assert!(r(1, &["100%"], "1s").steps(1).is_err());
        let each = Rollout {
            pauses: Pauses::Each(vec![Pause::Manual]),
            ..r(1, &["50%", "100%"], "1s")
        };
        assert!(each.steps(4).unwrap_err().contains("waits 2 times"));
    }

    #[test]
    fn words_parse() {
        assert_eq!(Reach::parse("50%"), Ok(Reach::Percent(50)));
        assert_eq!(Reach::parse("3"), Ok(Reach::Count(3)));
        assert!(Reach::parse("0").is_err());
        assert!(Reach::parse("101%").is_err());
        assert!(Reach::parse("half").is_err());
        assert_eq!(Pause::parse("manual"), Ok(Pause::Manual));
        assert_eq!(Pause::parse("30s"), Ok(Pause::For(Duration::from_secs(30))));
        assert_eq!(Pause::parse("2m"), Ok(Pause::For(Duration::from_secs(120))));
        assert_eq!(
            Pause::parse("500ms"),
            Ok(Pause::For(Duration::from_millis(500)))
        );
        assert!(Pause::parse("30").is_err());
        assert!(Pause::parse("soon").is_err());
        assert!(Pause::parse("25h").is_err());
        assert_eq!(Pause::parse("500ms").unwrap().to_string(), "500ms");
        assert_eq!(Pause::parse("30s").unwrap().to_string(), "30s");
    }
}
