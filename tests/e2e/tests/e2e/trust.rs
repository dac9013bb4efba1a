//! Issue 9 against the stand-in: a notification CloudWatch does not confirm changes nothing.
//! moto keeps alarms (`PutMetricAlarm`, `SetAlarmState`, `DescribeAlarms`) and metrics, which
//! is all the confirmation reads; it never evaluates an alarm, so the lab sets the states.

use cguard_core::config::Policy;
use cguard_core::confirm::Unconfirmed;
use cguard_core::intake::parse_event;
use cguard_core::report::{Outcome, Report};
use cguard_e2e::{ACCOUNT_ALARM, Lab, Load, event_at, minutes_before};
use chrono::{Duration, Utc};

/// A normal day: the account at 140 of 1000, most of it one function at 135 — above the target
/// of 100, so an unconfirmed alarm would cap it (as it did before the guard confirmed alarms).
async fn calm(lab: &Lab) -> chrono::DateTime<Utc> {
    let at = Utc::now() - Duration::seconds(30);
    let minutes = minutes_before(at, 10);
    lab.function("search", &[]).await.unwrap();
    lab.function_metrics("search", &minutes, Load::steady(4.5, 30_000.0))
        .await
        .unwrap();
    lab.account_metrics(&minutes, 140.0).await.unwrap();
    at
}

async fn deliver(lab: &Lab, at: chrono::DateTime<Utc>) -> Report {
    let event = event_at("sns-account-concurrency.json", at, &lab.region).unwrap();
    let request = parse_event(&event).unwrap().remove(0);
    lab.guard(Policy::default())
        .remediate(&request, Utc::now())
        .await
}

#[tokio::test]
async fn a_notification_for_an_alarm_that_does_not_exist_changes_nothing() {
    let lab = Lab::new("af-south-1").await.unwrap();
    let at = calm(&lab).await;
    let report = deliver(&lab, at).await;
    assert_eq!(
        report.unconfirmed,
        Some(Unconfirmed::NoSuchAlarm),
        "{report}"
    );
    assert_eq!(report.outcome, Outcome::NoAction);
    assert_eq!(lab.reservation("search").await.unwrap(), None);
    assert!(lab.tags("search").await.unwrap().is_empty());
}

#[tokio::test]
async fn the_real_alarm_pushed_into_alarm_on_a_calm_account_changes_nothing() {
    // GIVEN the stack's real alarm, set to ALARM by SetAlarmState while the account is at 140
    let lab = Lab::new("me-south-1").await.unwrap();
    let at = calm(&lab).await;
    lab.alarm_fires(&ACCOUNT_ALARM).await.unwrap();

    // WHEN its notification arrives
    let report = deliver(&lab, at).await;

    // THEN CloudWatch's own metric, re-read with the alarm's own definition, does not breach
    assert!(
        matches!(
            report.unconfirmed,
            Some(Unconfirmed::Calm { breaching: 0, threshold, .. }) if threshold == 800.0
        ),
        "{report}"
    );
    assert!(report.to_string().contains("not confirmed by CloudWatch"));
    assert_eq!(lab.reservation("search").await.unwrap(), None);
    assert!(lab.tags("search").await.unwrap().is_empty());
}
