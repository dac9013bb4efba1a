//! Issue 11, `cguard backtest`: past transitions of the guard's alarms into ALARM, replayed
//! against the in-memory account. A replay plans what the remediator would have planned from
//! the metrics as they were, says why when it plans nothing, and changes nothing — whatever the
//! policy says and whatever state the alarm is in now.

use chrono::{DateTime, Duration, Utc};
use futures::executor::block_on;

use cguard_core::backtest::{AlarmTransition, Backtest, MAX_REPLAYS, NotReplayed, Verdict};
use cguard_core::config::Policy;
use cguard_core::confirm::{AlarmEvidence, Comparison, Unconfirmed};
use cguard_core::intake::{AlarmState, MetricRef};
use cguard_core::model::{Status, Tier};
use cguard_core::report::{Outcome, Report};
use cguard_engine::Guard;
use cguard_testkit::hog::{self, FUNCTION, account_alarm, original, pressing};
use cguard_testkit::{FakeAccount, FakeFunction};

const PREFIX: &str = "concurrency-guard";

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// When the account alarm of `events/alarm-action.json` entered ALARM.
fn then() -> DateTime<Utc> {
    at("2026-11-23T09:40:27.123Z")
}

/// When the backtest runs: three days later.
fn now() -> DateTime<Utc> {
    then() + Duration::days(3)
}

/// That transition, as alarm history and the alarm's definition tell it.
fn transition(at: DateTime<Utc>) -> AlarmTransition {
    let alarm = account_alarm();
    AlarmTransition {
        alarm: alarm.name,
        arn: alarm.arn.expect("the sample alarm has an ARN"),
        at,
        reason: alarm.reason,
        metrics: vec![MetricRef {
            namespace: "AWS/Lambda".into(),
            name: "ConcurrentExecutions".into(),
            dimensions: Default::default(),
        }],
    }
}

/// What CloudWatch says of the account alarm now: OK again for days, its metric as it was up
/// to `then` at `value` against 800. A live notification would be refused on this evidence.
fn evidence_now(value: f64) -> AlarmEvidence {
    AlarmEvidence {
        arn: transition(then()).arn,
        state: AlarmState::Ok,
        state_updated: then() + Duration::hours(1),
        comparison: Some(Comparison::GreaterThanOrEqual),
        threshold: Some(800.0),
        evaluation_periods: 1,
        datapoints_to_alarm: 1,
        datapoints: vec![value],
    }
}

/// A policy that would change things: the backtest must not.
fn backtest(aws: &FakeAccount) -> Backtest {
    let policy = Policy {
        dry_run: false,
        ..Policy::default()
    };
    block_on(Guard::new(aws, policy).backtest(PREFIX, now() - Duration::days(30), now()))
        .expect("the history is readable")
}

fn only_report(backtest: &Backtest) -> &Report {
    assert_eq!(backtest.rows.len(), 1, "{backtest}");
    match &backtest.rows[0].verdict {
        Verdict::Replayed(report) => report,
        Verdict::NotReplayed(why) => panic!("not replayed: {why}"),
    }
}

/// Nothing in the account changed: values, records, tags, and no write was even attempted.
fn assert_untouched(aws: &FakeAccount) {
    assert_eq!(aws.live(), original());
    assert!(
        aws.calls().is_empty(),
        "writes attempted: {:?}",
        aws.calls()
    );
    assert!(aws.record(FUNCTION).is_none());
    assert!(aws.ledger().pending().is_empty());
    assert!(aws.history().is_empty());
    assert_eq!(aws.tags(FUNCTION), hog::owner_tags());
    assert!(aws.violations().is_empty());
}

#[test]
fn a_transition_while_the_hog_pressed_plans_its_limits_and_changes_nothing() {
    // GIVEN the account alarm entered ALARM while hog held 700 of 1000, and is OK now
    let aws = hog::account(pressing(then(), -9..=0))
        .with_alarm_state(Some(AlarmState::Ok))
        .with_alarm_evidence(&account_alarm().name, evidence_now(980.0))
        .with_alarm_history([transition(then())]);

    // WHEN the last 30 days are backtested under a policy that is not a dry run
    let result = backtest(&aws);

    // THEN the one transition is replayed as of then: confirmed, hog found and limited at its
    // source and capped — every action planned, none made
    let report = only_report(&result);
    assert_eq!(report.offenders, [FUNCTION], "{report}");
    assert!(report.dry_run);
    assert_eq!(report.outcome, Outcome::DryRun, "{report}");
    assert!(report.unconfirmed.is_none(), "{report}");
    let tiers: Vec<Tier> = report.actions.iter().map(|a| a.tier).collect();
    assert!(
        tiers.contains(&Tier::Source) && tiers.contains(&Tier::Reservation),
        "{report}"
    );
    assert!(
        report.actions.iter().all(|a| a.status == Status::Planned),
        "{report}"
    );
    let line = &result.rows[0].summary;
    assert!(
        line.contains("throttle REST API a1b2c3 stage prod"),
        "{line}"
    );
    assert!(line.contains("cap hog at 100"), "{line}");
    assert!(line.contains("SQS mapping"), "{line}");
    assert!(!result.failed());
    // AND nothing in the account changed
    assert_untouched(&aws);
}

