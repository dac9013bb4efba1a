//! The small traits the engine needs from AWS, one per concern. `cguard-aws` implements them
//! with the SDK; nothing here knows about it.

use std::collections::BTreeMap;
use std::future::Future;

use crate::intake::AlarmState;
use crate::model::{AccountFacts, Change, Current, FunctionFacts};
use crate::observation::{FunctionUsage, Peaks, Window};

pub use crate::error::{ErrorKind, PortError, PortResult};

/// CloudWatch reads.
pub trait Metrics: Sync {
    /// The busiest functions' peaks ranked by CloudWatch itself in one query (Metrics
    /// Insights), with the account's peak; `None` where that is unavailable, and the caller
    /// falls back to [`active_functions`](Self::active_functions) + [`peaks`](Self::peaks).
    fn top_peaks(
        &self,
        window: &Window,
        limit: usize,
    ) -> impl Future<Output = PortResult<Option<Peaks>>> + Send {
        let _ = (window, limit);
        async { Ok(None) }
    }
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
    /// Names of functions that carry a record.
    fn open_records(&self) -> impl Future<Output = PortResult<Vec<String>>> + Send;
}

/// Everything the engine uses; one adapter usually implements all of it.
pub trait Aws: Metrics + Inventory + Actuator + Ledger {}
impl<T: Metrics + Inventory + Actuator + Ledger> Aws for T {}
