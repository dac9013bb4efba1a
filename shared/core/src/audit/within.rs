//! The auditor restores exactly, with one exception: a victim's relief. AWS: "Don't set maximum
//! concurrency higher than the function's reserved concurrency … otherwise Lambda may throttle
//! your messages": the pollers take more batches than the function may run, retry the
//! throttled ones until their visibility timeout ends, and SQS moves valid messages to the DLQ
//! once their receive count is spent. Where the guard's `MaximumConcurrency` is exactly the
//! share of the function's own reservation (`plan::victim`) and what it replaced (none, or more)
//! would re-create that, undoing it would re-create the incident it ended (the simulator's
//! seed-002 re-alarmed and lost messages in 19 of 30 seeds): the auditor keeps it, settled as
//! kept, while the reservation stands. Every other change — an offender's mapping limit
//! included — is restored to exactly what was there, and an operator's `cguard restore` is
//! always exact.

use crate::model::{Change, FunctionFacts, Reservation};
use crate::plan::Skip;
use crate::plan::sizing::consumer_maximum;
use crate::record::Record;

/// How the auditor undoes one recorded change.
#[derive(Debug, Clone, PartialEq)]
pub enum Undoing {
    /// The change's exact inverse.
    Exact,
    /// The guard's value is the share of the function's own reservation: it stays, settled
    /// with this reason.
    Kept(Skip),
}

/// How the auditor undoes `change`, recorded in `record` for the function `facts` describes.
pub fn undoing(record: &Record, facts: &FunctionFacts, change: &Change) -> Undoing {
    let Change::QueueConcurrency {
        previous,
        new: Some(guards),
        ..
    } = change
    else {
        return Undoing::Exact;
    };
    let Reservation::Reserved(reserved) = owners_reservation(record, facts) else {
        return Undoing::Exact;
    };
    let mappings = facts.queues().len() as u32;
    let Some(share) = consumer_maximum(reserved, mappings) else {
        return Undoing::Exact;
    };
    if previous.is_some_and(|p| p <= share) {
        return Undoing::Exact;
    }
    if *guards == share {
        Undoing::Kept(Skip::KeptWithinReservation {
            maximum: share,
            reserved,
        })
    } else {
        Undoing::Exact
    }
}

/// The reservation the function's owner set: the one this record's own cap replaced, else the
/// function's now.
fn owners_reservation(record: &Record, facts: &FunctionFacts) -> Reservation {
    record
        .actions
        .values()
        .find_map(|a| match &a.change {
            Change::Reservation {
                function, previous, ..
            } if function == &facts.name => Some(*previous),
            _ => None,
        })
        .unwrap_or(facts.reservation)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::super::fixtures::{cap, record};
    use super::*;
    use crate::model::{Driver, Tier};

    fn consumer(reservation: Reservation, mappings: usize) -> FunctionFacts {
        FunctionFacts {
            name: "slow".into(),
            arn: "arn:aws:lambda:us-east-1:123456789012:function:slow".into(),
            reservation,
            tags: BTreeMap::new(),
            drivers: (0..mappings)
                .map(|i| Driver::Queue {
                    uuid: format!("esm-{i}"),
                    source_arn: format!("arn:aws:sqs:us-east-1:123456789012:q{i}"),
                    maximum_concurrency: None,
                })
                .collect(),
        }
    }

    fn maximum(previous: Option<u32>, new: u32) -> Change {
        Change::QueueConcurrency {
            uuid: "esm-0".into(),
            previous,
            new: Some(new),
        }
    }

    fn relief(previous: Option<u32>, new: u32) -> Record {
        record(&[(Tier::Source, maximum(previous, new))])
    }

    #[test]
    fn a_victim_s_relief_is_kept_while_its_reservation_stands() {
        let change = maximum(None, 2);
        let u = undoing(
            &relief(None, 2),
            &consumer(Reservation::Reserved(2), 1),
            &change,
        );
        assert_eq!(
            u,
            Undoing::Kept(Skip::KeptWithinReservation {
                maximum: 2,
                reserved: 2
            })
        );
    }

    #[test]
    fn a_relief_the_owner_s_reservation_has_outgrown_is_restored_exactly() {
        // The owner raised the reservation to 9 since: the guard's 2 is no longer its share,
        // and the owner's own setting (none) comes back.
        let change = maximum(None, 2);
        let u = undoing(
            &relief(None, 2),
            &consumer(Reservation::Reserved(9), 2),
            &change,
        );
        assert_eq!(u, Undoing::Exact);
    }

    #[test]
    fn what_was_there_is_restored_when_it_fits_or_nothing_is_reserved() {
        let within = maximum(Some(3), 2);
        let reserved = consumer(Reservation::Reserved(5), 1);
        assert_eq!(
            undoing(&relief(Some(3), 2), &reserved, &within),
            Undoing::Exact
        );
        let unreserved = consumer(Reservation::Unreserved, 1);
        let change = maximum(None, 100);
        assert_eq!(
            undoing(&relief(None, 100), &unreserved, &change),
            Undoing::Exact
        );
        let below_minimum = consumer(Reservation::Reserved(1), 1);
        assert_eq!(
            undoing(&relief(None, 2), &below_minimum, &maximum(None, 2)),
            Undoing::Exact,
            "no setting keeps a reservation of 1"
        );
        let cap = cap(Reservation::Unreserved, Reservation::Reserved(100));
        assert_eq!(
            undoing(
                &relief(None, 100),
                &consumer(Reservation::Reserved(100), 1),
                &cap
            ),
            Undoing::Exact,
            "only MaximumConcurrency is bounded"
        );
    }

    #[test]
    fn an_offender_s_mapping_limit_is_restored_exactly() {
        // The guard limited the mapping to 100 and capped the function at 100: the owner had no
        // reservation, so the mapping goes back to none.
        let limited = record(&[
            (Tier::Source, maximum(None, 100)),
            (
                Tier::Reservation,
                cap(Reservation::Unreserved, Reservation::Reserved(100)),
            ),
        ]);
        let now = consumer(Reservation::Reserved(100), 1);
        assert_eq!(undoing(&limited, &now, &maximum(None, 100)), Undoing::Exact);
        // The owner had reserved 500: the guard's 100 is not that reservation's share (it was
        // the offender's limit, not a relief), so the mapping goes back to none as well.
        let owned = record(&[
            (Tier::Source, maximum(None, 100)),
            (
                Tier::Reservation,
                cap(Reservation::Reserved(500), Reservation::Reserved(100)),
            ),
        ]);
        assert_eq!(undoing(&owned, &now, &maximum(None, 100)), Undoing::Exact);
    }
}
