use super::*;
use crate::model::Reservation;
use chrono::TimeZone;

fn at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 9, 40, 0).unwrap()
}

const FLOOR: Floor = Floor {
    minimum: 100,
    unreserved: 150,
};

const MEASURED: Figures = Figures {
    peak: Some(600.0),
    rate: Some(20.0),
    duration_ms: Some(30_000.0),
};

#[test]
fn every_skip_keeps_its_wording() {
    let cases = [
        (Skip::NotFound, "function not found"),
        (Skip::GuardFunction, "one of the guard's own functions"),
        (
            Skip::ProtectedByTag,
            "protected by tag concurrency-guard:protected=true",
        ),
        (
            Skip::ProtectedByList,
            "protected by CGUARD_PROTECTED_FUNCTIONS",
        ),
        (
            Skip::OtherIncident {
                incident: IncidentId::from_recorded("other"),
                since: at(),
            },
            "already under remediation by incident other since 2026-11-23 09:40:00 UTC; \
             the auditor escalates it",
        ),
        (
            Skip::AlreadyCapped {
                reserved: 40,
                target: 100,
            },
            "already capped: reserved 40 ≤ target 100",
        ),
        (
            Skip::SharedEntry,
            "the stage has other settings for this method and no throttle: a throttle could \
             not be removed later without removing them; the reservation limits instead",
        ),
        (
            Skip::ThrottledBelow(Throttle {
                rate: 1.0,
                burst: 2,
            }),
            "already limited to 1 req/s, burst 2",
        ),
        (
            Skip::QueueLimitedBelow(5),
            "already limited to MaximumConcurrency 5",
        ),
        (
            Skip::BelowQueueMinimum {
                reserved: 1,
                mappings: 1,
            },
            "reserved 1 is below MaximumConcurrency's minimum of 2: no setting keeps the \
             pollers within the reservation",
        ),
        (
            Skip::BelowQueueMinimum {
                reserved: 5,
                mappings: 3,
            },
            "reserved 5 ÷ 3 mappings is below MaximumConcurrency's minimum of 2: no setting \
             keeps the pollers within the reservation",
        ),
        (
            Skip::ReservedBelow {
                reserved: 40,
                cap: 100,
            },
            "already capped: reserved 40 ≤ 100",
        ),
        (
            Skip::BelowMinimum(FLOOR),
            "a reservation would leave unreserved concurrency below the account minimum 100 \
             (150 unreserved now)",
        ),
        (
            Skip::KillSwitchNotAllowed,
            "kill switch not allowed: CGUARD_KILL_SWITCH_ALLOWED is false and the function \
             is not tagged concurrency-guard:kill-switch=allowed",
        ),
        (
            Skip::NoEmergency(NoEmergency::Below {
                utilization: 0.7,
                threshold: 0.95,
            }),
            "no emergency: account at 70% of its limit, below CGUARD_EMERGENCY_UTILIZATION \
             95%",
        ),
        (
            Skip::NoEmergency(NoEmergency::Unknown),
            "no emergency can be established: the account limit or peak is unknown",
        ),
        (Skip::ReservedZero, "already reserved 0"),
        (
            Skip::ChangedByThisPlan,
            "this resource is already changed by this plan",
        ),
        (
            Skip::Recorded { at: at() },
            "already recorded by this incident at 2026-11-23 09:40:00 UTC (duplicate \
             delivery)",
        ),
        (
            Skip::BudgetExhausted { max_actions: 3 },
            "action budget exhausted (CGUARD_MAX_ACTIONS=3)",
        ),
        (
            Skip::NeverApplied,
            "never applied: it already holds its previous value",
        ),
        (
            Skip::PersonsValue(Current::Reservation(Reservation::Reserved(300))),
            "left the person's value: reserved 300",
        ),
        (Skip::Gone, "the resource no longer exists"),
        (
            Skip::KeptWithinReservation {
                maximum: 2,
                reserved: 2,
            },
            "kept: MaximumConcurrency 2 keeps the pollers within the function's own reservation \
             2; what was there would have them take more batches than it may run, and throttle \
             valid messages into the DLQ",
        ),
    ];
    for (skip, wording) in cases {
        assert_eq!(skip.to_string(), wording);
        assert_eq!(serde_json::to_value(&skip).unwrap(), wording);
    }
}

