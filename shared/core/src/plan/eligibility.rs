//! Who may be touched: a function is left alone when it is one of the guard's own functions,
//! protected by tag or by list, or has another incident's record open in the ledger; an
//! offender also when it is already capped by someone else.

use super::PlanInput;
use super::reasons::Skip;
use crate::intake::IncidentId;
use crate::model::{FunctionFacts, Reservation, TAG_PROTECTED, Tier};
use crate::record::{Record, RecordedAction};

/// A function the planner may act on, with this incident's record if it was delivered before.
#[derive(Debug)]
pub(super) struct Eligible<'a> {
    pub facts: &'a FunctionFacts,
    pub record: Option<Record>,
}

pub(super) fn eligible<'a>(input: &PlanInput<'a>, name: &str) -> Result<Eligible<'a>, Skip> {
    let Eligible { facts, record } = reachable(input, name)?;
    // Capped by someone else: nothing to do. Capped by this very incident (a redelivery after a
    // partial failure): go on and complete what it did not. The kill switch goes below any cap.
    let target = input.policy.target_concurrency;
    if let Reservation::Reserved(reserved) = facts.reservation
        && reserved <= target
        && input.escalate_to != Some(Tier::KillSwitch)
        && record.is_none()
    {
        return Err(Skip::AlreadyCapped { reserved, target });
    }
    Ok(Eligible { facts, record })
}

/// A function the guard may change at all: it exists, it is neither the guard's own nor
/// protected, and no other incident's record is open on it. What a victim's relief needs; an
/// offender must also not be capped by someone else ([`eligible`]).
pub(super) fn reachable<'a>(input: &PlanInput<'a>, name: &str) -> Result<Eligible<'a>, Skip> {
    let policy = input.policy;
    let facts = input.facts.get(name).ok_or(Skip::NotFound)?;
    if policy.guard_functions.contains(name) {
        return Err(Skip::GuardFunction);
    }
    if facts.tagged(TAG_PROTECTED, "true") {
        return Err(Skip::ProtectedByTag);
    }
    if policy.protected_functions.contains(name) {
        return Err(Skip::ProtectedByList);
    }
    let record = match input.records.get(name) {
        Some(r) if &r.incident != input.incident => {
            return Err(Skip::OtherIncident {
                incident: r.incident.clone(),
                since: r.opened_at,
            });
        }
        r => r.cloned(),
    };
    Ok(Eligible { facts, record })
}

/// Why the ledger refused to record `action` ([`Claim::Taken`](crate::record::Claim)): the
/// record belongs to another incident, or another process recorded this change first.
pub fn taken(record: &Record, incident: &IncidentId, action: &RecordedAction) -> Skip {
    if &record.incident != incident {
        return Skip::OtherIncident {
            incident: record.incident.clone(),
            since: record.opened_at,
        };
    }
    let at = record
        .find(&action.change.resource())
        .map_or(record.opened_at, |(_, a)| a.at);
    Skip::Recorded { at }
}
