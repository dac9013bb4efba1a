//! The one in-memory account every test suite uses: it implements every port of
//! `cguard-engine`, is built with a builder, injects faults, and checks the guard's central
//! promise itself — whenever `apply` changes a resource, the ledger at that moment holds a
//! record with that change (or, for a restore, the change it undoes). A breach is kept in
//! [`FakeAccount::violations`] for the test to check. The ledger is the engine's
//! [`MemoryLedger`], behind the same fault injection as every other port.
//!
//! The state is plain data ([`State`]) behind one lock, so that a simulation can grow from it
//! (a clock and load move the same state) rather than being written a second time.

pub mod hog;
mod ports;

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

use cguard_core::backtest::AlarmTransition;
use cguard_core::confirm::{AlarmEvidence, Comparison};
use cguard_core::error::{ErrorKind, PortError, PortResult};
use cguard_core::intake::{Alarm, AlarmState};
use cguard_core::model::{ApiTarget, Current, Reservation, ResourceKey};
use cguard_core::observation::FunctionUsage;
use cguard_core::posture::{AlarmInfo, ApiStage, QueueMapping};
use cguard_core::ranking::TopPeaks;
use cguard_core::record::{ClosedRecord, Record};
use cguard_engine::memory::MemoryLedger;

pub const ACCOUNT: &str = "123456789012";
pub const REGION: &str = "us-east-1";

/// The ARN a function of this account has.
pub fn function_arn(name: &str) -> String {
    format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}")
}

/// One function: what drives it and what it carries. Its reservation, throttle and queue
/// maximum live in [`State::live`], where changes land.
#[derive(Debug, Clone, PartialEq)]
pub struct FakeFunction {
    pub name: String,
    pub arn: String,
    pub tags: BTreeMap<String, String>,
    pub apis: Vec<ApiTarget>,
    /// SQS mappings: (uuid, queue ARN).
    pub queues: Vec<(String, String)>,
    pub usage: Option<FunctionUsage>,
    /// Where `usage` is absent: the peak the batched ranking reads.
    pub peak: Option<f64>,
}

impl FakeFunction {
    pub fn new(name: &str) -> Self {
        Self {
            name: name.into(),
            arn: function_arn(name),
            tags: BTreeMap::new(),
            apis: Vec::new(),
            queues: Vec::new(),
            usage: None,
            peak: None,
        }
    }

    pub fn tag(mut self, key: &str, value: &str) -> Self {
        self.tags.insert(key.into(), value.into());
        self
    }

    pub fn tags(mut self, tags: BTreeMap<String, String>) -> Self {
        self.tags.extend(tags);
        self
    }

    pub fn api(mut self, target: ApiTarget) -> Self {
        self.apis.push(target);
        self
    }

    pub fn queue(mut self, uuid: &str, source_arn: &str) -> Self {
        self.queues.push((uuid.into(), source_arn.into()));
        self
    }

    pub fn usage(mut self, usage: FunctionUsage) -> Self {
        self.usage = Some(FunctionUsage {
            name: self.name.clone(),
            ..usage
        });
        self
    }

    pub fn peak(mut self, peak: f64) -> Self {
        self.peak = Some(peak);
        self
    }

    fn peak_concurrency(&self) -> Option<f64> {
        self.usage
            .as_ref()
            .and_then(FunctionUsage::peak_concurrency)
            .or(self.peak)
    }
}

