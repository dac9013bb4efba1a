//! SQS event source mappings (SIM-FACTS §2): the poller ramp, reserved concurrency it
//! ignores, the visibility timeout, the DLQ, and MaximumConcurrency.

use cguard_sim::Setting;

use super::{account, run_to};

#[test]
fn pollers_start_at_5_and_add_300_a_minute_up_to_1250() {
    // A deep backlog, a function that never finishes within the test, room for all of it.
    let mut a = account(
        r#"
duration_s = 600
[params.pool]
account_limit = 5000
[[queues]]
name = "deep"
visibility_timeout_s = 3600
[[functions]]
name = "consumer"
duration_s = 3000
source = { kind = "queue", queue = "deep", batch_size = 10 }
load = [{ until_s = 1, profile = { kind = "constant", rate = 1000000 } }]
"#,
    );
    let in_flight = |a: &cguard_sim::Account| a.function("consumer").expect("exists").in_flight();
    run_to(&mut a, 1);
    assert_eq!(in_flight(&a), 5);
    run_to(&mut a, 61);
    assert_eq!(in_flight(&a), 305, "+300 in the first minute");
    run_to(&mut a, 121);
    assert_eq!(in_flight(&a), 605);
    run_to(&mut a, 600);
    assert_eq!(in_flight(&a), 1250, "the ceiling");
    assert_eq!(
        a.function("consumer").expect("exists").totals().throttled(),
        0
    );
}

/// seed-002's mechanism: a 25 s consumer reserved at 2, visibility timeout 30 s.
fn consumer(maximum_concurrency: &str) -> String {
    format!(
        r#"
duration_s = 1800
[[queues]]
name = "invoices"
visibility_timeout_s = 30
max_receive_count = 3
[[functions]]
name = "worker"
duration_s = 25
reservation = 2
source = {{ kind = "queue", queue = "invoices", batch_size = 10{maximum_concurrency} }}
load = [{{ until_s = 1200, profile = {{ kind = "constant", rate = 0.5 }} }}]
"#
    )
}

#[test]
fn a_reservation_below_the_pollers_throttles_messages_into_the_dlq() {
    let mut a = account(&consumer(""));
    run_to(&mut a, 1800);
    let t = *a.function("worker").expect("exists").totals();
    // 5 pollers, 2 slots: 3 batches at a time are throttled and retried until their
    // visibility timeout; after 3 receives SQS redrives valid messages to the DLQ, although
    // the function keeps up with the trickle (2 batches per 25 s).
    assert!(t.throttled_reservation > 1000, "{t:?}");
    assert!(t.messages_to_dlq > 20, "{t:?}");
    let waiting = a.queue_depth("invoices").expect("exists");
    assert_eq!(
        t.messages_processed + t.messages_to_dlq + waiting,
        t.arrivals
    );
    assert_eq!(t.throttled_pool, 0);
}

#[test]
fn maximum_concurrency_at_the_reservation_stops_the_pollers_and_nothing_reaches_the_dlq() {
    let mut a = account(&consumer(", maximum_concurrency = 2"));
    run_to(&mut a, 1800);
    let t = *a.function("worker").expect("exists").totals();
    assert_eq!(t.throttled(), 0);
    assert_eq!(t.messages_to_dlq, 0);
    // Messages wait in the queue instead, and every one is processed or still waiting.
    let waiting = a.queue_depth("invoices").expect("exists");
    assert_eq!(t.messages_processed + waiting, t.arrivals);
    assert!(t.messages_processed > 500, "{t:?}");
}

#[test]
fn maximum_concurrency_set_later_reads_back_at_once_and_stops_the_throttling_after_the_delay() {
    let mut a = account(&format!(
        "{}\n[params.propagation]\nqueue_concurrency_s = 30\n",
        consumer("")
    ));
    run_to(&mut a, 300);
    assert!(a.function("worker").expect("exists").totals().throttled() > 0);
    a.apply(Setting::QueueConcurrency {
        uuid: "esm-worker".into(),
        value: Some(2),
    })
    .expect("mapping exists");
    assert_eq!(a.queue_concurrency("esm-worker"), Ok(Some(2)));
    // Batches already held keep being retried until they are admitted or time out (≤ 30 s).
    run_to(&mut a, 400);
    let settled = a.function("worker").expect("exists").totals().throttled();
    run_to(&mut a, 1800);
    assert_eq!(
        a.function("worker").expect("exists").totals().throttled(),
        settled,
        "no throttle after the change took effect"
    );
    assert!(
        a.apply(Setting::QueueConcurrency {
            uuid: "esm-worker".into(),
            value: Some(1),
        })
        .is_err(),
        "MaximumConcurrency is 2-1000"
    );
}
