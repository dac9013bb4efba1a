//! A function's internal queue for asynchronous invocation (SIM-FACTS §3).
//!
//! Events are kept as cohorts: those that arrived in the same second and have been throttled
//! the same number of times. A throttled event goes back to the queue and is retried "from
//! 1 second after the first attempt to a maximum of 5 minutes", doubling, until it is older
//! than `MaximumEventAgeInSeconds`; then it goes to the on-failure destination, or is dropped.
//! Throttles are not retries: `MaximumRetryAttempts` does not limit them. With a reservation
//! of 0 nothing is retried: "events go straight to the DLQ or on-failure destination".

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use crate::Second;
use crate::params::AsyncParams;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Cohort {
    due: Second,
    born: Second,
    throttles: u32,
    count: u64,
}

#[derive(Debug, Clone)]
pub struct AsyncQueue {
    pub max_event_age_s: Second,
    pub has_destination: bool,
    waiting: BinaryHeap<Reverse<Cohort>>,
    /// The cohorts offered this second, oldest first.
    offered: Vec<Cohort>,
}

/// What became of this second's offered events.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Settled {
    pub processed: u64,
    pub expired: u64,
    pub kill_switched: u64,
    /// Expired or kill-switched with no destination to go to.
    pub dropped: u64,
}

impl AsyncQueue {
    pub fn new(max_event_age_s: Second, has_destination: bool) -> Self {
        Self {
            max_event_age_s,
            has_destination,
            waiting: BinaryHeap::new(),
            offered: Vec::new(),
        }
    }

    /// Events waiting for a (re)try.
    pub fn depth(&self) -> u64 {
        self.waiting.iter().map(|Reverse(c)| c.count).sum()
    }

    /// Queues this second's `arrivals` and returns the events due for an attempt; counts the
    /// events that reached their maximum age while waiting into `settled`.
    pub fn offer(&mut self, t: Second, arrivals: u64, settled: &mut Settled) -> u64 {
        self.offered.clear();
        if arrivals > 0 {
            self.waiting.push(Reverse(Cohort {
                due: t,
                born: t,
                throttles: 0,
                count: arrivals,
            }));
        }
        while self.waiting.peek().is_some_and(|Reverse(c)| c.due <= t) {
            let Some(Reverse(c)) = self.waiting.pop() else {
                break;
            };
            if t >= c.born + self.max_event_age_s {
                self.lose(c.count, false, settled);
            } else {
                self.offered.push(c);
            }
        }
        self.offered.sort_by_key(|c| c.born);
        self.offered.iter().map(|c| c.count).sum()
    }

    /// Lambda admitted `admitted` of the events offered, oldest first; the rest were
    /// throttled and wait for their next attempt — unless `kill_switch` (reserved 0).
    pub fn settle(
        &mut self,
        t: Second,
        admitted: u64,
        kill_switch: bool,
        params: &AsyncParams,
        settled: &mut Settled,
    ) {
        let mut left = admitted;
        let offered = std::mem::take(&mut self.offered);
        for mut c in offered.iter().copied() {
            let run = c.count.min(left);
            left -= run;
            settled.processed += run;
            c.count -= run;
            if c.count == 0 {
                continue;
            }
            if kill_switch {
                self.lose(c.count, true, settled);
                continue;
            }
            let wait = params
                .first_retry_s
                .saturating_mul(1 << c.throttles.min(20))
                .min(params.max_retry_s)
                .max(1);
            // An event that would outlive its age before the retry expires at its age.
            c.due = (t + wait).min(c.born + self.max_event_age_s).max(t + 1);
            c.throttles += 1;
            self.waiting.push(Reverse(c));
        }
        self.offered = offered;
        self.offered.clear();
    }

    fn lose(&self, count: u64, kill_switch: bool, settled: &mut Settled) {
        if kill_switch {
            settled.kill_switched += count;
        } else {
            settled.expired += count;
        }
        if !self.has_destination {
            settled.dropped += count;
        }
    }
}
