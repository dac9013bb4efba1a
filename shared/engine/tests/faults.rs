//! Issue 6, faults: every AWS call made after planning — in the remediator's apply path, the
//! auditor's escalation and the operator's restore — is made to fail in turn, with each kind of
//! error. Each time the report must say exactly what was and was not changed, no change may be
//! made without its record, a re-run must finish the rest, and a restore must return the exact
//! original state (no reservation rather than reserved 0, no throttle, no maximum, no tags).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, Utc};
use futures::executor::block_on;

use cguard_core::audit::{AuditReport, Decision};
use cguard_core::config::Policy;
use cguard_core::error::ErrorKind;
use cguard_core::fault::Fault;
use cguard_core::intake::{Request, parse_event};
use cguard_core::model::{Action, Change, Current, Reservation, ResourceKey, Status, Tier};
use cguard_core::observation::FunctionUsage;
use cguard_core::report::Report;
use cguard_engine::Guard;
use cguard_testkit::FakeAccount;

use cguard_testkit::hog::{FUNCTION, api, function, original, owner_tags, queue};

const KINDS: [ErrorKind; 4] = [
    ErrorKind::Throttled,
    ErrorKind::Denied,
    ErrorKind::Unavailable,
    ErrorKind::Rejected,
];

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// When the remediator handles the alarm (just after it fired).
fn now() -> DateTime<Utc> {
    at("2026-11-23T09:40:30Z")
}

fn request() -> Request {
    let event: serde_json::Value =
        serde_json::from_str(include_str!("../../../events/alarm-action.json")).unwrap();
    let mut requests = parse_event(&event).unwrap();
    assert_eq!(requests.len(), 1);
    let r = requests.remove(0);
    assert!(!r.dry_run);
    r
}

/// The offender: 700 concurrent, 1400 invocations a minute of 30 s each, through the alarm's
/// minute and the following half hour (still pressing when the auditor looks).
fn usage() -> FunctionUsage {
    cguard_testkit::hog::pressing(now(), -9..=40)
}

fn account() -> FakeAccount {
    cguard_testkit::hog::account(usage())
}

fn remediate(aws: &FakeAccount) -> Report {
    block_on(Guard::new(aws, Policy::default()).remediate(&request(), now()))
}

fn restore(aws: &FakeAccount) -> AuditReport {
    block_on(
        Guard::new(aws, Policy::default())
            .restore_function(FUNCTION, now() + Duration::minutes(40)),
    )
}

fn escalation_policy() -> Policy {
    Policy {
        kill_switch_allowed: true,
        ..Policy::default()
    }
}

fn escalate(aws: &FakeAccount) -> AuditReport {
    block_on(Guard::new(aws, escalation_policy()).audit(now() + Duration::minutes(15)))
}

fn changes_of(actions: &[Action], pred: fn(&Status) -> bool) -> Vec<Change> {
    actions
        .iter()
        .filter(|a| pred(&a.status))
        .map(|a| a.change.clone())
        .collect()
}

fn applied(s: &Status) -> bool {
    *s == Status::Applied
}

/// (a) Applied actions are exactly the resources whose live value changed, each from its
/// recorded previous value to its new one; every other action left its resource alone.
fn report_matches_state(
    what: &str,
    actions: &[Action],
    before: &BTreeMap<ResourceKey, Current>,
    after: &BTreeMap<ResourceKey, Current>,
) {
    let mut applied_resources = BTreeSet::new();
    for a in actions {
        let key = a.change.resource();
        if a.status == Status::Applied {
            assert_eq!(
                before[&key],
                a.change.previous_value(),
                "{what}: {a:?} recorded a wrong previous value"
            );
            assert_eq!(
                after[&key],
                a.change.applied_value(),
                "{what}: reported applied but not in place: {a:?}"
            );
            applied_resources.insert(key);
        } else {
            assert!(
                !matches!(a.status, Status::Planned),
                "{what}: left planned: {a:?}"
            );
        }
    }
    for a in actions.iter().filter(|a| a.status != Status::Applied) {
        let key = a.change.resource();
        if !applied_resources.contains(&key) {
            assert_eq!(
                before[&key], after[&key],
                "{what}: reported {:?} but changed",
                a.status
            );
        }
    }
    let changed: BTreeSet<ResourceKey> = before
        .keys()
        .filter(|k| before[*k] != after[*k])
        .cloned()
        .collect();
    assert_eq!(
        changed, applied_resources,
        "{what}: changed resources vs applied actions"
    );
}

