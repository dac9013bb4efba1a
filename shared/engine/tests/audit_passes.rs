//! The auditor's passes end to end against the in-memory account: what is restored, in which
//! order, what is left alone, and what stays recorded when a step fails.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use futures::executor::block_on;

use cguard_core::audit::{AuditError, Decision, MAX_RECORDS_PER_PASS, Verdict};
use cguard_core::config::Policy;
use cguard_core::intake::{AlarmState, IncidentId};
use cguard_core::model::{
    ApiKind, ApiTarget, Change, Current, Reservation, ResourceKey, Status, Throttle, Tier,
};
use cguard_core::observation::FunctionUsage;
use cguard_core::plan::Skip;
use cguard_core::record::{Record, RecordedAction, TAG_INCIDENT};
use cguard_engine::Guard;
use cguard_testkit::{FakeAccount, FakeFunction};

fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-23T09:40:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

fn api() -> ResourceKey {
    throttle().resource()
}

fn function() -> ResourceKey {
    ResourceKey::Function("slow".into())
}

fn api_target() -> ApiTarget {
    ApiTarget {
        kind: ApiKind::Rest,
        api_id: "a1".into(),
        stage: "prod".into(),
        route: None,
    }
}

fn throttle() -> Change {
    Change::Throttle {
        target: api_target(),
        previous: None,
        new: Some(Throttle {
            rate: 3.33,
            burst: 4,
        }),
    }
}

fn cap() -> Change {
    Change::Reservation {
        function: "slow".into(),
        previous: Reservation::Unreserved,
        new: Reservation::Reserved(100),
    }
}

/// The remediator's first response, recorded and in place: a throttle (#0) and a cap (#1).
fn remediated(alarm: AlarmState, peak: Option<f64>) -> FakeAccount {
    let mut record = Record::new(IncidentId::from_recorded("inc1"), t0(), Some("acct".into()));
    let tags = BTreeMap::from([
        ("team".to_owned(), "payments".to_owned()),
        (TAG_INCIDENT.to_owned(), "inc1".to_owned()),
    ]);
    let mut live = BTreeMap::new();
    for (i, (tier, change)) in [(Tier::Source, throttle()), (Tier::Reservation, cap())]
        .into_iter()
        .enumerate()
    {
        let action = RecordedAction {
            tier,
            change,
            at: t0(),
        };
        live.insert(action.change.resource(), action.change.applied_value());
        record.actions.insert(i as u32, action);
    }
    let at = (t0() + Duration::minutes(50)).timestamp();
    let usage = FunctionUsage {
        concurrency: peak.map(|p| (at, p)).into_iter().collect(),
        duration_ms: [(at, 30_000.0)].into_iter().collect(),
        invocations: [(at, 200.0)].into_iter().collect(),
        ..Default::default()
    };
    let mut account = FakeAccount::empty()
        .with_function(
            FakeFunction::new("slow")
                .tags(tags)
                .api(api_target())
                .usage(usage),
        )
        .with_account_peak(980.0)
        .with_alarm_state(Some(alarm))
        .with_record("slow", &record);
    for (key, value) in live {
        account = account.with_live(key, value);
    }
    account
}

fn later(minutes: i64) -> DateTime<Utc> {
    t0() + Duration::minutes(minutes)
}

fn only_owner_tags(a: &FakeAccount) -> bool {
    a.tags("slow").keys().all(|k| k == "team")
}

#[test]
fn a_calm_offender_is_restored_newest_first_and_its_record_closed() {
    let aws = remediated(AlarmState::Ok, Some(12.0));
    let report = block_on(Guard::new(&aws, Policy::default()).audit(later(60)));
    let i = &report.incidents[0];
    assert!(
        matches!(i.decision, Some(Decision::Restore { .. })),
        "{report}"
    );
    assert!(i.verdicts.iter().all(|v| v.verdict == Verdict::InPlace));
    assert_eq!(
        i.restore.iter().map(|u| u.index).collect::<Vec<_>>(),
        [1, 0]
    );
    assert!(i.restore.iter().all(|u| u.status == Status::Applied));
    assert!(i.closed && !report.failed(), "{report}");
    assert_eq!(
        aws.state().live.get(&api()).cloned(),
        Some(Current::Throttle(None))
    );
    assert_eq!(
        aws.state().live.get(&function()).cloned(),
        Some(Current::Reservation(Reservation::Unreserved))
    );
    assert!(only_owner_tags(&aws), "{:?}", aws.tags("slow"));
    let again = block_on(Guard::new(&aws, Policy::default()).audit(later(61)));
    assert!(again.incidents.is_empty());
}

