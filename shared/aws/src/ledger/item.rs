//! The ledger's items as DynamoDB stores them, and the conversions both ways. Nothing here
//! calls AWS, so every rule about reading an item back is a plain function.
//!
//! - An open record: `pk = "open"`, `sk = <function>`; `incident`, `opened_at` (RFC 3339),
//!   `alarm` (optional), `pending` (how many actions are unsettled), `revision` (bumped by every
//!   write, so that `close` can demand the item it read), and one attribute per action:
//!   `a:<ActionKey>` (unsettled, a [`RecordedAction`] as JSON) or `s:<ActionKey>` (settled, a
//!   [`SettledAction`] as JSON).
//! - A closed record: `pk = "history"`, `sk = <closed_at, ms, Z>#<function>#<incident>`, so one
//!   Query reads the newest first; `expires_at` (epoch seconds) is the table's TTL attribute.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use cguard_core::intake::IncidentId;
use cguard_core::record::{
    ActionKey, ClosedRecord, OpenRecord, Record, RecordedAction, SettledAction,
};
use cguard_engine::ports::{ErrorKind, PortError};
use chrono::{DateTime, SecondsFormat, Utc};

pub(crate) type Item = HashMap<String, AttributeValue>;

pub(crate) const PK: &str = "pk";
pub(crate) const SK: &str = "sk";
pub(crate) const OPEN: &str = "open";
pub(crate) const HISTORY: &str = "history";
pub(crate) const INCIDENT: &str = "incident";
pub(crate) const OPENED_AT: &str = "opened_at";
pub(crate) const ALARM: &str = "alarm";
pub(crate) const PENDING: &str = "pending";
pub(crate) const REVISION: &str = "revision";
pub(crate) const FUNCTION: &str = "function";
pub(crate) const CLOSED_AT: &str = "closed_at";
pub(crate) const ACTIONS: &str = "actions";
/// The table's TTL attribute: DynamoDB deletes a closed record some time after it.
pub(crate) const EXPIRES_AT: &str = "expires_at";

const PENDING_PREFIX: &str = "a:";
const SETTLED_PREFIX: &str = "s:";

pub(crate) fn pending_name(key: &ActionKey) -> String {
    format!("{PENDING_PREFIX}{key}")
}

pub(crate) fn settled_name(key: &ActionKey) -> String {
    format!("{SETTLED_PREFIX}{key}")
}

pub(crate) fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

