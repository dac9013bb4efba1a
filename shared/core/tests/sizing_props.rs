//! The planner's formulas, each on its own over generated figures: a stage throttle keeps the
//! function at its target by Little's law; an SQS maximum stays within what Lambda accepts; a
//! cap never takes the account below its unreserved minimum; the emergency is exactly the
//! documented threshold.

use cguard_core::config::Policy;
use cguard_core::model::AccountFacts;
use cguard_core::plan::sizing::{
    Cap, Floor, Lowered, NoEmergency, api_throttle, consumer_maximum, emergency, little_rate,
    queue_maximum, reservation_cap,
};
use proptest::prelude::*;

/// A cap's inputs, half of them within a few units of where the target, or a cap of 1, just
/// fits: the boundaries are where an off-by-one would hide.
fn cap_inputs() -> impl Strategy<Value = (u32, u32, Option<Floor>)> {
    (1u32..5000, 0u32..5000, 0u32..200).prop_flat_map(|(target, held, minimum)| {
        let fits = move |cap: u32| i64::from(minimum) + i64::from(cap) - i64::from(held);
        let unreserved = prop_oneof![
            0i64..5000,
            (-3i64..=3).prop_map(move |d| fits(target) + d),
            (-3i64..=3).prop_map(move |d| fits(1) + d),
        ];
        let floor = prop_oneof![
            1 => Just(None),
            4 => unreserved.prop_map(move |unreserved| Some(Floor { minimum, unreserved })),
        ];
        (Just(target), Just(held), floor)
    })
}

/// An account's peak and limit, and a threshold that is, half the time, exactly their ratio.
fn emergency_inputs() -> impl Strategy<Value = (Option<f64>, Option<u32>, f64)> {
    (
        prop::option::of(0.0f64..5000.0),
        prop::option::of(0u32..5000),
    )
        .prop_flat_map(|(peak, limit)| {
            let ratio = peak
                .zip(limit.filter(|l| *l > 0))
                .map_or(0.5, |(p, l)| p / f64::from(l));
            let threshold = prop_oneof![0.0f64..1.0, Just(ratio)];
            (Just(peak), Just(limit), threshold)
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn a_stage_throttle_keeps_the_function_at_its_target(
        target in 1u32..10_000,
        seconds in 0.001f64..900.0,
        stages in 1usize..10,
    ) {
        let t = api_throttle(target, seconds, stages);
        let exact = little_rate(target, seconds, stages);
        let stages = stages as f64;
        // Little's law read back: the exact rate through every stage is the target.
        prop_assert!((exact * seconds * stages - f64::from(target)).abs() < 1e-6);
        prop_assert!(t.rate >= 1.0, "the API still answers: {t:?}");
        prop_assert_eq!((t.rate * 100.0).round() / 100.0, t.rate, "to the cent");
        prop_assert!((t.rate - exact.max(1.0)).abs() <= 0.005 + 1e-9, "{t:?} vs {exact}");
        if exact >= 1.0 {
            // Rounding to the cent is all a throttle adds to the target.
            let concurrency = t.rate * seconds * stages;
            prop_assert!(concurrency <= f64::from(target) + 0.005 * seconds * stages + 1e-6);
        }
        prop_assert_eq!(t.burst, t.rate.ceil() as i32, "one second of rate");
        prop_assert!(t.burst >= 1 && f64::from(t.burst) >= t.rate);
        prop_assert!(f64::from(t.burst) < t.rate + 1.0);
    }

    #[test]
    fn an_sqs_maximum_shares_the_target_within_lambda_s_bounds(
        target in 0u32..20_000,
        mappings in 1u32..50,
    ) {
        let n = queue_maximum(target, mappings);
        prop_assert!((2..=1000).contains(&n));
        let share = target / mappings;
        if (2..=1000).contains(&share) {
            prop_assert_eq!(n, share);
            prop_assert!(n * mappings <= target, "together, the mappings keep the target");
        }
        prop_assert!(queue_maximum(target + 1, mappings) >= n, "monotone in the target");
    }

    #[test]
    fn a_consumer_s_mappings_together_stay_within_its_reservation(
        reserved in 0u32..5_000,
        mappings in 1u32..20,
    ) {
        match consumer_maximum(reserved, mappings) {
            Some(n) => {
                prop_assert!((2..=1000).contains(&n), "what Lambda accepts");
                prop_assert!(n * mappings <= reserved, "never more batches than it may run");
                prop_assert!(n == 1000 || (n + 1) * mappings > reserved, "the whole share");
            }
            None => prop_assert!(reserved / mappings < 2, "no share reaches Lambda's minimum"),
        }
    }

    #[test]
    fn a_cap_never_takes_the_account_below_its_unreserved_minimum(
        (target, held, floor) in cap_inputs(),
    ) {
        let after = |cap: u32, f: Floor| f.unreserved - (i64::from(cap) - i64::from(held));
        match (reservation_cap(target, held, floor), floor) {
            (Cap::Placed(n), None) => prop_assert_eq!(n, target, "AWS's own check is left"),
            (Cap::Placed(n), Some(f)) => {
                prop_assert_eq!(n, target);
                prop_assert!(after(n, f) >= i64::from(f.minimum));
            }
            (Cap::Lowered(Lowered { to, floor: seen }), Some(f)) => {
                prop_assert_eq!(seen, f);
                prop_assert!(1 <= to && to < target, "lowered, never raised: {}", to);
                prop_assert!(after(target, f) < i64::from(f.minimum), "the target did not fit");
                prop_assert_eq!(after(to, f), i64::from(f.minimum), "as large as fits");
            }
            (Cap::Blocked(seen), Some(f)) => {
                prop_assert_eq!(seen, f);
                prop_assert!(after(1, f) < i64::from(f.minimum), "not even 1 fits");
            }
            (cap, None) => prop_assert!(false, "{cap:?} without a known pool"),
        }
    }

    #[test]
    fn the_emergency_is_exactly_the_documented_threshold(
        (peak, limit, threshold) in emergency_inputs(),
    ) {
        let policy = Policy { emergency_utilization: threshold, ..Policy::default() };
        let account = AccountFacts { limit, unreserved: None };
        let known = peak.zip(limit.filter(|l| *l > 0));
        match (emergency(peak, &account, &policy), known) {
            (Ok(u), Some((p, l))) => {
                prop_assert_eq!(u, p / f64::from(l));
                prop_assert!(u >= threshold);
            }
            (Err(NoEmergency::Below { utilization, threshold: t }), Some((p, l))) => {
                prop_assert_eq!(utilization, p / f64::from(l));
                prop_assert_eq!(t, threshold);
                prop_assert!(utilization < threshold);
            }
            (Err(NoEmergency::Unknown), None) => {}
            (outcome, known) => prop_assert!(false, "{outcome:?} with {known:?}"),
        }
    }
}
