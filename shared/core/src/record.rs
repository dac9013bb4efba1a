//! Records: what the guard changed and what was there before, written to the guard's own
//! ledger *before* each change, so that every action can be undone exactly and a redelivered
//! alarm is recognised.
//!
//! The ledger (a DynamoDB table only the guard's roles write, in `cguard-aws`) is the one
//! authority. A function's tags carry only a pointer for people — [`TAG_INCIDENT`], the
//! incident id — which nothing ever reads back as a record: anyone allowed `TagResource` can
//! write tags.
//!
//! A function has at most one open record. Each change in it is identified by its
//! [`ActionKey`] (tier and resource), which the ledger records at most once: three processes
//! delivering the same alarm race for the same keys, and one wins.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::intake::IncidentId;
use crate::model::{Change, ResourceKey, Tier};

/// The pointer tag on a limited function: the incident id, for people. Never obeyed.
pub const TAG_INCIDENT: &str = "concurrency-guard:incident";

/// How long a process that recorded a change may take to make it: longer than the remediator's
/// and the auditor's timeouts (60 s and 120 s in the template), so that past it the process
/// has made the change or died. A recorded change older than this that the resource does not
/// hold was never made, and a later delivery of the same incident makes it; a younger one may
/// be in another process's hands, and is left to it.
pub const RECORD_LEASE_SECONDS: i64 = 180;

/// One change as recorded before it was made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordedAction {
    pub tier: Tier,
    pub change: Change,
    pub at: DateTime<Utc>,
}

/// What the ledger records at most once per open record: one tier of change to one resource.
/// Rendered as a string (`2/{"function":"slow"}`) for stores that key by strings.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ActionKey(String);

impl ActionKey {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for ActionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl RecordedAction {
    pub fn key(&self) -> ActionKey {
        let resource = serde_json::to_string(&self.change.resource())
            .expect("a resource key always serialises");
        ActionKey(format!("{}/{resource}", self.tier as u8))
    }
}

/// A function whose record is open, and when its incident opened, as listed for an audit pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenRecord {
    pub function: String,
    /// `None` where the stored item cannot be read.
    pub incident: Option<IncidentId>,
    pub opened: Option<DateTime<Utc>>,
}

/// Every change one incident made on (or on behalf of) one function and has not yet undone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub incident: IncidentId,
    pub opened_at: DateTime<Utc>,
    /// The alarm's name, for the auditor to check its state.
    pub alarm: Option<String>,
    /// The unsettled actions in the order they were made (by time, then tier): restore undoes
    /// them from the last.
    pub actions: BTreeMap<u32, RecordedAction>,
}

/// What the ledger answers when asked to record a change.
#[derive(Debug, Clone, PartialEq)]
pub enum Claim {
    /// Recorded: the caller may now make the change.
    Recorded,
    /// Not recorded, because the record as it now stands already holds this change or belongs
    /// to another incident: the caller makes no change.
    Taken(Record),
}

/// One action of a closed record, with what became of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SettledAction {
    pub action: RecordedAction,
    /// How it was settled, as reported ("restored", "left alone: …").
    pub outcome: String,
}

/// A record the auditor or an operator closed: history, kept until it expires.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClosedRecord {
    pub function: String,
    pub incident: IncidentId,
    pub opened_at: DateTime<Utc>,
    pub closed_at: DateTime<Utc>,
    pub alarm: Option<String>,
    pub actions: Vec<SettledAction>,
}

/// One closed record as `cguard history` prints it: when, which function, which incident, and
/// each action with how it was settled. Names come from outside: escaped for the terminal.
impl std::fmt::Display for ClosedRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        crate::text::write_safe(f, |f| {
            writeln!(
                f,
                "{} closed  {}  incident {} (opened {}{})",
                self.closed_at.format("%Y-%m-%d %H:%M UTC"),
                self.function,
                self.incident,
                self.opened_at.format("%Y-%m-%d %H:%M UTC"),
                self.alarm
                    .as_deref()
                    .map(|a| format!(", alarm {a}"))
                    .unwrap_or_default()
            )?;
            for s in &self.actions {
                writeln!(
                    f,
                    "    {} {}: {}",
                    s.action.tier,
                    s.action.change.describe(),
                    s.outcome
                )?;
            }
            Ok(())
        })
    }
}

impl Record {
    pub fn new(incident: IncidentId, opened_at: DateTime<Utc>, alarm: Option<String>) -> Self {
        Self {
            incident,
            opened_at,
            alarm,
            actions: BTreeMap::new(),
        }
    }

    /// The header (incident, opening, alarm) without actions.
    pub fn header(&self) -> Self {
        Self {
            actions: BTreeMap::new(),
            ..self.clone()
        }
    }