pub(crate) fn n(value: i64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// Times as the ledger writes them: RFC 3339, UTC, every digit the value has (so a record
/// reads back exactly as written).
pub(crate) fn time(t: DateTime<Utc>) -> AttributeValue {
    s(t.to_rfc3339_opts(SecondsFormat::AutoSi, true))
}

/// A time in a sort key: fixed width (milliseconds, `Z`), so that keys sort as times do.
pub(crate) fn time_key(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub(crate) fn open_key(function: &str) -> Item {
    HashMap::from([(PK.to_owned(), s(OPEN)), (SK.to_owned(), s(function))])
}

/// JSON the ledger stores; serialising the guard's own types cannot fail.
pub(crate) fn json(value: &impl serde::Serialize) -> AttributeValue {
    s(serde_json::to_string(value).expect("records always serialise"))
}

/// An item the guard cannot read: which item, which attribute, and what is wrong with it. The
/// guard stops there rather than act on part of a record.
#[derive(Debug)]
pub(crate) struct Unreadable {
    item: String,
    attribute: String,
    problem: String,
}

impl Unreadable {
    fn new(item: &str, attribute: &str, problem: impl Into<String>) -> Self {
        Self {
            item: item.to_owned(),
            attribute: attribute.to_owned(),
            problem: problem.into(),
        }
    }

    pub(crate) fn into_port_error(self, operation: &str, table: &str) -> PortError {
        PortError::new(
            operation,
            ErrorKind::Rejected,
            format!(
                "the ledger table `{table}` holds an item the guard cannot read: {}, attribute \
                 `{}`: {}",
                self.item, self.attribute, self.problem
            ),
        )
    }
}

/// Reads one item's attributes, naming the item in every complaint.
struct Reader<'a> {
    name: String,
    item: &'a Item,
}

impl<'a> Reader<'a> {
    fn new(name: String, item: &'a Item) -> Self {
        Self { name, item }
    }

    fn fail(&self, attribute: &str, problem: impl Into<String>) -> Unreadable {
        Unreadable::new(&self.name, attribute, problem)
    }

    fn optional(&self, attribute: &str) -> Result<Option<&'a str>, Unreadable> {
        match self.item.get(attribute) {
            None => Ok(None),
            Some(AttributeValue::S(v)) => Ok(Some(v)),
            Some(_) => Err(self.fail(attribute, "not a string (S)")),
        }
    }

    fn string(&self, attribute: &str) -> Result<&'a str, Unreadable> {
        self.optional(attribute)?
            .ok_or_else(|| self.fail(attribute, "missing"))
    }

    fn time(&self, attribute: &str) -> Result<DateTime<Utc>, Unreadable> {
        let v = self.string(attribute)?;
        DateTime::parse_from_rfc3339(v)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| self.fail(attribute, format!("{v:?} is not an RFC 3339 time ({e})")))
    }

    fn number(&self, attribute: &str) -> Result<Option<i64>, Unreadable> {
        match self.item.get(attribute) {
            None => Ok(None),
            Some(AttributeValue::N(v)) => v
                .parse()
                .map(Some)
                .map_err(|e| self.fail(attribute, format!("{v:?} is not an integer ({e})"))),
            Some(_) => Err(self.fail(attribute, "not a number (N)")),
        }
    }

    fn parse<T: serde::de::DeserializeOwned>(
        &self,
        attribute: &str,
        text: &str,
    ) -> Result<T, Unreadable> {
        serde_json::from_str(text).map_err(|e| self.fail(attribute, format!("bad JSON ({e})")))
    }

    fn header(&self) -> Result<Record, Unreadable> {
        Ok(Record::new(
            IncidentId::from_recorded(self.string(INCIDENT)?),
            self.time(OPENED_AT)?,
            self.optional(ALARM)?.map(str::to_owned),
        ))
    }

    /// Every `<prefix><ActionKey>` attribute, parsed, each checked to be filed under its own
    /// key: an action under another key could never be withdrawn or settled.
    fn actions<T: serde::de::DeserializeOwned>(
        &self,
        prefix: &str,
        recorded: impl Fn(&T) -> &RecordedAction,
    ) -> Result<Vec<T>, Unreadable> {
        let mut found = Vec::new();
        for (name, value) in self.item.iter().filter(|(k, _)| k.starts_with(prefix)) {
            let AttributeValue::S(text) = value else {
                return Err(self.fail(name, "not a string (S)"));
            };
            let parsed: T = self.parse(name, text)?;
            let key = recorded(&parsed).key();
            if name[prefix.len()..] != *key.as_str() {
                return Err(self.fail(name, format!("holds the action of key {key}")));
            }
            found.push(parsed);
        }
        Ok(found)
    }
}

/// An open record's item as `close` needs it: the record, what was settled, and the counters
/// its conditions compare.
#[derive(Debug)]
pub(crate) struct OpenItem {
    /// The header with the unsettled actions.
    pub record: Record,
    pub settled: Vec<SettledAction>,
    pub pending: i64,
    pub revision: Option<i64>,
}

pub(crate) fn open_item(function: &str, item: &Item) -> Result<OpenItem, Unreadable> {
    let r = Reader::new(format!("open record of {function}"), item);
    let pending = r.actions::<RecordedAction>(PENDING_PREFIX, |a| a)?;
    let mut settled = r.actions::<SettledAction>(SETTLED_PREFIX, |s| &s.action)?;
    // DynamoDB keeps no order among attributes: history lists the settled actions as a restore
    // settles them, the last made first.
    settled.sort_by_key(|s| std::cmp::Reverse((s.action.at, s.action.tier, s.action.key())));
    Ok(OpenItem {
        record: r.header()?.with_actions(pending),
        settled,
        pending: r.number(PENDING)?.unwrap_or(0),
        revision: r.number(REVISION)?,
    })
}

/// One line of the open records' listing: what can be read of it, `None` for the rest (the
/// audit pass then reads the record itself, and reports what it cannot read).
pub(crate) fn open_listing(item: &Item) -> Result<OpenRecord, Unreadable> {
    let r = Reader::new("an open record".to_owned(), item);
    let function = r.string(SK)?.to_owned();
    Ok(OpenRecord {
        function,
        incident: r.string(INCIDENT).ok().map(IncidentId::from_recorded),
        opened: r.time(OPENED_AT).ok(),
    })
}

