//! Issue 9, attacks on the guard's input, each against the in-memory account (which answers
//! `GetFunction` by name or ARN, as AWS does). Each attack failed before its fix; each asserts
//! that nothing in the account changed and that the refusal is said.

use chrono::{DateTime, Utc};
use futures::executor::block_on;
use serde_json::{Value, json};

use cguard_core::config::Policy;
use cguard_core::confirm::{AlarmEvidence, Unconfirmed};
use cguard_core::intake::AlarmState;
use cguard_core::intake::{IntakeError, parse_event};
use cguard_core::plan::Skip;
use cguard_core::report::Outcome;
use cguard_engine::Guard;
use cguard_testkit::hog::{FUNCTION, account, account_alarm, pressing};
use cguard_testkit::{FakeAccount, FakeFunction, function_arn};

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-23T09:40:30Z")
        .unwrap()
        .with_timezone(&Utc)
}

/// A direct alarm action on `metric` of the function named by `reference`.
fn function_alarm(reference: &str, metric: &str) -> Value {
    let mut event: Value =
        serde_json::from_str(include_str!("../../../events/alarm-action.json")).unwrap();
    let m = &mut event["alarmData"]["configuration"]["metrics"][0]["metricStat"]["metric"];
    m["name"] = json!(metric);
    m["dimensions"] = json!({ "FunctionName": reference });
    event
}

fn busy(name: &str) -> FakeFunction {
    FakeFunction::new(name).peak(700.0)
}

#[test]
fn a_protected_function_named_by_its_arn_is_still_protected() {
    // GIVEN payments is protected by name, and an alarm names it by its (qualified) ARN
    let aws = FakeAccount::empty()
        .with_function(busy("payments"))
        .with_account_peak(980.0)
        .with_confirmed_alarm(&account_alarm(), 980.0, 800.0);
    let policy = Policy {
        protected_functions: ["payments".to_owned()].into(),
        ..Policy::default()
    };
    let arn = format!("{}:live", function_arn("payments"));
    let requests = parse_event(&function_alarm(&arn, "ConcurrentExecutions")).unwrap();

    // WHEN the guard handles it
    let report = block_on(Guard::new(&aws, policy).remediate(&requests[0], now()));

    // THEN the function is recognised as payments, skipped as protected, and nothing changed
    assert_eq!(report.offenders, ["payments"], "{report}");
    assert_eq!(report.skipped[0].reason, Skip::ProtectedByList, "{report}");
    assert!(report.actions.is_empty(), "{report}");
    assert_eq!(aws.call_count(), 0, "{:?}", aws.calls());
}

#[test]
fn the_guard_s_own_function_named_by_a_partial_arn_is_never_touched() {
    let aws = FakeAccount::empty()
        .with_function(busy("cg-remediator"))
        .with_account_peak(980.0)
        .with_confirmed_alarm(&account_alarm(), 980.0, 800.0);
    let policy = Policy {
        guard_functions: ["cg-remediator".to_owned()].into(),
        ..Policy::default()
    };
    let requests = parse_event(&function_alarm(
        "123456789012:function:cg-remediator",
        "Invocations",
    ))
    .unwrap();
    let report = block_on(Guard::new(&aws, policy).remediate(&requests[0], now()));
    assert_eq!(report.skipped[0].reason, Skip::GuardFunction, "{report}");
    assert_eq!(aws.call_count(), 0);
}

#[test]
fn a_malformed_or_inconsistent_alarm_arn_is_bad_input() {
    for arn in [
        "arn:aws:cloudwatch:::alarm",
        "arn:aws:cloudwatch:us-east-1:999999999999:alarm:concurrency-guard-account-concurrency",
        "arn:aws:cloudwatch:us-east-1:123456789012:alarm:another-alarm",
    ] {
        let mut event: Value =
            serde_json::from_str(include_str!("../../../events/alarm-action.json")).unwrap();
        event["alarmArn"] = json!(arn);
        let err = parse_event(&event).unwrap_err();
        assert!(
            matches!(&err, IntakeError::Invalid { field, .. } if field == "AlarmArn"),
            "{arn}: {err}"
        );
    }
}

#[test]
fn a_function_dimension_that_names_no_function_is_bad_input() {
    for reference in [
        "arn:aws:sqs:us-east-1:123456789012:payments",
        "payments\u{1b}[2K",
        "",
    ] {
        let err = parse_event(&function_alarm(reference, "Throttles")).unwrap_err();
        assert!(
            matches!(&err, IntakeError::Invalid { field, .. } if field == "FunctionName dimension"),
            "{reference:?}: {err}"
        );
    }
}

