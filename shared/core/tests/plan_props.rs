//! The planner's safety invariants, over generated account states, functions and policies:
//! never a protected or guard function; never a raised limit; never a removed reservation;
//! never below the unreserved minimum; the kill switch only when allowed and in an emergency;
//! the action budget holds; and undoing the changes in reverse order restores the exact state.

use std::collections::BTreeMap;

use cguard_core::attribution::{Attribution, Ranked, Scope};
use cguard_core::config::Policy;
use cguard_core::intake::IncidentId;
use cguard_core::model::{
    AccountFacts, ApiKind, ApiTarget, Change, Current, Driver, FunctionFacts, Reservation,
    ResourceKey, Route, Status, TAG_KILL_SWITCH, TAG_PROTECTED, Throttle, Tier,
};
use cguard_core::plan::{PlanInput, emergency, plan};
use proptest::prelude::*;

#[derive(Debug, Clone)]
struct Fn {
    facts: FunctionFacts,
    ranked: Ranked,
}

fn function(i: usize) -> impl Strategy<Value = Fn> {
    (
        prop_oneof![Just(None), (0u32..600).prop_map(Some)],
        any::<bool>(),
        any::<bool>(),
        prop::collection::vec(
            (
                prop_oneof![Just(None), (1.0f64..500.0, 1i32..500).prop_map(Some)],
                any::<bool>(),
                any::<bool>(),
            ),
            0..3,
        ),
        prop::collection::vec(prop_oneof![Just(None), (2u32..1000).prop_map(Some)], 0..3),
        (1.0f64..1500.0, 0.1f64..100.0, 10.0f64..60_000.0),
    )
        .prop_map(
            move |(reserved, protected, killable, apis, queues, (peak, rate, duration))| {
                let name = format!("f{i}");
                let mut tags = BTreeMap::new();
                if protected {
                    tags.insert(TAG_PROTECTED.to_string(), "true".to_string());
                }
                if killable {
                    tags.insert(TAG_KILL_SWITCH.to_string(), "allowed".to_string());
                }
                let mut drivers: Vec<Driver> = apis
                    .into_iter()
                    .enumerate()
                    .map(|(k, (current, method, shared_entry))| Driver::Api {
                        target: ApiTarget {
                            kind: if k % 2 == 0 {
                                ApiKind::Rest
                            } else {
                                ApiKind::Http
                            },
                            api_id: format!("api{i}"),
                            stage: format!("s{k}"),
                            route: (method || k % 2 == 1).then(|| Route {
                                method: "GET".into(),
                                path: "/items".into(),
                            }),
                        },
                        current: current.map(|(rate, burst)| Throttle { rate, burst }),
                        shared_entry,
                    })
                    .collect();
                drivers.extend(
                    queues
                        .into_iter()
                        .enumerate()
                        .map(|(k, maximum_concurrency)| Driver::Queue {
                            uuid: format!("u{i}-{k}"),
                            source_arn: "arn:aws:sqs:us-east-1:1:q".into(),
                            maximum_concurrency,
                        }),
                );
                Fn {
                    facts: FunctionFacts {
                        name: name.clone(),
                        arn: format!("arn:aws:lambda:us-east-1:123456789012:function:{name}"),
                        reservation: reserved
                            .map_or(Reservation::Unreserved, Reservation::Reserved),
                        tags,
                        drivers,
                    },
                    ranked: Ranked {
                        function: name,
                        peak_concurrency: Some(peak),
                        little_estimate: Some(rate * duration / 1000.0),
                        invocations_per_second: Some(rate),
                        avg_duration_ms: Some(duration),
                        throttles: 0.0,
                        share: None,
                    },
                }
            },
        )
}

#[derive(Debug, Clone)]
struct World {
    fns: Vec<Fn>,
    account: AccountFacts,
    account_peak: Option<f64>,
    policy: Policy,
    escalate_to: Option<Tier>,
}

fn world() -> impl Strategy<Value = World> {
    (
        (1usize..5).prop_flat_map(|n| (0..n).map(function).collect::<Vec<_>>()),
        prop_oneof![Just(None), (100u32..3000).prop_map(Some)],
        0.0f64..1.0,
        prop_oneof![Just(None), (0.0f64..3000.0).prop_map(Some)],
        (
            1u32..300,
            any::<bool>(),
            1usize..8,
            prop::collection::vec(any::<bool>(), 5),
            prop_oneof![
                Just(None),
                Just(Some(Tier::Source)),
                Just(Some(Tier::Reservation)),
                Just(Some(Tier::KillSwitch))
            ],
        ),
    )
        .prop_map(
            |(fns, limit, free, account_peak, (target, kill, max_actions, listed, escalate_to))| {
                let mut policy = Policy {
                    target_concurrency: target,
                    kill_switch_allowed: kill,
                    max_actions,
                    ..Policy::default()
                };
                for (i, f) in fns.iter().enumerate() {
                    match (listed[i % 5], i % 3) {
                        (true, 0) => drop(policy.guard_functions.insert(f.facts.name.clone())),
                        (true, 1) => drop(policy.protected_functions.insert(f.facts.name.clone())),
                        _ => {}
                    }
                }
                let unreserved = limit.map(|l| (f64::from(l) * free) as u32);
                World {
                    fns,
                    account: AccountFacts { limit, unreserved },
                    account_peak,
                    policy,
                    escalate_to,
                }
            },
        )
}

