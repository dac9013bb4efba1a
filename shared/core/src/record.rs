//! Records: what the guard changed and what was there before, stored as tags on the offending
//! function *before* each change, so that every action can be undone exactly and a redelivered
//! alarm is recognised.
//!
//! Tag values may only hold letters, digits, spaces and `_ . : / = + - @`, at most 256 of them,
//! so each recorded action is JSON in URL-safe base64, split over continuation tags when long:
//! `concurrency-guard:action:3`, `concurrency-guard:action:3.1`, …

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::intake::IncidentId;
use crate::model::{Change, ResourceKey, Tier};

pub const TAG_INCIDENT: &str = "concurrency-guard:incident";
pub const TAG_OPENED: &str = "concurrency-guard:opened";
pub const TAG_ALARM: &str = "concurrency-guard:alarm";
pub const ACTION_PREFIX: &str = "concurrency-guard:action:";
const MAX_VALUE: usize = 256;
/// Lambda allows 50 tags per function; leave room for the owner's own.
const MAX_CHUNKS: usize = 4;

/// One change as recorded before it was made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordedAction {
    pub tier: Tier,
    pub change: Change,
    pub at: DateTime<Utc>,
}

/// Every change one incident made on (or on behalf of) one function.
/// A function that carries a record, and when its incident opened (`None`: unreadable), as
/// listed without reading each function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenRecord {
    pub function: String,
    pub opened: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub incident: IncidentId,
    pub opened_at: DateTime<Utc>,
    /// The alarm's name, for the auditor to check its state; absent if too long for a tag.
    pub alarm: Option<String>,
    pub actions: BTreeMap<u32, RecordedAction>,
}

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum RecordError {
    #[error("record tag {key} is unreadable: {problem}")]
    Unreadable { key: String, problem: String },
    #[error("a record of this change would need more than {MAX_CHUNKS} tags")]
    TooLarge,
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

    /// The tags that open a record (written with the first action).
    pub fn header_tags(&self) -> BTreeMap<String, String> {
        let mut tags = BTreeMap::from([
            (TAG_INCIDENT.to_owned(), self.incident.to_string()),
            (
                TAG_OPENED.to_owned(),
                self.opened_at
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            ),
        ]);
        if let Some(alarm) = &self.alarm {
            let encoded = B64.encode(alarm);
            if encoded.len() <= MAX_VALUE {
                tags.insert(TAG_ALARM.to_owned(), encoded);
            }
        }
        tags
    }

    /// The tags recording one action under `index`.
    pub fn action_tags(
        index: u32,
        action: &RecordedAction,
    ) -> Result<BTreeMap<String, String>, RecordError> {
        let json = serde_json::to_vec(action).expect("a recorded action always serialises");
        let encoded = B64.encode(json);
        let chunks: Vec<&str> = encoded
            .as_bytes()
            .chunks(MAX_VALUE)
            .map(|c| std::str::from_utf8(c).expect("base64 is ASCII"))
            .collect();
        if chunks.len() > MAX_CHUNKS {
            return Err(RecordError::TooLarge);
        }
        Ok(chunks
            .into_iter()
            .enumerate()
            .map(|(i, c)| (chunk_key(index, i), c.to_owned()))
            .collect())
    }

    /// Every tag key an action occupies (for erasing it), whether or not all chunks exist.
    pub fn action_keys(index: u32) -> Vec<String> {
        (0..MAX_CHUNKS).map(|i| chunk_key(index, i)).collect()
    }

    /// Every tag key of the whole record.
    pub fn all_keys(&self) -> Vec<String> {
        let mut keys = vec![
            TAG_INCIDENT.to_owned(),
            TAG_OPENED.to_owned(),
            TAG_ALARM.to_owned(),
        ];
        keys.extend(self.actions.keys().flat_map(|i| Self::action_keys(*i)));
        keys
    }

    /// When the record on `tags` says its incident opened; `None` when it is missing or not a
    /// time.
    pub fn opened(tags: &BTreeMap<String, String>) -> Option<DateTime<Utc>> {
        tags.get(TAG_OPENED)
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&Utc))
    }

    /// Reads a record back from a function's tags; `None` when the function carries none.
    pub fn from_tags(tags: &BTreeMap<String, String>) -> Result<Option<Self>, RecordError> {
        let Some(incident) = tags.get(TAG_INCIDENT) else {
            return Ok(None);
        };
        let opened_at = Self::opened(tags).ok_or_else(|| RecordError::Unreadable {
            key: TAG_OPENED.into(),
            problem: "missing or not a time".into(),
        })?;
        let alarm = tags
            .get(TAG_ALARM)
            .and_then(|v| B64.decode(v).ok())
            .and_then(|b| String::from_utf8(b).ok());

        let mut chunks: BTreeMap<u32, BTreeMap<usize, &str>> = BTreeMap::new();
        for (key, value) in tags {
            let Some(rest) = key.strip_prefix(ACTION_PREFIX) else {
                continue;
            };
            let (index, part) = match rest.split_once('.') {
                Some((i, p)) => (i, p.parse::<usize>().ok()),
                None => (rest, Some(0)),
            };
            let (Ok(index), Some(part)) = (index.parse::<u32>(), part) else {
                return Err(RecordError::Unreadable {
                    key: key.clone(),
                    problem: "not an action index".into(),
                });
            };
            chunks.entry(index).or_default().insert(part, value);
        }
        let mut actions = BTreeMap::new();
        for (index, parts) in chunks {
            let key = chunk_key(index, 0);
            if parts.keys().copied().ne(0..parts.len()) {
                return Err(RecordError::Unreadable {
                    key,
                    problem: "a continuation tag is missing".into(),
                });
            }
            let encoded: String = parts.values().copied().collect();
            let action = B64
                .decode(&encoded)
                .map_err(|e| e.to_string())
                .and_then(|b| {
                    serde_json::from_slice::<RecordedAction>(&b).map_err(|e| e.to_string())
                })
                .map_err(|problem| RecordError::Unreadable { key, problem })?;
            actions.insert(index, action);
        }
        Ok(Some(Self {
            incident: IncidentId::from_recorded(incident.clone()),
            opened_at,
            alarm,
            actions,
        }))
    }

    pub fn next_index(&self) -> u32 {
        self.actions.keys().next_back().map_or(0, |i| i + 1)
    }

    pub fn find(&self, resource: &ResourceKey) -> Option<(u32, &RecordedAction)> {
        self.actions
            .iter()
            .find(|(_, a)| &a.change.resource() == resource)
            .map(|(i, a)| (*i, a))
    }

    pub fn highest_tier(&self) -> Option<Tier> {
        self.actions.values().map(|a| a.tier).max()
    }

    pub fn last_action_at(&self) -> Option<DateTime<Utc>> {
        self.actions.values().map(|a| a.at).max()
    }
}