/// Everything the account holds; tests read and change it through [`FakeAccount::state`].
#[derive(Debug, Clone, Default)]
pub struct State {
    pub limit: u32,
    pub functions: BTreeMap<String, FakeFunction>,
    /// The value of every resource a change can target.
    pub live: BTreeMap<ResourceKey, Current>,
    pub account_peak: Option<f64>,
    /// What CloudWatch says of each alarm (by name) when a notification is confirmed.
    pub evidence: BTreeMap<String, AlarmEvidence>,
    /// What a Metrics Insights query answers; `None`: Insights is unavailable.
    pub insights: Option<TopPeaks>,
    /// The state of every alarm asked about; `None`: the alarm does not exist.
    pub alarm: Option<AlarmState>,
    /// CloudWatch's alarm history: the transitions into ALARM a backtest reads.
    pub alarm_history: Vec<AlarmTransition>,
    pub queue_mappings: Vec<QueueMapping>,
    pub rest_stages: Vec<ApiStage>,
    pub alarms: Vec<AlarmInfo>,
    /// Datapoints put: (namespace, metric, value).
    pub published: Vec<(String, String, f64)>,
    /// Every read made through a port (metrics, inventory, records, posture).
    pub reads: usize,
    /// Calls to `apply`, `current`, `write` and `erase`, in order, since the last arming.
    pub calls: Vec<String>,
    /// Fail the calls with these (0-based) numbers, once each.
    pub faults: Vec<(usize, ErrorKind)>,
    /// Fail every `apply` to this resource.
    pub fail_apply_on: Option<ResourceKey>,
    /// The first injected failure, once it happened.
    pub failed: Option<String>,
    /// Changes made without their record.
    pub violations: Vec<String>,
    /// Every read and write of the change path yields once before it runs, so that guards
    /// polled together interleave call by call, as separate processes do.
    pub interleave: bool,
}

/// The in-memory account. Cheap to build; every port method takes the one lock briefly.
#[derive(Debug)]
pub struct FakeAccount {
    state: Mutex<State>,
    ledger: MemoryLedger,
}

impl FakeAccount {
    /// An account with a limit of 1000, no function, no alarm, no posture findings to read.
    pub fn empty() -> Self {
        Self {
            state: Mutex::new(State {
                limit: 1000,
                ..Default::default()
            }),
            ledger: MemoryLedger::default(),
        }
    }

    /// Adds a function, unreserved, with no throttle and no queue maximum.
    pub fn with_function(self, function: FakeFunction) -> Self {
        self.with_function_at(function, Reservation::Unreserved)
    }

    /// Adds a function with the given reservation.
    pub fn with_function_at(self, function: FakeFunction, reservation: Reservation) -> Self {
        {
            let mut s = self.state();
            s.live.insert(
                ResourceKey::Function(function.name.clone()),
                Current::Reservation(reservation),
            );
            for target in &function.apis {
                s.live
                    .insert(ResourceKey::Api(target.clone()), Current::Throttle(None));
            }
            for (uuid, _) in &function.queues {
                s.live.insert(
                    ResourceKey::Queue(uuid.clone()),
                    Current::QueueConcurrency(None),
                );
            }
            s.functions.insert(function.name.clone(), function);
        }
        self
    }

    /// Sets one resource's live value (a change made before the test starts).
    pub fn with_live(self, key: ResourceKey, value: Current) -> Self {
        self.state().live.insert(key, value);
        self
    }

    pub fn with_account_peak(self, peak: f64) -> Self {
        self.state().account_peak = Some(peak);
        self
    }

    /// The alarm `alarm` exists as it says, in ALARM since it says, its metric at `value`
    /// against a `>=` threshold of `threshold`.
    pub fn with_confirmed_alarm(self, alarm: &Alarm, value: f64, threshold: f64) -> Self {
        let evidence = AlarmEvidence {
            arn: alarm.arn.clone().unwrap_or_default(),
            state: AlarmState::Alarm,
            state_updated: alarm.changed_at,
            comparison: Some(Comparison::GreaterThanOrEqual),
            threshold: Some(threshold),
            evaluation_periods: 1,
            datapoints_to_alarm: 1,
            datapoints: vec![value],
        };
        self.with_alarm_evidence(&alarm.name, evidence)
    }

    /// What CloudWatch says of the alarm `name`, whatever it is.
    pub fn with_alarm_evidence(self, name: &str, evidence: AlarmEvidence) -> Self {
        self.state().evidence.insert(name.into(), evidence);
        self
    }

    /// Answers Metrics Insights queries with `top`, right or wrong.
    pub fn with_insights(self, top: TopPeaks) -> Self {
        self.state().insights = Some(top);
        self
    }

    /// Guards run together on this account interleave at every call (see [`State::interleave`]).
    pub fn interleaved(self) -> Self {
        self.state().interleave = true;
        self
    }

    /// Yields once to the other futures polled with this one, when interleaving.
    pub(crate) async fn turn(&self) {
        if self.state().interleave {
            YieldOnce(false).await;
        }
    }

    pub fn with_alarm_state(self, state: Option<AlarmState>) -> Self {
        self.state().alarm = state;
        self
    }

