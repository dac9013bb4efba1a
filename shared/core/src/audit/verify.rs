//! Whether a recorded action still holds: in place, changed since by a person, never made,
//! gone, or unknown. Pure: the caller reads the live values and passes them in.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::error::Failure;
use crate::model::{Change, Current, ResourceKey};
use crate::record::Record;

/// What a recorded action finds on its resource now.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "verdict")]
pub enum Verdict {
    /// The resource holds the value the guard put there.
    InPlace,
    /// A person changed it since: reported, and their value is left alone.
    Drifted { current: Current },
    /// The resource holds the previous value: the change was recorded but never made.
    NotApplied,
    /// The resource no longer exists: nothing to undo.
    Gone,
    /// The live value could not be read; nothing is concluded.
    Unreadable { why: Unread },
}

/// Why a live value is unknown.
#[derive(Debug, Clone, PartialEq)]
pub enum Unread {
    /// The caller had no reading for the resource.
    NotRead,
    Failed(Failure),
}

/// What a resource holds, as read (or as it will be once newer actions are undone).
#[derive(Debug, Clone, PartialEq)]
pub enum Reading {
    Value(Current),
    Gone,
    Unreadable(Failure),
}

/// Compares one change with the value its resource holds.
pub fn verify(change: &Change, current: &Current) -> Verdict {
    if *current == change.applied_value() {
        Verdict::InPlace
    } else if *current == change.previous_value() {
        Verdict::NotApplied
    } else {
        Verdict::Drifted {
            current: current.clone(),
        }
    }
}

/// [`verify`] for a resource that may be gone or unreadable.
pub fn verify_reading(change: &Change, reading: &Reading) -> Verdict {
    match reading {
        Reading::Value(c) => verify(change, c),
        Reading::Gone => Verdict::Gone,
        Reading::Unreadable(failure) => Verdict::Unreadable {
            why: Unread::Failed(failure.clone()),
        },
    }
}

/// What the resource holds once this action is undone (or found not to need undoing).
pub fn underneath(change: &Change, verdict: &Verdict, reading: Reading) -> Reading {
    match verdict {
        Verdict::InPlace | Verdict::NotApplied => Reading::Value(change.previous_value()),
        _ => reading,
    }
}

/// Verdicts for every action of a record, given what each resource holds now (`live`, keyed by
/// resource; a resource missing there is unreadable).
///
/// Several actions may touch one resource (a kill switch after a cap): the newest is checked
/// against the live value, an older one against the value the newer one replaced — what the
/// resource returns to once the newer one is undone, which is the order a restore works in.
pub fn verify_record(
    record: &Record,
    live: &BTreeMap<ResourceKey, Reading>,
) -> BTreeMap<u32, Verdict> {
    let mut live = live.clone();
    let mut out = BTreeMap::new();
    for (index, action) in record.actions.iter().rev() {
        let key = action.change.resource();
        let Some(reading) = live.remove(&key) else {
            // Left unread, so the older actions on this resource find nothing either.
            out.insert(
                *index,
                Verdict::Unreadable {
                    why: Unread::NotRead,
                },
            );
            continue;
        };
        let verdict = verify_reading(&action.change, &reading);
        live.insert(key, underneath(&action.change, &verdict, reading));
        out.insert(*index, verdict);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{after, cap, capped, throttle};
    use super::*;
    use crate::error::ErrorKind;
    use crate::model::{Reservation, Tier};
    use crate::record::RecordedAction;

    #[test]
    fn verdicts_tell_in_place_drifted_and_never_applied_apart() {
        let c = cap(Reservation::Unreserved, Reservation::Reserved(100));
        assert_eq!(
            verify(&c, &Current::Reservation(Reservation::Reserved(100))),
            Verdict::InPlace
        );
        assert_eq!(
            verify(&c, &Current::Reservation(Reservation::Unreserved)),
            Verdict::NotApplied
        );
        assert_eq!(
            verify(&c, &Current::Reservation(Reservation::Reserved(0))),
            Verdict::Drifted {
                current: Current::Reservation(Reservation::Reserved(0))
            },
            "reserved 0 is not 'no reservation'"
        );
        assert_eq!(
            verify(&throttle(), &Current::Throttle(None)),
            Verdict::NotApplied
        );
    }

    #[test]
    fn an_older_action_is_checked_against_what_the_newer_one_replaced() {
        // A cap, then the kill switch on the same function, then a throttle that was never made.
        let mut r = capped();
        r.actions.insert(
            2,
            RecordedAction {
                tier: Tier::KillSwitch,
                change: cap(Reservation::Reserved(100), Reservation::Reserved(0)),
                at: after(10),
            },
        );
        let function = ResourceKey::Function("slow".into());
        let api = throttle().resource();
        let live = BTreeMap::from([
            (
                function.clone(),
                Reading::Value(Current::Reservation(Reservation::Reserved(0))),
            ),
            (api.clone(), Reading::Value(Current::Throttle(None))),
        ]);
        let v = verify_record(&r, &live);
        assert_eq!(v[&2], Verdict::InPlace);
        assert_eq!(v[&1], Verdict::InPlace, "the kill switch stands on the cap");
        assert_eq!(v[&0], Verdict::NotApplied);

        // A person raised the function to 300: both reservation actions see their value.
        let live = BTreeMap::from([
            (
                function,
                Reading::Value(Current::Reservation(Reservation::Reserved(300))),
            ),
            (api, Reading::Gone),
        ]);
        let v = verify_record(&r, &live);
        assert!(matches!(v[&2], Verdict::Drifted { .. }));
        assert!(matches!(v[&1], Verdict::Drifted { .. }));
        assert_eq!(v[&0], Verdict::Gone);
    }

    #[test]
    fn nothing_is_concluded_from_a_resource_that_was_not_read() {
        let r = capped();
        let failure = Failure {
            operation: "current".into(),
            kind: ErrorKind::Denied,
            message: "no".into(),
        };
        let live = BTreeMap::from([(
            ResourceKey::Function("slow".into()),
            Reading::Unreadable(failure.clone()),
        )]);
        let v = verify_record(&r, &live);
        assert_eq!(
            v[&1],
            Verdict::Unreadable {
                why: Unread::Failed(failure)
            }
        );
        assert_eq!(
            v[&0],
            Verdict::Unreadable {
                why: Unread::NotRead
            },
            "the API stage was not read"
        );
    }
}
