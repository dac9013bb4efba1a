//! One invocation: one audit pass over the open records and the posture checklist, through
//! the shared use-case, plus what a Lambda adds: EMF metrics. The payload is ignored (the
//! EventBridge schedule event, or `{}` by hand).

use cguard_core::config::Settings;
use cguard_engine::Guard;
use cguard_engine::ports::{Ports, Posture};
use cguard_engine::run::{AuditPass, audit_pass};
use lambda_runtime::{Error, LambdaEvent};
use serde_json::Value;

#[derive(Debug)]
pub struct Deps<P> {
    pub guard: Guard<P>,
    pub settings: Settings,
}

/// Never fails the invocation: a failed step is in the report (and the next scheduled pass
/// finishes it); retrying the schedule event would only run the same pass again.
pub async fn handle<P: Ports + Posture>(
    event: LambdaEvent<Value>,
    deps: &Deps<P>,
) -> Result<AuditPass, Error> {
    let now = chrono::Utc::now();
    tracing::debug!(payload = %event.payload, "audit requested");
    let pass = audit_pass(&deps.guard, &deps.settings.posture, true, now).await;
    for metric in
        cguard_core::emf::audit_metrics(deps.settings.metrics_namespace(), &pass.audit, now)
    {
        println!("{metric}");
    }
    Ok(pass)
}

#[cfg(test)]
mod tests {
    use super::*;
    use cguard_testkit::FakeAccount;
    use serde_json::json;

    #[tokio::test]
    async fn the_schedule_event_runs_one_pass_and_publishes_the_finding_count() {
        let schedule: Value =
            serde_json::from_str(include_str!("../../../events/auditor-schedule.json")).unwrap();
        let settings = Settings::from_lookup(|_| None).unwrap();
        let deps = Deps {
            guard: Guard::new(FakeAccount::empty(), settings.policy.clone()),
            settings,
        };
        for payload in [schedule, json!({})] {
            let pass = handle(LambdaEvent::new(payload, Default::default()), &deps)
                .await
                .unwrap();
            let out = serde_json::to_value(&pass).unwrap();
            assert_eq!(out["audit"]["incidents"], json!([]));
            // Neither the remediator nor the alarm topic is configured: two unknowns.
            assert_eq!(
                out["posture"]["findings"].as_array().unwrap().len(),
                2,
                "{out}"
            );
            assert_eq!(out["metric_published"], true);
        }
        assert_eq!(
            deps.guard.ports().published()[0],
            (
                "ConcurrencyGuard".to_owned(),
                "PostureFindings".to_owned(),
                2.0
            )
        );
        assert_eq!(deps.guard.ports().call_count(), 0, "nothing changed");
    }
}
