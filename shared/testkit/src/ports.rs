//! Every port of `cguard-engine`, answered from [`State`](crate::State).

use cguard_core::backtest::AlarmTransition;
use cguard_core::confirm::AlarmEvidence;
use cguard_core::error::{ErrorKind, PortError, PortResult};
use cguard_core::intake::AlarmState;
use cguard_core::intake::IncidentId;
use cguard_core::model::ResourceKey;
use cguard_core::model::{AccountFacts, Change, Current, Driver, FunctionFacts, Reservation};
use cguard_core::observation::{FunctionUsage, Peaks, Window};
use cguard_core::posture::{AlarmInfo, ApiStage, QueueMapping};
use cguard_core::ranking::TopPeaks;
use cguard_core::record::{Claim, ClosedRecord, OpenRecord, Record, RecordedAction, TAG_INCIDENT};
use cguard_engine::ports::{Actuator, Inventory, Ledger, Metrics, Pointers, Posture};
use chrono::{DateTime, Utc};

use crate::{FakeAccount, FakeFunction, State};

impl Metrics for FakeAccount {
    /// The answer set with `with_insights`, as it is: believing it is the engine's business.
    async fn top_peaks(&self, _: &Window, _: usize) -> PortResult<Option<TopPeaks>> {
        Ok(self.read().insights.clone())
    }

    async fn active_functions(&self, _: DateTime<Utc>) -> PortResult<Vec<String>> {
        Ok(self.read().functions.keys().cloned().collect())
    }

    async fn peaks(&self, _: &[String], _: &Window) -> PortResult<Peaks> {
        let s = self.read();
        Ok(Peaks {
            account: s.account_peak,
            functions: s
                .functions
                .values()
                .filter_map(|f| Some((f.name.clone(), f.peak_concurrency()?)))
                .collect(),
        })
    }

    async fn usage(&self, functions: &[String], _: &Window) -> PortResult<Vec<FunctionUsage>> {
        let s = self.read();
        Ok(functions
            .iter()
            .filter_map(|f| s.functions.get(f)?.usage.clone())
            .collect())
    }

    async fn alarm_evidence(
        &self,
        name: &str,
        _: DateTime<Utc>,
    ) -> PortResult<Option<AlarmEvidence>> {
        Ok(self.read().evidence.get(name).cloned())
    }

    async fn alarm_state(&self, _: &str) -> PortResult<Option<AlarmState>> {
        Ok(self.read().alarm)
    }

    /// The recorded transitions of the alarms named `prefix…`, `since` ≤ time ≤ `until`.
    async fn alarm_transitions(
        &self,
        prefix: &str,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> PortResult<Vec<AlarmTransition>> {
        Ok(self
            .read()
            .alarm_history
            .iter()
            .filter(|t| t.alarm.starts_with(prefix) && (since..=until).contains(&t.at))
            .cloned()
            .collect())
    }
}

impl Inventory for FakeAccount {
    async fn account(&self) -> PortResult<AccountFacts> {
        let s = self.read();
        Ok(AccountFacts {
            limit: Some(s.limit),
            unreserved: Some(s.limit - s.reserved_total()),
        })
    }

    /// By name or by ARN, as `GetFunction` answers.
    async fn function(&self, name: &str) -> PortResult<Option<FunctionFacts>> {
        self.turn().await;
        let s = self.read();
        let found = s
            .functions
            .get(name)
            .or_else(|| s.functions.values().find(|f| f.arn == name));
        Ok(found.map(|f| facts(&s, f)))
    }
}

/// What `GetFunction` and friends would say of `f` now.
fn facts(s: &State, f: &FakeFunction) -> FunctionFacts {
    let reservation = match s.live.get(&ResourceKey::Function(f.name.clone())) {
        Some(Current::Reservation(r)) => *r,
        _ => Reservation::Unreserved,
    };
    let apis = f.apis.iter().map(|target| Driver::Api {
        target: target.clone(),
        current: match s.live.get(&ResourceKey::Api(target.clone())) {
            Some(Current::Throttle(t)) => *t,
            _ => None,
        },
        shared_entry: false,
    });
    let queues = f.queues.iter().map(|(uuid, source_arn)| Driver::Queue {
        uuid: uuid.clone(),
        source_arn: source_arn.clone(),
        maximum_concurrency: match s.live.get(&ResourceKey::Queue(uuid.clone())) {
            Some(Current::QueueConcurrency(m)) => *m,
            _ => None,
        },
    });
    FunctionFacts {
        name: f.name.clone(),
        arn: f.arn.clone(),
        reservation,
        tags: f.tags.clone(),
        drivers: apis.chain(queues).collect(),
    }
}

impl Actuator for FakeAccount {
    async fn apply(&self, change: &Change) -> PortResult<()> {
        self.turn().await;
        let mut s = self.state();
        s.call(format!("apply {}", change.describe()))?;
        let key = change.resource();
        if s.fail_apply_on.as_ref() == Some(&key) {
            return Err(PortError::new("apply", ErrorKind::Unavailable, "injected"));
        }
        if !s.live.contains_key(&key) {
            return Err(PortError::new("apply", ErrorKind::NotFound, "gone"));
        }
        // No change without its record: the ledger must hold it now.
        let recorded = self
            .ledger
            .pending()
            .iter()
            .any(|a| a.change == *change || a.change.inverse() == *change);
        if !recorded {
            let violation = format!("changed without a record: {}", change.describe());
            s.violations.push(violation);
        }
        s.live.insert(key, change.applied_value());
        Ok(())
    }

