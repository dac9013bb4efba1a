//! The remediator end to end against the local stand-in (moto behind the CBOR proxy).
//!
//! What the stand-in cannot do, and where that path is tested instead:
//! - `GetAccountSettings` answers 404, so the planner runs without the account limit and the
//!   unreserved minimum is enforced by moto's own check (the planner's own check is unit-tested
//!   in `cguard-core` and the real response is mocked in `cguard-aws`'s tests);
//! - HTTP API `UpdateStage` answers 500: HTTP API throttles are tested with smithy mocks;
//! - `remove` patch operations are ignored: restoring "no REST throttle" is tested with mocks.

use cguard_core::config::Policy;
use cguard_core::fault::Fault;
use cguard_core::intake::{AlarmState, parse_event};
use cguard_core::model::{Change, Reservation, Status, Tier};
use cguard_core::plan::Skip;
use cguard_core::ranking::RankedBy;
use cguard_core::record::TAG_INCIDENT;
use cguard_core::report::{Outcome, Report};
use cguard_e2e::{ClassicIncident, Lab, Load, event_at, minutes_before};
use chrono::{Duration, Utc};

async fn run(lab: &Lab, event: &serde_json::Value, policy: &Policy) -> Vec<Report> {
    let guard = lab.guard(policy.clone());
    let mut out = Vec::new();
    for r in parse_event(event).expect("a real payload parses") {
        out.push(guard.remediate(&r, Utc::now()).await);
    }
    out
}

fn at() -> chrono::DateTime<Utc> {
    Utc::now() - Duration::seconds(30)
}

#[tokio::test]
async fn classic_incident_is_limited_at_the_source_and_capped_and_a_duplicate_changes_nothing() {
    // GIVEN the classic incident and an account-concurrency alarm delivered through SNS
    let lab = Lab::new("us-west-2").await.unwrap();
    let incident = ClassicIncident::seed(&lab, at()).await.unwrap();
    let event = event_at("sns-account-concurrency.json", incident.at, &lab.region).unwrap();

    // WHEN the remediator handles it
    let reports = run(&lab, &event, &Policy::default()).await;

    // THEN the 30-second function is found by its figures, ranked by the default path: one
    // Metrics Insights query, answered by the stand-in's proxy...
    let report = &reports[0];
    assert_eq!(report.outcome, Outcome::Remediated, "{report}");
    assert_eq!(report.ranked_by, Some(RankedBy::Insights), "{report}");
    // (the protected batch function holds 26% too: ranked an offender, then left alone)
    assert_eq!(report.offenders, [incident.offender, incident.protected]);
    assert_eq!(report.ranking[0].function, incident.offender);
    assert_eq!(report.ranking[0].peak_concurrency, Some(600.0));
    assert_eq!(report.ranking[0].little_estimate, Some(600.0));
    // ...its one method is throttled at target ÷ duration = 100 ÷ 30 s, and it is capped at 100
    let stage = lab
        .stage_throttles(&incident.api_id, incident.stage)
        .await
        .unwrap();
    let (rate, burst) = stage["~1items/GET"];
    assert_eq!((rate, burst), (3.33, 4));
    assert_eq!(lab.reservation(incident.offender).await.unwrap(), Some(100));
    // ...with the previous values recorded on the function before the change
    let record = lab
        .record(incident.offender)
        .await
        .unwrap()
        .expect("a record");
    assert_eq!(record.incident, report.incident);
    let recorded: Vec<_> = record
        .actions
        .values()
        .map(|a| (a.tier, a.change.previous_value()))
        .collect();
    assert_eq!(recorded.len(), 2);
    assert!(matches!(
        &recorded[1],
        (
            Tier::Reservation,
            cguard_core::model::Current::Reservation(Reservation::Unreserved)
        )
    ));

    // AND the victim, the protected function and the bystanders are untouched
    for f in [incident.victim, incident.protected]
        .into_iter()
        .chain(incident.bystanders.iter().map(String::as_str))
    {
        assert_eq!(lab.reservation(f).await.unwrap(), None, "{f}");
        assert!(
            !lab.tags(f).await.unwrap().contains_key(TAG_INCIDENT),
            "{f}"
        );
    }
    assert!(
        report
            .skipped
            .iter()
            .any(|s| s.function == incident.protected && s.reason == Skip::ProtectedByTag),
        "{report}"
    );

    // WHEN the same notification is delivered again (and once more via EventBridge)
    let tags_before = lab.tags(incident.offender).await.unwrap();
    let again = run(&lab, &event, &Policy::default()).await;
    let via_eventbridge = run(
        &lab,
        &event_at("eventbridge-state-change.json", incident.at, &lab.region).unwrap(),
        &Policy::default(),
    )
    .await;

    // THEN nothing changes
    for r in again.iter().chain(&via_eventbridge) {
        assert_eq!(r.incident, report.incident, "same incident in every shape");
        assert!(r.actions.iter().all(|a| a.status != Status::Applied), "{r}");
    }
    assert_eq!(lab.tags(incident.offender).await.unwrap(), tags_before);
    assert_eq!(lab.reservation(incident.offender).await.unwrap(), Some(100));
    assert_eq!(
        lab.stage_throttles(&incident.api_id, incident.stage)
            .await
            .unwrap()["~1items/GET"],
        (3.33, 4)
    );
}

