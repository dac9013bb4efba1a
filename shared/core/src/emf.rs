//! What the guard does, as CloudWatch metrics: embedded-metric-format (EMF) log lines, which
//! Lambda's log pipeline turns into metrics without a `PutMetricData` call on the hot path.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::model::Status;
use crate::report::{Outcome, Report};

/// One EMF document per report: `Incidents` (by outcome) and `Actions` (by tier and status).
pub fn report_metrics(namespace: &str, report: &Report, at: DateTime<Utc>) -> Vec<Value> {
    let mut lines = vec![doc(
        namespace,
        at,
        &["Outcome"],
        "Incidents",
        json!({ "Outcome": outcome(report.outcome) }),
        1.0,
    )];
    let mut counts: std::collections::BTreeMap<(u8, &str), f64> = Default::default();
    for a in &report.actions {
        *counts
            .entry((a.tier as u8, Status::name(&a.status)))
            .or_default() += 1.0;
    }
    for ((tier, status), n) in counts {
        lines.push(doc(
            namespace,
            at,
            &["Tier", "Status"],
            "Actions",
            json!({ "Tier": tier.to_string(), "Status": status }),
            n,
        ));
    }
    lines
}

/// The auditor's pass: `Escalations` (by tier and status), `Restores` (by status) and
/// `AuditFailures`.
pub fn audit_metrics(
    namespace: &str,
    report: &crate::audit::AuditReport,
    at: DateTime<Utc>,
) -> Vec<Value> {
    let mut counts: std::collections::BTreeMap<(&str, String, &str), f64> = Default::default();
    for i in &report.incidents {
        for a in &i.escalation {
            *counts
                .entry((
                    "Escalations",
                    (a.tier as u8).to_string(),
                    Status::name(&a.status),
                ))
                .or_default() += 1.0;
        }
        for u in &i.restore {
            *counts
                .entry(("Restores", String::new(), Status::name(&u.status)))
                .or_default() += 1.0;
        }
    }
    let mut lines: Vec<Value> = counts
        .into_iter()
        .map(|((metric, tier, status), n)| {
            if tier.is_empty() {
                doc(
                    namespace,
                    at,
                    &["Status"],
                    metric,
                    json!({ "Status": status }),
                    n,
                )
            } else {
                doc(
                    namespace,
                    at,
                    &["Tier", "Status"],
                    metric,
                    json!({ "Tier": tier, "Status": status }),
                    n,
                )
            }
        })
        .collect();
    let failed = if report.failed() { 1.0 } else { 0.0 };
    lines.push(doc(namespace, at, &[], "AuditFailures", json!({}), failed));
    lines
}

fn outcome(o: Outcome) -> &'static str {
    match o {
        Outcome::NoAction => "no_action",
        Outcome::DryRun => "dry_run",
        Outcome::Remediated => "remediated",
        Outcome::Partial => "partial",
        Outcome::Failed => "failed",
    }
}

/// An EMF document with one metric under one dimension set.
pub fn doc(
    namespace: &str,
    at: DateTime<Utc>,
    dimensions: &[&str],
    metric: &str,
    values: Value,
    n: f64,
) -> Value {
    let mut v = json!({
        "_aws": {
            "Timestamp": at.timestamp_millis(),
            "CloudWatchMetrics": [{
                "Namespace": namespace,
                "Dimensions": [dimensions],
                "Metrics": [{ "Name": metric, "Unit": "Count" }]
            }]
        },
        metric: n
    });
    if let (Some(obj), Some(vals)) = (v.as_object_mut(), values.as_object()) {
        obj.extend(vals.clone());
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intake::{EventSource, IncidentId};
    use crate::model::{Action, Change, Reservation, Tier};
    use crate::plan::Why;

    #[test]
    fn a_report_becomes_incident_and_action_counts() {
        let mut r = Report::new(IncidentId::from_recorded("i"), EventSource::Sns, false);
        let action = |status| Action {
            function: "f".into(),
            tier: Tier::Reservation,
            change: Change::Reservation {
                function: "f".into(),
                previous: Reservation::Unreserved,
                new: Reservation::Reserved(1),
            },
            rationale: Why::KillSwitchRequested,
            status,
        };
        r.actions = vec![
            action(Status::Applied),
            action(Status::Applied),
            action(Status::Failed(crate::fault::Fault::Unread(
                crate::audit::Unread::NotRead,
            ))),
        ];
        r.settle();
        let lines = report_metrics("ConcurrencyGuard", &r, Utc::now());
        assert_eq!(lines[0]["Outcome"], "partial");
        assert_eq!(lines[0]["Incidents"], 1.0);
        assert_eq!(
            lines[0]["_aws"]["CloudWatchMetrics"][0]["Namespace"],
            "ConcurrencyGuard"
        );
        let applied = lines.iter().find(|l| l["Status"] == "applied").unwrap();
        assert_eq!(
            (applied["Tier"].as_str(), applied["Actions"].as_f64()),
            (Some("2"), Some(2.0))
        );
        assert_eq!(lines.len(), 3);
    }
}
