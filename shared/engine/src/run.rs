//! The two entry points the Lambdas and the CLI call, each written once: a batch of requests
//! from one event, and one audit pass. What differs between a Lambda and a terminal — EMF
//! lines, the report topic, printing, exit codes — is the caller's, through [`Announce`] and
//! the returned values.

use std::future::Future;
use std::time::{Duration, Instant};

use cguard_core::audit::AuditReport;
use cguard_core::intake::{Request, Subject};
use cguard_core::posture::{PostureReport, PostureSettings};
use cguard_core::report::Report;
use chrono::{DateTime, Utc};
use tracing::Instrument;

use crate::Guard;
use crate::ports::{Failure, Ports, Posture};

/// Where a report goes as soon as it is final, besides the caller's return value.
pub trait Announce: Sync {
    fn announce(&self, report: &Report) -> impl Future<Output = ()> + Send;
}

/// Announces nothing.
impl Announce for () {
    async fn announce(&self, _: &Report) {}
}

/// Announces where there is somewhere to announce to.
impl<A: Announce> Announce for Option<A> {
    async fn announce(&self, report: &Report) {
        if let Some(a) = self {
            a.announce(report).await;
        }
    }
}

/// The reports of one event's requests, in order.
#[derive(Debug)]
pub struct Batch {
    pub reports: Vec<Report>,
    /// Requests not started because the invocation's time was running out: the retry
    /// handles them (incident ids make that safe).
    pub deferred: Vec<String>,
}

impl Batch {
    /// Incidents whose remediation is incomplete: some action failed, or the inputs could not
    /// be read. A Lambda fails its invocation for them, so that the retry completes the rest.
    pub fn incomplete(&self) -> Vec<String> {
        self.reports
            .iter()
            .filter(|r| r.failed())
            .map(|r| r.incident.to_string())
            .chain(self.deferred.iter().cloned())
            .collect()
    }
}

/// The time one request may take, at most: a request is not started with less than this
/// left before the invocation's deadline, so every started report is emitted before the
/// timeout.
pub const REQUEST_BUDGET: Duration = Duration::from_secs(20);

/// Handles every request of one event, one after the other (two records about the same
/// offender must not race), each in its own span carrying the alarm and the incident. With a
/// `deadline` (the Lambda invocation's), a request is started only while
/// [`REQUEST_BUDGET`] remains; the rest are deferred to the retry.
pub async fn remediate_all<P: Ports>(
    guard: &Guard<P>,
    requests: &[Request],
    announce: &impl Announce,
    deadline: Option<Instant>,
) -> Batch {
    let mut reports = Vec::with_capacity(requests.len());
    let mut deferred = Vec::new();
    for request in requests {
        if deadline.is_some_and(|d| d.saturating_duration_since(Instant::now()) < REQUEST_BUDGET) {
            let incident = request.incident_id().to_string();
            tracing::warn!(%incident, "deferred: too little time left in this invocation");
            deferred.push(incident);
            continue;
        }
        let alarm = match &request.subject {
            Subject::Alarm(a) => a.name.clone(),
            Subject::Function { name, .. } => format!("manual:{name}"),
        };
        let incident = request.incident_id();
        let span = tracing::info_span!("incident", alarm = %alarm, incident = %incident, source = ?request.source);
        let report = async {
            let report = guard.remediate(request, Utc::now()).await;
            tracing::info!(
                outcome = ?report.outcome,
                state = ?report.alarm.as_ref().map(|a| a.state),
                arn = ?report.alarm.as_ref().and_then(|a| a.arn.as_deref()),
                offenders = ?report.offenders,
                actions = report.actions.len(),
                "remediation report"
            );
            announce.announce(&report).await;
            report
        }
        .instrument(span)
        .await;
        reports.push(report);
    }
    Batch { reports, deferred }
}

/// One auditor pass: the open records and the posture checklist, read side by side.
#[derive(Debug, serde::Serialize)]
pub struct AuditPass {
    pub audit: AuditReport,
    pub posture: PostureReport,
    /// Whether the `PostureFindings` datapoint went out; `None` when it was not asked for.
    pub metric_published: Option<bool>,
}

/// Runs one pass; with `publish_metric`, also publishes the finding count (a failure to do so
/// is logged and reported, never fatal: the next pass publishes again).
pub async fn audit_pass<P: Ports + Posture>(
    guard: &Guard<P>,
    settings: &PostureSettings,
    publish_metric: bool,
    now: DateTime<Utc>,
) -> AuditPass {
    let (audit, posture) = futures::join!(guard.audit(now), guard.posture(settings, now));
    let metric_published = if publish_metric {
        let published = guard.publish(settings, &posture).await;
        if let Err(e) = &published {
            tracing::warn!(error = %Failure::from(e), "could not publish the PostureFindings metric");
        }
        Some(published.is_ok())
    } else {
        None
    };
    let open_records = audit.incidents.len();
    let findings = posture.findings.len();
    if audit.failed() {
        tracing::warn!(open_records, findings, failed = true, "audit pass");
    } else {
        tracing::info!(open_records, findings, failed = false, "audit pass");
    }
    AuditPass {
        audit,
        posture,
        metric_published,
    }
}