#[test]
fn a_person_s_value_is_reported_and_left_alone() {
    let aws = remediated(AlarmState::Ok, None);
    aws.state()
        .live
        .insert(function(), Current::Reservation(Reservation::Reserved(300)));
    let report = block_on(Guard::new(&aws, Policy::default()).audit(later(60)));
    let i = &report.incidents[0];
    assert!(matches!(i.verdicts[1].verdict, Verdict::Drifted { .. }));
    assert!(
        i.restore[0].status
            == Status::Skipped(Skip::PersonsValue(Current::Reservation(
                Reservation::Reserved(300)
            ))),
        "{report}"
    );
    assert_eq!(
        aws.state().live.get(&function()).cloned(),
        Some(Current::Reservation(Reservation::Reserved(300)))
    );
    assert_eq!(
        aws.state().live.get(&api()).cloned(),
        Some(Current::Throttle(None))
    );
    assert!(i.closed && only_owner_tags(&aws), "{report}");
}

#[test]
fn a_failed_step_keeps_the_rest_recorded_for_the_next_pass() {
    let aws = remediated(AlarmState::Ok, None);
    aws.fail_apply_on(Some(api()));
    let report = block_on(Guard::new(&aws, Policy::default()).audit(later(60)));
    assert!(report.failed(), "{report}");
    let i = &report.incidents[0];
    assert_eq!(i.restore[0].status, Status::Applied, "#1, the cap, first");
    assert!(matches!(i.restore[1].status, Status::Failed(_)));
    assert!(!i.closed);
    let record = aws.record("slow").unwrap();
    assert_eq!(record.actions.keys().copied().collect::<Vec<_>>(), [0]);

    aws.fail_apply_on(None);
    let report = block_on(Guard::new(&aws, Policy::default()).audit(later(75)));
    assert!(report.incidents[0].closed, "{report}");
    assert!(only_owner_tags(&aws));
    assert_eq!(
        aws.state().live.get(&api()).cloned(),
        Some(Current::Throttle(None))
    );
}

#[test]
fn a_persisting_spike_escalates_one_recorded_tier() {
    let aws = remediated(AlarmState::Alarm, Some(100.0));
    let policy = Policy {
        kill_switch_allowed: true,
        ..Policy::default()
    };
    let report = block_on(Guard::new(&aws, policy.clone()).audit(later(20)));
    let i = &report.incidents[0];
    assert!(
        matches!(
            i.decision,
            Some(Decision::Escalate {
                to: Tier::KillSwitch,
                ..
            })
        ),
        "{report}"
    );
    assert_eq!(i.escalation.len(), 1, "{report}");
    assert_eq!(i.escalation[0].status, Status::Applied, "{report}");
    assert_eq!(
        aws.state().live.get(&function()).cloned(),
        Some(Current::Reservation(Reservation::Reserved(0)))
    );
    let record = aws.record("slow").unwrap();
    assert_eq!(record.incident.as_str(), "inc1");
    assert_eq!(record.actions[&2].tier, Tier::KillSwitch);
    assert_eq!(
        record.actions[&2].change,
        Change::Reservation {
            function: "slow".into(),
            previous: Reservation::Reserved(100),
            new: Reservation::Reserved(0)
        }
    );

    // Restoring walks back through the kill switch and the cap to no reservation.
    let report = block_on(Guard::new(&aws, Policy::default()).restore_function("slow", later(21)));
    assert!(report.incidents[0].closed, "{report}");
    assert_eq!(
        aws.state().live.get(&function()).cloned(),
        Some(Current::Reservation(Reservation::Unreserved))
    );
}

