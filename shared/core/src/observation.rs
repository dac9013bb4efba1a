//! What CloudWatch says about the minutes before an alarm: per-minute series per function,
//! and the figures derived from them (peak concurrency, Little's-law estimate, rate, duration).

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, DurationRound, Utc};
use serde::{Deserialize, Serialize};

/// A span of whole minutes, `[start, end)`, read at one-minute resolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

impl Window {
    /// The `minutes` whole minutes up to and including the minute in which `at` falls: the
    /// datapoints that made the alarm fire.
    pub fn before(at: DateTime<Utc>, minutes: u32) -> Self {
        let minute = at.duration_trunc(Duration::minutes(1)).unwrap_or(at);
        let end = minute + Duration::minutes(1);
        Self {
            start: end - Duration::minutes(i64::from(minutes)),
            end,
        }
    }

    pub const PERIOD_SECONDS: i32 = 60;

    pub fn minutes(&self) -> i64 {
        (self.end - self.start).num_minutes()
    }
}

/// One metric's values by minute (epoch seconds of the minute's start).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Series(pub BTreeMap<i64, f64>);

impl Series {
    pub fn max(&self) -> Option<f64> {
        self.0.values().copied().reduce(f64::max)
    }

    pub fn sum(&self) -> f64 {
        self.0.values().sum()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl FromIterator<(i64, f64)> for Series {
    fn from_iter<I: IntoIterator<Item = (i64, f64)>>(iter: I) -> Self {
        Self(iter.into_iter().collect())
    }
}

/// The series attribution needs for one function.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FunctionUsage {
    pub name: String,
    /// `ConcurrentExecutions`, Maximum per minute.
    pub concurrency: Series,
    /// `Invocations`, Sum per minute.
    pub invocations: Series,
    /// `Duration`, Average per minute, milliseconds.
    pub duration_ms: Series,
    /// `Throttles`, Sum per minute.
    pub throttles: Series,
}

impl FunctionUsage {
    pub fn peak_concurrency(&self) -> Option<f64> {
        self.concurrency.max()
    }

    /// Little's law per minute (invocations/s × average duration in s), the busiest minute.
    /// A cross-check on `ConcurrentExecutions`, and the figure to rank by when that is missing.
    pub fn little_estimate(&self) -> Option<f64> {
        self.invocations
            .0
            .iter()
            .filter_map(|(t, inv)| self.duration_ms.0.get(t).map(|d| inv / 60.0 * d / 1000.0))
            .reduce(f64::max)
    }

    /// Invocations per second in the busiest minute.
    pub fn peak_rate(&self) -> Option<f64> {
        self.invocations.max().map(|n| n / 60.0)
    }

    /// Invocation-weighted mean duration over the window, milliseconds.
    pub fn avg_duration_ms(&self) -> Option<f64> {
        let (mut weighted, mut count) = (0.0, 0.0);
        for (t, d) in &self.duration_ms.0 {
            let n = self.invocations.0.get(t).copied().unwrap_or(0.0);
            weighted += d * n;
            count += n;
        }
        if count > 0.0 {
            Some(weighted / count)
        } else {
            // Durations without invocation counts: fall back to the plain mean.
            let n = self.duration_ms.0.len() as f64;
            (n > 0.0).then(|| self.duration_ms.sum() / n)
        }
    }

    /// The figure functions are ranked by: measured concurrency, else Little's estimate.
    pub fn load(&self) -> Option<f64> {
        self.peak_concurrency().or_else(|| self.little_estimate())
    }
}

/// Peak concurrency of every recently active function (one cheap query each, batched), and of
/// the account.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Peaks {
    pub account: Option<f64>,
    pub functions: BTreeMap<String, f64>,
}

/// Everything read from CloudWatch for one incident.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Observation {
    pub window: Window,
    pub peaks: Peaks,
    /// Detailed series for the candidates only.
    pub usage: Vec<FunctionUsage>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn window_ends_after_the_minute_of_the_state_change() {
        let w = Window::before(t("2026-11-23T09:40:27.123Z"), 10);
        assert_eq!(w.end, t("2026-11-23T09:41:00Z"));
        assert_eq!(w.start, t("2026-11-23T09:31:00Z"));
        assert_eq!(w.minutes(), 10);
    }

    #[test]
    fn littles_law_matches_the_classic_incident() {
        // 20 requests/s of a 30-second function hold 600 executions.
        let u = FunctionUsage {
            name: "slow".into(),
            invocations: [(0, 1200.0), (60, 600.0)].into_iter().collect(),
            duration_ms: [(0, 30_000.0), (60, 30_000.0)].into_iter().collect(),
            ..Default::default()
        };
        assert_eq!(u.little_estimate(), Some(600.0));
        assert_eq!(u.peak_rate(), Some(20.0));
        assert_eq!(u.avg_duration_ms(), Some(30_000.0));
        assert_eq!(
            u.load(),
            Some(600.0),
            "without ConcurrentExecutions the estimate ranks"
        );
    }

    #[test]
    fn average_duration_is_weighted_by_invocations() {
        let u = FunctionUsage {
            invocations: [(0, 100.0), (60, 300.0)].into_iter().collect(),
            duration_ms: [(0, 1000.0), (60, 2000.0)].into_iter().collect(),
            ..Default::default()
        };
        assert_eq!(u.avg_duration_ms(), Some(1750.0));
    }
}
