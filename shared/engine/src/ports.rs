//! The small traits the use-cases need from AWS, one per concern. `cguard-aws` implements them
//! with the SDK, `cguard-testkit` in memory; nothing here knows about either. Every method is
//! required: a new adapter cannot silently go without one.

use std::collections::BTreeMap;
use std::future::Future;

use cguard_core::confirm::AlarmEvidence;
use cguard_core::intake::AlarmState;
use cguard_core::model::{AccountFacts, Change, Current, FunctionFacts, Reservation};
use cguard_core::observation::{FunctionUsage, Peaks, Window};
use cguard_core::posture::{AlarmInfo, ApiStage, QueueMapping};
use cguard_core::ranking::TopPeaks;
use cguard_core::record::OpenRecord;
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
    /// Functions that emitted Lambda metrics recently.
    fn active_functions(&self) -> impl Future<Output = PortResult<Vec<String>>> + Send;
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

/// Durable records (tags on the offending function).
pub trait Ledger: Sync {
    fn write(
        &self,
        function_arn: &str,
        tags: &BTreeMap<String, String>,
    ) -> impl Future<Output = PortResult<()>> + Send;
    fn erase(
        &self,
        function_arn: &str,
        keys: &[String],
    ) -> impl Future<Output = PortResult<()>> + Send;
    /// Every function that carries a record, with when its incident opened.
    fn open_records(&self) -> impl Future<Output = PortResult<Vec<OpenRecord>>> + Send;
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
pub trait Ports: Metrics + Inventory + Actuator + Ledger {}
impl<T: Metrics + Inventory + Actuator + Ledger> Ports for T {}

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
    fn active_functions(&self) -> impl Future<Output = PortResult<Vec<String>>> + Send {
        (**self).active_functions()
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
    fn write(
        &self,
        function_arn: &str,
        tags: &BTreeMap<String, String>,
    ) -> impl Future<Output = PortResult<()>> + Send {
        (**self).write(function_arn, tags)
    }
    fn erase(
        &self,
        function_arn: &str,
        keys: &[String],
    ) -> impl Future<Output = PortResult<()>> + Send {
        (**self).erase(function_arn, keys)
    }
    fn open_records(&self) -> impl Future<Output = PortResult<Vec<OpenRecord>>> + Send {
        (**self).open_records()
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
