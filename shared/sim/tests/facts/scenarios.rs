//! The scenario files: they parse, they run deterministically, and the incidents they
//! describe happen under the baselines.

use std::path::PathBuf;

use cguard_sim::scenario::SourceSpec;
use cguard_sim::{Outcome, Policy, Role, Scenario, ScenarioError, run};

const NAMED: [&str; 8] = [
    "seed-000",
    "seed-002",
    "seed-003",
    "recursive-loop",
    "two-offenders",
    "protected-surge",
    "persisting-offender",
    "slow-ramp",
];

fn path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../scenarios")
        .join(format!("{name}.toml"))
}

fn load(name: &str) -> Scenario {
    Scenario::load(&path(name)).expect("scenario file loads")
}

fn outcome(scenario: &Scenario, policy: Policy) -> Outcome {
    run(scenario, policy).expect("runs")
}

#[test]
fn every_named_scenario_file_parses_and_names_itself() {
    for name in NAMED {
        let s = load(name);
        assert_eq!(s.name, name);
        assert!(!s.description.is_empty(), "{name} says what it represents");
    }
}

#[test]
fn the_same_seed_gives_the_same_outcome_and_another_seed_another() {
    let s = load("seed-000");
    let first = outcome(&s, Policy::NoGuard);
    assert_eq!(first, outcome(&s, Policy::NoGuard));
    let reseeded = Scenario { seed: 99, ..s };
    let other = outcome(&reseeded, Policy::NoGuard);
    assert_ne!(first.roles, other.roles, "the jitter follows the seed");
}

#[test]
fn seed_000_without_a_guard_throttles_the_victim_for_most_of_the_load() {
    let s = load("seed-000");
    let o = outcome(&s, Policy::NoGuard);
    // The load test runs from 300 to 2700 s.
    let v = o.victims;
    assert!(v.seconds_throttled >= 2_160, "90% of 2,400 s: {v:?}");
    assert!(
        v.first_throttle_s.is_some_and(|t| (300..360).contains(&t)),
        "{v:?}"
    );
    assert!(
        v.last_throttle_s
            .is_some_and(|t| (2_690..2_760).contains(&t)),
        "{v:?}"
    );
    let victim = o.role(Role::Victim);
    assert!(victim.callers_500 > 10_000, "{victim:?}");
    assert_eq!(victim.callers_429, 0, "nothing throttles the stage");
    assert!(
        o.first_alarm_s.is_some_and(|t| t <= 420),
        "{:?}",
        o.first_alarm_s
    );
    // A static reservation of 100 on the offender spares the victim, at the offender's cost.
    let capped = outcome(&s, Policy::StaticReservation);
    assert_eq!(capped.victims.throttled, 0);
    assert!(capped.role(Role::Offender).throttled_reservation > 50_000);
    assert_eq!(capped.first_alarm_s, None);
}

#[test]
fn seed_002_sends_valid_messages_to_the_dlq_unless_maximum_concurrency_holds_the_pollers() {
    // The variant with 3 receives shows the trap at its starkest (seed-002 itself, with the 5
    // AWS recommends, loses a handful: see the goals).
    let s = load("seed-002-receive-3");
    let o = outcome(&s, Policy::NoGuard);
    assert!(o.role(Role::Victim).messages_to_dlq > 20, "{:?}", o.roles);
    let mut held = s.clone();
    for f in &mut held.functions {
        if let SourceSpec::Queue {
            maximum_concurrency,
            ..
        } = &mut f.source
        {
            *maximum_concurrency = Some(2);
        }
    }
    let o = outcome(&held, Policy::NoGuard);
    assert_eq!(o.role(Role::Victim).messages_to_dlq, 0);
    assert_eq!(o.role(Role::Victim).throttled(), 0);
}

#[test]
fn seed_003_holds_the_pool_for_hours_with_retries_and_a_cap_expires_the_offenders_events() {
    let s = load("seed-003");
    let o = outcome(&s, Policy::NoGuard);
    // The upload ends at 4,200 s; its retries keep the victims throttled for hours after.
    assert!(
        o.victims
            .last_throttle_s
            .is_some_and(|t| t > 4_200 + 3 * 3_600),
        "{:?}",
        o.victims
    );
    assert!(
        o.role(Role::Victim).events_dropped > 0,
        "audit-trail's 1 h events are lost"
    );
    let capped = outcome(&s, Policy::StaticReservation);
    assert_eq!(capped.victims.throttled, 0);
    let offender = capped.role(Role::Offender);
    assert!(offender.events_expired > 100_000, "{offender:?}");
    assert_eq!(
        offender.events_dropped, 0,
        "they reach pdf-render's destination"
    );
}

#[test]
fn slow_ramp_never_trips_an_alarm_and_protected_surge_does() {
    let calm = outcome(&load("slow-ramp"), Policy::NoGuard);
    assert_eq!(calm.first_alarm_s, None);
    assert_eq!(calm.victims.throttled, 0);
    let surge = outcome(&load("protected-surge"), Policy::NoGuard);
    assert!(surge.first_alarm_s.is_some());
    assert!(surge.victims.throttled > 0);
    // No offender: the static baseline changes nothing.
    let still = outcome(&load("protected-surge"), Policy::StaticReservation);
    assert_eq!(still.victims, surge.victims);
}

#[test]
fn a_parse_error_names_the_file_and_the_field() {
    let err = Scenario::parse(
        "bad.toml",
        "name = \"x\"\nseed = 1\nduration_s = 60\nfunctions = []\nbogus = 1\n",
    )
    .expect_err("unknown field");
    let text = err.to_string();
    assert!(matches!(err, ScenarioError::Parse { .. }));
    assert!(text.starts_with("bad.toml: "), "{text}");
    assert!(text.contains("bogus"), "{text}");
    let err = Scenario::parse(
        "dangling.toml",
        r#"
name = "x"
seed = 1
duration_s = 60
[[functions]]
name = "f"
duration_s = 1
source = { kind = "queue", queue = "nowhere" }
"#,
    )
    .expect_err("no such queue");
    assert_eq!(
        err.to_string(),
        "dangling.toml: functions[0] (f).source.queue: no queue named nowhere"
    );
    let missing = Scenario::load(&path("no-such-scenario")).expect_err("no file");
    assert!(
        missing
            .to_string()
            .contains("no-such-scenario.toml: cannot read")
    );
}
