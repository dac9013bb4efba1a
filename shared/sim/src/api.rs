//! API Gateway in front of a function, and the callers behind it (SIM-FACTS §1).
//!
//! Throttles are token buckets: "the rate is the refill rate, the burst is the bucket size",
//! and requests over the limit get 429. A request API Gateway lets through that Lambda
//! throttles becomes a 500: "API Gateway does not retry any Lambda invocations". Callers may
//! retry either, as a parameter.

use std::collections::{BTreeMap, VecDeque};

use cguard_core::model::{ApiKind, Route, Throttle};
use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::Second;
use crate::load::round_stochastic;
use crate::share::proportional;

/// One API stage: its stage-wide default method throttle and per-method (REST) or per-route
/// (HTTP) overrides, each as configured and as in effect.
#[derive(Debug, Clone)]
pub struct Stage {
    pub kind: ApiKind,
    pub api_id: String,
    pub stage: String,
    pub configured: StageThrottles,
    pub effective: StageThrottles,
}

/// A stage's throttle settings. A method's own setting replaces the stage default (REST
/// `methodSettings` `/*/*` vs `/{resource}/{METHOD}`, HTTP `DefaultRouteSettings` vs
/// `RouteSettings`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StageThrottles {
    pub default: Option<Throttle>,
    pub routes: BTreeMap<Route, Throttle>,
}

impl StageThrottles {
    /// The throttle one route obeys.
    pub fn for_route(&self, route: &Route) -> Option<Throttle> {
        self.routes.get(route).copied().or(self.default)
    }
}

/// A token bucket. It starts full; an absent throttle admits everything.
#[derive(Debug, Clone, Default)]
pub struct Bucket {
    tokens: Option<f64>,
}

impl Bucket {
    /// Admits up to `want` requests this second under `limit` (rate, burst), allowing the
    /// best-effort `overrun` fraction of the rate on top.
    pub fn take(&mut self, want: u64, limit: Option<(f64, f64)>, overrun: f64) -> u64 {
        let Some((rate, burst)) = limit else {
            self.tokens = None;
            return want;
        };
        // With one-second ticks a burst below the rate would cap a second below the rate.
        let capacity = burst.max(rate).max(0.0);
        let tokens = self.tokens.map_or(capacity, |t| (t + rate).min(capacity));
        let allowed = (tokens + overrun * rate).floor().max(0.0) as u64;
        let admitted = want.min(allowed);
        self.tokens = Some((tokens - admitted as f64).max(0.0));
        admitted
    }
}

/// The core's throttle as bucket figures.
pub fn bucket_limit(throttle: Option<Throttle>) -> Option<(f64, f64)> {
    throttle.map(|t| (t.rate, f64::from(t.burst.max(0))))
}

/// How the callers of a synchronous source behave on an error (429 or 500).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Callers {
    /// Share of failed requests whose caller tries again (0: nobody retries).
    pub retry_fraction: f64,
    /// Retries a caller makes at most.
    pub max_retries: u32,
    /// Seconds before a retry.
    pub retry_delay_s: Second,
}

impl Default for Callers {
    fn default() -> Self {
        Self {
            retry_fraction: 0.0,
            max_retries: 0,
            retry_delay_s: 1,
        }
    }
}

/// Requests of one second by how many times their callers already tried.
#[derive(Debug, Clone, Default)]
pub struct Attempts {
    /// `counts[k]`: requests on their attempt `k` (0 = the first).
    pub counts: Vec<u64>,
}

impl Attempts {
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }
}

/// Retries waiting for their time.
#[derive(Debug, Clone, Default)]
pub struct Retries {
    /// (due, attempt, count), in due order: every retry waits the same delay.
    pending: VecDeque<(Second, u32, u64)>,
    failures: Vec<u64>,
}

impl Retries {
    /// This second's requests: fresh ones and the retries due.
    pub fn requests(&mut self, t: Second, fresh: u64, callers: &Callers) -> Attempts {
        let mut counts = vec![0; callers.max_retries as usize + 1];
        let last = counts.len() - 1;
        counts[0] = fresh;
        while let Some(&(due, attempt, n)) = self.pending.front() {
            if due > t {
                break;
            }
            self.pending.pop_front();
            counts[(attempt as usize).min(last)] += n;
        }
        Attempts { counts }
    }

    /// Spreads `failed` requests over the attempts they came from, schedules the retries,
    /// and returns the requests that failed for good.
    pub fn settle(
        &mut self,
        t: Second,
        attempts: &Attempts,
        failed: u64,
        callers: &Callers,
        rng: &mut impl Rng,
    ) -> u64 {
        let mut failures = std::mem::take(&mut self.failures);
        proportional(&attempts.counts, failed, &mut failures);
        let mut gave_up = 0;
        for (attempt, &f) in failures.iter().enumerate() {
            let attempt = attempt as u32;
            let retried = if attempt < callers.max_retries {
                round_stochastic(f as f64 * callers.retry_fraction, rng).min(f)
            } else {
                0
            };
            if retried > 0 {
                self.pending
                    .push_back((t + callers.retry_delay_s.max(1), attempt + 1, retried));
            }
            gave_up += f - retried;
        }
        self.failures = failures;
        gave_up
    }
}
