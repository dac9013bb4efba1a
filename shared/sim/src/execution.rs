//! One function's execution environments, in aggregate: how many invocations are in flight,
//! when they finish, how many environments are warm, and the per-function scaling bucket.
//!
//! Concurrency follows Little's law (concurrency = arrival rate × duration): an invocation
//! admitted at second `t` holds a slot until `t + duration`. A function faster than the tick
//! serves several invocations per slot and second, so `n` of them hold `⌈n × duration⌉` slots
//! for one second.

use std::collections::VecDeque;

use crate::Second;
use crate::params::ScalingParams;

/// What a function's own limits let through this second, before the shared pool.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Limited {
    /// Invocations wanted.
    pub wanted: u64,
    /// Cut by a full reservation (or a reservation of 0).
    pub by_reservation: u64,
    /// Cut by the scaling bucket: no warm environment and no token for a new one.
    pub by_scaling: u64,
    /// What is left for the pool (all of it for a reserved function).
    pub passed: u64,
}

/// A release of slots and the invocations that held them.
#[derive(Debug, Clone, Copy, Default)]
struct Release {
    slots: u64,
    invocations: u64,
}

#[derive(Debug, Clone)]
pub struct Execution {
    /// Seconds a slot is held (at least one tick).
    hold: Second,
    /// Share of one slot-second an invocation uses (`min(duration, 1)`).
    share: f64,
    in_flight: u64,
    /// Releases by second, a ring indexed by `t % len`.
    releases: Vec<Release>,
    /// Warm environments: the busiest in-flight of the last `idle_environment_s` (rounded up
    /// to whole minutes), since an environment idle longer is reclaimed.
    environments: u64,
    recent_minute_peaks: VecDeque<u64>,
    minute_peak: u64,
    tokens: f64,
}

impl Execution {
    pub fn new(duration_s: f64, scaling: &ScalingParams) -> Self {
        let hold = if duration_s >= 1.0 {
            // Durations of a second or more are whole ticks; `max` keeps 1 s on rounding.
            (duration_s.round() as Second).max(1)
        } else {
            1
        };
        Self {
            hold,
            share: duration_s.clamp(f64::MIN_POSITIVE, 1.0),
            in_flight: 0,
            releases: vec![Release::default(); hold as usize + 1],
            environments: 0,
            recent_minute_peaks: VecDeque::new(),
            minute_peak: 0,
            tokens: f64::from(scaling.burst),
        }
    }

    pub fn in_flight(&self) -> u64 {
        self.in_flight
    }

    fn slot(&self, t: Second) -> usize {
        (t as usize) % self.releases.len()
    }

    /// Frees the slots due at `t`; returns the invocations that completed.
    pub fn release(&mut self, t: Second) -> u64 {
        let i = self.slot(t);
        let done = std::mem::take(&mut self.releases[i]);
        self.in_flight = self.in_flight.saturating_sub(done.slots);
        done.invocations
    }

    /// Slots `n` invocations hold this second.
    pub fn slots_for(&self, n: u64) -> u64 {
        if self.share >= 1.0 {
            n
        } else {
            (n as f64 * self.share).ceil() as u64
        }
    }

    /// Invocations that fit in `slots`.
    pub fn invocations_in(&self, slots: u64) -> u64 {
        if self.share >= 1.0 {
            slots
        } else {
            (slots as f64 / self.share).floor() as u64
        }
    }

    /// Cuts `wanted` by the function's reservation (`None`: unreserved) and its scaling bucket.
    pub fn limit(&self, wanted: u64, reservation: Option<u32>) -> Limited {
        let after_reservation = match reservation {
            Some(n) => wanted.min(self.invocations_in(u64::from(n).saturating_sub(self.in_flight))),
            None => wanted,
        };
        let idle = self.environments.saturating_sub(self.in_flight);
        let scalable = idle + self.tokens.floor() as u64;
        let passed = after_reservation.min(self.invocations_in(scalable));
        Limited {
            wanted,
            by_reservation: wanted - after_reservation,
            by_scaling: after_reservation - passed,
            passed,
        }
    }

    /// Starts `n` invocations at `t`: warm environments first, then new ones, each taking a
    /// scaling token. Returns the slots taken.
    pub fn admit(&mut self, t: Second, n: u64) -> u64 {
        if n == 0 {
            return 0;
        }
        let slots = self.slots_for(n);
        let idle = self.environments.saturating_sub(self.in_flight);
        let new = slots.saturating_sub(idle);
        self.tokens = (self.tokens - new as f64).max(0.0);
        self.in_flight += slots;
        self.environments = self.environments.max(self.in_flight);
        self.minute_peak = self.minute_peak.max(self.in_flight);
        let i = self.slot(t + self.hold);
        self.releases[i].slots += slots;
        self.releases[i].invocations += n;
        slots
    }

    /// The bucket refills "continuously", never above its capacity.
    pub fn refill(&mut self, scaling: &ScalingParams) {
        self.tokens = (self.tokens + scaling.refill_per_s).min(f64::from(scaling.burst));
    }

    /// At a minute's end: environments idle for longer than their lifetime are reclaimed.
    pub fn close_minute(&mut self, scaling: &ScalingParams) {
        let keep = scaling.idle_environment_s.div_ceil(60).max(1) as usize;
        self.recent_minute_peaks
            .push_back(self.minute_peak.max(self.in_flight));
        while self.recent_minute_peaks.len() > keep {
            self.recent_minute_peaks.pop_front();
        }
        self.environments = self
            .recent_minute_peaks
            .iter()
            .copied()
            .max()
            .unwrap_or(0)
            .max(self.in_flight);
        self.minute_peak = self.in_flight;
    }
}