#[test]
fn a_dry_run_changes_nothing() {
    let aws = remediated(AlarmState::Alarm, Some(100.0));
    let policy = Policy {
        kill_switch_allowed: true,
        dry_run: true,
        ..Policy::default()
    };
    let before = aws.tags("slow");
    let report = block_on(Guard::new(&aws, policy.clone()).audit(later(20)));
    assert_eq!(report.incidents[0].escalation[0].status, Status::Planned);
    let calm = remediated(AlarmState::Ok, None);
    let report2 = block_on(Guard::new(&calm, policy.clone()).audit(later(60)));
    assert!(
        report2.incidents[0]
            .restore
            .iter()
            .all(|u| u.status == Status::Planned)
    );
    assert_eq!(aws.tags("slow"), before);
    assert_eq!(
        calm.state().live.get(&function()).cloned(),
        Some(Current::Reservation(Reservation::Reserved(100)))
    );
    assert!(!report2.incidents[0].closed);
}

#[test]
fn restore_on_request_ignores_health_and_a_record_without_actions_is_closed() {
    let aws = remediated(AlarmState::Alarm, Some(100.0));
    let report = block_on(Guard::new(&aws, Policy::default()).restore_function("slow", later(1)));
    assert!(
        report.incidents[0].closed && only_owner_tags(&aws),
        "{report}"
    );

    let bare = remediated(AlarmState::Ok, None);
    let header = bare.record("slow").unwrap().header();
    bare.ledger().insert("slow", &header);
    let report = block_on(Guard::new(&bare, Policy::default()).audit(later(5)));
    assert!(
        report.incidents[0].closed && only_owner_tags(&bare),
        "{report}"
    );
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["incidents"][0]["decision"]["decision"], "restore");
}

#[test]
fn a_requested_restore_in_a_dry_run_changes_nothing() {
    // Issue 9: `cguard restore` ignored CGUARD_DRY_RUN and restored anyway.
    let aws = remediated(AlarmState::Alarm, Some(100.0));
    let before = (aws.live(), aws.tags("slow"));
    let policy = Policy {
        dry_run: true,
        ..Policy::default()
    };
    let report = block_on(Guard::new(&aws, policy).restore_function("slow", later(1)));
    let i = &report.incidents[0];
    assert!(report.dry_run && !i.closed, "{report}");
    assert!(
        i.restore.iter().all(|u| u.status == Status::Planned),
        "{report}"
    );
    assert_eq!((aws.live(), aws.tags("slow")), before);
}

#[test]
fn a_record_dated_in_the_future_is_reported_as_tampering_and_not_obeyed() {
    // Issue 9: a record opened "in the future" never left its grace period and held forever.
    let aws = remediated(AlarmState::Ok, Some(12.0));
    let mut record = aws.record("slow").unwrap();
    record.opened_at = "2099-01-01T00:00:00Z".parse().unwrap();
    aws.ledger().insert("slow", &record);
    let before = (aws.live(), aws.tags("slow"));
    let report = block_on(Guard::new(&aws, Policy::default()).audit(later(60)));
    assert!(report.incidents.is_empty(), "{report}");
    assert!(
        matches!(&report.errors[..], [AuditError::FutureRecord { function, .. }] if function == "slow"),
        "{report}"
    );
    assert!(report.failed());
    assert_eq!((aws.live(), aws.tags("slow")), before, "nothing restored");
}

#[test]
fn one_pass_examines_a_bounded_number_of_records_oldest_first() {
    let mut account = FakeAccount::empty();
    for i in 0..(MAX_RECORDS_PER_PASS + 5) {
        let record = Record::new(
            IncidentId::from_recorded(format!("inc{i}")),
            t0() - Duration::minutes(i as i64),
            None,
        );
        let name = format!("f{i:02}");
        account = account
            .with_function(FakeFunction::new(&name))
            .with_record(&name, &record);
    }
    let report = block_on(Guard::new(&account, Policy::default()).audit(later(60)));
    assert_eq!(report.incidents.len(), MAX_RECORDS_PER_PASS);
    // The oldest (opened longest ago: the highest numbers) first; the newest five wait.
    assert_eq!(
        report.incidents[0].function,
        format!("f{:02}", MAX_RECORDS_PER_PASS + 4)
    );
    assert_eq!(report.deferred, ["f04", "f03", "f02", "f01", "f00"]);
}
