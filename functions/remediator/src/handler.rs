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
        let (alarm, incident) = match &request.subject {
            Subject::Alarm(a) => (a.name.clone(), a.incident_id().to_string()),
            Subject::Function { name, .. } => (format!("manual:{name}"), String::new()),
        };
        let span = tracing::info_span!("incident", alarm = %alarm, incident = %incident, source = ?request.source);
        let report = async {
            let report = remediate(&deps.aws, request, &deps.policy, chrono::Utc::now()).await;
            tracing::info!(
                outcome = ?report.outcome,
                offenders = ?report.offenders,
                report = %serde_json::to_string(&report).unwrap_or_default(),
                "remediation report"
            );
            if let Some(topic) = &deps.report_topic {
                if let Err(e) = topic.publish(&report).await {
                    tracing::warn!(error = %e, "could not publish the report summary");
                }
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
