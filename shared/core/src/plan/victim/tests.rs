//! The victim's relief, with values: which victims get a `MaximumConcurrency`, how large, and
//! which are left alone and why.

use std::collections::BTreeMap;

use chrono::{TimeZone, Utc};

use super::super::{Plan, PlanInput, Skipped, plan};
use crate::attribution::{Attribution, Ranked, Scope};
use crate::config::Policy;
use crate::intake::IncidentId;
use crate::model::{
    AccountFacts, ApiKind, ApiTarget, Change, Driver, FunctionFacts, Reservation, Route, Status,
    TAG_PROTECTED, Tier,
};
use crate::plan::{Skip, Why};
use crate::record::Record;

fn queue(uuid: &str, maximum: Option<u32>) -> Driver {
    Driver::Queue {
        uuid: uuid.into(),
        source_arn: format!("arn:aws:sqs:us-east-1:123456789012:{uuid}"),
        maximum_concurrency: maximum,
    }
}

fn api() -> Driver {
    Driver::Api {
        target: ApiTarget {
            kind: ApiKind::Rest,
            api_id: "shop".into(),
            stage: "prod".into(),
            route: Some(Route {
                method: "POST".into(),
                path: "/orders".into(),
            }),
        },
        current: None,
        shared_entry: false,
    }
}

fn function(name: &str, reservation: Reservation, drivers: Vec<Driver>) -> FunctionFacts {
    FunctionFacts {
        name: name.into(),
        arn: format!("arn:aws:lambda:us-east-1:123456789012:function:{name}"),
        reservation,
        tags: BTreeMap::new(),
        drivers,
    }
}

fn offender(name: &str) -> Ranked {
    Ranked {
        function: name.into(),
        peak_concurrency: Some(700.0),
        little_estimate: Some(700.0),
        invocations_per_second: Some(70.0),
        avg_duration_ms: Some(10_000.0),
        throttles: 0.0,
        share: Some(0.7),
    }
}

/// Plans a victim alarm on `worker` (and, first, for `offenders`) over `facts`.
fn plan_for(
    scope: Scope,
    offenders: Vec<Ranked>,
    facts: &[FunctionFacts],
    records: &BTreeMap<String, Record>,
    escalate_to: Option<Tier>,
) -> Plan {
    let attribution = Attribution {
        scope,
        account_peak: Some(60.0),
        ranking: offenders.clone(),
        offenders,
    };
    let facts = facts.iter().map(|f| (f.name.clone(), f.clone())).collect();
    plan(&PlanInput {
        incident: &IncidentId::from_recorded("inc1"),
        attribution: &attribution,
        facts: &facts,
        records,
        account: AccountFacts {
            limit: Some(1000),
            unreserved: Some(998),
        },
        policy: &Policy::default(),
        escalate_to,
    })
}

fn victim_alarm() -> Scope {
    Scope::Victim {
        function: "worker".into(),
    }
}

fn relief(worker: FunctionFacts) -> Plan {
    plan_for(victim_alarm(), vec![], &[worker], &BTreeMap::new(), None)
}

fn maximum(uuid: &str, previous: Option<u32>, new: u32) -> Change {
    Change::QueueConcurrency {
        uuid: uuid.into(),
        previous,
        new: Some(new),
    }
}

#[test]
fn a_consumer_held_back_by_its_reservation_gets_a_maximum_within_it() {
    // seed-002: reserved 2, one mapping whose pollers start at 5 batches.
    let p = relief(function(
        "worker",
        Reservation::Reserved(2),
        vec![queue("esm-1", None)],
    ));
    assert_eq!(p.actions.len(), 1, "{p:#?}");
    let a = &p.actions[0];
    assert_eq!(a.function, "worker");
    assert_eq!(a.tier, Tier::Source);
    assert_eq!(a.change, maximum("esm-1", None, 2));
    assert_eq!(a.status, Status::Planned);
    assert_eq!(
        a.rationale,
        Why::WithinReservation {
            reserved: 2,
            mappings: 1,
            maximum: 2
        }
    );
    assert!(p.skipped.is_empty());
}

#[test]
fn several_mappings_share_the_reservation_and_a_higher_maximum_is_lowered() {
    let p = relief(function(
        "worker",
        Reservation::Reserved(9),
        vec![queue("esm-1", None), queue("esm-2", Some(50))],
    ));
    let changes: Vec<_> = p.actions.iter().map(|a| (&a.change, &a.status)).collect();
    assert_eq!(
        changes,
        [
            (&maximum("esm-1", None, 4), &Status::Planned),
            (&maximum("esm-2", Some(50), 4), &Status::Planned),
        ]
    );
}