fn no_violations(what: &str, aws: &FakeAccount) {
    assert_eq!(
        aws.violations(),
        Vec::<String>::new(),
        "{what}: a change without its record"
    );
}

/// (d) A clean restore returns the exact original state and removes every guard tag.
fn restores_exactly(what: &str, aws: &FakeAccount) {
    let report = restore(aws);
    no_violations(what, aws);
    assert!(!report.failed(), "{what}: restore failed: {report}");
    assert_eq!(aws.live(), original(), "{what}: not the original state");
    assert_eq!(
        aws.value(&function()),
        Current::Reservation(Reservation::Unreserved),
        "{what}: no reservation, not reserved 0"
    );
    assert_eq!(
        aws.tags(FUNCTION),
        owner_tags(),
        "{what}: guard tags left: {report}"
    );
    assert!(
        !aws.tags(FUNCTION)
            .keys()
            .any(|k| k.starts_with("concurrency-guard:")),
        "{what}"
    );
}

/// A clean run: its report, and how many counted calls it made.
fn clean_remediation() -> (FakeAccount, Report, usize) {
    let aws = account();
    let report = remediate(&aws);
    no_violations("clean", &aws);
    assert!(!report.failed(), "{report}");
    let applied = changes_of(&report.actions, applied);
    assert_eq!(
        applied
            .iter()
            .map(Change::resource)
            .collect::<BTreeSet<_>>(),
        BTreeSet::from([api(), queue(), function()]),
        "the scenario plans a throttle, a queue maximum and a cap: {report}"
    );
    let calls = aws.call_count();
    (aws, report, calls)
}

/// What each planned resource holds once remediation is complete.
fn targets(report: &Report) -> BTreeMap<ResourceKey, Current> {
    report
        .actions
        .iter()
        .filter(|a| a.status == Status::Applied)
        .map(|a| (a.change.resource(), a.change.applied_value()))
        .collect()
}

/// Runs one remediation fault case. Panics on a breach of (a), (b) or (d); returns the ways in
/// which (c), "a re-run completes the rest", did not hold.
fn remediation_case(
    k: usize,
    kind: ErrorKind,
    targets: &BTreeMap<ResourceKey, Current>,
) -> Vec<String> {
    let aws = account();
    let before = aws.live();
    aws.fail_call(k, kind);
    let report = remediate(&aws);
    let failed = aws.disarm();
    let what = format!("remediation, call #{k} ({failed:?}) fails {kind:?}");
    assert!(failed.is_some(), "{what}: the fault did not fire");
    let after = aws.live();
    // (a)
    report_matches_state(&what, &report.actions, &before, &after);
    if failed.as_deref().is_some_and(|c| c.starts_with("point ")) {
        // The pointer tag is for people and written after every change: its loss is a note,
        // and the remediation itself succeeded.
        assert!(!report.failed(), "{what}: {report}");
        assert!(
            report
                .notes
                .iter()
                .any(|n| n.contains("pointer for people")),
            "{what}: the note says the pointer is missing: {report}"
        );
    } else {
        assert!(report.failed(), "{what}: a failure must show: {report}");
        assert!(
            report.actions.iter().any(
                |a| matches!(&a.status, Status::Failed(f) if f.failure().is_some_and(|e| e.kind == kind))
            ),
            "{what}: the failed action names the error: {report}"
        );
    }
    // (b), and the record holds exactly what was applied.
    no_violations(&what, &aws);
    let recorded: Vec<Change> = aws
        .record(FUNCTION)
        .map(|r| r.actions.values().map(|a| a.change.clone()).collect())
        .unwrap_or_default();
    assert_eq!(
        recorded,
        changes_of(&report.actions, applied),
        "{what}: the record vs the applied actions"
    );

    // (c) A re-run without faults completes the rest.
    let mut incomplete = Vec::new();
    let rerun = remediate(&aws);
    no_violations(&what, &aws);
    report_matches_state(
        &format!("{what}, re-run"),
        &rerun.actions,
        &after,
        &aws.live(),
    );
    for (key, target) in targets {
        if aws.value(key) != *target {
            incomplete.push(format!(
                "{what}: after a re-run {key:?} holds {:?}, not {target:?}; re-run: {}",
                aws.value(key),
                rerun
                    .skipped
                    .iter()
                    .map(|s| s.reason.to_string())
                    .chain(rerun.actions.iter().map(|a| format!("{:?}", a.status)))
                    .collect::<Vec<_>>()
                    .join("; ")
            ));
        }
    }
    let record = aws.record(FUNCTION).expect("a record after a re-run");
    let resources: Vec<ResourceKey> = record
        .actions
        .values()
        .map(|a| a.change.resource())
        .collect();
    let unique: BTreeSet<ResourceKey> = resources.iter().cloned().collect();
    assert_eq!(
        resources.len(),
        unique.len(),
        "{what}: one resource recorded twice"
    );
    if unique != targets.keys().cloned().collect() {
        incomplete.push(format!("{what}: the record lists {unique:?}"));
    }

    // (d)
    restores_exactly(&what, &aws);
    incomplete
}