    async fn current(&self, change: &Change) -> PortResult<Current> {
        self.turn().await;
        let mut s = self.state();
        s.call(format!("current {:?}", change.resource()))?;
        s.live
            .get(&change.resource())
            .cloned()
            .ok_or_else(|| PortError::new("current", ErrorKind::NotFound, "gone"))
    }
}

/// The engine's own in-memory ledger, each call first counted (and failed when armed) like
/// every other call.
impl Ledger for FakeAccount {
    async fn open_record(&self, function: &str) -> PortResult<Option<Record>> {
        self.turn().await;
        drop(self.read());
        self.ledger.open_record(function).await
    }

    async fn open_records(&self) -> PortResult<Vec<OpenRecord>> {
        drop(self.read());
        self.ledger.open_records().await
    }

    async fn record(
        &self,
        function: &str,
        header: &Record,
        action: &RecordedAction,
    ) -> PortResult<Claim> {
        self.turn().await;
        self.state()
            .call(format!("record {function} {}", action.change.describe()))?;
        self.ledger.record(function, header, action).await
    }

    async fn withdraw(&self, function: &str, action: &RecordedAction) -> PortResult<()> {
        self.state()
            .call(format!("withdraw {function} {}", action.change.describe()))?;
        self.ledger.withdraw(function, action).await
    }

    async fn settle(
        &self,
        function: &str,
        action: &RecordedAction,
        outcome: &str,
    ) -> PortResult<()> {
        self.state()
            .call(format!("settle {function} {}", action.change.describe()))?;
        self.ledger.settle(function, action, outcome).await
    }

    async fn close(
        &self,
        function: &str,
        incident: &IncidentId,
        closed_at: DateTime<Utc>,
        expires: DateTime<Utc>,
    ) -> PortResult<()> {
        self.state().call(format!("close {function}"))?;
        self.ledger
            .close(function, incident, closed_at, expires)
            .await
    }

    async fn history(&self, since: DateTime<Utc>) -> PortResult<Vec<ClosedRecord>> {
        drop(self.read());
        self.ledger.history(since).await
    }
}

/// The pointer is a tag like any other: written, removed, listed.
impl Pointers for FakeAccount {
    async fn point(&self, arn: &str, incident: &IncidentId) -> PortResult<()> {
        let mut s = self.state();
        s.call(format!("point {incident}"))?;
        s.by_arn(arn)?
            .tags
            .insert(TAG_INCIDENT.to_owned(), incident.to_string());
        Ok(())
    }

    async fn unpoint(&self, arn: &str) -> PortResult<()> {
        let mut s = self.state();
        s.call("unpoint".to_owned())?;
        s.by_arn(arn)?.tags.remove(TAG_INCIDENT);
        Ok(())
    }

    async fn pointers(&self) -> PortResult<Vec<(String, String)>> {
        Ok(self
            .read()
            .functions
            .values()
            .filter_map(|f| Some((f.name.clone(), f.tags.get(TAG_INCIDENT)?.clone())))
            .collect())
    }
}

impl Posture for FakeAccount {
    async fn tagged_functions(&self, key: &str) -> PortResult<Vec<(String, String)>> {
        Ok(self
            .read()
            .functions
            .values()
            .filter_map(|f| Some((f.name.clone(), f.tags.get(key)?.clone())))
            .collect())
    }

    async fn function_reservation(&self, function: &str) -> PortResult<Reservation> {
        match self
            .read()
            .live
            .get(&ResourceKey::Function(function.into()))
        {
            Some(Current::Reservation(r)) => Ok(*r),
            _ => Err(PortError::new(
                "GetFunctionConcurrency",
                ErrorKind::NotFound,
                format!("no such function {function}"),
            )),
        }
    }

    async fn queue_mappings(&self) -> PortResult<Vec<QueueMapping>> {
        Ok(self.read().queue_mappings.clone())
    }

    async fn rest_stages(&self) -> PortResult<Vec<ApiStage>> {
        Ok(self.read().rest_stages.clone())
    }

    async fn alarms(&self) -> PortResult<Vec<AlarmInfo>> {
        Ok(self.read().alarms.clone())
    }

    async fn put_metric(
        &self,
        namespace: &str,
        name: &str,
        value: f64,
        _: DateTime<Utc>,
    ) -> PortResult<()> {
        self.state()
            .published
            .push((namespace.into(), name.into(), value));
        Ok(())
    }
}