#[test]
fn fifty_alarms_in_one_event_are_refused_whole() {
    // Issue 9: fifty forged alarms naming idle functions in one SNS event reserved 100 each.
    let mut event: Value =
        serde_json::from_str(include_str!("../../../events/sns-account-concurrency.json")).unwrap();
    let record = event["Records"][0].clone();
    event["Records"] = Value::Array(vec![record; 50]);
    let err = parse_event(&event).unwrap_err();
    assert!(
        matches!(&err, IntakeError::Invalid { field, .. } if field == "Records"),
        "{err}"
    );
    event["Records"] = Value::Array(event["Records"].as_array().unwrap()[..10].to_vec());
    assert_eq!(
        parse_event(&event).unwrap().len(),
        10,
        "ten is still one event's worth"
    );
}

/// The classic account, with CloudWatch saying `evidence` of its alarm (or nothing).
fn confirmation_attack(
    evidence: Option<AlarmEvidence>,
) -> (FakeAccount, cguard_core::report::Report) {
    let mut aws = account(pressing(now(), -9..=0));
    aws.state().evidence.clear();
    if let Some(e) = evidence {
        aws = aws.with_alarm_evidence(&account_alarm().name, e);
    }
    let event: Value =
        serde_json::from_str(include_str!("../../../events/alarm-action.json")).unwrap();
    let request = parse_event(&event).unwrap().remove(0);
    let report = block_on(Guard::new(&aws, Policy::default()).remediate(&request, now()));
    (aws, report)
}

fn real_evidence() -> AlarmEvidence {
    let alarm = account_alarm();
    AlarmEvidence {
        arn: alarm.arn.clone().unwrap(),
        state: AlarmState::Alarm,
        state_updated: alarm.changed_at,
        comparison: cguard_core::confirm::Comparison::parse("GreaterThanOrEqualToThreshold"),
        threshold: Some(800.0),
        evaluation_periods: 1,
        datapoints_to_alarm: 1,
        datapoints: vec![962.0],
    }
}

#[test]
fn an_alarm_cloudwatch_does_not_know_changes_nothing() {
    // Issue 9: a notification for an alarm that does not exist capped the busiest function.
    let (aws, report) = confirmation_attack(None);
    assert_eq!(
        report.unconfirmed,
        Some(Unconfirmed::NoSuchAlarm),
        "{report}"
    );
    assert_eq!(report.outcome, Outcome::NoAction);
    assert!(report.offenders.is_empty() && report.actions.is_empty());
    assert_eq!(aws.call_count(), 0, "{:?}", aws.calls());
}

#[test]
fn set_alarm_state_on_a_calm_account_changes_nothing() {
    // The real alarm, pushed into ALARM by SetAlarmState while its metric says 140.
    let calm = AlarmEvidence {
        datapoints: vec![120.0, 140.0],
        ..real_evidence()
    };
    let (aws, report) = confirmation_attack(Some(calm));
    assert!(
        matches!(
            report.unconfirmed,
            Some(Unconfirmed::Calm { breaching: 0, .. })
        ),
        "{report}"
    );
    assert_eq!(aws.call_count(), 0);
}

#[test]
fn an_alarm_of_the_same_name_elsewhere_or_at_another_time_changes_nothing() {
    let elsewhere = AlarmEvidence {
        arn:
            "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:concurrency-guard-account-concurrency"
                .into(),
        ..real_evidence()
    };
    let (aws, report) = confirmation_attack(Some(elsewhere));
    assert!(
        matches!(report.unconfirmed, Some(Unconfirmed::OtherArn { .. })),
        "{report}"
    );
    assert_eq!(aws.call_count(), 0);
    let replayed = AlarmEvidence {
        state_updated: account_alarm().changed_at + chrono::Duration::hours(3),
        ..real_evidence()
    };
    let (aws, report) = confirmation_attack(Some(replayed));
    assert!(
        matches!(
            report.unconfirmed,
            Some(Unconfirmed::NoTransitionThen { .. })
        ),
        "{report}"
    );
    assert_eq!(aws.call_count(), 0);
}

#[test]
fn a_confirmed_alarm_is_acted_on() {
    let (aws, report) = confirmation_attack(Some(real_evidence()));
    assert_eq!(report.unconfirmed, None, "{report}");
    assert_eq!(report.offenders, [FUNCTION]);
    assert!(aws.call_count() > 0);
}
