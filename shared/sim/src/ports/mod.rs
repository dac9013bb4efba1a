//! The simulated account behind the guard's own ports (`cguard_engine::ports`), so that the
//! guard runs in it unchanged: [`Metrics`](cguard_engine::ports::Metrics) from the published
//! datapoints (`metrics.rs`), the inventory and the actuator from the account's configuration,
//! the ledger in the engine's own [`MemoryLedger`], and the pointer as a tag on the function.
//!
//! Every answer is ready at once (nothing here awaits), so `futures::executor::block_on` runs
//! the guard; the account sits behind a mutex only because the ports take `&self` and the
//! actuator changes it.

mod metrics;

pub use metrics::alarm_arn;

use std::sync::{Mutex, MutexGuard};

use cguard_core::intake::{IncidentId, canonical_function_name};
use cguard_core::model::{AccountFacts, Change, Current, FunctionFacts};
use cguard_core::record::{Claim, ClosedRecord, OpenRecord, Record, RecordedAction, TAG_INCIDENT};
use cguard_engine::memory::MemoryLedger;
use cguard_engine::ports::{
    Actuator, ErrorKind, Inventory, Ledger, Pointers, PortError, PortResult,
};
use chrono::{DateTime, Utc};

use crate::account::Account;
use crate::change::{Refusal, Setting};

/// One simulated account and the guard's ledger for it.
#[derive(Debug)]
pub struct SimAccount {
    account: Mutex<Account>,
    ledger: MemoryLedger,
}

impl SimAccount {
    pub fn new(account: Account) -> Self {
        Self {
            account: Mutex::new(account),
            ledger: MemoryLedger::default(),
        }
    }

    /// The account, to step it or read it between two calls of the guard.
    pub fn lock(&self) -> MutexGuard<'_, Account> {
        // A panic while stepping ends the run anyway; the state is still readable.
        self.account.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn ledger(&self) -> &MemoryLedger {
        &self.ledger
    }

    pub fn into_account(self) -> Account {
        self.account.into_inner().unwrap_or_else(|e| e.into_inner())
    }
}

/// A refusal as the SDK adapter classifies the same API error.
fn refused(operation: &str, refusal: Refusal) -> PortError {
    let kind = match refusal {
        Refusal::NoSuchFunction(_) | Refusal::NoSuchStage(_) | Refusal::NoSuchMapping(_) => {
            ErrorKind::NotFound
        }
        Refusal::BelowUnreservedMinimum { .. } => ErrorKind::BelowUnreservedMinimum,
        Refusal::MaximumConcurrencyOutOfRange(_) | Refusal::InvalidThrottle(_) => {
            ErrorKind::Rejected
        }
    };
    PortError::new(operation, kind, refusal.to_string())
}

/// The function a name or ARN names, as `GetFunction` takes either.
fn function_name(reference: &str) -> Option<String> {
    canonical_function_name(reference)
}

impl Inventory for SimAccount {
    async fn account(&self) -> PortResult<AccountFacts> {
        Ok(self.lock().account_facts())
    }

    async fn function(&self, name: &str) -> PortResult<Option<FunctionFacts>> {
        Ok(function_name(name).and_then(|n| self.lock().function_facts(&n)))
    }
}

impl Actuator for SimAccount {
    async fn apply(&self, change: &Change) -> PortResult<()> {
        self.lock()
            .apply(Setting::from(change))
            .map_err(|r| refused("apply", r))
    }

    async fn current(&self, change: &Change) -> PortResult<Current> {
        self.lock()
            .current(change)
            .map_err(|r| refused("current", r))
    }
}

/// The engine's own in-memory ledger, with the same conditional semantics as DynamoDB's.
impl Ledger for SimAccount {
    async fn open_record(&self, function: &str) -> PortResult<Option<Record>> {
        self.ledger.open_record(function).await
    }

    async fn open_records(&self) -> PortResult<Vec<OpenRecord>> {
        self.ledger.open_records().await
    }

    async fn record(
        &self,
        function: &str,
        header: &Record,
        action: &RecordedAction,
    ) -> PortResult<Claim> {
        self.ledger.record(function, header, action).await
    }

    async fn withdraw(&self, function: &str, action: &RecordedAction) -> PortResult<()> {
        self.ledger.withdraw(function, action).await
    }

    async fn settle(
        &self,
        function: &str,
        action: &RecordedAction,
        outcome: &str,
    ) -> PortResult<()> {
        self.ledger.settle(function, action, outcome).await
    }

    async fn close(
        &self,
        function: &str,
        incident: &IncidentId,
        closed_at: DateTime<Utc>,
        expires: DateTime<Utc>,
    ) -> PortResult<()> {
        self.ledger
            .close(function, incident, closed_at, expires)
            .await
    }

    async fn history(&self, since: DateTime<Utc>) -> PortResult<Vec<ClosedRecord>> {
        self.ledger.history(since).await
    }
}

/// The pointer is a tag like any other: written, removed, listed.
impl Pointers for SimAccount {
    async fn point(&self, function_arn: &str, incident: &IncidentId) -> PortResult<()> {
        self.tag(function_arn, Some(incident.as_str()))
    }

    async fn unpoint(&self, function_arn: &str) -> PortResult<()> {
        self.tag(function_arn, None)
    }

    async fn pointers(&self) -> PortResult<Vec<(String, String)>> {
        Ok(self
            .lock()
            .functions()
            .iter()
            .filter_map(|f| Some((f.name().to_owned(), f.tags().get(TAG_INCIDENT)?.clone())))
            .collect())
    }
}

impl SimAccount {
    fn tag(&self, function_arn: &str, value: Option<&str>) -> PortResult<()> {
        let found = function_name(function_arn)
            .is_some_and(|name| self.lock().set_tag(&name, TAG_INCIDENT, value));
        if found {
            Ok(())
        } else {
            Err(PortError::new(
                "tags",
                ErrorKind::NotFound,
                format!("no such function {function_arn}"),
            ))
        }
    }
}
