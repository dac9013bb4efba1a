//! The simulated clock as the guard reads it: a fixed epoch plus the simulated seconds. The
//! epoch is on a whole minute, so simulated minute `m` is exactly CloudWatch's minute starting
//! at `EPOCH + 60 m`, and the guard's windows (whole minutes) map onto whole simulated minutes.

use std::ops::Range;

use chrono::{DateTime, TimeZone, Utc};

use crate::Second;
use crate::cloudwatch::MINUTE;

/// The wall-clock time of simulated second 0: the morning of the classic incident
/// (events/alarm-action.json).
pub fn epoch() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0)
        .single()
        .expect("a valid, unambiguous UTC time")
}

/// The wall-clock time of simulated second `t`.
pub fn at(t: Second) -> DateTime<Utc> {
    epoch() + chrono::Duration::seconds(i64::from(t))
}

/// Seconds since the epoch of `time` (negative before the run started).
pub fn seconds(time: DateTime<Utc>) -> i64 {
    (time - epoch()).num_seconds()
}

/// The simulated minutes in `[start, end)`, clipped to the run: minute `m` covers
/// `[60 m, 60 m + 60)`.
pub fn minutes(start: DateTime<Utc>, end: DateTime<Utc>) -> Range<usize> {
    let minute = |t: DateTime<Utc>| {
        usize::try_from(seconds(t).max(0).div_euclid(i64::from(MINUTE))).unwrap_or(usize::MAX)
    };
    minute(start)..minute(end).max(minute(start))
}

/// The epoch seconds of minute `m`'s start, as CloudWatch labels its datapoints.
pub fn minute_label(m: usize) -> i64 {
    epoch().timestamp() + i64::from(MINUTE) * m as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minutes_map_onto_the_guard_s_windows() {
        let w = cguard_core::observation::Window::before(at(425), 10);
        // The alarm at 7:05 into the run: minutes 0..=7, the ones before the run clipped.
        assert_eq!(minutes(w.start, w.end), 0..8);
        assert_eq!(minute_label(7), w.end.timestamp() - 60);
        assert_eq!(seconds(at(3_600)), 3_600);
        assert_eq!(
            minutes(at(600), at(300)),
            10..10,
            "an empty span stays empty"
        );
    }
}
