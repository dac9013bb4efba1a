//! Traffic over time: what arrives at a function's source each second. A function's loads are
//! summed, so a scenario composes an incident from plain shapes.

use rand::{Rng, RngExt};
use serde::{Deserialize, Serialize};

use crate::Second;

/// The shape of one load, in arrivals per second.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Profile {
    Constant {
        rate: f64,
    },
    /// From `from` to `to` linearly over `over_s` seconds, then `to`.
    Ramp {
        from: f64,
        to: f64,
        over_s: Second,
    },
    /// `before`, then `after` from `at_s` seconds into the load on.
    Step {
        before: f64,
        after: f64,
        at_s: Second,
    },
    /// `base`, with `peak` for `for_s` seconds from `at_s` seconds into the load.
    Burst {
        base: f64,
        peak: f64,
        at_s: Second,
        for_s: Second,
    },
}

/// One load on a function's source: a profile active over `[from_s, until_s)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Load {
    #[serde(default)]
    pub from_s: Second,
    /// `None`: until the scenario ends.
    #[serde(default)]
    pub until_s: Option<Second>,
    pub profile: Profile,
    /// Relative noise on each second's rate, uniform in ±`jitter` (0 = exactly the profile).
    #[serde(default)]
    pub jitter: f64,
}

impl Load {
    /// The mean rate at second `t`.
    pub fn rate_at(&self, t: Second) -> f64 {
        if t < self.from_s || self.until_s.is_some_and(|end| t >= end) {
            return 0.0;
        }
        let into = t - self.from_s;
        match self.profile {
            Profile::Constant { rate } => rate,
            Profile::Ramp { from, to, over_s } => {
                if into >= over_s {
                    to
                } else {
                    from + (to - from) * f64::from(into) / f64::from(over_s)
                }
            }
            Profile::Step {
                before,
                after,
                at_s,
            } => {
                if into < at_s {
                    before
                } else {
                    after
                }
            }
            Profile::Burst {
                base,
                peak,
                at_s,
                for_s,
            } => {
                if into >= at_s && into - at_s < for_s {
                    peak
                } else {
                    base
                }
            }
        }
    }

    /// Arrivals in second `t`: the rate with its jitter, rounded stochastically so fractional
    /// rates keep their mean.
    pub fn arrivals(&self, t: Second, rng: &mut impl Rng) -> u64 {
        let rate = self.rate_at(t);
        if rate <= 0.0 {
            return 0;
        }
        let noisy = if self.jitter > 0.0 {
            rate * (1.0 + self.jitter * rng.random_range(-1.0..=1.0))
        } else {
            rate
        };
        round_stochastic(noisy, rng)
    }
}

/// `x` rounded down or up with the probability of its fraction: the mean is kept exactly.
pub fn round_stochastic(x: f64, rng: &mut impl Rng) -> u64 {
    if x <= 0.0 {
        return 0;
    }
    let whole = x.floor();
    let extra = u64::from(rng.random::<f64>() < x - whole);
    // Rates are bounded far below u64::MAX; the cast saturates anyway.
    whole as u64 + extra
}

/// The sum of every load's arrivals at `t`.
pub fn arrivals(loads: &[Load], t: Second, rng: &mut impl Rng) -> u64 {
    loads.iter().map(|l| l.arrivals(t, rng)).sum()
}