/// A closed record's history item, kept until `expires`.
pub(crate) fn history_item(closed: &ClosedRecord, expires: DateTime<Utc>) -> Item {
    let sort_key = format!(
        "{}#{}#{}",
        time_key(closed.closed_at),
        closed.function,
        closed.incident
    );
    let mut item = HashMap::from([
        (PK.to_owned(), s(HISTORY)),
        (SK.to_owned(), s(sort_key)),
        (FUNCTION.to_owned(), s(&closed.function)),
        (INCIDENT.to_owned(), s(closed.incident.as_str())),
        (OPENED_AT.to_owned(), time(closed.opened_at)),
        (CLOSED_AT.to_owned(), time(closed.closed_at)),
        (ACTIONS.to_owned(), json(&closed.actions)),
        (EXPIRES_AT.to_owned(), n(expires.timestamp())),
    ]);
    if let Some(alarm) = &closed.alarm {
        item.insert(ALARM.to_owned(), s(alarm));
    }
    item
}

pub(crate) fn closed_record(item: &Item) -> Result<ClosedRecord, Unreadable> {
    let name = match item.get(SK) {
        Some(AttributeValue::S(sk)) => format!("history item {sk}"),
        _ => "a history item".to_owned(),
    };
    let r = Reader::new(name, item);
    Ok(ClosedRecord {
        function: r.string(FUNCTION)?.to_owned(),
        incident: IncidentId::from_recorded(r.string(INCIDENT)?),
        opened_at: r.time(OPENED_AT)?,
        closed_at: r.time(CLOSED_AT)?,
        alarm: r.optional(ALARM)?.map(str::to_owned),
        actions: r.parse(ACTIONS, r.string(ACTIONS)?)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use cguard_core::model::{Change, Reservation, Tier};

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn cap(minute: u32) -> RecordedAction {
        RecordedAction {
            tier: Tier::Reservation,
            change: Change::Reservation {
                function: "slow".into(),
                previous: Reservation::Unreserved,
                new: Reservation::Reserved(100),
            },
            at: at(&format!("2026-11-23T09:{minute:02}:27.123456789Z")),
        }
    }

    fn open(actions: &[(&str, AttributeValue)]) -> Item {
        let mut item = open_key("slow");
        item.insert(INCIDENT.into(), s("4f1c2b9a7d3e"));
        item.insert(OPENED_AT.into(), s("2026-11-23T09:40:27Z"));
        item.insert(PENDING.into(), n(actions.len() as i64));
        item.extend(actions.iter().map(|(k, v)| ((*k).to_owned(), v.clone())));
        item
    }

    #[test]
    fn an_open_item_reads_back_as_written_to_the_nanosecond() {
        let a = cap(41);
        let item = open(&[(&pending_name(&a.key()), json(&a))]);
        let read = open_item("slow", &item).unwrap();
        assert_eq!(read.record.actions.values().collect::<Vec<_>>(), [&a]);
        assert_eq!(read.record.alarm, None);
        assert_eq!((read.pending, read.revision), (1, None));
    }

    #[test]
    fn an_unreadable_attribute_is_named_never_skipped() {
        let a = cap(41);
        let bad_json = open(&[(&pending_name(&a.key()), s("{not json"))]);
        let e = open_item("slow", &bad_json).unwrap_err();
        assert_eq!(e.attribute, pending_name(&a.key()));
        assert!(e.problem.contains("bad JSON"), "{e:?}");

        let misfiled = open(&[("a:3/{\"Function\":\"slow\"}", json(&a))]);
        let e = open_item("slow", &misfiled).unwrap_err();
        assert!(e.problem.contains("holds the action of key 2/"), "{e:?}");

        let mut bad_time = open(&[]);
        bad_time.insert(OPENED_AT.into(), s("yesterday"));
        let e = open_item("slow", &bad_time)
            .unwrap_err()
            .into_port_error("dynamodb:GetItem", "ledger");
        assert_eq!(e.kind, ErrorKind::Rejected);
        assert!(
            e.message
                .contains("open record of slow, attribute `opened_at`"),
            "{e}"
        );
    }

    #[test]
    fn a_closed_record_reads_back_and_sorts_by_when_it_was_closed() {
        let closed = ClosedRecord {
            function: "slow".into(),
            incident: IncidentId::from_recorded("4f1c2b9a7d3e"),
            opened_at: at("2026-11-23T09:40:27Z"),
            closed_at: at("2026-11-23T10:05:00.5Z"),
            alarm: Some("account-concurrency".into()),
            actions: vec![SettledAction {
                action: cap(41),
                outcome: "restored".into(),
            }],
        };
        let item = history_item(&closed, at("2027-02-21T10:05:00Z"));
        assert_eq!(item[SK], s("2026-11-23T10:05:00.500Z#slow#4f1c2b9a7d3e"));
        assert_eq!(item[EXPIRES_AT], n(1_803_204_300));
        assert_eq!(closed_record(&item).unwrap(), closed);
    }
}