fn remediation_matrix() -> (usize, Vec<String>) {
    let (_, clean, n) = clean_remediation();
    let targets = targets(&clean);
    assert_eq!(
        n, 7,
        "a record and an apply per action, then the pointer tag"
    );
    let mut cases = 0;
    let mut incomplete = Vec::new();
    for k in 0..n {
        for kind in KINDS {
            incomplete.extend(remediation_case(k, kind, &targets));
            cases += 1;
        }
    }
    (cases, incomplete)
}

#[test]
fn a_clean_remediation_is_recorded_and_restored_exactly() {
    let (aws, report, _) = clean_remediation();
    let record = aws.record(FUNCTION).unwrap();
    assert_eq!(record.actions.len(), 3);
    assert_eq!(
        aws.value(&function()),
        Current::Reservation(Reservation::Reserved(100))
    );
    restores_exactly("clean", &aws);
    assert!(!report.failed());
}

#[test]
fn every_remediation_call_failing_is_reported_exactly_and_restorable() {
    let (cases, incomplete) = remediation_matrix();
    println!(
        "remediation: {cases} fault cases, {} where a re-run left work undone",
        incomplete.len()
    );
    assert_eq!(cases, 7 * KINDS.len(), "7 calls, 4 kinds of failure each");
}

#[test]
fn a_rerun_after_any_remediation_fault_completes_the_rest() {
    let (cases, incomplete) = remediation_matrix();
    assert!(
        incomplete.is_empty(),
        "{} of {cases} cases incomplete:\n{}",
        incomplete.len(),
        incomplete.join("\n")
    );
}

// ------------------------------------------------------------------------------- restore path

