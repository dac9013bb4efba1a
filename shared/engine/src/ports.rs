//! The small traits the use-cases need from AWS, one per concern. `cguard-aws` implements them
//! with the SDK, `cguard-testkit` in memory; nothing here knows about either. Every method is
//! required: a new adapter cannot silently go without one.

use std::future::Future;

use cguard_core::backtest::AlarmTransition;
use cguard_core::confirm::AlarmEvidence;
use cguard_core::intake::AlarmState;
use cguard_core::intake::IncidentId;
use cguard_core::model::{AccountFacts, Change, Current, FunctionFacts, Reservation};
use cguard_core::observation::{FunctionUsage, Peaks, Window};
use cguard_core::posture::{AlarmInfo, ApiStage, QueueMapping};
use cguard_core::ranking::TopPeaks;
use cguard_core::record::{Claim, ClosedRecord, OpenRecord, Record, RecordedAction};
use chrono::{DateTime, Utc};

pub use cguard_core::error::{ErrorKind, Failure, PortError, PortResult};

/// CloudWatch reads.
pub trait Metrics: Sync {
    /// The busiest functions' peaks ranked by CloudWatch itself in one query (Metrics
    /// Insights), with the account's peak, as answered — the caller decides whether to believe
    /// it (`cguard_core::ranking::believe`); `None` where Insights is unavailable (switched off,
    /// or the window is older than it keeps), and the caller falls back to
    /// [`active_functions`](Self::active_functions) + [`peaks`](Self::peaks).
    fn top_peaks(
        &self,
        window: &Window,
        limit: usize,
    ) -> impl Future<Output = PortResult<Option<TopPeaks>>> + Send;
    /// Functions that emitted Lambda metrics since `since` — cheaply for a recent window
    /// (CloudWatch's "recently active", the last 3 hours), else over everything it still keeps
    /// (two weeks), so a backtest of an older incident still sees an offender idle since.
    fn active_functions(
        &self,
        since: DateTime<Utc>,
    ) -> impl Future<Output = PortResult<Vec<String>>> + Send;
    /// Peak `ConcurrentExecutions` of each function and of the account, batched.
    fn peaks(
        &self,
        functions: &[String],
        window: &Window,
    ) -> impl Future<Output = PortResult<Peaks>> + Send;
    /// The detailed series for a few candidates, batched.
    fn usage(
        &self,
        functions: &[String],
        window: &Window,
    ) -> impl Future<Output = PortResult<Vec<FunctionUsage>>> + Send;
    /// What CloudWatch says of the metric alarm `name` now, with its own metric re-read by its
    /// own definition over its evaluation periods up to `at`; `None` if this account and region
    /// have no such alarm.
    fn alarm_evidence(
        &self,
        name: &str,
        at: DateTime<Utc>,
    ) -> impl Future<Output = PortResult<Option<AlarmEvidence>>> + Send;
    /// The current state of an alarm; `None` if it no longer exists.
    fn alarm_state(
        &self,
        name: &str,
    ) -> impl Future<Output = PortResult<Option<AlarmState>>> + Send;
    /// Every transition into ALARM between `since` and `until` of the metric alarms whose names
    /// start with `prefix`, each with the alarm's definition as it is now, in any order (for
    /// `cguard backtest` only: `cguard-aws` reads CloudWatch's alarm history).
    fn alarm_transitions(
        &self,
        prefix: &str,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> impl Future<Output = PortResult<Vec<AlarmTransition>>> + Send;
}

/// Reads of what exists and what drives it.
pub trait Inventory: Sync {
    fn account(&self) -> impl Future<Output = PortResult<AccountFacts>> + Send;
    /// A function with its tags, reservation and drivers; `None` if it does not exist.
    fn function(
        &self,
        name: &str,
    ) -> impl Future<Output = PortResult<Option<FunctionFacts>>> + Send;
}

/// Changes, and reading back the value a change targets.
pub trait Actuator: Sync {
    fn apply(&self, change: &Change) -> impl Future<Output = PortResult<()>> + Send;
    fn current(&self, change: &Change) -> impl Future<Output = PortResult<Current>> + Send;
}

/// The guard's own record of what it changed and what was there before — the one authority a
/// restore obeys (`cguard-aws`: a DynamoDB table only the guard's roles write). Every write is
/// conditional, so the remediator, the auditor and an operator's `cguard` can run at once.
pub trait Ledger: Sync {
    /// `function`'s open record, read consistently; `None` if it has none.
    fn open_record(
        &self,
        function: &str,
    ) -> impl Future<Output = PortResult<Option<Record>>> + Send;
    /// Every open record's function, with when its incident opened.
    fn open_records(&self) -> impl Future<Output = PortResult<Vec<OpenRecord>>> + Send;
    /// Records `action` in `function`'s record before it is made, opening the record with
    /// `header`'s incident, time and alarm if none is open — in one atomic write that succeeds
    /// only if no other incident holds the record and its [`key`](RecordedAction::key) is not
    /// recorded yet; otherwise [`Claim::Taken`] with the record as it stands.
    fn record(
        &self,
        function: &str,
        header: &Record,
        action: &RecordedAction,
    ) -> impl Future<Output = PortResult<Claim>> + Send;
    /// Takes back the record of a change that was not made (only if it is still as recorded).
    fn withdraw(
        &self,
        function: &str,
        action: &RecordedAction,
    ) -> impl Future<Output = PortResult<()>> + Send;
    /// Moves an undone (or deliberately left) action out of the open record, with how it was
    /// settled, to be kept in the record's history.
    fn settle(
        &self,
        function: &str,
        action: &RecordedAction,
        outcome: &str,
    ) -> impl Future<Output = PortResult<()>> + Send;
    /// Closes `function`'s record of `incident` once no action is left unsettled: it becomes
    /// history, kept until `expires`.
    fn close(
        &self,
        function: &str,
        incident: &IncidentId,
        closed_at: DateTime<Utc>,
        expires: DateTime<Utc>,
    ) -> impl Future<Output = PortResult<()>> + Send;
    /// Closed records, newest first, closed at or after `since`.
    fn history(
        &self,
        since: DateTime<Utc>,
    ) -> impl Future<Output = PortResult<Vec<ClosedRecord>>> + Send;
}

/// The incident id on a limited function's tags: a pointer for people, never read back as a
/// record; compared with the ledger only to report tampering.
pub trait Pointers: Sync {
    fn point(
        &self,
        function_arn: &str,
        incident: &IncidentId,
    ) -> impl Future<Output = PortResult<()>> + Send;
    fn unpoint(&self, function_arn: &str) -> impl Future<Output = PortResult<()>> + Send;
    /// Every function that carries the pointer tag, with its value.
    fn pointers(&self) -> impl Future<Output = PortResult<Vec<(String, String)>>> + Send;
}

/// The reads (and the one write) posture needs beyond the other ports.
pub trait Posture: Sync {
    fn function_reservation(
        &self,
        function: &str,
    ) -> impl Future<Output = PortResult<Reservation>> + Send;
    /// Every SQS event source mapping in the account (all functions), paginated.
    fn queue_mappings(&self) -> impl Future<Output = PortResult<Vec<QueueMapping>>> + Send;
    /// Every REST API stage, with whether it is throttled and invokes Lambda.
    fn rest_stages(&self) -> impl Future<Output = PortResult<Vec<ApiStage>>> + Send;
    /// Every metric alarm, paginated.
    fn alarms(&self) -> impl Future<Output = PortResult<Vec<AlarmInfo>>> + Send;
    /// Every function carrying the tag `key`, with its value.
    fn tagged_functions(
        &self,
        key: &str,
    ) -> impl Future<Output = PortResult<Vec<(String, String)>>> + Send;
    /// One datapoint (unit Count).
    fn put_metric(
        &self,
        namespace: &str,
        name: &str,
        value: f64,
        at: DateTime<Utc>,
    ) -> impl Future<Output = PortResult<()>> + Send;
}
/// Every port the remediator and the auditor's passes use; one adapter usually implements all.
pub trait Ports: Metrics + Inventory + Actuator + Ledger + Pointers {}
impl<T: Metrics + Inventory + Actuator + Ledger + Pointers> Ports for T {}

// A borrowed adapter is an adapter: a test builds a short-lived `Guard` per call over one
// long-lived account, with the policy that call needs.
impl<T: Metrics> Metrics for &T {
    fn top_peaks(
        &self,
        window: &Window,
        limit: usize,
    ) -> impl Future<Output = PortResult<Option<TopPeaks>>> + Send {
        (**self).top_peaks(window, limit)
    }
    fn active_functions(
        &self,
        since: DateTime<Utc>,
    ) -> impl Future<Output = PortResult<Vec<String>>> + Send {
        (**self).active_functions(since)
    }
    fn peaks(
        &self,
        functions: &[String],
        window: &Window,
    ) -> impl Future<Output = PortResult<Peaks>> + Send {
        (**self).peaks(functions, window)
    }
    fn usage(
        &self,
        functions: &[String],
        window: &Window,
    ) -> impl Future<Output = PortResult<Vec<FunctionUsage>>> + Send {
        (**self).usage(functions, window)
    }
    fn alarm_evidence(
        &self,
        name: &str,
        now: DateTime<Utc>,
    ) -> impl Future<Output = PortResult<Option<AlarmEvidence>>> + Send {
        (**self).alarm_evidence(name, now)
    }
    fn alarm_state(
        &self,
        name: &str,
    ) -> impl Future<Output = PortResult<Option<AlarmState>>> + Send {
        (**self).alarm_state(name)
    }
    fn alarm_transitions(
        &self,
        prefix: &str,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> impl Future<Output = PortResult<Vec<AlarmTransition>>> + Send {
        (**self).alarm_transitions(prefix, since, until)
    }
}

impl<T: Inventory> Inventory for &T {
    fn account(&self) -> impl Future<Output = PortResult<AccountFacts>> + Send {
        (**self).account()
    }
    fn function(
        &self,
        name: &str,
    ) -> impl Future<Output = PortResult<Option<FunctionFacts>>> + Send {
        (**self).function(name)
    }
}

impl<T: Actuator> Actuator for &T {
    fn apply(&self, change: &Change) -> impl Future<Output = PortResult<()>> + Send {
        (**self).apply(change)
    }
    fn current(&self, change: &Change) -> impl Future<Output = PortResult<Current>> + Send {
        (**self).current(change)
    }
}

impl<T: Ledger> Ledger for &T {
    fn open_record(
        &self,
        function: &str,
    ) -> impl Future<Output = PortResult<Option<Record>>> + Send {
        (**self).open_record(function)
    }
    fn open_records(&self) -> impl Future<Output = PortResult<Vec<OpenRecord>>> + Send {
        (**self).open_records()
    }
    fn record(
        &self,
        function: &str,
        header: &Record,
        action: &RecordedAction,
    ) -> impl Future<Output = PortResult<Claim>> + Send {
        (**self).record(function, header, action)
    }
    fn withdraw(
        &self,
        function: &str,
        action: &RecordedAction,
    ) -> impl Future<Output = PortResult<()>> + Send {
        (**self).withdraw(function, action)
    }
    fn settle(
        &self,
        function: &str,
        action: &RecordedAction,
        outcome: &str,
    ) -> impl Future<Output = PortResult<()>> + Send {
        (**self).settle(function, action, outcome)
    }
    fn close(
        &self,
        function: &str,
        incident: &IncidentId,
        closed_at: DateTime<Utc>,
        expires: DateTime<Utc>,
    ) -> impl Future<Output = PortResult<()>> + Send {
        (**self).close(function, incident, closed_at, expires)
    }
    fn history(
        &self,
        since: DateTime<Utc>,
    ) -> impl Future<Output = PortResult<Vec<ClosedRecord>>> + Send {
        (**self).history(since)
    }
}

impl<T: Pointers> Pointers for &T {
    fn point(
        &self,
        function_arn: &str,
        incident: &IncidentId,
    ) -> impl Future<Output = PortResult<()>> + Send {
        (**self).point(function_arn, incident)
    }
    fn unpoint(&self, function_arn: &str) -> impl Future<Output = PortResult<()>> + Send {
        (**self).unpoint(function_arn)
    }
    fn pointers(&self) -> impl Future<Output = PortResult<Vec<(String, String)>>> + Send {
        (**self).pointers()
    }
}

impl<T: Posture> Posture for &T {
    fn function_reservation(
        &self,
        function: &str,
    ) -> impl Future<Output = PortResult<Reservation>> + Send {
        (**self).function_reservation(function)
    }
    fn queue_mappings(&self) -> impl Future<Output = PortResult<Vec<QueueMapping>>> + Send {
        (**self).queue_mappings()
    }
    fn rest_stages(&self) -> impl Future<Output = PortResult<Vec<ApiStage>>> + Send {
        (**self).rest_stages()
    }
    fn alarms(&self) -> impl Future<Output = PortResult<Vec<AlarmInfo>>> + Send {
        (**self).alarms()
    }
    fn tagged_functions(
        &self,
        key: &str,
    ) -> impl Future<Output = PortResult<Vec<(String, String)>>> + Send {
        (**self).tagged_functions(key)
    }
    fn put_metric(
        &self,
        namespace: &str,
        name: &str,
        value: f64,
        at: DateTime<Utc>,
    ) -> impl Future<Output = PortResult<()>> + Send {
        (**self).put_metric(namespace, name, value, at)
    }
}
