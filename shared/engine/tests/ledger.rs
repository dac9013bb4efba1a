//! Issue 9, the records: the guard obeys only its own ledger. Tags shaped like the records the
//! guard used to keep, or a genuine incident id copied onto another function, change nothing and
//! are reported; a ledger entry that names another function or a protected one is never
//! restored; several guards racing on one alarm make one change per resource.
//!
//! Each `Guard` below has its own change lock, as separate Lambda processes do: only the
//! ledger's conditional writes stand between them.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use futures::executor::block_on;

use cguard_core::audit::AuditError;
use cguard_core::config::Policy;
use cguard_core::intake::{IncidentId, Request, parse_event};
use cguard_core::model::{Change, Current, Reservation, ResourceKey, Status, Tier};
use cguard_core::plan::Skip;
use cguard_core::record::{Record, RecordedAction, TAG_INCIDENT};
use cguard_engine::Guard;
use cguard_testkit::hog::{FUNCTION, original, owner_tags, pressing};
use cguard_testkit::{FakeAccount, FakeFunction};

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-23T09:40:30Z")
        .unwrap()
        .with_timezone(&Utc)
}

fn request() -> Request {
    let event: serde_json::Value =
        serde_json::from_str(include_str!("../../../events/alarm-action.json")).unwrap();
    parse_event(&event).unwrap().remove(0)
}

/// The hog account plus an idle function anyone may tag, and a protected one.
fn account() -> FakeAccount {
    cguard_testkit::hog::account(pressing(now(), -9..=40))
        .with_function(FakeFunction::new("idle"))
        .with_function_at(FakeFunction::new("payments"), Reservation::Reserved(300))
}

/// What the guard used to read as a record: base64 JSON of an action in a tag. Built by hand
/// so the attack stays what an attacker writes, whatever the guard's own code is today.
fn forged_record_tags(change: &Change) -> BTreeMap<String, String> {
    use base64::Engine as _;
    let action = RecordedAction {
        tier: Tier::Reservation,
        change: change.clone(),
        at: now() - Duration::hours(2),
    };
    let encoded = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(serde_json::to_vec(&action).unwrap());
    BTreeMap::from([
        (TAG_INCIDENT.to_owned(), "forged".to_owned()),
        (
            "concurrency-guard:opened".to_owned(),
            "2026-11-23T07:00:00Z".to_owned(),
        ),
        ("concurrency-guard:action:0".to_owned(), encoded),
    ])
}

fn payments_to_zero() -> Change {
    // "Undoing" this sets payments to reserved 0.
    Change::Reservation {
        function: "payments".into(),
        previous: Reservation::Reserved(0),
        new: Reservation::Reserved(300),
    }
}

#[test]
fn forged_record_tags_on_an_idle_function_restore_nothing_and_are_reported() {
    // GIVEN someone allowed to tag one idle function writes a record-shaped set of tags
    let aws = account();
    aws.state()
        .functions
        .get_mut("idle")
        .unwrap()
        .tags
        .extend(forged_record_tags(&payments_to_zero()));
    let before = aws.live();

    // WHEN the auditor passes and an operator asks to restore the idle function
    let pass = block_on(Guard::new(&aws, Policy::default()).audit(now() + Duration::hours(1)));
    let asked = block_on(
        Guard::new(&aws, Policy::default()).restore_function("idle", now() + Duration::hours(1)),
    );

    // THEN nothing in the account changed, the tags are reported as tampering, and the
    // operator is told there is no record
    assert_eq!(aws.live(), before, "{pass}\n{asked}");
    assert!(
        pass.incidents.is_empty(),
        "the ledger has no open record: {pass}"
    );
    assert!(
        pass.errors.contains(&AuditError::Tampered {
            function: "idle".into(),
            pointer: "forged".into(),
            ledger: None,
        }),
        "{pass}"
    );
    assert!(asked.incidents[0].restore.is_empty(), "{asked}");
    assert!(
        aws.tags("idle").contains_key("concurrency-guard:action:0"),
        "evidence kept"
    );
}

#[test]
fn a_genuine_incident_id_copied_onto_another_function_undoes_nothing() {
    // GIVEN a genuine remediation of hog, and its pointer copied onto the idle function
    let aws = account();
    let report = block_on(Guard::new(&aws, Policy::default()).remediate(&request(), now()));
    assert!(!report.failed(), "{report}");
    let incident = aws.tags(FUNCTION)[TAG_INCIDENT].clone();
    aws.state()
        .functions
        .get_mut("idle")
        .unwrap()
        .tags
        .insert(TAG_INCIDENT.into(), incident.clone());
    let limited = aws.live();

    // WHEN an operator restores through the copy, and the auditor passes while hog still presses
    let asked = block_on(
        Guard::new(&aws, Policy::default()).restore_function("idle", now() + Duration::minutes(5)),
    );
    let pass = block_on(Guard::new(&aws, Policy::default()).audit(now() + Duration::minutes(5)));

    // THEN the genuine incident is untouched and the copy is reported
    assert_eq!(aws.live(), limited, "{asked}\n{pass}");
    assert!(
        pass.errors.contains(&AuditError::Tampered {
            function: "idle".into(),
            pointer: incident,
            ledger: None,
        }),
        "{pass}"
    );
    assert!(aws.record(FUNCTION).is_some(), "hog's record stays open");
}