/// Checks one faulted restore against the state: every action the report settled is undone and
/// gone from the record (unless its erase failed); what remains recorded is exactly what is
/// still in place; the live state is the original with the remaining actions applied.
fn restore_matches_state(
    what: &str,
    aws: &FakeAccount,
    report: &AuditReport,
    recorded: &BTreeMap<u32, Change>,
) {
    let entry = &report.incidents[0];
    let remaining: BTreeMap<u32, Change> = aws
        .record(FUNCTION)
        .map(|r| r.actions.into_iter().map(|(i, a)| (i, a.change)).collect())
        .unwrap_or_default();
    let mut erase_failed = BTreeSet::new();
    let mut settled = BTreeSet::new();
    for step in &entry.restore {
        assert_eq!(step.change, recorded[&step.index].inverse(), "{what}");
        match &step.status {
            Status::Applied => {
                settled.insert(step.index);
            }
            Status::Failed(Fault::NotSettled { skipped: None, .. }) => {
                erase_failed.insert(step.index);
            }
            Status::Failed(Fault::NotRestored(_) | Fault::Unread(_)) => {}
            other => panic!("{what}: unexpected restore step {other:?}"),
        }
    }
    let expected_remaining: BTreeSet<u32> = recorded
        .keys()
        .filter(|i| !settled.contains(i))
        .copied()
        .collect();
    assert_eq!(
        remaining.keys().copied().collect::<BTreeSet<_>>(),
        expected_remaining,
        "{what}: the record vs the report: {report}"
    );
    let mut expected = original();
    for (i, change) in &remaining {
        if !erase_failed.contains(i) {
            expected.insert(change.resource(), change.applied_value());
        }
    }
    assert_eq!(aws.live(), expected, "{what}: {report}");
    assert_eq!(
        entry.closed,
        aws.record(FUNCTION).is_none(),
        "{what}: closed vs the tags: {report}"
    );
    if !entry.closed || !erase_failed.is_empty() {
        assert!(report.failed(), "{what}: a failure must show: {report}");
    }
}

fn restore_matrix(path: &str, setup: fn() -> FakeAccount) -> usize {
    let clean = setup();
    clean.disarm();
    let report = restore(&clean);
    assert!(report.incidents[0].closed && !report.failed(), "{report}");
    let n = clean.call_count();
    assert_eq!(clean.live(), original());
    let mut cases = 0;
    for k in 0..n {
        for kind in KINDS {
            let aws = setup();
            let recorded: BTreeMap<u32, Change> = aws
                .record(FUNCTION)
                .unwrap()
                .actions
                .into_iter()
                .map(|(i, a)| (i, a.change))
                .collect();
            aws.fail_call(k, kind);
            let report = restore(&aws);
            let failed = aws.disarm();
            let what = format!("{path}, call #{k} ({failed:?}) fails {kind:?}");
            assert!(failed.is_some(), "{what}: the fault did not fire");
            no_violations(&what, &aws);
            restore_matches_state(&what, &aws, &report, &recorded);
            restores_exactly(&what, &aws);
            cases += 1;
        }
    }
    println!("{path}: {cases} fault cases over {n} calls");
    cases
}

fn remediated() -> FakeAccount {
    clean_remediation().0
}

fn escalated() -> FakeAccount {
    let aws = remediated();
    let report = escalate(&aws);
    assert!(!report.failed(), "{report}");
    assert_eq!(
        aws.value(&function()),
        Current::Reservation(Reservation::Reserved(0))
    );
    aws
}

#[test]
fn every_restore_call_failing_leaves_an_exact_record_and_a_second_restore_finishes() {
    let cases = restore_matrix("restore", remediated);
    // 3 reads to verify, then per action a read, an undo and a settle, then the pointer tag
    // and the close.
    assert_eq!(cases, 14 * KINDS.len());
}

#[test]
fn restoring_after_an_escalation_survives_every_fault() {
    // Two actions on the function (cap, then kill switch): undone newest first; the cap is
    // checked against what undoing the kill switch left, so it needs no read of its own.
    let cases = restore_matrix("restore after escalation", escalated);
    assert_eq!(cases, 16 * KINDS.len());
}

// ---------------------------------------------------------------------------- escalation path

