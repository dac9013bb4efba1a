//! A restore never lifts an SQS consumer's `MaximumConcurrency` above what the function's own
//! reservation runs. AWS: "Don't set maximum concurrency higher than the function's reserved
//! concurrency … otherwise Lambda may throttle your messages": the pollers would take more
//! batches than the function may run, retry the throttled ones until their visibility timeout
//! ends, and SQS would move valid messages to the DLQ once their receive count is spent. Where
//! the value a change replaced (none, or more than the reservation's share) would re-create
//! that, the auditor restores the share instead; where the guard's value already is the share
//! (a victim's relief, `plan::victim`), it keeps it and settles the action as kept. An
//! operator's `cguard restore` is exact: they asked for what was there.

use crate::model::{Change, Driver, FunctionFacts, Reservation};
use crate::plan::Skip;
use crate::plan::sizing::consumer_maximum;
use crate::record::Record;

/// How the auditor undoes one recorded change.
#[derive(Debug, Clone, PartialEq)]
pub enum Undoing {
    /// The change's exact inverse.
    Exact,
    /// `MaximumConcurrency` to `to`, the share of the function's own reservation `reserved`,
    /// rather than to what was there.
    Within { to: u32, reserved: u32 },
    /// The guard's value is that share already: it stays, settled with this reason.
    Kept(Skip),
}

impl Undoing {
    /// The change that restores `change` this way (`Exact` and `Kept`: its inverse).
    pub fn change(&self, change: &Change) -> Change {
        match (self, change) {
            (Self::Within { to, .. }, Change::QueueConcurrency { uuid, new, .. }) => {
                Change::QueueConcurrency {
                    uuid: uuid.clone(),
                    previous: *new,
                    new: Some(*to),
                }
            }
            _ => change.inverse(),
        }
    }
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
    let mappings = facts
        .drivers
        .iter()
        .filter(|d| matches!(d, Driver::Queue { .. }))
        .count() as u32;
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
        Undoing::Within {
            to: share,
            reserved,
        }
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
    use crate::model::Tier;

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
        assert_eq!(u.change(&change), change.inverse());
    }

    #[test]
    fn a_raised_reservation_gets_its_share_not_what_was_there() {
        let change = maximum(None, 2);
        let u = undoing(
            &relief(None, 2),
            &consumer(Reservation::Reserved(9), 2),
            &change,
        );
        assert_eq!(u, Undoing::Within { to: 4, reserved: 9 });
        assert_eq!(u.change(&change), maximum(Some(2), 4));
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
    fn an_offender_s_own_cap_is_not_the_owner_s_reservation() {
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
        // The owner had reserved 500: the mapping goes back up to 500, not to none.
        let owned = record(&[
            (Tier::Source, maximum(None, 100)),
            (
                Tier::Reservation,
                cap(Reservation::Reserved(500), Reservation::Reserved(100)),
            ),
        ]);
        assert_eq!(
            undoing(&owned, &now, &maximum(None, 100)),
            Undoing::Within {
                to: 500,
                reserved: 500
            }
        );
    }
}
