//! An in-memory account for end-to-end tests of the engine and the auditor: one offender
//! function driven by one REST API stage and one SQS mapping, fixed metrics, and fault
//! injection on the calls made after planning (`apply`, `current`, `write`, `erase`).
//!
//! The account also checks the guard's central promise itself: whenever `apply` changes a
//! resource, the offender's tags at that moment hold a record with that change (or, for a
//! restore, the change it undoes). A breach is kept in `violations` for the test to check.

use std::collections::BTreeMap;
use std::sync::Mutex;

use cguard_core::intake::AlarmState;
use cguard_core::model::{
    AccountFacts, ApiKind, ApiTarget, Change, Current, Driver, FunctionFacts, Reservation,
    ResourceKey,
};
use cguard_core::observation::{FunctionUsage, Peaks, Window};
use cguard_core::ports::{Actuator, ErrorKind, Inventory, Ledger, Metrics, PortError, PortResult};
use cguard_core::record::{Record, TAG_INCIDENT};

pub const FUNCTION: &str = "hog";
pub const ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:hog";
pub const QUEUE: &str = "8f2b1c3d-0000-4000-8000-000000000001";
pub const QUEUE_ARN: &str = "arn:aws:sqs:us-east-1:123456789012:orders";
pub const LIMIT: u32 = 1000;

pub fn api_target() -> ApiTarget {
    ApiTarget {
        kind: ApiKind::Rest,
        api_id: "a1b2c3".into(),
        stage: "prod".into(),
        route: None,
    }
}

pub fn api() -> ResourceKey {
    ResourceKey::Api(api_target())
}

pub fn queue() -> ResourceKey {
    ResourceKey::Queue(QUEUE.into())
}

pub fn function() -> ResourceKey {
    ResourceKey::Function(FUNCTION.into())
}

/// The state every test starts from (and every restore must return to).
pub fn original() -> BTreeMap<ResourceKey, Current> {
    BTreeMap::from([
        (api(), Current::Throttle(None)),
        (queue(), Current::QueueConcurrency(None)),
        (function(), Current::Reservation(Reservation::Unreserved)),
    ])
}

pub fn owner_tags() -> BTreeMap<String, String> {
    BTreeMap::from([("team".into(), "payments".into())])
}

#[derive(Debug)]
pub struct Account {
    pub live: Mutex<BTreeMap<ResourceKey, Current>>,
    pub tags: Mutex<BTreeMap<String, String>>,
    /// Calls to `apply`, `current`, `write` and `erase`, in order.
    pub calls: Mutex<Vec<String>>,
    /// Fail the calls with these (0-based) numbers, once each.
    pub fault: Mutex<Vec<(usize, ErrorKind)>>,
    /// The failed call, once it happened.
    pub failed: Mutex<Option<String>>,
    /// Changes made without their record.
    pub violations: Mutex<Vec<String>>,
    pub alarm: AlarmState,
    pub usage: FunctionUsage,
    pub account_peak: f64,
}

impl Account {
    pub fn new(usage: FunctionUsage) -> Self {
        Self {
            live: Mutex::new(original()),
            tags: Mutex::new(owner_tags()),
            calls: Mutex::new(Vec::new()),
            fault: Mutex::new(Vec::new()),
            failed: Mutex::new(None),
            violations: Mutex::new(Vec::new()),
            alarm: AlarmState::Alarm,
            usage,
            account_peak: 980.0,
        }
    }

    pub fn live(&self) -> BTreeMap<ResourceKey, Current> {
        self.live.lock().unwrap().clone()
    }

    pub fn value(&self, key: &ResourceKey) -> Current {
        self.live.lock().unwrap()[key].clone()
    }

    pub fn tags(&self) -> BTreeMap<String, String> {
        self.tags.lock().unwrap().clone()
    }

    pub fn record(&self) -> Option<Record> {
        Record::from_tags(&self.tags()).expect("the record stays readable")
    }

    pub fn violations(&self) -> Vec<String> {
        self.violations.lock().unwrap().clone()
    }

    pub fn call_count(&self) -> usize {
        self.calls.lock().unwrap().len()
    }

    /// Arms a fault on call number `k` (0-based) counted from now, and resets the log.
    pub fn fail_call(&self, k: usize, kind: ErrorKind) {
        self.fail_calls(&[(k, kind)]);
    }

    /// Arms several faults at once (numbered from now).
    pub fn fail_calls(&self, faults: &[(usize, ErrorKind)]) {
        self.calls.lock().unwrap().clear();
        *self.failed.lock().unwrap() = None;
        *self.fault.lock().unwrap() = faults.to_vec();
    }

    pub fn disarm(&self) -> Option<String> {
        self.fault.lock().unwrap().clear();
        self.calls.lock().unwrap().clear();
        self.failed.lock().unwrap().take()
    }

