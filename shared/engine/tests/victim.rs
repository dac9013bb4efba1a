//! A victim alarm on an SQS consumer held back by its own reservation: no function eats the
//! pool, so there is no offender, yet the victim's mapping gets a `MaximumConcurrency` within
//! its reservation — recorded in the ledger first, in the victim's own record, like every
//! change.

use chrono::{DateTime, Utc};
use futures::executor::block_on;

use cguard_core::config::Policy;
use cguard_core::intake::{Request, Subject, parse_event};
use cguard_core::model::{Current, Reservation, ResourceKey, Status, Tier};
use cguard_core::observation::FunctionUsage;
use cguard_core::plan::Why;
use cguard_core::report::Outcome;
use cguard_engine::Guard;
use cguard_testkit::{FakeAccount, FakeFunction};

const QUEUE_ARN: &str = "arn:aws:sqs:us-east-1:123456789012:orders";

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-23T09:40:30Z")
        .unwrap()
        .with_timezone(&Utc)
}

/// The team's alarm on `orders-api`'s Throttles, as SNS delivers it.
fn request() -> Request {
    let event: serde_json::Value =
        serde_json::from_str(include_str!("../../../events/sns-victim-throttles.json")).unwrap();
    parse_event(&event).unwrap().remove(0)
}

/// `orders-api` consumes a queue with a reservation of `reserved`; `web` is busy but far below
/// any offender's share of a calm account.
fn account(reserved: u32) -> FakeAccount {
    let Subject::Alarm(alarm) = request().subject else {
        unreachable!("an alarm event")
    };
    let minute = now().timestamp() / 60 * 60;
    let usage = |concurrency: f64| FunctionUsage {
        concurrency: [(minute - 60, concurrency)].into_iter().collect(),
        ..FunctionUsage::default()
    };
    FakeAccount::empty()
        .with_function_at(
            FakeFunction::new("orders-api")
                .queue("esm-orders", QUEUE_ARN)
                .usage(usage(f64::from(reserved))),
            Reservation::Reserved(reserved),
        )
        .with_function(FakeFunction::new("web").usage(usage(40.0)))
        .with_account_peak(42.0)
        .with_confirmed_alarm(&alarm, 57.0, 0.0)
}

#[test]
fn a_consumer_held_back_by_its_reservation_gets_a_maximum_within_it() {
    let aws = account(2);
    let report = block_on(Guard::new(&aws, Policy::default()).remediate(&request(), now()));
    assert!(report.offenders.is_empty(), "{report}");
    assert_eq!(report.outcome, Outcome::Remediated, "{report}");
    let [action] = &report.actions[..] else {
        panic!("one action: {report}")
    };
    assert_eq!(
        (action.function.as_str(), action.tier, &action.status),
        ("orders-api", Tier::Source, &Status::Applied)
    );
    assert!(matches!(
        action.rationale,
        Why::WithinReservation {
            reserved: 2,
            mappings: 1,
            maximum: 2
        }
    ));
    let key = ResourceKey::Queue("esm-orders".into());
    assert_eq!(aws.value(&key), Current::QueueConcurrency(Some(2)));
    let record = aws
        .record("orders-api")
        .expect("recorded in the victim's record");
    assert_eq!(record.incident, report.incident);
    assert_eq!(record.actions.len(), 1);
    assert!(aws.violations().is_empty(), "{:?}", aws.violations());
}

#[test]
fn a_reservation_below_what_the_mapping_accepts_changes_nothing() {
    let aws = account(1);
    let before = aws.live();
    let report = block_on(Guard::new(&aws, Policy::default()).remediate(&request(), now()));
    assert_eq!(report.outcome, Outcome::NoAction, "{report}");
    assert_eq!(report.skipped.len(), 1, "{report}");
    assert_eq!(aws.live(), before);
    assert!(aws.record("orders-api").is_none());
}

#[test]
fn the_auditor_keeps_the_relief_while_the_reservation_stands_and_an_operator_may_undo_it() {
    let aws = account(2).with_alarm_state(Some(cguard_core::intake::AlarmState::Ok));
    block_on(Guard::new(&aws, Policy::default()).remediate(&request(), now()));
    let key = ResourceKey::Queue("esm-orders".into());
    // Calm for the whole cooldown: the auditor closes the record but leaves the maximum.
    let later = now() + chrono::Duration::minutes(31);
    let pass = block_on(Guard::new(&aws, Policy::default()).audit(later));
    let [incident] = &pass.incidents[..] else {
        panic!("one record: {pass}")
    };
    assert!(incident.closed, "{pass}");
    assert!(
        matches!(
            incident.restore[0].status,
            Status::Skipped(cguard_core::plan::Skip::KeptWithinReservation {
                maximum: 2,
                reserved: 2
            })
        ),
        "{pass}"
    );
    assert_eq!(aws.value(&key), Current::QueueConcurrency(Some(2)));
    let history = aws.history();
    assert!(
        history[0].actions[0]
            .outcome
            .starts_with("not restored: kept:"),
        "{history:?}"
    );

    // A second relief, undone on an operator's request: exactly what was there.
    let aws = account(2);
    block_on(Guard::new(&aws, Policy::default()).remediate(&request(), now()));
    let report =
        block_on(Guard::new(&aws, Policy::default()).restore_function("orders-api", later));
    assert_eq!(
        report.incidents[0].restore[0].status,
        Status::Applied,
        "{report}"
    );
    assert_eq!(aws.value(&key), Current::QueueConcurrency(None));
}