#[tokio::test]
async fn a_dry_run_reports_the_same_plan_and_changes_nothing() {
    let lab = Lab::new("eu-west-1").await.unwrap();
    let incident = ClassicIncident::seed(&lab, at()).await.unwrap();
    let alarm = event_at("alarm-action.json", incident.at, &lab.region).unwrap();
    let manual = serde_json::json!({ "dryRun": true, "alarm": alarm });

    let report = &run(&lab, &manual, &Policy::default()).await[0];

    assert_eq!(report.outcome, Outcome::DryRun, "{report}");
    let planned: Vec<_> = report
        .actions
        .iter()
        .filter(|a| a.status == Status::Planned)
        .map(|a| a.tier)
        .collect();
    assert_eq!(planned, [Tier::Source, Tier::Reservation]);
    assert_eq!(lab.reservation(incident.offender).await.unwrap(), None);
    assert!(
        lab.stage_throttles(&incident.api_id, incident.stage)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        !lab.tags(incident.offender)
            .await
            .unwrap()
            .contains_key(TAG_INCIDENT)
    );
}

#[tokio::test]
async fn a_victim_alarm_limits_the_function_eating_the_pool_not_the_victim() {
    let lab = Lab::new("eu-central-1").await.unwrap();
    let incident = ClassicIncident::seed(&lab, at()).await.unwrap();
    let event = event_at("sns-victim-throttles.json", incident.at, &lab.region).unwrap();

    let report = &run(&lab, &event, &Policy::default()).await[0];

    assert_eq!(report.offenders[0], incident.offender, "{report}");
    assert!(!report.offenders.iter().any(|o| o == incident.victim));
    assert_eq!(lab.reservation(incident.victim).await.unwrap(), None);
    assert_eq!(lab.reservation(incident.offender).await.unwrap(), Some(100));
}

#[tokio::test]
async fn an_sqs_driven_offender_gets_maximum_concurrency() {
    // GIVEN a queue worker at 70 msg/s × 10 s = 700 concurrent
    let lab = Lab::new("ap-southeast-2").await.unwrap();
    let when = at();
    let minutes = minutes_before(when, 10);
    lab.function("queue-worker", &[]).await.unwrap();
    let uuid = lab.queue_mapping("queue-worker").await.unwrap();
    lab.function_metrics("queue-worker", &minutes, Load::steady(70.0, 10_000.0))
        .await
        .unwrap();
    lab.function("quiet", &[]).await.unwrap();
    lab.function_metrics("quiet", &minutes, Load::steady(1.0, 100.0))
        .await
        .unwrap();
    lab.account_metrics(&minutes, 930.0).await.unwrap();

    let report = &run(
        &lab,
        &event_at("alarm-action.json", when, &lab.region).unwrap(),
        &Policy::default(),
    )
    .await[0];

    assert_eq!(report.outcome, Outcome::Remediated, "{report}");
    assert_eq!(lab.maximum_concurrency(&uuid).await.unwrap(), Some(100));
    assert_eq!(lab.reservation("queue-worker").await.unwrap(), Some(100));
    assert!(report.actions.iter().any(|a| matches!(
        &a.change,
        Change::QueueConcurrency {
            previous: None,
            new: Some(100),
            ..
        }
    )));
}

