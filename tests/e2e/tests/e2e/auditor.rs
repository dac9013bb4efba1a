//! The auditor end to end against the local stand-in: remediate → verify → restore exactly,
//! escalate while the spike persists, leave a person's change alone, finish a half-done restore.
//! The clock is passed in: "45 minutes later" is a `now` argument, not a sleep.
//!
//! moto ignores REST `remove` patches, so restoring "no REST throttle" is tested with smithy
//! mocks (cguard-aws); here the offenders are async- and SQS-driven.

use cguard_core::audit::{Decision, Verdict};
use cguard_core::config::Policy;
use cguard_core::intake::parse_event;
use cguard_core::model::{Status, Tier};
use cguard_core::record::TAG_INCIDENT;
use cguard_core::report::{Outcome, Report};
use cguard_e2e::{ACCOUNT_ALARM, Lab, Load, event_at, minutes_before};
use chrono::{DateTime, Duration, Utc};

async fn alarm(lab: &Lab, at: DateTime<Utc>) -> Report {
    let event = event_at("alarm-action.json", at, &lab.region).unwrap();
    let request = parse_event(&event).unwrap().remove(0);
    lab.guard(Policy::default())
        .remediate(&request, Utc::now())
        .await
}

async fn put_reservation(lab: &Lab, function: &str, n: i32) {
    lab.lambda
        .put_function_concurrency()
        .function_name(function)
        .reserved_concurrent_executions(n)
        .send()
        .await
        .unwrap();
}

/// Three offenders at 300 each: one without a reservation, one reserved 700, one fed by SQS
/// with no maximum.
async fn three_offenders(lab: &Lab) -> (DateTime<Utc>, String) {
    let at = Utc::now() - Duration::seconds(30);
    let minutes = minutes_before(at, 10);
    for f in ["unreserved-fn", "reserved-fn", "queue-fn"] {
        lab.function(f, &[]).await.unwrap();
        lab.function_metrics(f, &minutes, Load::steady(10.0, 30_000.0))
            .await
            .unwrap();
    }
    put_reservation(lab, "reserved-fn", 700).await;
    let uuid = lab.queue_mapping("queue-fn").await.unwrap();
    lab.account_metrics(&minutes, 960.0).await.unwrap();
    (at, uuid)
}

#[tokio::test]
async fn once_metrics_recover_restore_returns_the_exact_prior_state_and_clears_the_records() {
    // GIVEN an incident remediated on all three
    let lab = Lab::new("us-east-2").await.unwrap();
    let (at, uuid) = three_offenders(&lab).await;
    let report = alarm(&lab, at).await;
    assert_eq!(report.outcome, Outcome::Remediated, "{report}");
    assert_eq!(lab.reservation("unreserved-fn").await.unwrap(), Some(100));
    assert_eq!(lab.reservation("reserved-fn").await.unwrap(), Some(100));
    assert_eq!(lab.maximum_concurrency(&uuid).await.unwrap(), Some(100));

    // WHEN the auditor runs soon after: everything verified in place, nothing restored yet
    let policy = Policy::default();
    let early = lab
        .guard(policy.clone())
        .audit(Utc::now() + Duration::minutes(2))
        .await;
    assert_eq!(early.incidents.len(), 3, "{early}");
    assert!(
        early
            .incidents
            .iter()
            .all(|i| matches!(i.decision, Some(Decision::Hold { .. }))),
        "{early}"
    );

    // WHEN it runs 45 minutes later, with no load since (no datapoints, the alarm back to OK)
    lab.alarm_recovers(&ACCOUNT_ALARM).await.unwrap();
    let later = lab
        .guard(policy.clone())
        .audit(Utc::now() + Duration::minutes(45))
        .await;

    // THEN exactly the previous values are back: no reservation, 700, no maximum
    assert!(!later.failed(), "{later}");
    assert!(
        later
            .incidents
            .iter()
            .all(|i| matches!(i.decision, Some(Decision::Restore { .. }))),
        "{later}"
    );
    assert_eq!(
        lab.reservation("unreserved-fn").await.unwrap(),
        None,
        "no reservation, not reserved 0"
    );
    assert_eq!(lab.reservation("reserved-fn").await.unwrap(), Some(700));
    assert_eq!(lab.maximum_concurrency(&uuid).await.unwrap(), None);
    for f in ["unreserved-fn", "reserved-fn", "queue-fn"] {
        assert!(
            !lab.tags(f)
                .await
                .unwrap()
                .keys()
                .any(|k| k.starts_with("concurrency-guard:")),
            "{f} still has a record"
        );
    }
    // AND the next pass has nothing left to do
    assert!(
        lab.guard(policy.clone())
            .audit(Utc::now() + Duration::minutes(50))
            .await
            .incidents
            .is_empty()
    );
}