fn chunk_key(index: u32, part: usize) -> String {
    if part == 0 {
        format!("{ACTION_PREFIX}{index}")
    } else {
        format!("{ACTION_PREFIX}{index}.{part}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ApiKind, ApiTarget, Reservation, Route, Throttle};

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-23T09:40:27Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn tag_value_ok(v: &str) -> bool {
        v.len() <= 256
            && v.chars()
                .all(|c| c.is_alphanumeric() || " _.:/=+-@".contains(c))
    }

    #[test]
    fn a_record_round_trips_through_tag_safe_values() {
        let mut record = Record::new(
            IncidentId::from_recorded("abc123"),
            now(),
            Some("account concurrency {prod}".into()),
        );
        let long_path = format!("/{}", "segment/{id}/".repeat(20));
        let actions = [
            RecordedAction {
                tier: Tier::Source,
                change: Change::Throttle {
                    target: ApiTarget {
                        kind: ApiKind::Rest,
                        api_id: "a1b2c3".into(),
                        stage: "prod".into(),
                        route: Some(Route {
                            method: "GET".into(),
                            path: long_path,
                        }),
                    },
                    previous: None,
                    new: Some(Throttle {
                        rate: 3.33,
                        burst: 4,
                    }),
                },
                at: now(),
            },
            RecordedAction {
                tier: Tier::Reservation,
                change: Change::Reservation {
                    function: "slow".into(),
                    previous: Reservation::Unreserved,
                    new: Reservation::Reserved(100),
                },
                at: now(),
            },
        ];
        let mut tags = record.header_tags();
        for (i, a) in actions.iter().enumerate() {
            tags.extend(Record::action_tags(i as u32, a).unwrap());
            record.actions.insert(i as u32, a.clone());
        }
        tags.insert("team".into(), "payments".into());
        assert!(tags.len() > 5, "the long path needs continuation tags");
        for (k, v) in &tags {
            assert!(tag_value_ok(v), "{k}={v}");
        }
        assert_eq!(Record::from_tags(&tags).unwrap(), Some(record.clone()));
        assert_eq!(record.next_index(), 2);
        assert_eq!(record.highest_tier(), Some(Tier::Reservation));
    }

    #[test]
    fn no_incident_tag_means_no_record() {
        assert_eq!(
            Record::from_tags(&BTreeMap::from([("team".into(), "x".into())])).unwrap(),
            None
        );
    }

    #[test]
    fn a_damaged_record_is_an_error_not_a_silent_loss() {
        let record = Record::new(IncidentId::from_recorded("abc"), now(), None);
        let mut tags = record.header_tags();
        tags.insert(format!("{ACTION_PREFIX}0"), "not base64 json!".into());
        assert!(matches!(
            Record::from_tags(&tags),
            Err(RecordError::Unreadable { .. })
        ));
        let mut tags = record.header_tags();
        tags.insert(format!("{ACTION_PREFIX}0.1"), "AAAA".into());
        assert!(
            Record::from_tags(&tags).is_err(),
            "a continuation without its first part"
        );
    }
}