fn current_of(fns: &[Fn]) -> BTreeMap<ResourceKey, Current> {
    let mut state = BTreeMap::new();
    for f in fns {
        state.insert(
            ResourceKey::Function(f.facts.name.clone()),
            Current::Reservation(f.facts.reservation),
        );
        for d in &f.facts.drivers {
            match d {
                Driver::Api {
                    target, current, ..
                } => {
                    state.insert(
                        ResourceKey::Api(target.clone()),
                        Current::Throttle(*current),
                    );
                }
                Driver::Queue {
                    uuid,
                    maximum_concurrency,
                    ..
                } => {
                    state.insert(
                        ResourceKey::Queue(uuid.clone()),
                        Current::QueueConcurrency(*maximum_concurrency),
                    );
                }
                Driver::Other { .. } => {}
            }
        }
    }
    state
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4000, ..ProptestConfig::default() })]

    #[test]
    fn plans_obey_every_safety_rule(w in world()) {
        obeys_every_safety_rule(&w)?;
    }
}

// Outside the macro, so rustfmt formats it.
fn obeys_every_safety_rule(w: &World) -> Result<(), TestCaseError> {
    let facts: BTreeMap<String, FunctionFacts> = w
        .fns
        .iter()
        .map(|f| (f.facts.name.clone(), f.facts.clone()))
        .collect();
    let offenders: Vec<Ranked> = w.fns.iter().map(|f| f.ranked.clone()).collect();
    let attribution = Attribution {
        scope: Scope::Account,
        account_peak: w.account_peak,
        ranking: offenders.clone(),
        offenders,
    };
    let p = plan(&PlanInput {
        incident: &IncidentId::from_recorded("i"),
        attribution: &attribution,
        facts: &facts,
        records: &Default::default(),
        account: w.account,
        policy: &w.policy,
        escalate_to: w.escalate_to,
    });
    let planned: Vec<_> = p
        .actions
        .iter()
        .filter(|a| a.status == Status::Planned)
        .collect();
    prop_assert!(planned.len() <= w.policy.max_actions);

    let minimum = w.account.unreserved_minimum(w.policy.unreserved_minimum);
    let mut reserved_delta: i64 = 0;
    for a in &planned {
        let f = &facts[&a.function];
        prop_assert!(
            !w.policy.guard_functions.contains(&a.function),
            "guard function touched"
        );
        prop_assert!(
            !w.policy.protected_functions.contains(&a.function),
            "listed function touched"
        );
        prop_assert!(!f.tagged(TAG_PROTECTED, "true"), "tagged function touched");
        match &a.change {
            Change::Reservation { previous, new, .. } => {
                prop_assert_eq!(*previous, f.reservation);
                let Reservation::Reserved(n) = *new else {
                    return Err(TestCaseError::fail("a reservation removed"));
                };
                if let Reservation::Reserved(r) = previous {
                    prop_assert!(n < *r, "raised {} → {}", r, n);
                }
                if n == 0 {
                    prop_assert!(
                        w.policy.kill_switch_allowed || f.tagged(TAG_KILL_SWITCH, "allowed")
                    );
                    prop_assert!(emergency(w.account_peak, &w.account, &w.policy).is_ok());
                }
                let held = match previous {
                    Reservation::Reserved(r) => i64::from(*r),
                    Reservation::Unreserved => 0,
                };
                reserved_delta += i64::from(n) - held;
            }
            Change::Throttle { previous, new, .. } => {
                let new = new.expect("a throttle is set, never removed, by a plan");
                if let Some(prev) = previous {
                    prop_assert!(
                        new.rate < prev.rate && new.burst <= prev.burst,
                        "raised {prev:?} → {new:?}"
                    );
                }
            }
            Change::QueueConcurrency { previous, new, .. } => {
                let new = new.expect("set");
                prop_assert!((2..=1000).contains(&new));
                if let Some(prev) = previous {
                    prop_assert!(new < *prev);
                }
            }
        }
    }
    if let (Some(unreserved), Some(minimum)) = (w.account.unreserved, minimum)
        && reserved_delta > 0
    {
        prop_assert!(
            i64::from(unreserved) - reserved_delta >= i64::from(minimum),
            "below the unreserved minimum"
        );
    }

    // restore(apply(state)) == state
    let before = current_of(&w.fns);
    let mut state = before.clone();
    for a in &planned {
        let slot = state
            .get_mut(&a.change.resource())
            .expect("a known resource");
        prop_assert_eq!(
            &*slot,
            &a.change.previous_value(),
            "planned from a stale value"
        );
        *slot = a.change.applied_value();
    }
    for a in planned.iter().rev() {
        let slot = state.get_mut(&a.change.resource()).unwrap();
        prop_assert_eq!(&*slot, &a.change.applied_value());
        *slot = a.change.inverse().applied_value();
    }
    prop_assert_eq!(state, before);
    Ok(())
}