#[test]
fn every_escalation_call_failing_is_reported_exactly_and_a_rerun_completes_it() {
    let clean = remediated();
    clean.disarm();
    let report = escalate(&clean);
    let n = clean.call_count();
    let entry = &report.incidents[0];
    assert!(
        matches!(
            entry.decision,
            Some(Decision::Escalate {
                to: Tier::KillSwitch,
                ..
            })
        ),
        "{report}"
    );
    assert_eq!(changes_of(&entry.escalation, applied).len(), 1, "{report}");
    assert_eq!(
        n, 6,
        "three reads to verify, a record, an apply, the pointer tag"
    );

    let mut cases = 0;
    for k in 0..n {
        for kind in KINDS {
            let aws = remediated();
            let before = aws.live();
            let record_before = aws.record(FUNCTION).unwrap();
            aws.fail_call(k, kind);
            let report = escalate(&aws);
            let failed = aws.disarm();
            let what = format!("escalation, call #{k} ({failed:?}) fails {kind:?}");
            assert!(failed.is_some(), "{what}: the fault did not fire");
            let entry = &report.incidents[0];
            assert!(
                matches!(
                    entry.decision,
                    Some(Decision::Escalate {
                        to: Tier::KillSwitch,
                        ..
                    })
                ),
                "{what}: {report}"
            );
            // (a)
            report_matches_state(&what, &entry.escalation, &before, &aws.live());
            // (b) and the record: the old actions plus the kill switch iff it was applied.
            no_violations(&what, &aws);
            let mut expected: Vec<Change> = record_before
                .actions
                .values()
                .map(|a| a.change.clone())
                .collect();
            expected.extend(changes_of(&entry.escalation, applied));
            let record = aws.record(FUNCTION).unwrap();
            assert_eq!(
                record
                    .actions
                    .values()
                    .map(|a| a.change.clone())
                    .collect::<Vec<_>>(),
                expected,
                "{what}"
            );
            let done = !changes_of(&entry.escalation, applied).is_empty();
            if !done {
                assert!(report.failed(), "{what}: a failure must show: {report}");
            }

            // (c) The next pass, without faults, completes it (or holds if it is done).
            let again = escalate(&aws);
            no_violations(&what, &aws);
            let entry = &again.incidents[0];
            if done {
                assert!(
                    matches!(entry.decision, Some(Decision::Hold { .. })),
                    "{what}: {again}"
                );
            } else {
                assert_eq!(
                    changes_of(&entry.escalation, applied).len(),
                    1,
                    "{what}: {again}"
                );
            }
            assert_eq!(
                aws.value(&function()),
                Current::Reservation(Reservation::Reserved(0)),
                "{what}"
            );
            let record = aws.record(FUNCTION).unwrap();
            assert_eq!(record.actions.len(), 4, "{what}: {record:?}");
            assert_eq!(
                record
                    .actions
                    .values()
                    .filter(|a| a.tier == Tier::KillSwitch)
                    .count(),
                1,
                "{what}"
            );

            // (d)
            restores_exactly(&what, &aws);
            cases += 1;
        }
    }
    println!("escalation: {cases} fault cases over {n} calls");
    assert_eq!(cases, n * KINDS.len());
}

#[test]
fn a_rerun_completes_a_change_whose_failed_apply_could_not_be_taken_back() {
    let (_, clean, _) = clean_remediation();
    let targets = targets(&clean);
    let aws = account();
    // Calls: record #0, apply #1 with the pointer #2 alongside, record #3, apply #4, record #5,
    // apply #6 (the cap), withdraw #7.
    aws.fail_calls(&[(6, ErrorKind::Unavailable), (7, ErrorKind::Throttled)]);
    let report = remediate(&aws);
    aws.disarm();
    assert!(
        report.notes.iter().any(|n| n.contains("remains")),
        "{report}"
    );
    assert_eq!(
        aws.value(&function()),
        Current::Reservation(Reservation::Unreserved)
    );
    no_violations("double fault", &aws);
    // Lambda's retry comes minutes later, past the record's lease: nobody else is making it.
    let later = now() + Duration::seconds(cguard_core::record::RECORD_LEASE_SECONDS);
    let rerun = block_on(Guard::new(&aws, Policy::default()).remediate(&request(), later));
    no_violations("double fault, re-run", &aws);
    assert_eq!(
        aws.value(&function()),
        targets[&function()],
        "the cap was never placed: {rerun}"
    );
}

#[test]
fn a_record_left_by_a_failed_apply_and_erase_restores_as_a_no_op() {
    let aws = account();
    aws.fail_calls(&[(6, ErrorKind::Unavailable), (7, ErrorKind::Throttled)]);
    let report = remediate(&aws);
    aws.disarm();
    assert!(report.failed(), "{report}");
    no_violations("double fault", &aws);
    restores_exactly("double fault", &aws);
}
