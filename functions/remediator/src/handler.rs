//! One invocation: every request in the event, each in its own span, each with its report.

use cguard_aws::notify::ReportTopic;
use cguard_core::alarm::{IntakeError, Subject, parse_event};
use cguard_core::config::Policy;
use cguard_core::engine::remediate;
use cguard_core::ports::Aws;
use cguard_core::report::Report;
use lambda_runtime::{Diagnostic, LambdaEvent};
use serde_json::{Value, json};
use tracing::Instrument;

#[derive(Debug)]
pub struct Deps<A> {
    pub aws: A,
    pub report_topic: Option<ReportTopic>,
    pub policy: Policy,
    /// `CGUARD_METRICS_NAMESPACE`, default `ConcurrencyGuard`.
    pub metrics_namespace: String,
}

#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// Nothing was changed.
    #[error("bad input, nothing changed: {0}")]
    BadInput(#[from] IntakeError),
    /// The reports (in the logs) say exactly what was and was not changed. Failing the
    /// invocation makes Lambda retry it (the retry completes the rest) and, in the end, sends
    /// the event to the on-failure destination.
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

pub async fn handle<A: Aws>(
    event: LambdaEvent<Value>,
    deps: &Deps<A>,
) -> Result<Value, HandlerError> {
    let requests = parse_event(&event.payload)
        .inspect_err(|e| tracing::error!(error = %e, "rejected event"))?;
    let mut reports: Vec<Report> = Vec::with_capacity(requests.len());
    // Sequentially: two records about the same offender must not race each other.
    for request in &requests {
        let alarm = match &request.subject {
            Subject::Alarm(a) => a.name.clone(),
            Subject::Function { name, .. } => format!("manual:{name}"),
        };
        let incident = request.incident_id();
        let span = tracing::info_span!("incident", alarm = %alarm, incident = %incident, source = ?request.source);
        let report = async {
            let report = remediate(&deps.aws, request, &deps.policy, chrono::Utc::now()).await;
            tracing::info!(
                outcome = ?report.outcome,
                offenders = ?report.offenders,
                report = %serde_json::to_string(&report).unwrap_or_default(),
                "remediation report"
            );
            // Metrics for what the guard does, straight from the log line (EMF).
            for line in cguard_core::emf::report_metrics(
                &deps.metrics_namespace,
                &report,
                chrono::Utc::now(),
            ) {
                println!("{line}");
            }
            if let Some(topic) = &deps.report_topic
                && let Err(e) = topic.publish(&report).await
            {
                tracing::warn!(error = %e, "could not publish the report summary");
            }
            report
        }
        .instrument(span)
        .await;
        reports.push(report);
    }
    let incomplete: Vec<String> = reports
        .iter()
        .filter(|r| r.failed())
        .map(|r| r.incident.to_string())
        .collect();
    if !incomplete.is_empty() {
        return Err(HandlerError::Incomplete(incomplete.join(", ")));
    }
    Ok(json!({ "reports": reports }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use cguard_aws::Aws;

    /// Clients pointing at a closed port: any AWS call would fail the test loudly.
    fn deps() -> Deps<Aws> {
        let config = aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .endpoint_url("http://127.0.0.1:9")
            .build();
        Deps {
            aws: Aws::new(&config),
            report_topic: None,
            policy: Policy::default(),
            metrics_namespace: "Test".into(),
        }
    }

    fn event(payload: Value) -> LambdaEvent<Value> {
        LambdaEvent::new(payload, lambda_runtime::Context::default())
    }

    #[tokio::test]
    async fn bad_input_is_rejected_with_its_reason_and_no_aws_call() {
        let err = handle(
            event(json!({"dryRun": "yes", "functionName": "f"})),
            &deps(),
        )
        .await
        .unwrap_err();
        assert!(matches!(err, HandlerError::BadInput(_)));
        let d = Diagnostic::from(err);
        assert_eq!(d.error_type, "BadInput");
        assert!(d.error_message.contains("dryRun"), "{}", d.error_message);
    }

    #[tokio::test]
    async fn an_ok_notification_answers_with_a_no_action_report() {
        let payload: Value = serde_json::from_str(include_str!("../../../events/sns-ok.json"))
            .expect("sample event");
        let out = handle(event(payload), &deps()).await.unwrap();
        assert_eq!(out["reports"][0]["outcome"], "no_action");
        assert_eq!(out["reports"][0]["alarm"]["state"], "OK");
    }
}
