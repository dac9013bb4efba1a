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

/// Issue 9: records used to be tags on the function; anyone allowed `lambda:TagResource` on one
/// idle function could write one (restoring a protected function to 0, say), or copy a genuine
/// one. Now tags are a pointer for people: the ledger alone is obeyed, and a pointer it does not
/// back is reported as tampering.
#[tokio::test]
async fn forged_and_copied_record_tags_change_nothing_and_are_reported() {
    use base64::Engine as _;
    use cguard_core::audit::AuditError;
    use cguard_core::record::TAG_INCIDENT;
    use cguard_e2e::ClassicIncident;

    // GIVEN a genuine incident, limited by the guard
    let lab = Lab::new("eu-west-3").await.unwrap();
    let incident = ClassicIncident::seed(&lab, Utc::now() - Duration::seconds(30))
        .await
        .unwrap();
    let event = event_at("sns-account-concurrency.json", incident.at, &lab.region).unwrap();
    let request = parse_event(&event).unwrap().remove(0);
    let report = lab
        .guard(Policy::default())
        .remediate(&request, Utc::now())
        .await;
    assert_eq!(report.outcome, Outcome::Remediated, "{report}");
    let genuine = lab.tags(incident.offender).await.unwrap()[TAG_INCIDENT].clone();

    // AND on the victim, the pointer copied and an old-style record that "undoes" a change of
    // the protected function to reserved 0 (the shape the guard used to read from tags)
    let forged = cguard_core::record::RecordedAction {
        tier: cguard_core::model::Tier::Reservation,
        change: cguard_core::model::Change::Reservation {
            function: incident.protected.into(),
            previous: cguard_core::model::Reservation::Reserved(0),
            new: cguard_core::model::Reservation::Reserved(300),
        },
        at: Utc::now() - Duration::hours(2),
    };
    let encoded = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(serde_json::to_vec(&forged).unwrap());
    let victim_arn = format!(
        "arn:aws:lambda:{}:{}:function:{}",
        lab.region,
        cguard_e2e::ACCOUNT,
        incident.victim
    );
    lab.lambda
        .tag_resource()
        .resource(&victim_arn)
        .tags(TAG_INCIDENT, &genuine)
        .tags("concurrency-guard:opened", "2026-01-01T00:00:00Z")
        .tags("concurrency-guard:action:0", encoded)
        .send()
        .await
        .unwrap();
    let before = (
        lab.reservation(incident.protected).await.unwrap(),
        lab.reservation(incident.victim).await.unwrap(),
        lab.reservation(incident.offender).await.unwrap(),
    );

    // WHEN an operator restores the victim and the auditor passes
    let asked = lab
        .guard(Policy::default())
        .restore_function(incident.victim, Utc::now())
        .await;
    let pass = lab.guard(Policy::default()).audit(Utc::now()).await;

    // THEN no reservation changed, the genuine incident is still open, and the copy is reported
    let after = (
        lab.reservation(incident.protected).await.unwrap(),
        lab.reservation(incident.victim).await.unwrap(),
        lab.reservation(incident.offender).await.unwrap(),
    );
    assert_eq!(after, before, "{asked}\n{pass}");
    assert!(asked.incidents[0].restore.is_empty(), "{asked}");
    assert!(
        pass.errors.iter().any(|e| matches!(e,
            AuditError::Tampered { function, ledger: None, .. } if function == incident.victim)),
        "{pass}"
    );
    assert!(lab.record(incident.offender).await.unwrap().is_some());
}