#[test]
fn every_rationale_keeps_its_wording() {
    let cases = [
        (
            Why::LittlesLaw {
                target: 100,
                seconds: 30.0,
                per_second: 100.0 / 30.0,
                stages: 1,
                offender: MEASURED,
            },
            "Little's law: target 100 ÷ average duration 30.00 s = 3.33 req/s; at least 1 \
             req/s, burst = one second of rate; offender peak 600 concurrent, 20.00 req/s × \
             30.00 s ≈ 600 (Little's law)",
        ),
        (
            Why::LittlesLaw {
                target: 100,
                seconds: 10.0,
                per_second: 5.0,
                stages: 2,
                offender: Figures::default(),
            },
            "Little's law: target 100 ÷ average duration 10.00 s = 5.00 req/s ÷ 2 stages; at \
             least 1 req/s, burst = one second of rate; offender peak unmeasured",
        ),
        (
            Why::QueueShare {
                target: 100,
                mappings: 1,
                offender: Figures {
                    peak: Some(700.0),
                    ..Figures::default()
                },
            },
            "SQS MaximumConcurrency = target 100 (bounded to 2..=1000): messages wait in the \
             queue instead of being throttled into the DLQ; offender peak 700 concurrent",
        ),
        (
            Why::QueueShare {
                target: 100,
                mappings: 3,
                offender: Figures {
                    peak: None,
                    ..MEASURED
                },
            },
            "SQS MaximumConcurrency = target 100 ÷ 3 mappings (bounded to 2..=1000): \
             messages wait in the queue instead of being throttled into the DLQ; offender \
             peak 20.00 req/s × 30.00 s ≈ 600 (Little's law)",
        ),
        (
            Why::WithinReservation {
                reserved: 2,
                mappings: 1,
                maximum: 2,
            },
            "SQS MaximumConcurrency = the function's own reservation 2 = 2: pollers that take \
             more batches than the reservation runs have them throttled until the visibility \
             timeout, and valid messages reach the DLQ (AWS: \"Don't set maximum concurrency \
             higher than the function's reserved concurrency\")",
        ),
        (
            Why::WithinReservation {
                reserved: 9,
                mappings: 2,
                maximum: 4,
            },
            "SQS MaximumConcurrency = the function's own reservation 9 ÷ 2 mappings = 4: pollers \
             that take more batches than the reservation runs have them throttled until the \
             visibility timeout, and valid messages reach the DLQ (AWS: \"Don't set maximum \
             concurrency higher than the function's reserved concurrency\")",
        ),
        (
            Why::Cap {
                target: 100,
                lowered: None,
                offender: MEASURED,
            },
            "cap at target 100 (CGUARD_TARGET_CONCURRENCY); offender peak 600 concurrent, \
             20.00 req/s × 30.00 s ≈ 600 (Little's law)",
        ),
        (
            Why::Cap {
                target: 100,
                lowered: Some(Lowered {
                    to: 50,
                    floor: FLOOR,
                }),
                offender: Figures::default(),
            },
            "cap at target 100 (CGUARD_TARGET_CONCURRENCY); offender peak unmeasured; \
             lowered from 100 to 50 to keep the account's unreserved minimum 100 (150 \
             unreserved now)",
        ),
        (Why::KillSwitchRequested, "tier 3 requested"),
        (
            Why::Emergency {
                utilization: 0.98,
                blocked: None,
                offender: Figures::default(),
            },
            "emergency: account at 98% of its limit; the spike persisted after the lower \
             tiers; offender peak unmeasured",
        ),
        (
            Why::Emergency {
                utilization: 0.98,
                blocked: Some(FLOOR),
                offender: Figures::default(),
            },
            "emergency: account at 98% of its limit; a reservation would leave unreserved \
             concurrency below the account minimum 100 (150 unreserved now); offender peak \
             unmeasured",
        ),
    ];
    for (why, wording) in cases {
        assert_eq!(why.to_string(), wording);
        assert_eq!(serde_json::to_value(&why).unwrap(), wording);
    }
}
