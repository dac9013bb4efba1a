//! The modelled AWS figures, one named parameter each. Every default cites the fact it comes
//! from in `shared/SIM-FACTS.md` (section and source page); a figure AWS does not document is
//! marked UNCONFIRMED, and its default says why it was chosen. A scenario overrides any of them.

use serde::{Deserialize, Serialize};

use crate::Second;

/// All the parameters of one simulated account.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Params {
    pub pool: PoolParams,
    pub scaling: ScalingParams,
    pub api_gateway: ApiGatewayParams,
    pub sqs: SqsParams,
    pub async_invocation: AsyncParams,
    pub cloudwatch: CloudWatchParams,
    pub propagation: PropagationParams,
}

/// The account's concurrency pool (SIM-FACTS §1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PoolParams {
    /// Concurrent executions per account per Region: 1,000 by default
    /// (gettingstarted-limits.html).
    pub account_limit: u32,
    /// Reservations must "leave at least 100 simultaneous executions unreserved"
    /// (API_PutFunctionConcurrency.html); a reservation that would breach it is refused.
    pub unreserved_minimum: u32,
}

impl Default for PoolParams {
    fn default() -> Self {
        Self {
            account_limit: 1_000,
            unreserved_minimum: 100,
        }
    }
}

/// Per-function scaling (SIM-FACTS §1, scaling-behavior.html): "1,000 execution environments
/// every 10 s per function", refilled "continuously over time", unused rate not accruing —
/// a token bucket of 1,000 refilling at 100/s (DERIVED in SIM-FACTS).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScalingParams {
    /// Bucket capacity: new execution environments a cold function gets at once.
    pub burst: u32,
    /// New environments per second once the bucket is empty.
    pub refill_per_s: f64,
    /// How long an idle execution environment stays warm for reuse (reuse costs no scaling
    /// token). UNCONFIRMED: AWS documents no lifetime; 5 minutes is the low end of what
    /// practitioners report, which errs towards more cold starts, i.e. more scaling throttles.
    pub idle_environment_s: Second,
}

impl Default for ScalingParams {
    fn default() -> Self {
        Self {
            burst: 1_000,
            refill_per_s: 100.0,
            idle_environment_s: 300,
        }
    }
}

/// API Gateway's account-level throttle (SIM-FACTS §1, apigateway limits.html): 10,000 RPS per
/// account per Region shared by every API, token bucket of 5,000 (the `.md` pages).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ApiGatewayParams {
    pub account_rate: f64,
    pub account_burst: f64,
    /// Throttles are "applied on a best-effort basis" (api-gateway-request-throttling.html):
    /// the fraction by which a stage or method limit may be overrun. UNCONFIRMED size; 0 by
    /// default so a scenario's throttle means what it says.
    pub overrun: f64,
}

impl Default for ApiGatewayParams {
    fn default() -> Self {
        Self {
            account_rate: 10_000.0,
            account_burst: 5_000.0,
            overrun: 0.0,
        }
    }
}

/// SQS event source mappings on standard queues (SIM-FACTS §2, services-sqs-scaling.html).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SqsParams {
    /// "Starts with 5 concurrent batches/invokes".
    pub initial_concurrency: u32,
    /// The fewest concurrent invokes the pollers back off to while Lambda throttles them.
    /// UNCONFIRMED: AWS says they back off "gradually" and scale back to 5 under low traffic
    /// ("can optimize to as few as 2", not when MaximumConcurrency is set). 5: the documented
    /// throttle → DLQ trap (SIM-FACTS §2) exists only if the pollers do not back off below a
    /// small reservation by themselves; a floor at or below the reservation would heal it.
    pub backoff_floor: u32,
    /// "Adds up to 300 concurrent invokes per minute" (Nov 2023 onwards), spread per second.
    pub added_per_minute: u32,
    /// "Maximum 1,250 simultaneous invokes per ESM" (the current page; older copies say 1,000).
    pub maximum_concurrency: u32,
    /// On a throttle "Lambda gradually backs off … by reducing the amount of concurrency
    /// allocated to your SQS ESM" (services-sqs-errorhandling.html). UNCONFIRMED rate: invokes
    /// removed per second with throttles; the ramp's own rate (300/min = 5/s), mirrored.
    pub backoff_per_s: f64,
}

impl Default for SqsParams {
    fn default() -> Self {
        Self {
            initial_concurrency: 5,
            backoff_floor: 5,
            added_per_minute: 300,
            maximum_concurrency: 1_250,
            backoff_per_s: 5.0,
        }
    }
}

/// Asynchronous invocation (SIM-FACTS §3, invocation-async-error-handling.html).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AsyncParams {
    /// Throttled events are retried with an interval that grows "from 1 second after the
    /// first attempt …
    pub first_retry_s: Second,
    /// … to a maximum of 5 minutes".
    pub max_retry_s: Second,
    /// `MaximumEventAgeInSeconds` default: 6 h (API_FunctionEventInvokeConfig); a function may
    /// set its own (60–21,600).
    pub max_event_age_s: Second,
}

impl Default for AsyncParams {
    fn default() -> Self {
        Self {
            first_retry_s: 1,
            max_retry_s: 300,
            max_event_age_s: 21_600,
        }
    }
}

/// CloudWatch and the notification path (SIM-FACTS §4).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CloudWatchParams {
    /// Seconds after a minute ends before its datapoint can be read or alarmed on.
    /// UNCONFIRMED: no documented figure (repost.aws QUGIWUPlEYQWaCBm9x2WfnWA speaks of "a few
    /// seconds"; practitioners estimate 1–3 min); 60 s sits inside that estimate.
    pub publish_delay_s: Second,
    /// Alarms on periods ≥ 60 s are evaluated "every minute" (alarm-limits.html); this is the
    /// second within each minute at which they are. UNCONFIRMED alignment; 0 (on the minute).
    pub evaluation_offset_s: Second,
    /// From an alarm's state change to the remediator's invocation (alarm → SNS → Lambda,
    /// asynchronous). UNCONFIRMED: SNS publishes no latency figure; 5 s.
    pub delivery_latency_s: Second,
    /// The auditor's schedule: the template's `AuditSchedule` default, `rate(5 minutes)`.
    pub audit_every_s: Second,
}

impl Default for CloudWatchParams {
    fn default() -> Self {
        Self {
            publish_delay_s: 60,
            evaluation_offset_s: 0,
            delivery_latency_s: 5,
            audit_every_s: 300,
        }
    }
}

/// How long a change takes to act after its API call returns (SIM-FACTS §5). The configured
/// value reads back at once; the model obeys it only after the delay.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PropagationParams {
    /// `PutFunctionConcurrency` is synchronous and returns the stored value; how soon
    /// invocations obey it is UNCONFIRMED. 1 s: the call itself is synchronous.
    pub reservation_s: Second,
    /// API Gateway `UpdateStage` throttle settings: UNCONFIRMED (nor whether a redeploy is
    /// needed). 10 s: a stage update is a configuration push to a fleet.
    pub stage_throttle_s: Second,
    /// `UpdateEventSourceMapping` answers 202 and the mapping passes through `Updating`:
    /// UNCONFIRMED. 30 s: the asynchronous state machine is the slowest of the three.
    pub queue_concurrency_s: Second,
}

impl Default for PropagationParams {
    fn default() -> Self {
        Self {
            reservation_s: 1,
            stage_throttle_s: 10,
            queue_concurrency_s: 30,
        }
    }
}