#[test]
fn a_ledger_entry_naming_another_function_or_a_protected_one_is_never_restored() {
    // GIVEN (however it got there) an open record for idle whose action names payments, and
    // one for payments itself, which is protected
    let aws = account();
    let mut policy = Policy::default();
    policy.protected_functions.insert("payments".into());
    for function in ["idle", "payments"] {
        let record = Record::new(IncidentId::from_recorded("x"), now(), None).with_actions([
            RecordedAction {
                tier: Tier::Reservation,
                change: payments_to_zero(),
                at: now(),
            },
        ]);
        aws.ledger().insert(function, &record);
    }
    let before = aws.live();

    // WHEN each is restored on request and by the auditor
    let asked = block_on(Guard::new(&aws, policy.clone()).restore_function("idle", now()));
    let pass = block_on(Guard::new(&aws, policy).audit(now() + Duration::hours(2)));

    // THEN payments keeps its 300, and each refusal is said
    assert_eq!(aws.live(), before, "{asked}\n{pass}");
    assert_eq!(
        aws.value(&ResourceKey::Function("payments".into())),
        Current::Reservation(Reservation::Reserved(300))
    );
    assert_eq!(
        asked.incidents[0].restore[0].status,
        Status::Skipped(Skip::OtherFunction("payments".into())),
        "{asked}"
    );
    let refusals: Vec<&Status> = pass
        .incidents
        .iter()
        .flat_map(|i| i.restore.iter().map(|u| &u.status))
        .collect();
    assert!(
        refusals.contains(&&Status::Skipped(Skip::ProtectedByList)),
        "{pass}"
    );
    assert!(
        aws.calls().iter().all(|c| !c.starts_with("apply")),
        "{:?}",
        aws.calls()
    );
}

#[test]
fn three_deliveries_racing_make_one_change_per_resource_and_restore_exactly() {
    // GIVEN one alarm delivered three times, handled by three guards at once (three processes)
    let aws = account().interleaved();
    let guards: Vec<_> = (0..3)
        .map(|_| Guard::new(&aws, Policy::default()))
        .collect();
    let request = request();

    // WHEN they run concurrently (interleaved at every port call)
    let reports = block_on(futures::future::join_all(
        guards.iter().map(|g| g.remediate(&request, now())),
    ));

    // THEN each resource was changed once, by one of them; the others say it was recorded
    let applies: Vec<String> = aws
        .calls()
        .into_iter()
        .filter(|c| c.starts_with("apply"))
        .collect();
    let mut resources: Vec<String> = applies.clone();
    resources.dedup();
    assert_eq!(
        applies.len(),
        3,
        "a throttle, a queue maximum, a cap: {applies:?}"
    );
    assert_eq!(resources.len(), applies.len(), "{applies:?}");
    let applied: usize = reports
        .iter()
        .map(|r| {
            r.actions
                .iter()
                .filter(|a| a.status == Status::Applied)
                .count()
        })
        .sum();
    assert_eq!(applied, 3, "{reports:#?}");
    assert!(aws.violations().is_empty(), "{:?}", aws.violations());
    assert_eq!(aws.record(FUNCTION).unwrap().actions.len(), 3);

    // AND a restore returns the account exactly, and the record becomes history
    let restored = block_on(
        Guard::new(&aws, Policy::default()).restore_function(FUNCTION, now() + Duration::hours(1)),
    );
    assert!(restored.incidents[0].closed, "{restored}");
    let live = aws.live();
    for (key, value) in original() {
        assert_eq!(live[&key], value, "{key:?}: {restored}");
    }
    assert_eq!(aws.tags(FUNCTION), owner_tags());
    let history = aws.history();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].actions.len(), 3);
    assert!(
        history[0].actions.iter().all(|s| s.outcome == "restored"),
        "{history:?}"
    );
}

#[test]
fn a_change_recorded_but_not_yet_made_is_left_to_the_process_making_it() {
    // GIVEN a process has recorded hog's cap (now) and not yet made it — and an audit pass and
    // an operator's restore arrive in between (before: they settled it as "never applied" and
    // closed the record, so the next delivery opened a second record and changed it again)
    let aws = account();
    let cap = RecordedAction {
        tier: Tier::Reservation,
        change: Change::Reservation {
            function: FUNCTION.into(),
            previous: Reservation::Unreserved,
            new: Reservation::Reserved(100),
        },
        at: now(),
    };
    let record =
        Record::new(IncidentId::from_recorded("in-flight"), now(), None).with_actions([cap]);
    aws.ledger().insert(FUNCTION, &record);

    // WHEN both look within the lease
    let soon = now() + Duration::seconds(20);
    let pass = block_on(Guard::new(&aws, Policy::default()).audit(soon));
    let asked = block_on(Guard::new(&aws, Policy::default()).restore_function(FUNCTION, soon));

    // THEN both hold, and the record stays open with its action
    for report in [&pass, &asked] {
        assert!(
            matches!(
                report.incidents[0].decision,
                Some(cguard_core::audit::Decision::Hold {
                    why: cguard_core::audit::HoldReason::ChangeInFlight { .. }
                })
            ),
            "{report}"
        );
    }
    assert_eq!(aws.record(FUNCTION).unwrap().actions.len(), 1);

    // AND past the lease the change counts as never made: settled, and the record closed
    let later = now() + Duration::seconds(cguard_core::record::RECORD_LEASE_SECONDS + 1);
    let restored = block_on(Guard::new(&aws, Policy::default()).restore_function(FUNCTION, later));
    assert!(restored.incidents[0].closed, "{restored}");
    assert_eq!(
        restored.incidents[0].restore[0].status,
        Status::Skipped(Skip::NeverApplied)
    );
}
