//! The last check before any restore writes, on every path (audit pass, `cguard restore`):
//! whatever the ledger holds, a restore never writes to a protected or guard-owned function, and
//! a reservation is only ever restored on the function whose record it is. The ledger is written
//! only by the guard's roles; this holds even if that ever stops being true.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};

use super::{AuditError, HoldReason, Verdict, Verified};
use crate::config::Policy;
use crate::model::{Change, FunctionFacts, TAG_PROTECTED};
use crate::plan::Skip;
use crate::record::{OpenRecord, RECORD_LEASE_SECONDS};

/// Why the restore of `change`, recorded for `function`, must not be written; `None` when it
/// may be.
pub fn restore_refusal(function: &FunctionFacts, change: &Change, policy: &Policy) -> Option<Skip> {
    if policy.guard_functions.contains(&function.name) {
        return Some(Skip::GuardFunction);
    }
    if function.tagged(TAG_PROTECTED, "true") {
        return Some(Skip::ProtectedByTag);
    }
    if policy.protected_functions.contains(&function.name) {
        return Some(Skip::ProtectedByList);
    }
    match change {
        Change::Reservation {
            function: named, ..
        } if named != &function.name => Some(Skip::OtherFunction(named.clone())),
        _ => None,
    }
}

/// A recorded change not in place yet, younger than the record's lease: another process may be
/// between recording and making it, so nothing of the record is settled or escalated now (see
/// [`HoldReason::ChangeInFlight`]); past the lease it counts as never applied.
pub fn in_flight(verified: &[Verified], now: DateTime<Utc>) -> Option<HoldReason> {
    let lease = Duration::seconds(RECORD_LEASE_SECONDS);
    verified
        .iter()
        .find(|v| v.verdict == Verdict::NotApplied && v.at + lease > now)
        .map(|v| HoldReason::ChangeInFlight {
            index: v.index,
            age_seconds: (now - v.at).num_seconds(),
        })
}

/// Pointer tags that disagree with the ledger: a tag naming an incident the ledger does not
/// have open for that function was written or copied by someone else. Reported, never obeyed.
/// (A record without its pointer is not suspicious: the pointer is written last, best effort.)
pub fn tampering(open: &[OpenRecord], pointers: &[(String, String)]) -> Vec<AuditError> {
    let ledger: BTreeMap<&str, &OpenRecord> =
        open.iter().map(|r| (r.function.as_str(), r)).collect();
    pointers
        .iter()
        .filter_map(|(function, pointer)| {
            let recorded = ledger
                .get(function.as_str())
                .and_then(|r| r.incident.clone());
            let agrees = recorded.as_ref().is_some_and(|i| i.as_str() == pointer);
            (!agrees).then(|| AuditError::Tampered {
                function: function.clone(),
                pointer: pointer.clone(),
                ledger: recorded,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intake::IncidentId;
    use crate::model::Reservation;

    fn facts(name: &str, protected_tag: bool) -> FunctionFacts {
        let mut tags = BTreeMap::new();
        if protected_tag {
            tags.insert(TAG_PROTECTED.to_owned(), "TRUE".to_owned());
        }
        FunctionFacts {
            name: name.into(),
            arn: format!("arn:aws:lambda:eu-west-1:123456789012:function:{name}"),
            reservation: Reservation::Unreserved,
            tags,
            drivers: vec![],
        }
    }

    fn reservation(function: &str) -> Change {
        Change::Reservation {
            function: function.into(),
            previous: Reservation::Reserved(0),
            new: Reservation::Reserved(100),
        }
    }

    #[test]
    fn the_records_own_function_is_restored() {
        let policy = Policy::default();
        assert_eq!(
            restore_refusal(&facts("hog", false), &reservation("hog"), &policy),
            None
        );
    }

    #[test]
    fn a_reservation_naming_another_function_is_never_restored() {
        let policy = Policy::default();
        assert_eq!(
            restore_refusal(&facts("idle", false), &reservation("payments"), &policy),
            Some(Skip::OtherFunction("payments".into()))
        );
    }

    #[test]
    fn protected_and_guard_functions_are_never_restored() {
        let mut policy = Policy::default();
        policy.protected_functions.insert("payments".into());
        policy.guard_functions.insert("cguard-remediator".into());
        let cases = [
            (facts("payments", false), Skip::ProtectedByList),
            (facts("checkout", true), Skip::ProtectedByTag),
            (facts("cguard-remediator", false), Skip::GuardFunction),
        ];
        for (f, why) in cases {
            let change = reservation(&f.name);
            assert_eq!(restore_refusal(&f, &change, &policy), Some(why));
        }
    }

    #[test]
    fn a_change_not_yet_in_place_holds_the_record_until_its_lease_ends() {
        let at = DateTime::parse_from_rfc3339("2026-11-23T09:40:30Z")
            .unwrap()
            .with_timezone(&Utc);
        let verified = |verdict| Verified {
            index: 1,
            tier: crate::model::Tier::Reservation,
            change: reservation("hog"),
            at,
            verdict,
        };
        let lease = Duration::seconds(RECORD_LEASE_SECONDS);
        assert_eq!(
            in_flight(&[verified(Verdict::NotApplied)], at + Duration::seconds(5)),
            Some(HoldReason::ChangeInFlight {
                index: 1,
                age_seconds: 5
            })
        );
        assert_eq!(
            in_flight(&[verified(Verdict::NotApplied)], at + lease),
            None
        );
        assert_eq!(in_flight(&[verified(Verdict::InPlace)], at), None);
    }

    #[test]
    fn a_pointer_the_ledger_does_not_back_is_tampering() {
        let open = [OpenRecord {
            function: "hog".into(),
            incident: Some(IncidentId::from_recorded("4f1c2b9a7d3e")),
            opened: None,
        }];
        let pointers = [
            ("hog".to_owned(), "4f1c2b9a7d3e".to_owned()),
            ("idle".to_owned(), "4f1c2b9a7d3e".to_owned()),
            ("hog2".to_owned(), "made-up".to_owned()),
        ];
        let found = tampering(&open, &pointers);
        assert_eq!(
            found,
            vec![
                AuditError::Tampered {
                    function: "idle".into(),
                    pointer: "4f1c2b9a7d3e".into(),
                    ledger: None
                },
                AuditError::Tampered {
                    function: "hog2".into(),
                    pointer: "made-up".into(),
                    ledger: None
                },
            ]
        );
        assert!(tampering(&open, &pointers[..1]).is_empty());
    }
}
