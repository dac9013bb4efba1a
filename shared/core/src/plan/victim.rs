//! A victim alarm's relief for the victim itself, where its own configuration is what hurts it:
//! an SQS consumer held back by its own reservation. Its event source mapping "doesn't account
//! for reserved concurrency": the pollers take more batches than the function may run, Lambda
//! throttles the rest, the pollers retry them until the visibility timeout, and after
//! `maxReceiveCount` receives SQS moves valid messages to the DLQ. No offender causes that, so
//! limiting one cannot help; a `MaximumConcurrency` within the reservation stops the pollers at
//! what the function runs, and the messages wait in the queue instead. The change is tier 1
//! (at the source), recorded in the victim's own record and restorable like every action.

use super::eligibility::{self, Eligible};
use super::reasons::{Skip, Why};
use super::sizing;
use super::tiers::Proposal;
use super::{Planner, Skipped};
use crate::attribution::Scope;
use crate::model::{Change, FunctionFacts, Reservation, Tier};

impl Planner<'_> {
    /// The relief of a victim alarm's victim, in the remediator's first response only (the
    /// auditor escalates offenders, never victims).
    pub(super) fn victim(&mut self) {
        let input = self.input;
        let Scope::Victim { function } = &input.attribution.scope else {
            return;
        };
        if input.escalate_to.is_some() {
            return;
        }
        let Some(facts) = input.facts.get(function) else {
            return;
        };
        let proposals = match consumer_relief(facts) {
            Ok(p) if p.is_empty() => return,
            Ok(p) => p,
            Err(reason) => {
                return self.plan.skipped.push(Skipped {
                    function: function.clone(),
                    reason,
                });
            }
        };
        match eligibility::reachable(input, function) {
            Ok(Eligible { record, .. }) => {
                for p in proposals {
                    self.push(function, p, record.as_ref());
                }
            }
            Err(reason) => self.plan.skipped.push(Skipped {
                function: function.clone(),
                reason,
            }),
        }
    }
}

/// A `MaximumConcurrency` within the reservation on each SQS mapping of a reserved consumer;
/// none for a function that is unreserved (the pool throttles it: an offender's doing) or has
/// no SQS mapping. [`Skip::BelowQueueMinimum`] when no setting Lambda accepts fits.
fn consumer_relief(facts: &FunctionFacts) -> Result<Vec<Proposal>, Skip> {
    let Reservation::Reserved(reserved) = facts.reservation else {
        return Ok(Vec::new());
    };
    let queues = facts.queues();
    if queues.is_empty() {
        return Ok(Vec::new());
    }
    let mappings = queues.len() as u32;
    let maximum = sizing::consumer_maximum(reserved, mappings)
        .ok_or(Skip::BelowQueueMinimum { reserved, mappings })?;
    Ok(queues
        .into_iter()
        .map(|(uuid, current)| Proposal {
            tier: Tier::Source,
            change: Change::QueueConcurrency {
                uuid: uuid.clone(),
                previous: current,
                new: Some(maximum),
            },
            why: Why::WithinReservation {
                reserved,
                mappings,
                maximum,
            },
            skip: current
                .filter(|c| *c <= maximum)
                .map(Skip::QueueLimitedBelow),
        })
        .collect())
}

#[cfg(test)]
mod tests;