    /// Adds `transitions` to the alarms' history.
    pub fn with_alarm_history(
        self,
        transitions: impl IntoIterator<Item = AlarmTransition>,
    ) -> Self {
        self.state().alarm_history.extend(transitions);
        self
    }

    /// The state, locked: read it, or change it between two calls of the guard.
    pub fn state(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .expect("no test thread panicked holding the account")
    }

    /// The state, locked, with one more read counted.
    fn read(&self) -> MutexGuard<'_, State> {
        let mut s = self.state();
        s.reads += 1;
        s
    }

    /// Reads made through the ports so far.
    pub fn reads(&self) -> usize {
        self.state().reads
    }

    pub fn live(&self) -> BTreeMap<ResourceKey, Current> {
        self.state().live.clone()
    }

    pub fn value(&self, key: &ResourceKey) -> Current {
        self.state().live[key].clone()
    }

    pub fn tags(&self, function: &str) -> BTreeMap<String, String> {
        self.state().functions[function].tags.clone()
    }

    /// The function's open record in the ledger.
    pub fn record(&self, function: &str) -> Option<Record> {
        self.ledger.open(function)
    }

    /// The ledger's closed records, oldest first.
    pub fn history(&self) -> Vec<ClosedRecord> {
        self.ledger.closed()
    }

    /// The ledger itself, to seed or inspect between two calls of the guard.
    pub fn ledger(&self) -> &MemoryLedger {
        &self.ledger
    }

    /// Puts `record` in the ledger for `function`, as if the guard had written it.
    pub fn with_record(self, function: &str, record: &Record) -> Self {
        self.ledger.insert(function, record);
        self
    }

    pub fn violations(&self) -> Vec<String> {
        self.state().violations.clone()
    }

    pub fn published(&self) -> Vec<(String, String, f64)> {
        self.state().published.clone()
    }

    pub fn call_count(&self) -> usize {
        self.state().calls.len()
    }

    pub fn calls(&self) -> Vec<String> {
        self.state().calls.clone()
    }

    /// Arms a fault on call number `k` (0-based) counted from now, and resets the log.
    pub fn fail_call(&self, k: usize, kind: ErrorKind) {
        self.fail_calls(&[(k, kind)]);
    }

    /// Arms several faults at once (numbered from now).
    pub fn fail_calls(&self, faults: &[(usize, ErrorKind)]) {
        let mut s = self.state();
        s.calls.clear();
        s.failed = None;
        s.faults = faults.to_vec();
    }

    /// Makes every `apply` to `key` fail as unavailable.
    pub fn fail_apply_on(&self, key: Option<ResourceKey>) {
        self.state().fail_apply_on = key;
    }

    /// Clears the faults and the log; returns the call that failed, if one did.
    pub fn disarm(&self) -> Option<String> {
        let mut s = self.state();
        s.faults.clear();
        s.calls.clear();
        s.failed.take()
    }
}

impl State {
    /// Counts one call and fails it if it is an armed one.
    fn call(&mut self, what: String) -> PortResult<()> {
        let n = self.calls.len();
        self.calls.push(what.clone());
        if let Some(pos) = self.faults.iter().position(|(k, _)| *k == n) {
            let (_, kind) = self.faults.remove(pos);
            self.failed.get_or_insert_with(|| what.clone());
            return Err(PortError::new(
                what,
                kind,
                format!("injected {kind:?} fault on call #{n}"),
            ));
        }
        Ok(())
    }

    fn reserved_total(&self) -> u32 {
        self.live
            .values()
            .map(|c| match c {
                Current::Reservation(Reservation::Reserved(n)) => *n,
                _ => 0,
            })
            .sum()
    }

    fn by_arn(&mut self, arn: &str) -> PortResult<&mut FakeFunction> {
        self.functions
            .values_mut()
            .find(|f| f.arn == arn)
            .ok_or_else(|| {
                PortError::new(
                    "tags",
                    ErrorKind::NotFound,
                    format!("no such function {arn}"),
                )
            })
    }
}

/// Pending once (waking itself), then ready: lets every other future in a `join` take a step.
struct YieldOnce(bool);

impl std::future::Future for YieldOnce {
    type Output = ();

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<()> {
        if self.0 {
            return std::task::Poll::Ready(());
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        std::task::Poll::Pending
    }
}
