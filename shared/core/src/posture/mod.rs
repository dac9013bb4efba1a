//! Posture: the production checklist, read from the account on every audit pass.
//!
//! Each check yields findings only for what needs attention; their number is published as the
//! `PostureFindings` metric so that an alarm can watch it. The reads are bounded: one batched
//! peak query for every active function, reservations for the [`BUSY_CHECKED`] busiest only, and
//! paginated listings of mappings, REST APIs and alarms.
//!
//! The checks themselves are pure, one function per checklist item behind [`assess`]; they read
//! [`PostureFacts`] and write a [`PostureReport`].

use serde::{Deserialize, Serialize};

use crate::intake::MetricRef;

mod checks;
mod report;

pub use checks::{Check, assess, busy_candidates, notifies_the_guard};
pub use report::{Busy, Finding, PostureFacts, PostureReport, Severity};

/// The metric the finding count is published as.
pub const METRIC_NAME: &str = "PostureFindings";
pub const DEFAULT_NAMESPACE: &str = "ConcurrencyGuard";
/// How many of the busiest unreserved-looking functions have their reservation read.
pub const BUSY_CHECKED: usize = 5;
/// A function is busy when its peak reached this share of the target.
pub const BUSY_SHARE: f64 = 0.5;
/// Minutes of peaks the busy check looks at.
pub const BUSY_WINDOW_MINUTES: u32 = 60;

// What the posture reads return (the port itself is `cguard_engine::ports::Posture`), and where
// the guard is wired.

/// An SQS event source mapping.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueMapping {
    pub uuid: String,
    pub function: String,
    pub source_arn: String,
    pub maximum_concurrency: Option<u32>,
    pub enabled: bool,
}

/// A REST API stage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiStage {
    pub api_id: String,
    pub api_name: String,
    pub stage: String,
    /// Some stage-wide or method throttle is set.
    pub throttled: bool,
    /// Whether some method integrates a Lambda function; `None` if that could not be read.
    pub invokes_lambda: Option<bool>,
}

/// A metric alarm, as far as the checklist cares.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlarmInfo {
    pub name: String,
    pub metrics: Vec<MetricRef>,
    /// The ALARM-state actions.
    pub actions: Vec<String>,
}

/// Where the guard is wired, from the environment the stack sets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PostureSettings {
    /// `CGUARD_REMEDIATOR_FUNCTION`: name (or ARN) of the remediator.
    pub remediator_function: Option<String>,
    /// `CGUARD_ALARM_TOPIC_ARN`: the topic the concurrency alarms notify.
    pub alarm_topic_arn: Option<String>,
    /// `CGUARD_METRICS_NAMESPACE`, default `ConcurrencyGuard`.
    pub metrics_namespace: String,
}

impl PostureSettings {
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Self {
        let read = |k: &str| {
            get(k)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        Self {
            remediator_function: read("CGUARD_REMEDIATOR_FUNCTION"),
            alarm_topic_arn: read("CGUARD_ALARM_TOPIC_ARN"),
            metrics_namespace: read("CGUARD_METRICS_NAMESPACE")
                .unwrap_or_else(|| DEFAULT_NAMESPACE.to_owned()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_default_the_namespace() {
        const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:cg-alarms";
        let s = PostureSettings::from_lookup(|k| {
            (k == "CGUARD_ALARM_TOPIC_ARN").then(|| format!(" {TOPIC} "))
        });
        assert_eq!(s.alarm_topic_arn.as_deref(), Some(TOPIC));
        assert_eq!(s.metrics_namespace, "ConcurrencyGuard");
        assert_eq!(s.remediator_function, None);
    }
}
