//! What the guard can change in the account, as the APIs take it (SIM-FACTS §5). The
//! configured value reads back at once; the model obeys it after a propagation delay.

use cguard_core::model::{ApiTarget, Change, Reservation, Throttle};
use serde::Serialize;
use thiserror::Error;

use crate::Second;

/// A setting to put in place: the new value, whatever was there.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Setting {
    /// `PutFunctionConcurrency` / `DeleteFunctionConcurrency`.
    Reservation {
        function: String,
        value: Reservation,
    },
    /// `UpdateStage` on the stage default (`route: None`) or one method/route.
    Throttle {
        target: ApiTarget,
        value: Option<Throttle>,
    },
    /// `UpdateEventSourceMapping` `ScalingConfig.MaximumConcurrency`.
    QueueConcurrency { uuid: String, value: Option<u32> },
}

impl From<&Change> for Setting {
    /// The setting a guard's change puts in place.
    fn from(change: &Change) -> Self {
        match change {
            Change::Throttle { target, new, .. } => Self::Throttle {
                target: target.clone(),
                value: *new,
            },
            Change::QueueConcurrency { uuid, new, .. } => Self::QueueConcurrency {
                uuid: uuid.clone(),
                value: *new,
            },
            Change::Reservation { function, new, .. } => Self::Reservation {
                function: function.clone(),
                value: *new,
            },
        }
    }
}

/// Why the account refused a change, as the API would.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum Refusal {
    #[error("function {0} not found (ResourceNotFoundException)")]
    NoSuchFunction(String),
    #[error("{0} not found (NotFoundException)")]
    NoSuchStage(String),
    #[error("event source mapping {0} not found (ResourceNotFoundException)")]
    NoSuchMapping(String),
    /// `InvalidParameterValueException`: "…decreases account's
    /// UnreservedConcurrentExecution below its minimum value of \[N\]".
    #[error(
        "reserving this would leave {would_leave} unreserved, below the minimum of {minimum} (InvalidParameterValueException)"
    )]
    BelowUnreservedMinimum { would_leave: i64, minimum: u32 },
    /// `MaximumConcurrency` must be 2–1,000 (API_ScalingConfig).
    #[error("MaximumConcurrency {0} is outside 2-1000 (InvalidParameterValueException)")]
    MaximumConcurrencyOutOfRange(u32),
    #[error("throttle {0} is not a valid rate and burst (BadRequestException)")]
    InvalidThrottle(Throttle),
}

/// A change the account accepted: when it was made and when the model obeys it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Applied {
    pub setting: Setting,
    pub applied_at: Second,
    pub effective_at: Second,
}

/// `MaximumConcurrency`'s valid range.
pub const MAXIMUM_CONCURRENCY_RANGE: std::ops::RangeInclusive<u32> = 2..=1_000;