#[tokio::test]
async fn a_rejected_cap_is_reported_and_leaves_no_record_of_a_change_not_made() {
    // GIVEN another function already holds 850 of the 1000: only 150 are unreserved, and AWS
    // keeps 100 of them, so a cap of 100 on the offender is refused
    let lab = Lab::new("ca-central-1").await.unwrap();
    let incident = ClassicIncident::seed(&lab, at()).await.unwrap();
    lab.lambda
        .put_function_concurrency()
        .function_name(&incident.bystanders[0])
        .reserved_concurrent_executions(850)
        .send()
        .await
        .unwrap();

    let report = &run(
        &lab,
        &event_at("sns-account-concurrency.json", incident.at, &lab.region).unwrap(),
        &Policy::default(),
    )
    .await[0];

    // THEN the source throttle stands, the cap failed with the reason, and only the applied
    // change is recorded
    assert_eq!(report.outcome, Outcome::Partial, "{report}");
    let cap = report
        .actions
        .iter()
        .find(|a| a.tier == Tier::Reservation)
        .unwrap();
    assert!(
        matches!(
            &cap.status,
            Status::Failed(Fault::BelowUnreservedMinimum(_))
        ),
        "{cap:?}"
    );
    assert_eq!(lab.reservation(incident.offender).await.unwrap(), None);
    let record = lab.record(incident.offender).await.unwrap().unwrap();
    assert_eq!(record.actions.len(), 1);
    assert_eq!(record.actions.values().next().unwrap().tier, Tier::Source);
}

#[tokio::test]
async fn ok_notifications_and_unrelated_alarms_change_nothing() {
    let lab = Lab::new("sa-east-1").await.unwrap();
    let incident = ClassicIncident::seed(&lab, at()).await.unwrap();
    let ok = &run(
        &lab,
        &event_at("sns-ok.json", incident.at, &lab.region).unwrap(),
        &Policy::default(),
    )
    .await[0];
    assert_eq!(ok.outcome, Outcome::NoAction);
    assert_eq!(
        ok.alarm.as_ref().map(|a| a.state),
        Some(AlarmState::Ok),
        "{ok}"
    );
    assert!(ok.actions.is_empty() && ok.ranking.is_empty(), "{ok}");
    assert_eq!(lab.reservation(incident.offender).await.unwrap(), None);
}

#[tokio::test]
async fn the_global_dry_run_switch_wins_over_a_manual_apply() {
    let lab = Lab::new("ap-northeast-1").await.unwrap();
    let incident = ClassicIncident::seed(&lab, at()).await.unwrap();
    let manual = serde_json::json!({ "dryRun": false, "functionName": incident.offender });
    let policy = Policy {
        dry_run: true,
        ..Policy::default()
    };

    let report = &run(&lab, &manual, &policy).await[0];

    assert_eq!(report.outcome, Outcome::DryRun, "{report}");
    assert_eq!(lab.reservation(incident.offender).await.unwrap(), None);
    // AND the manual payload cannot point the guard at a protected function
    let protected = serde_json::json!({ "dryRun": false, "functionName": incident.protected });
    let report = &run(&lab, &protected, &Policy::default()).await[0];
    assert!(report.actions.is_empty(), "{report}");
    assert!(matches!(
        report.skipped[0].reason,
        Skip::ProtectedByTag | Skip::ProtectedByList
    ));
    assert_eq!(lab.reservation(incident.protected).await.unwrap(), None);
}
