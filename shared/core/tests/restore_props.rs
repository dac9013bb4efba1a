//! Issue 9, the restore guardrail over generated records: whatever a record in the ledger holds,
//! the restore it allows writes a reservation only to the record's own function, and never to a
//! protected or guard-owned function (by list or by tag, in any letter case of the tag value).

use std::collections::BTreeMap;

use cguard_core::audit::restore_refusal;
use cguard_core::config::Policy;
use cguard_core::model::{
    ApiKind, ApiTarget, Change, FunctionFacts, Reservation, TAG_PROTECTED, Throttle,
};
use proptest::prelude::*;

const NAMES: [&str; 5] = ["hog", "idle", "payments", "cguard-remediator", "checkout"];

fn name() -> impl Strategy<Value = String> {
    prop::sample::select(NAMES.to_vec()).prop_map(str::to_owned)
}

fn reservation() -> impl Strategy<Value = Reservation> {
    prop_oneof![
        Just(Reservation::Unreserved),
        (0u32..1000).prop_map(Reservation::Reserved)
    ]
}

/// Any change a record could hold, naming any function of the account.
fn change() -> impl Strategy<Value = Change> {
    prop_oneof![
        (name(), reservation(), reservation()).prop_map(|(function, previous, new)| {
            Change::Reservation {
                function,
                previous,
                new,
            }
        }),
        (prop::option::of(2u32..1000), prop::option::of(2u32..1000)).prop_map(|(p, n)| {
            Change::QueueConcurrency {
                uuid: "8f2b1c3d-0000-4000-8000-000000000001".into(),
                previous: p,
                new: n,
            }
        }),
        (0.5f64..100.0, 1i32..50).prop_map(|(rate, burst)| Change::Throttle {
            target: ApiTarget {
                kind: ApiKind::Rest,
                api_id: "a1b2c3".into(),
                stage: "prod".into(),
                route: None,
            },
            previous: None,
            new: Some(Throttle { rate, burst }),
        }),
    ]
}

fn facts() -> impl Strategy<Value = FunctionFacts> {
    (
        name(),
        prop::option::of(prop::sample::select(vec![
            "true", "TRUE", "True", "false", "yes",
        ])),
    )
        .prop_map(|(name, tag)| FunctionFacts {
            arn: format!("arn:aws:lambda:eu-west-1:123456789012:function:{name}"),
            name,
            reservation: Reservation::Unreserved,
            tags: tag
                .map(|v| BTreeMap::from([(TAG_PROTECTED.to_owned(), v.to_owned())]))
                .unwrap_or_default(),
            drivers: vec![],
        })
}

fn policy() -> impl Strategy<Value = Policy> {
    (
        prop::collection::btree_set(name(), 0..3),
        prop::collection::btree_set(name(), 0..2),
    )
        .prop_map(|(protected_functions, guard_functions)| Policy {
            protected_functions,
            guard_functions,
            ..Policy::default()
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]

    #[test]
    fn an_allowed_restore_never_leaves_its_function_or_touches_a_protected_one(
        function in facts(),
        change in change(),
        policy in policy(),
    ) {
        if restore_refusal(&function, &change, &policy).is_none() {
            prop_assert!(!policy.protected_functions.contains(&function.name));
            prop_assert!(!policy.guard_functions.contains(&function.name));
            prop_assert!(!function.tagged(TAG_PROTECTED, "true"));
            if let Change::Reservation { function: named, .. } = &change {
                prop_assert_eq!(named, &function.name);
            }
        }
    }

    #[test]
    fn the_records_own_unprotected_function_is_always_restorable(
        function in facts(),
        previous in reservation(),
        new in reservation(),
    ) {
        let change = Change::Reservation { function: function.name.clone(), previous, new };
        let protected = function.tagged(TAG_PROTECTED, "true");
        prop_assert_eq!(
            restore_refusal(&function, &change, &Policy::default()).is_none(),
            !protected
        );
    }
}