#[test]
fn a_transition_on_a_calm_account_plans_nothing_and_says_why() {
    // GIVEN the alarm entered ALARM while its own metric stood at 150 of a threshold of 800
    let aws = FakeAccount::empty()
        .with_function(FakeFunction::new("quiet").peak(40.0))
        .with_account_peak(150.0)
        .with_alarm_evidence(&account_alarm().name, evidence_now(150.0))
        .with_alarm_history([transition(then())]);

    // WHEN backtested
    let result = backtest(&aws);

    // THEN the replay is refused as CloudWatch's own metric does not breach, and says so
    let report = only_report(&result);
    assert!(
        matches!(report.unconfirmed, Some(Unconfirmed::Calm { .. })),
        "{report}"
    );
    assert!(report.actions.is_empty());
    assert!(
        result.rows[0]
            .summary
            .starts_with("nothing: not confirmed by CloudWatch (its metric breaches in 0"),
        "{}",
        result.rows[0].summary
    );
    assert!(aws.calls().is_empty());
}

#[test]
fn a_confirmed_transition_without_an_offender_plans_nothing_and_says_why() {
    // GIVEN the alarm breached, but ten functions shared the load evenly
    let mut aws = FakeAccount::empty()
        .with_account_peak(900.0)
        .with_alarm_evidence(&account_alarm().name, evidence_now(900.0))
        .with_alarm_history([transition(then())]);
    for i in 0..10 {
        aws = aws.with_function(FakeFunction::new(&format!("fn-{i}")).peak(90.0));
    }

    // WHEN backtested
    let result = backtest(&aws);

    // THEN nobody is named, and the line says why
    let report = only_report(&result);
    assert!(report.offenders.is_empty(), "{report}");
    assert!(
        result.rows[0].summary.starts_with("nothing: no offender"),
        "{}",
        result.rows[0].summary
    );
    assert!(aws.calls().is_empty());
}

#[test]
fn only_the_guard_s_alarms_in_the_period_newest_first_at_most_the_limit() {
    // GIVEN MAX_REPLAYS + 1 recent transitions of the account alarm, one of another alarm, one
    // before the period and one whose one-minute metrics are gone
    let recent = (0..=MAX_REPLAYS as i64).map(|i| transition(then() - Duration::hours(i)));
    let mut other = transition(then());
    other.alarm = "payments-errors".into();
    other.arn = "arn:aws:cloudwatch:us-east-1:123456789012:alarm:payments-errors".into();
    let aws = hog::account(pressing(then(), -9..=0))
        .with_alarm_history(recent)
        .with_alarm_history([
            other,
            transition(now() - Duration::days(31)),
            transition(now() - Duration::days(16)),
        ]);

    // WHEN backtested
    let result = backtest(&aws);

    // THEN every transition of the guard's alarms in the period is counted, the newest
    // MAX_REPLAYS listed newest first, and the rest counted as not examined
    assert_eq!(result.transitions, MAX_REPLAYS + 2);
    assert_eq!(result.rows.len(), MAX_REPLAYS);
    assert_eq!(result.not_examined, 2);
    assert_eq!(result.rows[0].at, then());
    assert!(result.rows.windows(2).all(|w| w[0].at >= w[1].at));
    assert!(result.rows.iter().all(|r| r.alarm.starts_with(PREFIX)));
    assert_untouched(&aws);

    // AND a transition older than one-minute data, or one intake refuses, is listed, not replayed
    let aws = FakeAccount::empty().with_alarm_history([transition(now() - Duration::days(16)), {
        let mut t = transition(then());
        t.arn = "arn:aws:cloudwatch:us-east-1:123456789012:alarm:another".into();
        t
    }]);
    let result = backtest(&aws);
    let verdicts: Vec<&Verdict> = result.rows.iter().map(|r| &r.verdict).collect();
    assert!(
        matches!(verdicts[0], Verdict::NotReplayed(NotReplayed::Refused(why)) if why.contains("AlarmArn"))
    );
    assert_eq!(
        verdicts[1],
        &Verdict::NotReplayed(NotReplayed::MetricsExpired)
    );
    assert_eq!(aws.reads(), 1, "only the history was read");
}
