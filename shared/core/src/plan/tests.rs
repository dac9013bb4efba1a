use super::*;
use crate::attribution::Scope;
use crate::model::{
    ApiKind, ApiTarget, Driver, Reservation, Route, TAG_KILL_SWITCH, TAG_PROTECTED, Throttle,
};
use crate::record::RecordedAction;
use chrono::Utc;

fn ranked(name: &str, peak: f64, rate: f64, duration_ms: f64) -> Ranked {
    Ranked {
        function: name.into(),
        peak_concurrency: Some(peak),
        little_estimate: Some(rate * duration_ms / 1000.0),
        invocations_per_second: Some(rate),
        avg_duration_ms: Some(duration_ms),
        throttles: 0.0,
        share: None,
    }
}

fn api(stage: &str, route: Option<(&str, &str)>, current: Option<Throttle>) -> Driver {
    Driver::Api {
        target: ApiTarget {
            kind: ApiKind::Rest,
            api_id: "api1".into(),
            stage: stage.into(),
            route: route.map(|(m, p)| Route {
                method: m.into(),
                path: p.into(),
            }),
        },
        current,
        shared_entry: false,
    }
}

fn facts(name: &str, reservation: Reservation, drivers: Vec<Driver>) -> FunctionFacts {
    FunctionFacts {
        name: name.into(),
        arn: format!("arn:aws:lambda:us-east-1:123456789012:function:{name}"),
        reservation,
        tags: BTreeMap::new(),
        drivers,
    }
}

struct Case {
    offenders: Vec<Ranked>,
    facts: Vec<FunctionFacts>,
    account: AccountFacts,
    policy: Policy,
    account_peak: Option<f64>,
    escalate_to: Option<Tier>,
    records: BTreeMap<String, Record>,
}

impl Case {
    fn new(offender: Ranked, f: FunctionFacts) -> Self {
        Self {
            offenders: vec![offender],
            facts: vec![f],
            account: AccountFacts {
                limit: Some(1000),
                unreserved: Some(1000),
            },
            policy: Policy::default(),
            account_peak: Some(980.0),
            escalate_to: None,
            records: BTreeMap::new(),
        }
    }

    fn plan(&self) -> Plan {
        let attribution = Attribution {
            scope: Scope::Account,
            account_peak: self.account_peak,
            ranking: self.offenders.clone(),
            offenders: self.offenders.clone(),
        };
        let facts = self
            .facts
            .iter()
            .map(|f| (f.name.clone(), f.clone()))
            .collect();
        plan(&PlanInput {
            incident: &IncidentId::from_recorded("inc1"),
            attribution: &attribution,
            facts: &facts,
            records: &self.records,
            account: self.account,
            policy: &self.policy,
            escalate_to: self.escalate_to,
        })
    }
}

fn planned(p: &Plan) -> Vec<&Change> {
    p.actions
        .iter()
        .filter(|a| a.status == Status::Planned)
        .map(|a| &a.change)
        .collect()
}

