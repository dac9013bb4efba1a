//! The account pool, reservations and per-function scaling (SIM-FACTS §1).

use cguard_core::model::{Change, Current, Reservation};
use cguard_sim::{Refusal, Setting};

use super::{account, run_to};

/// A function that never finishes within the test, so concurrency only grows.
const LONG: &str = r#"
duration_s = 60
[params.pool]
account_limit = 10000
[[functions]]
name = "cold"
duration_s = 600
source = { kind = "direct" }
load = [{ profile = { kind = "constant", rate = 3000 } }]
"#;

#[test]
fn a_cold_function_gets_1000_environments_at_once_then_100_a_second() {
    let mut a = account(LONG);
    run_to(&mut a, 1);
    let cold = a.function("cold").expect("exists");
    assert_eq!(
        cold.in_flight(),
        1000,
        "the bucket's capacity in the first second"
    );
    run_to(&mut a, 11);
    let cold = a.function("cold").expect("exists");
    assert_eq!(cold.in_flight(), 2000, "then the refill: 100 a second");
    let t = cold.totals();
    assert_eq!(t.throttled_pool, 0);
    assert_eq!(t.throttled_scaling, 11 * 3000 - 2000);
}

#[test]
fn warm_environments_are_reused_without_scaling_tokens() {
    // 1,500 invocations a second of 1 s: 1,500 concurrent. The first second gets 1,000, then
    // 100 more a second; once 1,500 environments are warm, nothing is throttled although
    // 1,500 invocations start every second.
    let mut a = account(
        r#"
duration_s = 60
[params.pool]
account_limit = 10000
[[functions]]
name = "busy"
duration_s = 1
source = { kind = "direct" }
load = [{ profile = { kind = "constant", rate = 1500 } }]
"#,
    );
    run_to(&mut a, 60);
    let busy = a.function("busy").expect("exists");
    assert_eq!(busy.totals().throttled_scaling, 500 + 400 + 300 + 200 + 100);
    assert_eq!(busy.throttled_between(), Some((0, 4)));
    assert_eq!(busy.in_flight(), 1500);
}

const HOG_AND_RESERVED: &str = r#"
duration_s = 120
[params.pool]
account_limit = 300
unreserved_minimum = 100
[[functions]]
name = "hog"
duration_s = 30
source = { kind = "direct" }
load = [{ profile = { kind = "constant", rate = 50 } }]
[[functions]]
name = "capped"
duration_s = 10
reservation = 10
source = { kind = "direct" }
load = [{ profile = { kind = "constant", rate = 5 } }]
[[functions]]
name = "victim"
duration_s = 1
source = { kind = "direct" }
load = [{ profile = { kind = "constant", rate = 20 } }]
"#;

#[test]
fn a_full_reservation_throttles_its_function_and_only_it() {
    let mut a = account(HOG_AND_RESERVED);
    run_to(&mut a, 120);
    let capped = a.function("capped").expect("exists");
    // 5/s × 10 s wants 50; the reservation holds it at 10 (its minimum and its maximum).
    assert_eq!(capped.in_flight(), 10);
    assert!(capped.totals().throttled_reservation > 400);
    assert_eq!(
        capped.totals().throttled_pool,
        0,
        "the full pool does not touch it"
    );
    // The others share the 290 unreserved: the hog wants 1,500, so the victim is throttled.
    let hog = a.function("hog").expect("exists");
    let victim = a.function("victim").expect("exists");
    assert!(hog.in_flight() + victim.in_flight() <= 290);
    assert!(victim.totals().throttled_pool > 0);
    assert_eq!(victim.totals().throttled_reservation, 0);
}

#[test]
fn reserved_zero_throttles_every_invocation() {
    let mut a = account(
        r#"
duration_s = 30
[[functions]]
name = "off"
duration_s = 1
reservation = 0
source = { kind = "direct" }
load = [{ profile = { kind = "constant", rate = 7 } }]
"#,
    );
    run_to(&mut a, 30);
    let t = a.function("off").expect("exists").totals();
    assert_eq!(t.invocations, 0);
    assert_eq!(t.throttled_reservation, 7 * 30);
    assert_eq!(t.callers_throttled, 7 * 30);
}

#[test]
fn a_reservation_that_breaches_the_unreserved_minimum_is_refused() {
    let mut a = account(HOG_AND_RESERVED);
    // 300 - 10 (capped) - 191 = 99 < 100.
    let refused = a.apply(Setting::Reservation {
        function: "hog".into(),
        value: Reservation::Reserved(191),
    });
    assert_eq!(
        refused,
        Err(Refusal::BelowUnreservedMinimum {
            would_leave: 99,
            minimum: 100
        })
    );
    assert_eq!(a.reservation("hog"), Some(Reservation::Unreserved));
    assert!(
        a.apply(Setting::Reservation {
            function: "hog".into(),
            value: Reservation::Reserved(190),
        })
        .is_ok()
    );
}

#[test]
fn a_reservation_reads_back_at_once_and_acts_after_the_propagation_delay() {
    let mut a = account(&format!(
        "{HOG_AND_RESERVED}\n[params.propagation]\nreservation_s = 5\n"
    ));
    run_to(&mut a, 60);
    a.apply(Setting::Reservation {
        function: "hog".into(),
        value: Reservation::Reserved(0),
    })
    .expect("allowed");
    let hog = a.function("hog").expect("exists");
    assert_eq!(hog.reservation(), Reservation::Reserved(0));
    assert_eq!(hog.effective_reservation(), Reservation::Unreserved);
    let guards_change = Change::Reservation {
        function: "hog".into(),
        previous: Reservation::Unreserved,
        new: Reservation::Reserved(0),
    };
    assert_eq!(
        a.current(&guards_change),
        Ok(Current::Reservation(Reservation::Reserved(0)))
    );
    let before = hog.totals().throttled_reservation;
    assert_eq!(before, 0);
    run_to(&mut a, 65);
    let hog = a.function("hog").expect("exists");
    assert_eq!(hog.totals().throttled_reservation, 0, "not yet in effect");
    run_to(&mut a, 66);
    let hog = a.function("hog").expect("exists");
    assert_eq!(hog.effective_reservation(), Reservation::Reserved(0));
    assert_eq!(
        hog.totals().throttled_reservation,
        50,
        "in effect from second 65"
    );
    assert_eq!(a.applied()[0].effective_at, 65);
}

#[test]
fn invocations_above_a_lowered_reservation_hold_the_pool_until_they_end() {
    // The hog holds 290 - 20 (victim) of the pool; capped at 10, its 30-second invocations
    // still run, so the victim gets room only as they finish, not when the cap acts.
    let mut a = account(HOG_AND_RESERVED);
    run_to(&mut a, 60);
    let hog_before = a.function("hog").expect("exists").in_flight();
    assert!(hog_before > 200, "{hog_before}");
    a.apply(Setting::Reservation {
        function: "hog".into(),
        value: Reservation::Reserved(10),
    })
    .expect("allowed");
    let throttled_at = |a: &cguard_sim::Account| {
        a.function("victim")
            .expect("exists")
            .totals()
            .throttled_pool
    };
    let before = throttled_at(&a);
    run_to(&mut a, 70);
    assert!(
        throttled_at(&a) > before,
        "10 s after the cap the hog's invocations still fill the pool"
    );
    run_to(&mut a, 95);
    let settled = throttled_at(&a);
    run_to(&mut a, 120);
    assert_eq!(throttled_at(&a), settled, "once they end, the victim fits");
    assert!(a.function("hog").expect("exists").in_flight() <= 10);
}