    /// A record as read from a store: the actions numbered in the order they were made.
    pub fn with_actions(mut self, actions: impl IntoIterator<Item = RecordedAction>) -> Self {
        let mut actions: Vec<RecordedAction> = actions.into_iter().collect();
        actions.sort_by_key(|a| (a.at, a.tier, a.key()));
        self.actions = (0u32..).zip(actions).collect();
        self
    }

    pub fn find(&self, resource: &ResourceKey) -> Option<(u32, &RecordedAction)> {
        self.actions
            .iter()
            .rev()
            .find(|(_, a)| &a.change.resource() == resource)
            .map(|(i, a)| (*i, a))
    }

    /// Whether this record already holds `action`'s key.
    pub fn holds(&self, action: &RecordedAction) -> bool {
        let key = action.key();
        self.actions.values().any(|a| a.key() == key)
    }

    pub fn highest_tier(&self) -> Option<Tier> {
        self.actions.values().map(|a| a.tier).max()
    }

    pub fn last_action_at(&self) -> Option<DateTime<Utc>> {
        self.actions.values().map(|a| a.at).max()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ApiKind, ApiTarget, Reservation, Route, Throttle};

    fn at(minute: u32) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(&format!("2026-11-23T09:{minute:02}:27Z"))
            .unwrap()
            .with_timezone(&Utc)
    }

    fn reservation(function: &str, tier: Tier, new: u32, minute: u32) -> RecordedAction {
        RecordedAction {
            tier,
            change: Change::Reservation {
                function: function.into(),
                previous: Reservation::Unreserved,
                new: Reservation::Reserved(new),
            },
            at: at(minute),
        }
    }

    fn throttle(minute: u32) -> RecordedAction {
        RecordedAction {
            tier: Tier::Source,
            change: Change::Throttle {
                target: ApiTarget {
                    kind: ApiKind::Rest,
                    api_id: "a1b2c3".into(),
                    stage: "prod".into(),
                    route: Some(Route {
                        method: "GET".into(),
                        path: "/orders/{id}".into(),
                    }),
                },
                previous: None,
                new: Some(Throttle {
                    rate: 3.33,
                    burst: 4,
                }),
            },
            at: at(minute),
        }
    }

    #[test]
    fn actions_are_numbered_in_the_order_they_were_made_whatever_the_store_returns() {
        let escalation = reservation("slow", Tier::KillSwitch, 0, 50);
        let cap = reservation("slow", Tier::Reservation, 100, 40);
        let source = throttle(40);
        let record = Record::new(IncidentId::from_recorded("abc"), at(40), None).with_actions([
            escalation.clone(),
            cap.clone(),
            source.clone(),
        ]);
        assert_eq!(
            record.actions.values().cloned().collect::<Vec<_>>(),
            vec![source, cap, escalation.clone()]
        );
        assert_eq!(record.highest_tier(), Some(Tier::KillSwitch));
        let resource = escalation.change.resource();
        assert_eq!(
            record.find(&resource).map(|(i, _)| i),
            Some(2),
            "newest first"
        );
    }

    #[test]
    fn history_reads_as_one_line_per_action_and_escapes_names() {
        let closed = ClosedRecord {
            function: "slow\u{1b}[2Jx".into(),
            incident: IncidentId::from_recorded("abc"),
            opened_at: at(40),
            closed_at: at(59),
            alarm: Some("acct".into()),
            actions: vec![SettledAction {
                action: reservation("slow", Tier::Reservation, 100, 40),
                outcome: "restored".into(),
            }],
        };
        let text = closed.to_string();
        assert!(!text.contains('\u{1b}'), "{text:?}");
        assert_eq!(text.lines().count(), 2, "{text}");
        assert!(text.contains("incident abc"), "{text}");
        assert!(
            text.lines().nth(1).unwrap().ends_with(": restored"),
            "{text}"
        );
    }

    #[test]
    fn a_key_names_the_tier_and_the_resource_not_the_values() {
        let a = reservation("slow", Tier::Reservation, 100, 40);
        let same_resource_other_value = reservation("slow", Tier::Reservation, 50, 41);
        let next_tier = reservation("slow", Tier::KillSwitch, 0, 41);
        let other_function = reservation("fast", Tier::Reservation, 100, 40);
        assert_eq!(a.key(), same_resource_other_value.key());
        assert_ne!(a.key(), next_tier.key());
        assert_ne!(a.key(), other_function.key());
        assert_eq!(a.key().as_str(), r#"2/{"Function":"slow"}"#);
        let record = Record::new(IncidentId::from_recorded("abc"), at(40), None).with_actions([a]);
        assert!(record.holds(&same_resource_other_value));
        assert!(!record.holds(&next_tier));
    }
}
