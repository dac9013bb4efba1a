//! Which records one pass takes: a bounded number, oldest first, so that a flood of records —
//! forged or real — can neither outlast the auditor's timeout nor starve the oldest incident.
//! A record that says it opened in the future is tampering: reported, never obeyed (its
//! grace period would otherwise never end, and it would hold forever).

use chrono::{DateTime, Duration, Utc};

use crate::record::OpenRecord;

/// The most records one pass examines; the rest wait for the next pass (every 5 minutes).
pub const MAX_RECORDS_PER_PASS: usize = 20;

/// Clocks differ a little; a record opened further ahead than this is tampering.
fn clock_skew() -> Duration {
    Duration::minutes(5)
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Schedule {
    /// Examined this pass, oldest first (unreadable dates first: they need a person soonest).
    pub due: Vec<String>,
    /// Left for the next pass.
    pub deferred: Vec<String>,
    /// Records dated after `now`: (function, the date they claim).
    pub future: Vec<(String, DateTime<Utc>)>,
}

pub fn schedule(mut records: Vec<OpenRecord>, now: DateTime<Utc>, max: usize) -> Schedule {
    let mut out = Schedule::default();
    records.sort_by(|a, b| a.opened.cmp(&b.opened).then(a.function.cmp(&b.function)));
    for r in records {
        match r.opened {
            Some(at) if at > now + clock_skew() => out.future.push((r.function, at)),
            _ if out.due.len() < max => out.due.push(r.function),
            _ => out.deferred.push(r.function),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(f: &str, minutes_ago: Option<i64>, now: DateTime<Utc>) -> OpenRecord {
        OpenRecord {
            incident: None,
            function: f.into(),
            opened: minutes_ago.map(|m| now - Duration::minutes(m)),
        }
    }

    #[test]
    fn oldest_first_within_the_bound_and_the_future_refused() {
        let now = DateTime::parse_from_rfc3339("2026-11-23T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let s = schedule(
            vec![
                record("new", Some(1), now),
                record("old", Some(90), now),
                record("unreadable", None, now),
                record("forged", Some(-600), now),
                record("middle", Some(30), now),
                record("skewed", Some(-2), now),
            ],
            now,
            3,
        );
        assert_eq!(s.due, ["unreadable", "old", "middle"]);
        assert_eq!(s.deferred, ["new", "skewed"]);
        assert_eq!(
            s.future,
            [("forged".to_owned(), now + Duration::minutes(600))]
        );
    }
}
