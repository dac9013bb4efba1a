//! A [`Ledger`] in memory, with the same conditional semantics as the DynamoDB one: what the
//! simulator runs the guard with, and what the in-memory test account uses. Not a test double:
//! every rule the DynamoDB adapter's conditions express is here, as code.

use std::collections::BTreeMap;
use std::sync::Mutex;

use cguard_core::intake::IncidentId;
use cguard_core::record::{
    ActionKey, Claim, ClosedRecord, OpenRecord, Record, RecordedAction, SettledAction,
};
use chrono::{DateTime, Utc};

use crate::ports::{ErrorKind, Ledger, PortError, PortResult};

/// One open record as stored: the header, the unsettled actions by key, the settled ones.
#[derive(Debug, Clone)]
struct Stored {
    header: Record,
    pending: BTreeMap<ActionKey, RecordedAction>,
    settled: Vec<SettledAction>,
}

/// Closed records are kept with their expiry, which only DynamoDB acts on (its TTL deletes them
/// eventually); memory lives no longer than a simulation or a test.
#[derive(Debug, Default)]
struct Books {
    open: BTreeMap<String, Stored>,
    history: Vec<(ClosedRecord, DateTime<Utc>)>,
}

#[derive(Debug, Default)]
pub struct MemoryLedger {
    books: Mutex<Books>,
}

fn conflict(what: impl Into<String>) -> PortError {
    PortError::new("ledger", ErrorKind::Conflict, what)
}

impl MemoryLedger {
    fn with<T>(&self, f: impl FnOnce(&mut Books) -> T) -> T {
        f(&mut self
            .books
            .lock()
            .expect("the ledger lock is never poisoned"))
    }
}

/// Synchronous views for the simulator and tests, which own the ledger and read it between
/// steps.
impl MemoryLedger {
    /// `function`'s open record.
    pub fn open(&self, function: &str) -> Option<Record> {
        self.with(|b| b.open.get(function).map(Stored::record))
    }

    /// Every unsettled action of every open record.
    pub fn pending(&self) -> Vec<RecordedAction> {
        self.with(|b| {
            b.open
                .values()
                .flat_map(|s| s.pending.values().cloned())
                .collect()
        })
    }

    /// The closed records, oldest first.
    pub fn closed(&self) -> Vec<ClosedRecord> {
        self.with(|b| b.history.iter().map(|(r, _)| r.clone()).collect())
    }

    /// Puts `record` in the ledger as if the guard had recorded its actions: a test's or a
    /// scenario's starting point.
    pub fn insert(&self, function: &str, record: &Record) {
        self.with(|b| {
            b.open.insert(
                function.to_owned(),
                Stored {
                    header: record.header(),
                    pending: record
                        .actions
                        .values()
                        .map(|a| (a.key(), a.clone()))
                        .collect(),
                    settled: Vec::new(),
                },
            );
        });
    }
}

impl Stored {
    fn record(&self) -> Record {
        self.header
            .header()
            .with_actions(self.pending.values().cloned())
    }
}

impl Ledger for MemoryLedger {
    async fn open_record(&self, function: &str) -> PortResult<Option<Record>> {
        Ok(self.with(|b| b.open.get(function).map(Stored::record)))
    }

    async fn open_records(&self) -> PortResult<Vec<OpenRecord>> {
        Ok(self.with(|b| {
            b.open
                .iter()
                .map(|(function, s)| OpenRecord {
                    function: function.clone(),
                    incident: Some(s.header.incident.clone()),
                    opened: Some(s.header.opened_at),
                })
                .collect()
        }))
    }

    async fn record(
        &self,
        function: &str,
        header: &Record,
        action: &RecordedAction,
    ) -> PortResult<Claim> {
        Ok(self.with(|b| {
            let stored = b.open.entry(function.to_owned()).or_insert_with(|| Stored {
                header: header.header(),
                pending: BTreeMap::new(),
                settled: Vec::new(),
            });
            let key = action.key();
            if stored.header.incident != header.incident
                || stored.pending.contains_key(&key)
                || stored.settled.iter().any(|s| s.action.key() == key)
            {
                return Claim::Taken(stored.record());
            }
            stored.pending.insert(key, action.clone());
            Claim::Recorded
        }))
    }

    async fn withdraw(&self, function: &str, action: &RecordedAction) -> PortResult<()> {
        self.with(|b| {
            let key = action.key();
            match b.open.get_mut(function) {
                Some(s) if s.pending.get(&key) == Some(action) => {
                    s.pending.remove(&key);
                    Ok(())
                }
                _ => Err(conflict("the recorded action is no longer as recorded")),
            }
        })
    }

    async fn settle(
        &self,
        function: &str,
        action: &RecordedAction,
        outcome: &str,
    ) -> PortResult<()> {
        self.with(|b| {
            let s = b
                .open
                .get_mut(function)
                .ok_or_else(|| conflict("no open record"))?;
            let action = s
                .pending
                .remove(&action.key())
                .ok_or_else(|| conflict("the action is not pending"))?;
            s.settled.push(SettledAction {
                action,
                outcome: outcome.to_owned(),
            });
            Ok(())
        })
    }

    async fn close(
        &self,
        function: &str,
        incident: &IncidentId,
        closed_at: DateTime<Utc>,
        expires: DateTime<Utc>,
    ) -> PortResult<()> {
        self.with(|b| {
            match b.open.get(function) {
                Some(s) if &s.header.incident == incident && s.pending.is_empty() => {}
                _ => return Err(conflict("no such record without pending actions")),
            }
            let s = b.open.remove(function).expect("checked above");
            let closed = ClosedRecord {
                function: function.to_owned(),
                incident: s.header.incident,
                opened_at: s.header.opened_at,
                closed_at,
                alarm: s.header.alarm,
                actions: s.settled,
            };
            b.history.push((closed, expires));
            Ok(())
        })
    }

    async fn history(&self, since: DateTime<Utc>) -> PortResult<Vec<ClosedRecord>> {
        Ok(self.with(|b| {
            let mut closed: Vec<ClosedRecord> = b
                .history
                .iter()
                .filter(|(r, _)| r.closed_at >= since)
                .map(|(r, _)| r.clone())
                .collect();
            closed.sort_by_key(|r| std::cmp::Reverse(r.closed_at));
            closed
        }))
    }
}
