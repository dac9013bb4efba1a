//! Asynchronous invocation (SIM-FACTS §3): throttled events retried with backoff 1 s → 5 min
//! until their maximum age; reserved 0 sends them on without a retry.

use cguard_core::model::Reservation;
use cguard_sim::{Role, Setting};

use super::{account, run_to};

/// `blocked` holds its only reserved slot for 1,000 s with the event of second 0; the event
/// of second 1 finds the reservation full every time it is tried.
const BLOCKED: &str = r#"
duration_s = 300
[[functions]]
name = "blocked"
role = "victim"
duration_s = 1000
reservation = 1
source = { kind = "async", max_event_age_s = 120, destination = false }
load = [{ profile = { kind = "burst", base = 0, peak = 1, at_s = 0, for_s = 2 } }]
"#;

#[test]
fn a_throttled_event_is_retried_with_doubling_backoff_until_its_maximum_age() {
    let mut a = account(BLOCKED);
    run_to(&mut a, 300);
    let t = *a.function("blocked").expect("exists").totals();
    assert_eq!(t.events_processed, 1);
    // Tried at 1, 2, 4, 8, 16, 32, 64 (waits 1, 2, 4 … 32); the next try (at 128) is past
    // its age of 120 s, so it expires at 121 instead.
    assert_eq!(t.throttled_reservation, 7);
    assert_eq!(t.events_expired, 1);
    assert_eq!(t.events_dropped, 1, "no destination: lost");
    let expired_at: Vec<usize> = a
        .ticks()
        .iter()
        .enumerate()
        .filter(|(_, roles)| roles[Role::Victim.index()].events_expired > 0)
        .map(|(t, _)| t)
        .collect();
    assert_eq!(expired_at, [121]);
}

#[test]
fn retries_wait_at_most_five_minutes_and_last_six_hours_by_default() {
    let mut a = account(
        r#"
duration_s = 25000
[[functions]]
name = "blocked"
duration_s = 30000
reservation = 1
source = { kind = "async", destination = true }
load = [{ profile = { kind = "burst", base = 0, peak = 1, at_s = 0, for_s = 2 } }]
"#,
    );
    run_to(&mut a, 25000);
    let t = *a.function("blocked").expect("exists").totals();
    // Waits of 1, 2, 4 … 256 s: tries at 1, 2, 4 … 256 (9 of them); then every 300 s from
    // 512 while younger than 21,600 s: 512 + 300j for j = 0 … 70 (71 more, the last at
    // 21,512); it expires at 21,601.
    assert_eq!(t.throttled_reservation, 9 + 71);
    assert_eq!(t.events_expired, 1);
    assert_eq!(t.events_dropped, 0, "caught by the destination");
}

#[test]
fn reserved_zero_sends_async_events_on_without_retries() {
    let body = |destination: bool| {
        format!(
            r#"
duration_s = 20
[[functions]]
name = "killed"
duration_s = 1
reservation = 0
source = {{ kind = "async", destination = {destination} }}
load = [{{ until_s = 10, profile = {{ kind = "constant", rate = 10 }} }}]
"#
        )
    };
    let mut a = account(&body(false));
    run_to(&mut a, 20);
    let t = *a.function("killed").expect("exists").totals();
    assert_eq!(t.events_kill_switched, 100);
    assert_eq!(
        t.throttled_reservation, 100,
        "each tried once, never retried"
    );
    assert_eq!(t.events_dropped, 100);
    assert_eq!(t.events_processed, 0);
    let mut a = account(&body(true));
    run_to(&mut a, 20);
    assert_eq!(
        a.function("killed")
            .expect("exists")
            .totals()
            .events_dropped,
        0
    );
}

#[test]
fn the_kill_switch_also_loses_the_events_already_waiting_for_a_retry() {
    let mut a = account(
        r#"
duration_s = 600
[params.propagation]
reservation_s = 0
[[functions]]
name = "busy"
duration_s = 1000
reservation = 10
source = { kind = "async", destination = false }
load = [{ until_s = 100, profile = { kind = "constant", rate = 5 } }]
"#,
    );
    run_to(&mut a, 100);
    let waiting = a.async_depth("busy").expect("async");
    assert_eq!(
        waiting,
        500 - 10,
        "10 running, the rest waiting for a retry"
    );
    a.apply(Setting::Reservation {
        function: "busy".into(),
        value: Reservation::Reserved(0),
    })
    .expect("allowed");
    run_to(&mut a, 600);
    let t = *a.function("busy").expect("exists").totals();
    assert_eq!(a.async_depth("busy"), Some(0));
    assert_eq!(t.events_kill_switched, waiting);
    assert_eq!(t.events_dropped, waiting);
    assert_eq!(t.events_expired, 0);
}
