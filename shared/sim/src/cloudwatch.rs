//! The metrics CloudWatch holds (SIM-FACTS §4): "Lambda sends metric data to CloudWatch in
//! 1-minute intervals", concurrency read with MAX, counts with SUM. A minute's datapoint can
//! be read only `publish_delay_s` after the minute ends.

use serde::Serialize;

use crate::Second;

/// Seconds in a CloudWatch period (the only resolution AWS/Lambda metrics have).
pub const MINUTE: Second = 60;

/// One function's datapoints for one minute.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct FunctionMinute {
    /// `ConcurrentExecutions`, Maximum.
    pub concurrency: u64,
    /// `Invocations`, Sum.
    pub invocations: u64,
    /// `Throttles`, Sum.
    pub throttles: u64,
    /// Whether Lambda emitted anything for the function this minute (no datapoint if not).
    pub active: bool,
}

impl FunctionMinute {
    pub fn observe(&mut self, concurrency: u64, invocations: u64, throttles: u64) {
        self.concurrency = self.concurrency.max(concurrency);
        self.invocations += invocations;
        self.throttles += throttles;
        self.active |= concurrency > 0 || invocations > 0 || throttles > 0;
    }
}

/// The account's datapoints for one minute (each a Maximum).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct AccountMinute {
    /// `ConcurrentExecutions` over every function.
    pub concurrent: u64,
    /// `UnreservedConcurrentExecutions`: functions without a reservation.
    pub unreserved: u64,
    /// `ClaimedAccountConcurrency`: unreserved executions + every reservation.
    pub claimed: u64,
    pub active: bool,
}

impl AccountMinute {
    pub fn observe(&mut self, concurrent: u64, unreserved: u64, claimed: u64) {
        self.concurrent = self.concurrent.max(concurrent);
        self.unreserved = self.unreserved.max(unreserved);
        self.claimed = self.claimed.max(claimed);
        self.active |= concurrent > 0 || claimed > 0;
    }
}

/// Closed minutes of one series, the minute being filled, and when each can be read.
#[derive(Debug, Clone, Default)]
pub struct Series<T> {
    closed: Vec<T>,
    pub current: T,
}

impl<T: Copy + Default> Series<T> {
    pub fn close(&mut self) {
        self.closed.push(std::mem::take(&mut self.current));
    }

    /// Every closed minute, published or not (the truth, for reports).
    pub fn closed(&self) -> &[T] {
        &self.closed
    }

    /// The minutes CloudWatch would answer with at `now`.
    pub fn published(&self, now: Second, delay: Second) -> &[T] {
        &self.closed[..published_minutes(now, delay).min(self.closed.len())]
    }
}

/// How many whole minutes are readable at `now`: minute `m` ends at `60(m+1)` and is readable
/// `delay` seconds later.
pub fn published_minutes(now: Second, delay: Second) -> usize {
    (now.saturating_sub(delay) / MINUTE) as usize
}
