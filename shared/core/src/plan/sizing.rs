//! The formulas, pure and each property-tested on its own (`tests/sizing_props.rs`): how fast a
//! stage may call, how many messages a mapping may hand over at once (an offender's, and a
//! consumer's held back by its own reservation), how large a cap fits
//! under the account's unreserved minimum, and when the account is in an emergency.

use crate::attribution::round2;
use crate::config::Policy;
use crate::model::{AccountFacts, Throttle};

/// Little's law, concurrency = rate × duration, solved for the rate that keeps the function at
/// `target`, shared between the `stages` that drive it. Unbounded: see [`api_throttle`].
pub fn little_rate(target: u32, seconds: f64, stages: usize) -> f64 {
    f64::from(target) / seconds / stages as f64
}

/// The throttle for each of `stages` stages driving a function whose invocations last `seconds`
/// on average: [`little_rate`] to the cent, at least 1 req/s so the API still answers, and a
/// burst of one second of that rate.
pub fn api_throttle(target: u32, seconds: f64, stages: usize) -> Throttle {
    let rate = round2(little_rate(target, seconds, stages).max(1.0));
    Throttle {
        rate,
        burst: rate.ceil().max(1.0) as i32,
    }
}

/// SQS `MaximumConcurrency` for each of `mappings` event source mappings: the target shared
/// between them, within the 2..=1000 that Lambda accepts.
pub fn queue_maximum(target: u32, mappings: u32) -> u32 {
    (target / mappings.max(1)).clamp(2, 1000)
}

/// SQS `MaximumConcurrency` for each of `mappings` event source mappings of a consumer whose
/// own reservation is `reserved`: the reservation shared between them, so that together the
/// pollers never take more batches than the function may run ("Don't set maximum concurrency
/// higher than the function's reserved concurrency"). `None` when a share would fall below the
/// 2 that Lambda accepts: no setting then keeps the pollers within the reservation.
pub fn consumer_maximum(reserved: u32, mappings: u32) -> Option<u32> {
    let share = reserved / mappings.max(1);
    (share >= 2).then_some(share.min(1000))
}

/// The account's unreserved pool, as far as a reservation is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Floor {
    /// Unreserved concurrency AWS insists on keeping.
    pub minimum: u32,
    /// Unreserved concurrency now, after the caps already planned.
    pub unreserved: i64,
}

/// A cap lowered below the target so the account keeps its unreserved minimum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lowered {
    pub to: u32,
    pub floor: Floor,
}

/// Where a reservation cap can go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cap {
    /// The target fits (or the pool is unknown, and AWS's own check is what is left).
    Placed(u32),
    /// Only a smaller cap keeps the minimum.
    Lowered(Lowered),
    /// Not even a reservation of 1 keeps the minimum.
    Blocked(Floor),
}

/// The cap at `target` for a function that holds `held` today, lowered as far as needed to keep
/// the unreserved minimum; `floor` is `None` when the account's settings could not be read.
pub fn reservation_cap(target: u32, held: u32, floor: Option<Floor>) -> Cap {
    let placed = target.max(1);
    let Some(floor) = floor else {
        return Cap::Placed(placed);
    };
    let (target, held) = (i64::from(target), i64::from(held));
    let minimum = i64::from(floor.minimum);
    if floor.unreserved - (target - held) >= minimum {
        return Cap::Placed(placed);
    }
    // Here largest < target, so it fits in a u32 whenever it is positive.
    let largest = floor.unreserved + held - minimum;
    match u32::try_from(largest) {
        Ok(to) if to >= 1 => Cap::Lowered(Lowered { to, floor }),
        _ => Cap::Blocked(floor),
    }
}

/// Why the account is not (known to be) in an emergency.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum NoEmergency {
    /// The account's peak stayed below `threshold` (`CGUARD_EMERGENCY_UTILIZATION`) of its limit.
    Below { utilization: f64, threshold: f64 },
    /// The account limit or its peak is unknown.
    Unknown,
}

/// The documented emergency condition: the account's peak concurrency in the window reached
/// `emergency_utilization` of its limit; returns that utilisation. Unknown limit → no
/// emergency can be established.
pub fn emergency(
    account_peak: Option<f64>,
    account: &AccountFacts,
    policy: &Policy,
) -> Result<f64, NoEmergency> {
    match (account_peak, account.limit) {
        (Some(peak), Some(limit)) if limit > 0 => {
            let utilization = peak / f64::from(limit);
            if utilization >= policy.emergency_utilization {
                Ok(utilization)
            } else {
                Err(NoEmergency::Below {
                    utilization,
                    threshold: policy.emergency_utilization,
                })
            }
        }
        _ => Err(NoEmergency::Unknown),
    }
}
