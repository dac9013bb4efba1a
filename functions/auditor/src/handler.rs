//! One invocation: one audit pass over the open records, and the posture checklist. The
//! payload is ignored (the EventBridge schedule event, or `{}` by hand).

use cguard_core::audit::{AuditReport, audit};
use cguard_core::config::Policy;
use cguard_core::ports::Aws;
use cguard_core::posture::{Posture, PostureReport, PostureSettings, posture, publish};
use lambda_runtime::{Error, LambdaEvent};
use serde_json::{Value, json};

#[derive(Debug)]
pub struct Deps<A> {
    pub aws: A,
    pub policy: Policy,
    pub settings: PostureSettings,
}

/// Never fails the invocation: a failed step is in the report (and the next scheduled pass
/// finishes it); retrying the schedule event would only run the same pass again.
pub async fn handle<A: Aws + Posture>(
    event: LambdaEvent<Value>,
    deps: &Deps<A>,
) -> Result<Value, Error> {
    let now = chrono::Utc::now();
    tracing::debug!(payload = %event.payload, "audit requested");
    let (audit, posture): (AuditReport, PostureReport) = tokio::join!(
        audit(&deps.aws, &deps.policy, now),
        posture(&deps.aws, &deps.policy, &deps.settings, now)
    );
    let metric_published = match publish(&deps.aws, &deps.settings, &posture).await {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!(error = %e, "could not publish the PostureFindings metric");
            false
        }
    };
    let report = json!({
        "audit": audit,
        "posture": posture,
        "metric_published": metric_published,
    });
    for metric in cguard_core::emf::audit_metrics(&deps.settings.metrics_namespace, &audit, now) {
        println!("{metric}");
    }
    let line = serde_json::to_string(&report).unwrap_or_default();
    if audit.failed() {
        tracing::warn!(open_records = audit.incidents.len(), failed = true, findings = posture.findings.len(), report = %line, "audit report");
    } else {
        tracing::info!(open_records = audit.incidents.len(), failed = false, findings = posture.findings.len(), report = %line, "audit report");
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Mutex;

    use super::*;
    use cguard_core::alarm::AlarmState;
    use cguard_core::model::{AccountFacts, Change, Current, FunctionFacts, Reservation};
    use cguard_core::observation::{FunctionUsage, Peaks, Window};
    use cguard_core::ports::{
        Actuator, ErrorKind, Inventory, Ledger, Metrics, PortError, PortResult,
    };
    use cguard_core::posture::{AlarmInfo, ApiStage, QueueMapping};

    /// An account with no open record and nothing configured: every call answers empty.
    #[derive(Debug, Default)]
    struct Empty {
        published: Mutex<Vec<(String, String, f64)>>,
    }

    fn nothing<T>() -> PortResult<T> {
        Err(PortError::new(
            "test",
            ErrorKind::NotFound,
            "not in this test",
        ))
    }

    impl Metrics for Empty {
        async fn active_functions(&self) -> PortResult<Vec<String>> {
            Ok(Vec::new())
        }
        async fn peaks(&self, _: &[String], _: &Window) -> PortResult<Peaks> {
            Ok(Peaks::default())
        }
        async fn usage(&self, _: &[String], _: &Window) -> PortResult<Vec<FunctionUsage>> {
            Ok(Vec::new())
        }
        async fn alarm_state(&self, _: &str) -> PortResult<Option<AlarmState>> {
            Ok(None)
        }
    }
    impl Inventory for Empty {
        async fn account(&self) -> PortResult<AccountFacts> {
            Ok(AccountFacts {
                limit: Some(1000),
                unreserved: Some(1000),
            })
        }
        async fn function(&self, _: &str) -> PortResult<Option<FunctionFacts>> {
            Ok(None)
        }
    }
    impl Actuator for Empty {
        async fn apply(&self, _: &Change) -> PortResult<()> {
            nothing()
        }
        async fn current(&self, _: &Change) -> PortResult<Current> {
            nothing()
        }
    }
    impl Ledger for Empty {
        async fn write(&self, _: &str, _: &BTreeMap<String, String>) -> PortResult<()> {
            nothing()
        }
        async fn erase(&self, _: &str, _: &[String]) -> PortResult<()> {
            nothing()
        }
        async fn open_records(&self) -> PortResult<Vec<String>> {
            Ok(Vec::new())
        }
    }
    impl Posture for Empty {
        async fn function_reservation(&self, _: &str) -> PortResult<Reservation> {
            Ok(Reservation::Reserved(5))
        }
        async fn queue_mappings(&self) -> PortResult<Vec<QueueMapping>> {
            Ok(Vec::new())
        }
        async fn rest_stages(&self) -> PortResult<Vec<ApiStage>> {
            Ok(Vec::new())
        }
        async fn alarms(&self) -> PortResult<Vec<AlarmInfo>> {
            Ok(Vec::new())
        }
        async fn put_metric(
            &self,
            namespace: &str,
            name: &str,
            value: f64,
            _: chrono::DateTime<chrono::Utc>,
        ) -> PortResult<()> {
            self.published
                .lock()
                .unwrap()
                .push((namespace.into(), name.into(), value));
            Ok(())
        }
    }

    #[tokio::test]
    async fn the_schedule_event_runs_one_pass_and_publishes_the_finding_count() {
        let schedule: Value =
            serde_json::from_str(include_str!("../../../events/auditor-schedule.json")).unwrap();
        let deps = Deps {
            aws: Empty::default(),
            policy: Policy::default(),
            settings: PostureSettings::from_lookup(|_| None),
        };
        for payload in [schedule, json!({})] {
            let out = handle(LambdaEvent::new(payload, Default::default()), &deps)
                .await
                .unwrap();
            assert_eq!(out["audit"]["incidents"], json!([]));
            // Neither the remediator nor the alarm topic is configured: two unknowns.
            assert_eq!(
                out["posture"]["findings"].as_array().unwrap().len(),
                2,
                "{out}"
            );
            assert_eq!(out["metric_published"], true);
        }
        let published = deps.aws.published.lock().unwrap();
        assert_eq!(
            published[0],
            (
                "ConcurrencyGuard".to_owned(),
                "PostureFindings".to_owned(),
                2.0
            )
        );
    }
}
