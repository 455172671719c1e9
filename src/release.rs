//! Release names: the spec's `ddMMYYYY-HHMMSS` (UTC), with a `-N` suffix when a second already has
//! one. The format does not sort, so releases are ordered by time, never by name
//! (`01012026-...` would sort before `31122025-...`; docs/design.md §3).

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use std::cmp::Ordering;

const FORMAT: &str = "%d%m%Y-%H%M%S";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseName {
    pub time: NaiveDateTime,
    /// 1 for the first release of a second, 2.. for later ones (`-2`, `-3`...).
    pub seq: u32,
}

impl ReleaseName {
    /// The first free name for `now`, given the names already taken for this site.
    pub fn next_free(now: DateTime<Utc>, taken: &[String]) -> ReleaseName {
        let time = now.naive_utc().with_nanosecond_zero();
        let mut seq = 1;
        loop {
            let candidate = ReleaseName { time, seq };
            if !taken.iter().any(|t| *t == candidate.to_string()) {
                return candidate;
            }
            seq += 1;
        }
    }

    pub fn parse(s: &str) -> Option<ReleaseName> {
        let (stamp, seq) = match s.get(15..) {
            Some("") => (s, 1),
            Some(rest) => {
                let n = rest.strip_prefix('-')?;
                if n.is_empty() || n.starts_with('0') || !n.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                (&s[..15], n.parse::<u32>().ok().filter(|&n| n >= 2)?)
            }
            None => return None,
        };
        if !stamp.bytes().enumerate().all(|(i, b)| {
            if i == 8 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        }) {
            return None;
        }
        let time = NaiveDateTime::parse_from_str(stamp, FORMAT).ok()?;
        Some(ReleaseName { time, seq })
    }

    pub fn time_utc(&self) -> DateTime<Utc> {
        Utc.from_utc_datetime(&self.time)
    }
}

trait ZeroNanos {
    fn with_nanosecond_zero(self) -> Self;
}

impl ZeroNanos for NaiveDateTime {
    fn with_nanosecond_zero(self) -> Self {
        use chrono::Timelike;
        self.with_nanosecond(0).expect("0 is a valid nanosecond")
    }
}

impl std::fmt::Display for ReleaseName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.time.format(FORMAT))?;
        if self.seq > 1 {
            write!(f, "-{}", self.seq)?;
        }
        Ok(())
    }
}

impl Ord for ReleaseName {
    fn cmp(&self, other: &Self) -> Ordering {
        self.time.cmp(&other.time).then(self.seq.cmp(&other.seq))
    }
}

impl PartialOrd for ReleaseName {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn format_matches_the_spec() {
        let n = ReleaseName::next_free(at("2025-07-31T14:30:22.7Z"), &[]);
        assert_eq!(n.to_string(), "31072025-143022");
        assert_eq!(ReleaseName::parse("31072025-143022"), Some(n));
    }

    #[test]
    fn same_second_gets_a_suffix() {
        let now = at("2025-07-31T14:30:22Z");
        let taken = vec![
            "31072025-143022".to_string(),
            "31072025-143022-2".to_string(),
        ];
        let n = ReleaseName::next_free(now, &taken);
        assert_eq!(n.to_string(), "31072025-143022-3");
        assert_eq!(ReleaseName::parse("31072025-143022-3").unwrap().seq, 3);
        assert!(ReleaseName::parse("31072025-143022").unwrap() < n);
    }

    #[test]
    fn ordering_is_by_time_across_a_year_boundary() {
        let mut names: Vec<ReleaseName> = [
            "01012026-000001",
            "31122025-235959",
            "15062025-120000",
            "01012026-000001-2",
        ]
        .iter()
        .map(|s| ReleaseName::parse(s).unwrap())
        .collect();
        // By name, 01012026 sorts first; by time it is last.
        let mut by_name: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        by_name.sort();
        assert_eq!(by_name[0], "01012026-000001");
        names.sort();
        let ordered: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        assert_eq!(
            ordered,
            [
                "15062025-120000",
                "31122025-235959",
                "01012026-000001",
                "01012026-000001-2"
            ]
        );
    }

    #[test]
    fn rejects_non_release_names() {
        for bad in [
            "shared",
            ".flipdeck",
            "32012025-000000",
            "3101202-1430222",
            "31072025-143022-1",
            "31072025-143022-",
            "31072025-143022-02",
            "31072025_143022",
            "../x",
        ] {
            assert_eq!(ReleaseName::parse(bad), None, "{bad}");
        }
    }
}
