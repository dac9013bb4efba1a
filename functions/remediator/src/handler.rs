//! One invocation: the event parsed, every request remediated through the shared use-case,
//! and what a Lambda adds — EMF metrics, the report topic, and a `Diagnostic` whose error type
//! tells Lambda whether a retry can help.

use cguard_aws::notify::ReportTopic;
use cguard_core::intake::{IntakeError, parse_event};
use cguard_core::report::Report;
use cguard_engine::Guard;
use cguard_engine::ports::Ports;
use cguard_engine::run::{Announce, remediate_all};
use lambda_runtime::{Diagnostic, LambdaEvent};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

#[derive(Debug)]
pub struct Deps<P> {
    pub guard: Guard<P>,
    pub announce: LambdaAnnounce,
}

/// EMF lines on stdout (CloudWatch turns them into metrics) and the summary on the report
/// topic, for every report as soon as it is final.
#[derive(Debug)]
pub struct LambdaAnnounce {
    pub report_topic: Option<ReportTopic>,
    /// `CGUARD_METRICS_NAMESPACE`.
    pub metrics_namespace: String,
}

impl Announce for LambdaAnnounce {
    async fn announce(&self, report: &Report) {
        let now = chrono::Utc::now();
        for line in cguard_core::emf::report_metrics(&self.metrics_namespace, report, now) {
            println!("{line}");
        }
        self.report_topic.announce(report).await;
    }
}

/// The invocation's deadline as an instant on this machine's clock; `None` when the context
/// gives one already past — Lambda never does, but local emulators send a constant (cargo-lambda
/// 1.9.2: 600,000 ms after the epoch), and Lambda's own timeout still applies.
fn deadline(context: &lambda_runtime::Context) -> Option<Instant> {
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    if context.deadline <= now_ms {
        tracing::warn!(
            deadline_ms = context.deadline,
            "the invocation's deadline is already past: no time budget applied"
        );
        return None;
    }
    Some(Instant::now() + Duration::from_millis(context.deadline - now_ms))
}

#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// Nothing was changed.
    #[error("bad input, nothing changed: {0}")]
    BadInput(#[from] IntakeError),
    /// The reports (in the response and the logs) say exactly what was and was not changed.
    /// Failing the invocation makes Lambda retry it (the retry completes the rest) and, in the
    /// end, sends the event to the on-failure destination.
    #[error("remediation incomplete for incident(s) {0}; see the report log lines")]
    Incomplete(String),
}

impl From<HandlerError> for Diagnostic {
    fn from(e: HandlerError) -> Self {
        let error_type = match e {
            HandlerError::BadInput(_) => "BadInput",
            HandlerError::Incomplete(_) => "RemediationIncomplete",
        };
        Diagnostic {
            error_type: error_type.into(),
            error_message: e.to_string(),
        }
    }
}

pub async fn handle<P: Ports>(
    event: LambdaEvent<Value>,
    deps: &Deps<P>,
) -> Result<Value, HandlerError> {
    let requests = parse_event(&event.payload)
        .inspect_err(|e| tracing::error!(error = %e, "rejected event"))?;
    let batch = remediate_all(
        &deps.guard,
        &requests,
        &deps.announce,
        deadline(&event.context),
    )
    .await;
    let incomplete = batch.incomplete();
    if !incomplete.is_empty() {
        return Err(HandlerError::Incomplete(incomplete.join(", ")));
    }
    Ok(json!({ "reports": batch.reports }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use cguard_core::config::Policy;
    use cguard_testkit::FakeAccount;

    /// An account with nothing in it; the tests check it was never called.
    fn deps() -> Deps<FakeAccount> {
        Deps {
            guard: Guard::new(FakeAccount::empty(), Policy::default()),
            announce: LambdaAnnounce {
                report_topic: None,
                metrics_namespace: "Test".into(),
            },
        }
    }

    /// An invocation with `seconds` left, as Lambda's context says.
    fn event_with(payload: Value, seconds: u64) -> LambdaEvent<Value> {
        let mut context = lambda_runtime::Context::default();
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        context.deadline = now_ms + seconds * 1000;
        LambdaEvent::new(payload, context)
    }

    fn event(payload: Value) -> LambdaEvent<Value> {
        event_with(payload, 60)
    }

    #[tokio::test]
    async fn bad_input_is_rejected_with_its_reason_and_no_aws_call() {
        let deps = deps();
        let err = handle(event(json!({"dryRun": "yes", "functionName": "f"})), &deps)
            .await
            .unwrap_err();
        assert!(matches!(err, HandlerError::BadInput(_)));
        let d = Diagnostic::from(err);
        assert_eq!(d.error_type, "BadInput");
        assert!(d.error_message.contains("dryRun"), "{}", d.error_message);
        assert_eq!(
            (deps.guard.ports().reads(), deps.guard.ports().call_count()),
            (0, 0)
        );
    }

    #[tokio::test]
    async fn an_ok_notification_answers_with_a_no_action_report() {
        let deps = deps();
        let payload: Value = serde_json::from_str(include_str!("../../../events/sns-ok.json"))
            .expect("sample event");
        let out = handle(event(payload), &deps).await.unwrap();
        assert_eq!(out["reports"][0]["outcome"], "no_action");
        assert_eq!(out["reports"][0]["alarm"]["state"], "OK");
        assert_eq!(
            (deps.guard.ports().reads(), deps.guard.ports().call_count()),
            (0, 0)
        );
    }

    #[tokio::test]
    async fn a_deadline_already_past_as_local_emulators_send_is_no_budget() {
        // cargo-lambda 1.9.2's emulator sends lambda-runtime-deadline-ms: 600000.
        let deps = deps();
        let mut context = lambda_runtime::Context::default();
        context.deadline = 600_000;
        let payload: Value = serde_json::from_str(include_str!("../../../events/sns-ok.json"))
            .expect("sample event");
        let out = handle(LambdaEvent::new(payload, context), &deps)
            .await
            .unwrap();
        assert_eq!(out["reports"][0]["outcome"], "no_action");
    }

    #[tokio::test]
    async fn with_too_little_time_left_nothing_starts_and_lambda_retries() {
        // Issue 9: the report is always emitted before the timeout; a request that could not
        // finish in time is left for the retry, not cut off half-way.
        let deps = deps();
        let payload: Value =
            serde_json::from_str(include_str!("../../../events/alarm-action.json")).unwrap();
        let err = handle(event_with(payload, 5), &deps).await.unwrap_err();
        assert!(matches!(err, HandlerError::Incomplete(_)), "{err}");
        assert_eq!(Diagnostic::from(err).error_type, "RemediationIncomplete");
        assert_eq!(
            (deps.guard.ports().reads(), deps.guard.ports().call_count()),
            (0, 0)
        );
    }
}