#[test]
fn a_maximum_already_within_the_reservation_is_left() {
    let p = relief(function(
        "worker",
        Reservation::Reserved(10),
        vec![queue("esm-1", Some(3)), queue("esm-2", Some(6))],
    ));
    let statuses: Vec<_> = p.actions.iter().map(|a| &a.status).collect();
    assert_eq!(
        statuses,
        [
            &Status::Skipped(Skip::QueueLimitedBelow(3)),
            &Status::Planned
        ]
    );
    assert_eq!(p.actions[1].change, maximum("esm-2", Some(6), 5));
}

#[test]
fn no_setting_is_made_when_the_reservation_is_below_what_lambda_accepts() {
    for (reserved, mappings) in [(1, 1), (0, 1), (5, 3)] {
        let drivers = (0..mappings).map(|i| queue(&format!("esm-{i}"), None));
        let p = relief(function(
            "worker",
            Reservation::Reserved(reserved),
            drivers.collect(),
        ));
        assert!(p.actions.is_empty(), "{p:#?}");
        assert_eq!(
            p.skipped,
            [Skipped {
                function: "worker".into(),
                reason: Skip::BelowQueueMinimum { reserved, mappings }
            }]
        );
    }
}

#[test]
fn unreserved_consumers_and_other_victims_are_the_offenders_business() {
    // Unreserved: the pool throttles it, and an offender holds the pool.
    let unreserved = function(
        "worker",
        Reservation::Unreserved,
        vec![queue("esm-1", None)],
    );
    // Reserved but not a consumer: nothing at its source over-takes work.
    let api_victim = function("worker", Reservation::Reserved(5), vec![api()]);
    for worker in [unreserved, api_victim] {
        let p = relief(worker);
        assert_eq!(p, Plan::default());
    }
}

#[test]
fn a_protected_victim_or_one_under_another_incident_is_left_alone() {
    let mut protected = function("worker", Reservation::Reserved(2), vec![queue("q", None)]);
    protected
        .tags
        .insert(TAG_PROTECTED.to_owned(), "true".to_owned());
    let p = relief(protected);
    assert!(p.actions.is_empty());
    assert_eq!(p.skipped[0].reason, Skip::ProtectedByTag);

    let since = Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap();
    let other = Record::new(IncidentId::from_recorded("other"), since, None);
    let records = BTreeMap::from([("worker".to_owned(), other)]);
    let worker = function("worker", Reservation::Reserved(2), vec![queue("q", None)]);
    let p = plan_for(victim_alarm(), vec![], &[worker], &records, None);
    assert!(p.actions.is_empty());
    assert_eq!(
        p.skipped[0].reason,
        Skip::OtherIncident {
            incident: IncidentId::from_recorded("other"),
            since
        }
    );
}

#[test]
fn only_a_victim_alarm_s_first_response_relieves_the_victim() {
    let worker = function("worker", Reservation::Reserved(2), vec![queue("q", None)]);
    let none = BTreeMap::new();
    let account = plan_for(
        Scope::Account,
        vec![],
        std::slice::from_ref(&worker),
        &none,
        None,
    );
    assert_eq!(account, Plan::default(), "an account alarm names no victim");
    let escalation = plan_for(
        victim_alarm(),
        vec![],
        &[worker],
        &none,
        Some(Tier::Reservation),
    );
    assert!(escalation.actions.is_empty(), "{escalation:#?}");
}

#[test]
fn the_victim_is_relieved_after_the_offenders_within_the_same_budget() {
    let hog = function("hog", Reservation::Unreserved, vec![queue("hog-q", None)]);
    let worker = function("worker", Reservation::Reserved(4), vec![queue("q", None)]);
    let p = plan_for(
        victim_alarm(),
        vec![offender("hog")],
        &[hog, worker],
        &BTreeMap::new(),
        None,
    );
    let planned: Vec<_> = p
        .actions
        .iter()
        .map(|a| (a.function.as_str(), a.tier, &a.status))
        .collect();
    assert_eq!(
        planned,
        [
            ("hog", Tier::Source, &Status::Planned),
            ("hog", Tier::Reservation, &Status::Planned),
            ("worker", Tier::Source, &Status::Planned),
        ]
    );
    assert_eq!(p.actions[2].change, maximum("q", None, 4));
}
