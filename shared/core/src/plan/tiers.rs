//! What each tier proposes for one eligible offender: tier 1 limits at the source, tier 2 caps
//! the reservation, tier 3 reserves 0. A proposal that must not be taken says why; whether the
//! others are taken is for the rules every action obeys (`Planner::push`).

use std::collections::BTreeMap;

use super::reasons::{Figures, Skip, Why};
use super::sizing::{self, Cap, Floor, NoEmergency};
use crate::attribution::Ranked;
use crate::config::Policy;
use crate::model::{
    ApiTarget, Change, Driver, FunctionFacts, Reservation, TAG_KILL_SWITCH, Throttle, Tier,
};

/// One action as a tier would take it.
#[derive(Debug)]
pub(super) struct Proposal {
    pub tier: Tier,
    pub change: Change,
    pub why: Why,
    pub skip: Option<Skip>,
}

/// Tier 1: a throttle on every API stage and a maximum concurrency on every SQS mapping that
/// drives the function. Sources only a reservation limits are noted.
pub(super) fn source_limits(
    offender: &Ranked,
    facts: &FunctionFacts,
    target: u32,
    notes: &mut Vec<String>,
) -> Vec<Proposal> {
    for d in &facts.drivers {
        if let Driver::Other { source } = d {
            notes.push(format!(
                "{}: also invoked by {source}; only its reservation limits that",
                facts.name
            ));
        }
    }
    let mut proposals = api_throttles(offender, facts, target, notes);
    proposals.extend(queue_limits(offender, facts, target));
    proposals
}

fn api_throttles(
    offender: &Ranked,
    facts: &FunctionFacts,
    target: u32,
    notes: &mut Vec<String>,
) -> Vec<Proposal> {
    // Keyed by target: one throttle per stage or method, in a stable order.
    let apis: BTreeMap<&ApiTarget, (Option<Throttle>, bool)> = facts
        .drivers
        .iter()
        .filter_map(|d| match d {
            Driver::Api {
                target,
                current,
                shared_entry,
            } => Some((target, (*current, *shared_entry))),
            _ => None,
        })
        .collect();
    if apis.is_empty() {
        return Vec::new();
    }
    let Some(ms) = offender.avg_duration_ms.filter(|d| *d > 0.0) else {
        notes.push(format!(
            "{}: no Duration data in the window to size an API throttle; relying on the \
             reservation",
            facts.name
        ));
        return Vec::new();
    };
    let (seconds, stages) = (ms / 1000.0, apis.len());
    let sized = sizing::api_throttle(target, seconds, stages);
    let why = Why::LittlesLaw {
        target,
        seconds,
        per_second: sizing::little_rate(target, seconds, stages),
        stages,
        offender: offender.into(),
    };
    apis.into_iter()
        .map(|(api, (current, shared_entry))| {
            let mut new = sized;
            let skip = match current {
                None if shared_entry => Some(Skip::SharedEntry),
                Some(c) if c.rate <= new.rate => Some(Skip::ThrottledBelow(c)),
                Some(c) => {
                    // A lower rate must not come with a larger bucket.
                    new.burst = new.burst.min(c.burst);
                    None
                }
                None => None,
            };
            Proposal {
                tier: Tier::Source,
                change: Change::Throttle {
                    target: api.clone(),
                    previous: current,
                    new: Some(new),
                },
                why: why.clone(),
                skip,
            }
        })
        .collect()
}

fn queue_limits(offender: &Ranked, facts: &FunctionFacts, target: u32) -> Vec<Proposal> {
    let queues = facts.queues();
    let mappings = queues.len() as u32;
    let new = sizing::queue_maximum(target, mappings);
    queues
        .into_iter()
        .map(|(uuid, current)| Proposal {
            tier: Tier::Source,
            change: Change::QueueConcurrency {
                uuid: uuid.clone(),
                previous: current,
                new: Some(new),
            },
            why: Why::QueueShare {
                target,
                mappings,
                offender: offender.into(),
            },
            skip: current.filter(|c| *c <= new).map(Skip::QueueLimitedBelow),
        })
        .collect()
}

/// Tier 2: the cap at the target, lowered to keep the unreserved minimum; skipped with
/// [`Skip::BelowMinimum`] when no cap keeps it.
pub(super) fn reservation(
    offender: &Ranked,
    facts: &FunctionFacts,
    target: u32,
    floor: Option<Floor>,
) -> Proposal {
    let previous = facts.reservation;
    let (cap, lowered, skip) = match previous {
        Reservation::Reserved(reserved) if reserved <= target => (
            target.max(1),
            None,
            Some(Skip::ReservedBelow {
                reserved,
                cap: target,
            }),
        ),
        _ => match sizing::reservation_cap(target, previous.held(), floor) {
            Cap::Placed(n) => (n, None, None),
            Cap::Lowered(l) => (l.to, Some(l), None),
            Cap::Blocked(f) => (target.max(1), None, Some(Skip::BelowMinimum(f))),
        },
    };
    Proposal {
        tier: Tier::Reservation,
        change: Change::Reservation {
            function: facts.name.clone(),
            previous,
            new: Reservation::Reserved(cap),
        },
        why: Why::Cap {
            target,
            lowered,
            offender: offender.into(),
        },
        skip,
    }
}

/// Tier 3: reserved concurrency 0, only where allowed and in an emergency. `blocked` when it
/// stands in for a cap the unreserved minimum did not allow.
pub(super) fn kill_switch(
    offender: &Ranked,
    facts: &FunctionFacts,
    policy: &Policy,
    emergency: Result<f64, NoEmergency>,
    blocked: Option<Floor>,
) -> Proposal {
    // After a tier-2 cap the current reservation is the cap; the record keeps the original.
    let previous = facts.reservation;
    let allowed = policy.kill_switch_allowed || facts.tagged(TAG_KILL_SWITCH, "allowed");
    let (skip, why) = match (allowed, emergency) {
        (false, _) => (Some(Skip::KillSwitchNotAllowed), Why::KillSwitchRequested),
        (true, Err(no)) => (Some(Skip::NoEmergency(no)), Why::KillSwitchRequested),
        (true, Ok(utilization)) => (
            (previous == Reservation::Reserved(0)).then_some(Skip::ReservedZero),
            Why::Emergency {
                utilization,
                blocked,
                offender: Figures::from(offender),
            },
        ),
    };
    Proposal {
        tier: Tier::KillSwitch,
        change: Change::Reservation {
            function: facts.name.clone(),
            previous,
            new: Reservation::Reserved(0),
        },
        why,
        skip,
    }
}
