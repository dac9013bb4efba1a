//! Records and changes shared by the unit tests of `verify`, `decide` and `report`.

use chrono::{DateTime, Duration, Utc};

use crate::intake::IncidentId;
use crate::model::{ApiKind, ApiTarget, Change, Reservation, Throttle, Tier};
use crate::record::{Record, RecordedAction};

pub fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-23T09:40:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

pub fn after(minutes: i64) -> DateTime<Utc> {
    t0() + Duration::minutes(minutes)
}

pub fn cap(previous: Reservation, new: Reservation) -> Change {
    Change::Reservation {
        function: "slow".into(),
        previous,
        new,
    }
}

pub fn throttle() -> Change {
    Change::Throttle {
        target: ApiTarget {
            kind: ApiKind::Rest,
            api_id: "a1".into(),
            stage: "prod".into(),
            route: None,
        },
        previous: None,
        new: Some(Throttle {
            rate: 3.33,
            burst: 4,
        }),
    }
}

/// A record of these actions, numbered from 0, all made at `t0`.
pub fn record(tiers: &[(Tier, Change)]) -> Record {
    let mut r = Record::new(
        IncidentId::from_recorded("inc1"),
        t0(),
        Some("account".into()),
    );
    for (i, (tier, change)) in tiers.iter().enumerate() {
        r.actions.insert(
            i as u32,
            RecordedAction {
                tier: *tier,
                change: change.clone(),
                at: t0(),
            },
        );
    }
    r
}

/// A tier-1 throttle (#0) and a tier-2 cap (#1).
pub fn capped() -> Record {
    record(&[
        (Tier::Source, throttle()),
        (
            Tier::Reservation,
            cap(Reservation::Unreserved, Reservation::Reserved(100)),
        ),
    ])
}
