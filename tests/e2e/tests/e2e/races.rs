//! Retries and races: the same notification ten times, and two different alarms about the same
//! offender processed at the same time, end with one change per resource and one record.
//!
//! Across processes the deployment serialises the remediator (reserved concurrency 1); within
//! one process two requests may overlap, which is what the concurrent case exercises.

use cguard_core::config::Policy;
use cguard_core::intake::parse_event;
use cguard_core::model::Status;
use cguard_e2e::{ClassicIncident, Lab, event_at};
use chrono::{Duration, Utc};

#[tokio::test]
async fn ten_deliveries_make_one_change_per_resource_and_one_record() {
    let lab = Lab::new("ap-south-1").await.unwrap();
    let incident = ClassicIncident::seed(&lab, Utc::now() - Duration::seconds(30))
        .await
        .unwrap();
    let event = event_at("sns-account-concurrency.json", incident.at, &lab.region).unwrap();
    let request = parse_event(&event).unwrap().remove(0);
    let guard = lab.guard(Policy::default());

    let mut applied = 0;
    for _ in 0..10 {
        let report = guard.remediate(&request, Utc::now()).await;
        applied += report
            .actions
            .iter()
            .filter(|a| a.status == Status::Applied)
            .count();
    }

    assert_eq!(applied, 2, "one throttle and one cap, once");
    let record = lab.record(incident.offender).await.unwrap().unwrap();
    assert_eq!(record.actions.len(), 2);
    assert_eq!(lab.reservation(incident.offender).await.unwrap(), Some(100));
}

#[tokio::test]
async fn two_alarms_at_once_leave_one_consistent_record_and_the_same_values() {
    let lab = Lab::new("eu-south-1").await.unwrap();
    let incident = ClassicIncident::seed(&lab, Utc::now() - Duration::seconds(30))
        .await
        .unwrap();
    let account = parse_event(&event_at("alarm-action.json", incident.at, &lab.region).unwrap())
        .unwrap()
        .remove(0);
    let victim =
        parse_event(&event_at("sns-victim-throttles.json", incident.at, &lab.region).unwrap())
            .unwrap()
            .remove(0);
    // One guard, as in one Lambda process: its change lock serialises the two.
    let guard = lab.guard(Policy::default());

    let (a, b) = tokio::join!(
        guard.remediate(&account, Utc::now()),
        guard.remediate(&victim, Utc::now())
    );

    // Both may act (no compare-and-set on tags), but on the same values: one cap of 100, one
    // throttle, and one readable record whose previous values are the originals.
    assert!(
        a.outcome != cguard_core::report::Outcome::Failed
            && b.outcome != cguard_core::report::Outcome::Failed,
        "{a}\n{b}"
    );
    assert_eq!(lab.reservation(incident.offender).await.unwrap(), Some(100));
    assert_eq!(
        lab.stage_throttles(&incident.api_id, incident.stage)
            .await
            .unwrap()
            .len(),
        1
    );
    let record = lab
        .record(incident.offender)
        .await
        .unwrap()
        .expect("one record");
    assert!(record.incident == a.incident || record.incident == b.incident);
    for action in record.actions.values() {
        assert_eq!(
            action.change.previous_value(),
            match &action.change {
                cguard_core::model::Change::Reservation { .. } =>
                    cguard_core::model::Current::Reservation(
                        cguard_core::model::Reservation::Unreserved
                    ),
                _ => cguard_core::model::Current::Throttle(None),
            },
            "the record keeps the original values"
        );
    }
    // AND a later delivery of either changes nothing
    let again = guard.remediate(&victim, Utc::now()).await;
    assert!(
        again.actions.iter().all(|x| x.status != Status::Applied),
        "{again}"
    );
}

/// Issue 9: three deliveries of one alarm and an audit pass, as four processes at once (the
/// deployment's reserved concurrency of 1 is not what keeps this safe: Lambda retries, an
/// operator's `cguard`, the auditor's schedule all overlap). Before the ledger each process
/// read "no record" from the tags and made its own changes: three caps, three stage patches,
/// and a restore that failed and left the function at 100.
#[tokio::test]
async fn three_deliveries_and_an_audit_as_separate_processes_change_each_resource_once() {
    let region = "ap-southeast-3";
    let lab = Lab::new(region).await.unwrap();
    let incident = ClassicIncident::seed(&lab, Utc::now() - Duration::seconds(30))
        .await
        .unwrap();
    let event = event_at("sns-account-concurrency.json", incident.at, region).unwrap();
    let file = std::env::temp_dir().join(format!("cguard-race-{}.json", std::process::id()));
    std::fs::write(&file, serde_json::to_string(&event).unwrap()).unwrap();

    let lab_bin = env!("CARGO_BIN_EXE_lab");
    let spawn = |args: &[&str]| {
        tokio::process::Command::new(lab_bin)
            .args(args)
            .env("AWS_REGION", region)
            .output()
    };
    let path = file.to_str().unwrap();
    let (a, b, c, audit) = tokio::join!(
        spawn(&["apply", path]),
        spawn(&["apply", path]),
        spawn(&["apply", path]),
        spawn(&["audit"])
    );
    let mut applied = 0;
    let mut made = Vec::new();
    for out in [a, b, c] {
        let out = out.unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let reports: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
        for action in reports
            .iter()
            .flat_map(|r| r["actions"].as_array().cloned().unwrap_or_default())
            .filter(|a| a["status"] == "applied")
        {
            applied += 1;
            made.push(action["change"].clone());
        }
    }
    assert!(audit.unwrap().status.success());

    // One throttle and one cap, made by one process each; the record holds exactly those.
    assert_eq!(applied, 2, "one throttle and one cap, once: {made:#?}");
    let record = lab.record(incident.offender).await.unwrap().unwrap();
    assert_eq!(record.actions.len(), 2, "{record:?}");
    assert_eq!(lab.reservation(incident.offender).await.unwrap(), Some(100));

    // The restore returns exactly what was there: no reservation, no stage throttle.
    let report = lab
        .guard(Policy::default())
        .restore_function(incident.offender, Utc::now())
        .await;
    assert!(report.incidents[0].closed && !report.failed(), "{report}");
    assert_eq!(lab.reservation(incident.offender).await.unwrap(), None);
    assert!(lab.record(incident.offender).await.unwrap().is_none());
    assert_eq!(lab.history().await.unwrap().len(), 1);
    std::fs::remove_file(file).ok();
}