#[test]
fn classic_incident_throttles_the_stage_and_caps_the_function() {
    // GIVEN a 30-second function at 20 req/s behind one REST stage
    let case = Case::new(
        ranked("slow", 600.0, 20.0, 30_000.0),
        facts(
            "slow",
            Reservation::Unreserved,
            vec![api("prod", None, None)],
        ),
    );
    // WHEN planning the first response
    let p = case.plan();
    // THEN the stage gets target ÷ duration = 100 ÷ 30 s = 3.33 req/s, and a cap of 100
    let changes = planned(&p);
    assert_eq!(changes.len(), 2, "{p:#?}");
    match changes[0] {
        Change::Throttle {
            previous: None,
            new: Some(t),
            ..
        } => {
            assert_eq!(t.rate, 3.33);
            assert_eq!(t.burst, 4);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        changes[1],
        &Change::Reservation {
            function: "slow".into(),
            previous: Reservation::Unreserved,
            new: Reservation::Reserved(100)
        }
    );
    assert_eq!(
        p.actions[0].rationale,
        Why::LittlesLaw {
            target: 100,
            seconds: 30.0,
            per_second: 100.0 / 30.0,
            stages: 1,
            offender: Figures::from(&case.offenders[0]),
        }
    );
    assert_eq!(p.actions[0].tier, Tier::Source);
}

#[test]
fn a_single_method_gets_a_method_throttle_and_several_stages_share_the_rate() {
    let case = Case::new(
        ranked("slow", 600.0, 20.0, 10_000.0),
        facts(
            "slow",
            Reservation::Unreserved,
            vec![
                api("prod", Some(("GET", "/items")), None),
                api("beta", None, None),
            ],
        ),
    );
    let p = case.plan();
    let rates: Vec<f64> = planned(&p)
        .iter()
        .filter_map(|c| match c {
            Change::Throttle { new: Some(t), .. } => Some(t.rate),
            _ => None,
        })
        .collect();
    assert_eq!(rates, [5.0, 5.0], "100 ÷ 10 s ÷ 2 stages");
}

#[test]
fn never_raises_a_lower_limit() {
    let mut case = Case::new(
        ranked("slow", 600.0, 20.0, 30_000.0),
        facts(
            "slow",
            Reservation::Reserved(500),
            vec![
                api(
                    "prod",
                    None,
                    Some(Throttle {
                        rate: 1.0,
                        burst: 2,
                    }),
                ),
                Driver::Queue {
                    uuid: "u1".into(),
                    source_arn: "arn:aws:sqs:us-east-1:1:q".into(),
                    maximum_concurrency: Some(5),
                },
            ],
        ),
    );
    let p = case.plan();
    let changes = planned(&p);
    assert_eq!(changes.len(), 1, "only the reservation 500 → 100: {p:#?}");
    assert!(matches!(
        changes[0],
        Change::Reservation {
            new: Reservation::Reserved(100),
            ..
        }
    ));
    assert!(
        p.actions
            .iter()
            .filter(|a| a.tier == Tier::Source)
            .all(|a| matches!(a.status, Status::Skipped(_)))
    );

    case.facts[0].reservation = Reservation::Reserved(40);
    let p = case.plan();
    assert!(planned(&p).is_empty());
    assert_eq!(
        p.skipped[0].reason,
        Skip::AlreadyCapped {
            reserved: 40,
            target: 100
        },
        "{p:#?}"
    );
}

#[test]
fn an_existing_higher_throttle_is_lowered_without_raising_its_burst() {
    let case = Case::new(
        ranked("slow", 600.0, 20.0, 30_000.0),
        facts(
            "slow",
            Reservation::Unreserved,
            vec![api(
                "prod",
                None,
                Some(Throttle {
                    rate: 1000.0,
                    burst: 2,
                }),
            )],
        ),
    );
    match planned(&case.plan())[0] {
        Change::Throttle {
            previous: Some(prev),
            new: Some(t),
            ..
        } => {
            assert_eq!(prev.rate, 1000.0);
            assert_eq!(t.burst, 2);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn sqs_offender_gets_maximum_concurrency_within_bounds() {
    let mut case = Case::new(
        ranked("worker", 700.0, 70.0, 10_000.0),
        facts(
            "worker",
            Reservation::Unreserved,
            vec![Driver::Queue {
                uuid: "u1".into(),
                source_arn: "arn:aws:sqs:us-east-1:1:q".into(),
                maximum_concurrency: None,
            }],
        ),
    );
    assert_eq!(
        planned(&case.plan())[0],
        &Change::QueueConcurrency {
            uuid: "u1".into(),
            previous: None,
            new: Some(100)
        }
    );
    case.policy.target_concurrency = 1;
    assert!(
        matches!(
            planned(&case.plan())[0],
            Change::QueueConcurrency { new: Some(2), .. }
        ),
        "SQS minimum is 2"
    );
}

#[test]
fn protected_guard_and_missing_functions_are_left_alone() {
    let mut protected = facts(
        "pay",
        Reservation::Unreserved,
        vec![api("prod", None, None)],
    );
    protected.tags.insert(TAG_PROTECTED.into(), "true".into());
    let mut case = Case::new(ranked("pay", 600.0, 1.0, 1.0), protected);
    case.offenders.push(ranked("guard", 500.0, 1.0, 1.0));
    case.facts
        .push(facts("guard", Reservation::Unreserved, vec![]));
    case.offenders.push(ranked("ghost", 400.0, 1.0, 1.0));
    case.offenders.push(ranked("listed", 300.0, 1.0, 1.0));
    case.facts
        .push(facts("listed", Reservation::Unreserved, vec![]));
    case.policy.guard_functions.insert("guard".into());
    case.policy.protected_functions.insert("listed".into());
    let p = case.plan();
    assert!(p.actions.is_empty(), "{p:#?}");
    let skipped: Vec<_> = p
        .skipped
        .iter()
        .map(|s| (s.function.as_str(), &s.reason))
        .collect();
    assert_eq!(
        skipped,
        [
            ("pay", &Skip::ProtectedByTag),
            ("guard", &Skip::GuardFunction),
            ("ghost", &Skip::NotFound),
            ("listed", &Skip::ProtectedByList),
        ]
    );
}

#[test]
fn the_cap_keeps_the_unreserved_minimum() {
    let mut case = Case::new(
        ranked("slow", 600.0, 20.0, 30_000.0),
        facts("slow", Reservation::Unreserved, vec![]),
    );
    case.account = AccountFacts {
        limit: Some(1000),
        unreserved: Some(150),
    };
    // 150 unreserved, minimum 100: at most 50 can be reserved.
    assert!(matches!(
        planned(&case.plan())[0],
        Change::Reservation {
            new: Reservation::Reserved(50),
            ..
        }
    ));
    case.account = AccountFacts {
        limit: Some(1000),
        unreserved: Some(100),
    };
    let p = case.plan();
    assert!(
        planned(&p).is_empty(),
        "no room at all, and the kill switch is not allowed: {p:#?}"
    );
    let skips: Vec<_> = p.actions.iter().map(|a| (a.tier, &a.status)).collect();
    assert_eq!(
        skips,
        [
            (
                Tier::Reservation,
                &Status::Skipped(Skip::BelowMinimum(Floor {
                    minimum: 100,
                    unreserved: 100
                }))
            ),
            (
                Tier::KillSwitch,
                &Status::Skipped(Skip::KillSwitchNotAllowed)
            ),
        ]
    );
}

#[test]
fn kill_switch_only_when_allowed_and_in_an_emergency() {
    let mut f = facts("slow", Reservation::Unreserved, vec![]);
    f.tags.insert(TAG_KILL_SWITCH.into(), "allowed".into());
    let mut case = Case::new(ranked("slow", 600.0, 20.0, 30_000.0), f);
    case.account = AccountFacts {
        limit: Some(1000),
        unreserved: Some(100),
    };
    let p = case.plan();
    assert_eq!(
        planned(&p),
        [&Change::Reservation {
            function: "slow".into(),
            previous: Reservation::Unreserved,
            new: Reservation::Reserved(0)
        }]
    );
    case.account_peak = Some(700.0);
    let p = case.plan();
    assert!(
        planned(&p).is_empty(),
        "70% utilisation is no emergency: {p:#?}"
    );
}

#[test]
fn escalation_plans_exactly_the_requested_tier() {
    let mut case = Case::new(
        ranked("slow", 100.0, 3.3, 30_000.0),
        facts(
            "slow",
            Reservation::Reserved(100),
            vec![api("prod", None, None)],
        ),
    );
    case.policy.kill_switch_allowed = true;
    case.escalate_to = Some(Tier::KillSwitch);
    let p = case.plan();
    assert_eq!(
        planned(&p),
        [&Change::Reservation {
            function: "slow".into(),
            previous: Reservation::Reserved(100),
            new: Reservation::Reserved(0)
        }]
    );
    case.policy.kill_switch_allowed = false;
    assert!(planned(&case.plan()).is_empty());
}

#[test]
fn a_redelivered_incident_plans_only_what_is_missing() {
    let mut f = facts(
        "slow",
        Reservation::Unreserved,
        vec![api("prod", None, None)],
    );
    let mut record = Record::new(IncidentId::from_recorded("inc1"), Utc::now(), None);
    let first = Case::new(ranked("slow", 600.0, 20.0, 30_000.0), f.clone()).plan();
    let throttle = first.actions[0].change.clone();
    // The throttle was recorded and made: the stage now holds it.
    if let (Change::Throttle { new, .. }, Driver::Api { current, .. }) =
        (&throttle, &mut f.drivers[0])
    {
        *current = *new;
    }
    record.actions.insert(
        0,
        RecordedAction {
            tier: Tier::Source,
            change: throttle,
            at: Utc::now(),
        },
    );
    let mut case = Case::new(ranked("slow", 600.0, 20.0, 30_000.0), f.clone());
    case.records.insert("slow".into(), record.clone());
    let p = case.plan();
    assert_eq!(
        planned(&p).len(),
        1,
        "the throttle is done; the reservation is not: {p:#?}"
    );
    assert!(matches!(planned(&p)[0], Change::Reservation { .. }));
    // The stage holds the throttle the first delivery made.
    assert_eq!(
        p.actions[0].status,
        Status::Skipped(Skip::ThrottledBelow(Throttle {
            rate: 3.33,
            burst: 4
        }))
    );

    record.incident = IncidentId::from_recorded("other");
    let opened = record.opened_at;
    let mut case = Case::new(ranked("slow", 600.0, 20.0, 30_000.0), f.clone());
    case.records.insert("slow".into(), record);
    let p = case.plan();
    assert!(p.actions.is_empty());
    assert_eq!(
        p.skipped[0].reason,
        Skip::OtherIncident {
            incident: IncidentId::from_recorded("other"),
            since: opened
        }
    );
}

#[test]
fn the_action_budget_bounds_an_incident() {
    let drivers = (0..5).map(|i| api(&format!("s{i}"), None, None)).collect();
    let mut case = Case::new(
        ranked("slow", 600.0, 20.0, 1000.0),
        facts("slow", Reservation::Unreserved, drivers),
    );
    case.policy.max_actions = 3;
    let p = case.plan();
    assert_eq!(planned(&p).len(), 3);
    let exhausted = Status::Skipped(Skip::BudgetExhausted { max_actions: 3 });
    assert_eq!(
        p.actions.iter().filter(|a| a.status == exhausted).count(),
        3
    );
}
