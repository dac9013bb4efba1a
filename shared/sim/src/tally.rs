//! What happened, counted: per function in total, and per scenario role per second.

use std::ops::AddAssign;

use serde::{Deserialize, Serialize};

/// The part a function plays in a scenario; outcomes are summed by role.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The cause of the incident: the guard should limit it.
    Offender,
    /// A function the incident hurts: its throttles are the damage.
    Victim,
    /// Present, neither cause nor casualty by design.
    #[default]
    Bystander,
    /// Tagged `concurrency-guard:protected`: the guard must never touch it.
    Protected,
}

impl Role {
    pub const ALL: [Role; 4] = [
        Self::Offender,
        Self::Victim,
        Self::Bystander,
        Self::Protected,
    ];

    pub fn index(self) -> usize {
        self as usize
    }
}

/// Why Lambda throttled an invocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Cause {
    /// The unreserved pool was full.
    Pool,
    /// The function's reservation was full, or is 0.
    Reservation,
    /// The per-function scaling bucket had no token for a new environment.
    Scaling,
}

/// Outcome counters. Each is a number of requests, messages or events, as named.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Requests, messages or events arriving at the function's source (callers' retries
    /// included).
    pub arrivals: u64,
    /// Invocations Lambda admitted.
    pub invocations: u64,
    pub throttled_pool: u64,
    pub throttled_reservation: u64,
    pub throttled_scaling: u64,
    /// Callers' requests API Gateway refused (its stage, method or account throttle).
    pub callers_429: u64,
    /// Callers' requests API Gateway admitted and Lambda throttled: "If the Lambda API rejects
    /// the invocation request, API Gateway returns a 500", and does not retry.
    pub callers_500: u64,
    /// Direct synchronous invokes Lambda throttled (`TooManyRequestsException`).
    pub callers_throttled: u64,
    /// Callers' requests that failed for good: no retry left, or the caller does not retry.
    pub callers_gave_up: u64,
    pub messages_processed: u64,
    pub messages_to_dlq: u64,
    pub events_processed: u64,
    /// Async events older than their maximum age, never run.
    pub events_expired: u64,
    /// Async events that met a reservation of 0: no retry at all.
    pub events_kill_switched: u64,
    /// Of the expired and kill-switched events, those with no on-failure destination: lost.
    pub events_dropped: u64,
    /// Invocations in flight, summed over the seconds counted: a role's concurrency over a
    /// minute is this ÷ 60.
    pub execution_seconds: u64,
}

impl Counts {
    /// Every throttled invocation attempt (the `Throttles` metric).
    pub fn throttled(&self) -> u64 {
        self.throttled_pool + self.throttled_reservation + self.throttled_scaling
    }

    pub fn throttled_by(&mut self, cause: Cause, n: u64) {
        match cause {
            Cause::Pool => self.throttled_pool += n,
            Cause::Reservation => self.throttled_reservation += n,
            Cause::Scaling => self.throttled_scaling += n,
        }
    }
}

impl AddAssign<&Counts> for Counts {
    fn add_assign(&mut self, o: &Counts) {
        self.arrivals += o.arrivals;
        self.invocations += o.invocations;
        self.throttled_pool += o.throttled_pool;
        self.throttled_reservation += o.throttled_reservation;
        self.throttled_scaling += o.throttled_scaling;
        self.callers_429 += o.callers_429;
        self.callers_500 += o.callers_500;
        self.callers_throttled += o.callers_throttled;
        self.callers_gave_up += o.callers_gave_up;
        self.messages_processed += o.messages_processed;
        self.messages_to_dlq += o.messages_to_dlq;
        self.events_processed += o.events_processed;
        self.events_expired += o.events_expired;
        self.events_kill_switched += o.events_kill_switched;
        self.events_dropped += o.events_dropped;
        self.execution_seconds += o.execution_seconds;
    }
}

/// One second's counts, by role.
pub type RoleCounts = [Counts; 4];
