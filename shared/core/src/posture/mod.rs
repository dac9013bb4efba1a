//! Posture: the production checklist, read from the account on every audit pass.
//!
//! Each check yields findings only for what needs attention; their number is published as the
//! `PostureFindings` metric so that an alarm can watch it. The reads are bounded: one batched
//! peak query for every active function, reservations for the [`BUSY_CHECKED`] busiest only, and
//! paginated listings of mappings, REST APIs and alarms.
//!
//! The checks themselves are pure, one function per checklist item behind [`assess`]; they read
//! [`PostureFacts`] and write a [`PostureReport`].

use std::future::Future;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::intake::MetricRef;
use crate::config::Policy;
use crate::error::Failure;
use crate::model::Reservation;
use crate::observation::Window;
use crate::ports::{Aws, ErrorKind, PortResult};

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

// From here to the tests: the port, what it returns, the wiring settings and the async reads,
// kept as one block because they are leaving this pure crate for the I/O layer together.

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

/// The reads (and the one write) posture needs beyond the engine's ports.
pub trait Posture: Sync {
    fn function_reservation(
        &self,
        function: &str,
    ) -> impl Future<Output = PortResult<Reservation>> + Send;
    /// Every SQS event source mapping in the account (all functions), paginated.
    fn queue_mappings(&self) -> impl Future<Output = PortResult<Vec<QueueMapping>>> + Send;
    /// Every REST API stage, with whether it is throttled and invokes Lambda.
    fn rest_stages(&self) -> impl Future<Output = PortResult<Vec<ApiStage>>> + Send;
    /// Every metric alarm, paginated.
    fn alarms(&self) -> impl Future<Output = PortResult<Vec<AlarmInfo>>> + Send;
    /// One datapoint (unit Count).
    fn put_metric(
        &self,
        namespace: &str,
        name: &str,
        value: f64,
        at: DateTime<Utc>,
    ) -> impl Future<Output = PortResult<()>> + Send;
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

    pub fn from_env() -> Self {
        Self::from_lookup(|k| std::env::var(k).ok())
    }
}

/// Reads everything the checks need, each part independently.
pub async fn gather<A: Aws + Posture>(
    aws: &A,
    policy: &Policy,
    settings: &PostureSettings,
    now: DateTime<Utc>,
) -> PostureFacts {
    let busy = async {
        let active = aws.active_functions().await?;
        let peaks = aws
            .peaks(&active, &Window::before(now, BUSY_WINDOW_MINUTES))
            .await?;
        let mut busy = Vec::new();
        for (function, peak) in busy_candidates(&peaks, policy) {
            let reservation = aws
                .function_reservation(&function)
                .await
                .map_err(Failure::from);
            busy.push(Busy {
                function,
                peak,
                reservation,
            });
        }
        Ok::<_, crate::ports::PortError>(busy)
    };
    let remediator = async {
        match &settings.remediator_function {
            Some(r) => Some(match aws.function_reservation(r).await {
                Ok(reservation) => Ok(Some(reservation)),
                Err(e) if e.kind == ErrorKind::NotFound => Ok(None),
                Err(e) => Err(Failure::from(e)),
            }),
            None => None,
        }
    };
    let (account, busy, queues, stages, remediator, alarms) = futures::join!(
        aws.account(),
        busy,
        aws.queue_mappings(),
        aws.rest_stages(),
        remediator,
        aws.alarms(),
    );
    PostureFacts {
        account: account.map_err(Failure::from),
        busy: busy.map_err(Failure::from),
        queues: queues.map_err(Failure::from),
        stages: stages.map_err(Failure::from),
        remediator,
        alarms: alarms.map_err(Failure::from),
    }
}

/// Reads and checks.
pub async fn posture<A: Aws + Posture>(
    aws: &A,
    policy: &Policy,
    settings: &PostureSettings,
    now: DateTime<Utc>,
) -> PostureReport {
    let facts = gather(aws, policy, settings, now).await;
    assess(&facts, policy, settings, now)
}

/// Publishes the finding count as `PostureFindings` in the configured namespace.
pub async fn publish<A: Posture>(
    aws: &A,
    settings: &PostureSettings,
    report: &PostureReport,
) -> PortResult<()> {
    aws.put_metric(
        &settings.metrics_namespace,
        METRIC_NAME,
        report.findings.len() as f64,
        report.at,
    )
    .await
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