#[tokio::test]
async fn a_person_s_change_is_reported_and_left_alone() {
    let lab = Lab::new("us-west-1").await.unwrap();
    let (at, _) = three_offenders(&lab).await;
    alarm(&lab, at).await;
    // A person lowers the cap the guard set (100) to 50; the spike is over.
    put_reservation(&lab, "reserved-fn", 50).await;
    lab.alarm_recovers(&ACCOUNT_ALARM).await.unwrap();

    let later = lab
        .guard(Policy::default())
        .audit(Utc::now() + Duration::minutes(45))
        .await;

    assert_eq!(
        lab.reservation("reserved-fn").await.unwrap(),
        Some(50),
        "their value stays"
    );
    let entry = later
        .incidents
        .iter()
        .find(|i| i.function == "reserved-fn")
        .unwrap();
    assert!(
        entry
            .verdicts
            .iter()
            .any(|v| matches!(v.verdict, Verdict::Drifted { .. })),
        "{entry:?}"
    );
    assert!(
        !lab.tags("reserved-fn")
            .await
            .unwrap()
            .contains_key(TAG_INCIDENT)
    );
}

#[tokio::test]
async fn a_persisting_spike_is_escalated_one_tier_and_recorded() {
    // GIVEN the cap could not be placed (another function held 850 of 1000), so only the queue
    // was limited (tier 1)
    let lab = Lab::new("eu-west-2").await.unwrap();
    let at = Utc::now() - Duration::seconds(30);
    let minutes = minutes_before(at, 10);
    lab.function("hog", &[]).await.unwrap();
    lab.function("big-reservation", &[]).await.unwrap();
    put_reservation(&lab, "big-reservation", 850).await;
    let uuid = lab.queue_mapping("hog").await.unwrap();
    lab.function_metrics("hog", &minutes, Load::steady(30.0, 10_000.0))
        .await
        .unwrap();
    lab.account_metrics(&minutes, 990.0).await.unwrap();
    let first = alarm(&lab, at).await;
    assert_eq!(first.outcome, Outcome::Partial, "{first}");
    assert_eq!(lab.maximum_concurrency(&uuid).await.unwrap(), Some(100));
    assert_eq!(lab.reservation("hog").await.unwrap(), None);

    // WHEN the big reservation is released and, 15 minutes on, hog is still at 300
    lab.lambda
        .delete_function_concurrency()
        .function_name("big-reservation")
        .send()
        .await
        .unwrap();
    let now = Utc::now() + Duration::minutes(15);
    lab.function_metrics("hog", &minutes_before(now, 5), Load::steady(30.0, 10_000.0))
        .await
        .unwrap();
    let pass = lab.guard(Policy::default()).audit(now).await;

    // THEN the auditor moves one tier up, through the same policy, recorded first
    let entry = pass.incidents.iter().find(|i| i.function == "hog").unwrap();
    assert!(
        matches!(
            entry.decision,
            Some(Decision::Escalate {
                to: Tier::Reservation,
                ..
            })
        ),
        "{pass}"
    );
    assert!(
        entry
            .escalation
            .iter()
            .any(|a| a.tier == Tier::Reservation && a.status == Status::Applied),
        "{pass}"
    );
    assert_eq!(lab.reservation("hog").await.unwrap(), Some(100));
    let record = lab.record("hog").await.unwrap().unwrap();
    assert_eq!(record.incident, first.incident);
    assert_eq!(record.highest_tier(), Some(Tier::Reservation));
    assert_eq!(record.actions.len(), 2);
}

#[tokio::test]
async fn a_restore_that_fails_half_way_is_finished_by_the_next_pass() {
    // GIVEN queue-fn remediated (queue maximum and cap) and then, while capped, another
    // function takes 800: putting queue-fn back to 700 would breach the unreserved minimum
    let lab = Lab::new("eu-north-1").await.unwrap();
    let (at, uuid) = three_offenders(&lab).await;
    lab.lambda
        .delete_function_concurrency()
        .function_name("reserved-fn")
        .send()
        .await
        .unwrap();
    put_reservation(&lab, "queue-fn", 700).await;
    alarm(&lab, at).await;
    assert_eq!(lab.reservation("queue-fn").await.unwrap(), Some(100));
    lab.function("newcomer", &[]).await.unwrap();
    put_reservation(&lab, "newcomer", 600).await;
    lab.alarm_recovers(&ACCOUNT_ALARM).await.unwrap();

    // WHEN the auditor restores
    let first = lab
        .guard(Policy::default())
        .audit(Utc::now() + Duration::minutes(45))
        .await;

    // THEN the reservation restore fails, and what is left stays recorded
    assert!(first.failed(), "{first}");
    assert_eq!(lab.reservation("queue-fn").await.unwrap(), Some(100));
    let left = lab.record("queue-fn").await.unwrap().expect("record kept");
    assert!(!left.actions.is_empty());

    // WHEN the newcomer's reservation is released and the next pass runs
    lab.lambda
        .delete_function_concurrency()
        .function_name("newcomer")
        .send()
        .await
        .unwrap();
    let second = lab
        .guard(Policy::default())
        .audit(Utc::now() + Duration::minutes(50))
        .await;

    // THEN it finishes: the exact previous values, no record
    assert!(!second.failed(), "{second}");
    assert_eq!(lab.reservation("queue-fn").await.unwrap(), Some(700));
    assert_eq!(lab.maximum_concurrency(&uuid).await.unwrap(), None);
    assert!(
        !lab.tags("queue-fn")
            .await
            .unwrap()
            .contains_key(TAG_INCIDENT)
    );
}
