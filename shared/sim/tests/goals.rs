//! The guard's goals (`cguard_sim::goals`, where every threshold lives), enforced on the
//! scenario files with the real guard running in the simulated account.

use std::path::PathBuf;

use cguard_sim::goals::{self, Verdict};
use cguard_sim::summary::Summary;
use cguard_sim::{Policy, Scenario, run};

const SCENARIOS: [&str; 8] = [
    "seed-000",
    "seed-002",
    "seed-003",
    "recursive-loop",
    "two-offenders",
    "protected-surge",
    "persisting-offender",
    "slow-ramp",
];

fn scenario(name: &str) -> Scenario {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../scenarios")
        .join(format!("{name}.toml"));
    Scenario::load(&path).expect("scenario file loads")
}

fn summaries(name: &str, policies: &[Policy]) -> Vec<Summary> {
    let s = scenario(name);
    policies
        .iter()
        .map(|p| Summary::of(&run(&s, *p).expect("runs")))
        .collect()
}

/// The verdicts of `goal` on `name` under `policies`; at least one, each met.
fn assert_met(name: &str, policies: &[Policy], goal: &str) {
    let verdicts: Vec<Verdict> = goals::judge(name, &summaries(name, policies))
        .into_iter()
        .filter(|v| v.goal == goal)
        .collect();
    assert!(!verdicts.is_empty(), "no verdict on {goal:?} for {name}");
    for v in verdicts {
        assert!(v.met, "{name}: {goal}: {}", v.figures);
    }
}

#[test]
fn seed_000_victims_recover_within_a_minute_of_the_guard_s_first_action() {
    assert_met(
        "seed-000",
        &[Policy::Guard],
        "victims recover within 60 s of the first action",
    );
}

#[test]
fn seed_000_the_offender_s_callers_get_429s_not_500s() {
    assert_met(
        "seed-000",
        &[Policy::Guard],
        "the offender's callers get 429s, not 500s",
    );
}

#[test]
fn seed_002_no_message_reaches_the_dlq_with_the_guard() {
    assert_met(
        "seed-002",
        &[Policy::NoGuard, Policy::Guard],
        "no message reaches the DLQ with the guard",
    );
}

#[test]
fn with_three_receives_the_guard_stops_the_dlq_once_its_change_acts_and_keeps_it_stopped() {
    // With maxReceiveCount 3 the first redrive precedes any alarm, so zero is out of any
    // reactive guard's reach. What the guard controls: every message redriven was received
    // three times before its MaximumConcurrency acted, and the auditor does not bring the
    // throttling back.
    let s = scenario("seed-002-receive-3");
    let o = run(&s, Policy::Guard).expect("runs");
    let without = Summary::of(&run(&s, Policy::NoGuard).expect("runs"));
    let acted =
        o.first_change_s.expect("the guard acted") + s.params.propagation.queue_concurrency_s;
    let last_redrive_minute = o
        .minutes
        .iter()
        .filter(|m| m.roles.values().any(|c| c.messages_to_dlq > 0))
        .map(|m| m.minute as u32)
        .max()
        .unwrap_or(0);
    let receives = s.queues[0].max_receive_count.expect("a redrive policy");
    let visibility = s.queues[0].visibility_timeout_s;
    assert!(
        last_redrive_minute * 60 <= acted + receives * visibility,
        "redriven in minute {last_redrive_minute}, after the change acted at {acted} s"
    );
    let with = Summary::of(&o);
    assert!(
        with.messages_to_dlq * 10 < without.messages_to_dlq,
        "{with:?}"
    );
    assert_eq!((with.restores, with.realarms), (0, 0), "{with:?}");
}

#[test]
fn seed_003_no_async_event_is_dropped_without_the_kill_switch() {
    assert_met(
        "seed-003",
        &[Policy::NoGuard, Policy::Guard],
        "no async event dropped without the kill switch",
    );
}

#[test]
fn no_scenario_re_alarms_more_than_once_after_a_restore() {
    for name in SCENARIOS {
        assert_met(
            name,
            &[Policy::Guard, Policy::KillSwitch],
            "at most one re-alarm after a restore",
        );
    }
}

#[test]
fn a_protected_function_is_never_limited() {
    for name in ["protected-surge", "seed-000", "persisting-offender"] {
        assert_met(
            name,
            &[Policy::Guard, Policy::KillSwitch],
            "a protected function is never limited",
        );
    }
}