    /// Counts one call and fails it if it is the armed one.
    fn call(&self, what: String) -> PortResult<()> {
        let mut calls = self.calls.lock().unwrap();
        let n = calls.len();
        calls.push(what.clone());
        let mut fault = self.fault.lock().unwrap();
        if let Some(pos) = fault.iter().position(|(k, _)| *k == n) {
            let (_, kind) = fault.remove(pos);
            self.failed
                .lock()
                .unwrap()
                .get_or_insert_with(|| what.clone());
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
            .lock()
            .unwrap()
            .values()
            .map(|c| match c {
                Current::Reservation(Reservation::Reserved(n)) => *n,
                _ => 0,
            })
            .sum()
    }
}

fn check_arn(arn: &str) -> PortResult<()> {
    if arn == ARN {
        Ok(())
    } else {
        Err(PortError::new(
            "tags",
            ErrorKind::NotFound,
            format!("no such function {arn}"),
        ))
    }
}

impl Metrics for Account {
    async fn active_functions(&self) -> PortResult<Vec<String>> {
        Ok(vec![FUNCTION.into(), "quiet".into()])
    }
    async fn peaks(&self, _: &[String], _: &Window) -> PortResult<Peaks> {
        Ok(Peaks {
            account: Some(self.account_peak),
            functions: BTreeMap::from([
                (
                    FUNCTION.into(),
                    self.usage.peak_concurrency().unwrap_or(0.0),
                ),
                ("quiet".into(), 40.0),
            ]),
        })
    }
    async fn usage(&self, functions: &[String], _: &Window) -> PortResult<Vec<FunctionUsage>> {
        Ok(functions
            .iter()
            .filter(|f| *f == FUNCTION)
            .map(|_| self.usage.clone())
            .collect())
    }
    async fn alarm_state(&self, _: &str) -> PortResult<Option<AlarmState>> {
        Ok(Some(self.alarm))
    }
}

impl Inventory for Account {
    async fn account(&self) -> PortResult<AccountFacts> {
        Ok(AccountFacts {
            limit: Some(LIMIT),
            unreserved: Some(LIMIT - self.reserved_total()),
        })
    }
    async fn function(&self, name: &str) -> PortResult<Option<FunctionFacts>> {
        if name != FUNCTION {
            return Ok(None);
        }
        let live = self.live();
        let Current::Reservation(reservation) = live[&function()] else {
            unreachable!()
        };
        let Current::Throttle(throttle) = live[&api()] else {
            unreachable!()
        };
        let Current::QueueConcurrency(maximum) = live[&queue()] else {
            unreachable!()
        };
        Ok(Some(FunctionFacts {
            name: FUNCTION.into(),
            arn: ARN.into(),
            reservation,
            tags: self.tags(),
            drivers: vec![
                Driver::Api {
                    target: api_target(),
                    current: throttle,
                    shared_entry: false,
                },
                Driver::Queue {
                    uuid: QUEUE.into(),
                    source_arn: QUEUE_ARN.into(),
                    maximum_concurrency: maximum,
                },
            ],
        }))
    }
}

impl Actuator for Account {
    async fn apply(&self, change: &Change) -> PortResult<()> {
        self.call(format!("apply {}", change.describe()))?;
        let key = change.resource();
        let mut live = self.live.lock().unwrap();
        if !live.contains_key(&key) {
            return Err(PortError::new("apply", ErrorKind::NotFound, "gone"));
        }
        // No change without its record: the record must be on the function now.
        let recorded = Record::from_tags(&self.tags())
            .ok()
            .flatten()
            .is_some_and(|r| {
                r.actions
                    .values()
                    .any(|a| a.change == *change || a.change.inverse() == *change)
            });
        if !recorded {
            self.violations.lock().unwrap().push(format!(
                "changed without a record: {} (tags {:?})",
                change.describe(),
                self.tags()
            ));
        }
        live.insert(key, change.applied_value());
        Ok(())
    }

    async fn current(&self, change: &Change) -> PortResult<Current> {
        self.call(format!("current {:?}", change.resource()))?;
        self.live
            .lock()
            .unwrap()
            .get(&change.resource())
            .cloned()
            .ok_or_else(|| PortError::new("current", ErrorKind::NotFound, "gone"))
    }
}

impl Ledger for Account {
    async fn write(&self, arn: &str, tags: &BTreeMap<String, String>) -> PortResult<()> {
        self.call(format!("write {:?}", tags.keys().collect::<Vec<_>>()))?;
        check_arn(arn)?;
        self.tags.lock().unwrap().extend(tags.clone());
        Ok(())
    }

    async fn erase(&self, arn: &str, keys: &[String]) -> PortResult<()> {
        self.call(format!("erase {keys:?}"))?;
        check_arn(arn)?;
        let mut tags = self.tags.lock().unwrap();
        for k in keys {
            tags.remove(k);
        }
        Ok(())
    }

    async fn open_records(&self) -> PortResult<Vec<String>> {
        Ok(if self.tags().contains_key(TAG_INCIDENT) {
            vec![FUNCTION.into()]
        } else {
            Vec::new()
        })
    }
}
