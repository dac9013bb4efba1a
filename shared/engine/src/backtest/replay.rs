//! The ports a backtest replays over: the account's own, with two differences.
//!
//! - Every write is refused before it reaches the account. The replay's policy is a dry run,
//!   which already makes none; this keeps "a backtest changes nothing" true even if a later
//!   change to the remediator forgot the dry run somewhere.
//! - CloudWatch's confirmation is read as it stood at the transition. The remediator confirms
//!   an alarm by its state *now* (in ALARM since the notification's time) and its own metric up
//!   to that time; a past transition's alarm is usually OK now, or in ALARM since a later
//!   transition. Alarm history shows it entered ALARM at that moment, so that is the state the
//!   evidence carries; the metric re-read up to the transition still decides, as it did then.

use std::future::Future;

use chrono::{DateTime, Utc};

use cguard_core::backtest::AlarmTransition;
use cguard_core::confirm::AlarmEvidence;
use cguard_core::intake::{AlarmState, IncidentId};
use cguard_core::model::{AccountFacts, Change, Current, FunctionFacts};
use cguard_core::observation::{FunctionUsage, Peaks, Window};
use cguard_core::ranking::TopPeaks;
use cguard_core::record::{Claim, ClosedRecord, OpenRecord, Record, RecordedAction};

use crate::ports::{
    Actuator, ErrorKind, Inventory, Ledger, Metrics, Pointers, PortError, PortResult,
};

/// Reads pass through to the account; writes are refused (see the module's comment).
#[derive(Debug)]
pub(super) struct ReadOnly<'a, P>(pub &'a P);

fn refused<T>(operation: &str) -> PortResult<T> {
    Err(PortError::new(
        operation,
        ErrorKind::Denied,
        "a backtest changes nothing",
    ))
}

impl<P: Metrics> Metrics for ReadOnly<'_, P> {
    fn top_peaks(
        &self,
        window: &Window,
        limit: usize,
    ) -> impl Future<Output = PortResult<Option<TopPeaks>>> + Send {
        self.0.top_peaks(window, limit)
    }
    fn active_functions(
        &self,
        since: DateTime<Utc>,
    ) -> impl Future<Output = PortResult<Vec<String>>> + Send {
        self.0.active_functions(since)
    }
    fn peaks(
        &self,
        functions: &[String],
        window: &Window,
    ) -> impl Future<Output = PortResult<Peaks>> + Send {
        self.0.peaks(functions, window)
    }
    fn usage(
        &self,
        functions: &[String],
        window: &Window,
    ) -> impl Future<Output = PortResult<Vec<FunctionUsage>>> + Send {
        self.0.usage(functions, window)
    }
    /// The alarm's definition and its metric up to `at`, in ALARM since `at`: the replay only
    /// asks at the time of a transition into ALARM that alarm history recorded.
    async fn alarm_evidence(
        &self,
        name: &str,
        at: DateTime<Utc>,
    ) -> PortResult<Option<AlarmEvidence>> {
        Ok(self
            .0
            .alarm_evidence(name, at)
            .await?
            .map(|now| AlarmEvidence {
                state: AlarmState::Alarm,
                state_updated: at,
                ..now
            }))
    }
    fn alarm_state(
        &self,
        name: &str,
    ) -> impl Future<Output = PortResult<Option<AlarmState>>> + Send {
        self.0.alarm_state(name)
    }
    fn alarm_transitions(
        &self,
        prefix: &str,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> impl Future<Output = PortResult<Vec<AlarmTransition>>> + Send {
        self.0.alarm_transitions(prefix, since, until)
    }
}

impl<P: Inventory> Inventory for ReadOnly<'_, P> {
    fn account(&self) -> impl Future<Output = PortResult<AccountFacts>> + Send {
        self.0.account()
    }
    fn function(
        &self,
        name: &str,
    ) -> impl Future<Output = PortResult<Option<FunctionFacts>>> + Send {
        self.0.function(name)
    }
}

impl<P: Actuator> Actuator for ReadOnly<'_, P> {
    async fn apply(&self, _: &Change) -> PortResult<()> {
        refused("apply")
    }
    fn current(&self, change: &Change) -> impl Future<Output = PortResult<Current>> + Send {
        self.0.current(change)
    }
}

impl<P: Ledger> Ledger for ReadOnly<'_, P> {
    fn open_record(
        &self,
        function: &str,
    ) -> impl Future<Output = PortResult<Option<Record>>> + Send {
        self.0.open_record(function)
    }
    fn open_records(&self) -> impl Future<Output = PortResult<Vec<OpenRecord>>> + Send {
        self.0.open_records()
    }
    async fn record(&self, _: &str, _: &Record, _: &RecordedAction) -> PortResult<Claim> {
        refused("record")
    }
    async fn withdraw(&self, _: &str, _: &RecordedAction) -> PortResult<()> {
        refused("withdraw")
    }
    async fn settle(&self, _: &str, _: &RecordedAction, _: &str) -> PortResult<()> {
        refused("settle")
    }
    async fn close(
        &self,
        _: &str,
        _: &IncidentId,
        _: DateTime<Utc>,
        _: DateTime<Utc>,
    ) -> PortResult<()> {
        refused("close")
    }
    fn history(
        &self,
        since: DateTime<Utc>,
    ) -> impl Future<Output = PortResult<Vec<ClosedRecord>>> + Send {
        self.0.history(since)
    }
}

impl<P: Pointers> Pointers for ReadOnly<'_, P> {
    async fn point(&self, _: &str, _: &IncidentId) -> PortResult<()> {
        refused("point")
    }
    async fn unpoint(&self, _: &str) -> PortResult<()> {
        refused("unpoint")
    }
    fn pointers(&self) -> impl Future<Output = PortResult<Vec<(String, String)>>> + Send {
        self.0.pointers()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An adapter that panics on any call: the writes must not reach it.
    #[derive(Debug)]
    struct Untouchable;

    impl Actuator for Untouchable {
        async fn apply(&self, _: &Change) -> PortResult<()> {
            unreachable!("a backtest reached apply")
        }
        async fn current(&self, _: &Change) -> PortResult<Current> {
            unreachable!()
        }
    }

    impl Pointers for Untouchable {
        async fn point(&self, _: &str, _: &IncidentId) -> PortResult<()> {
            unreachable!("a backtest reached point")
        }
        async fn unpoint(&self, _: &str) -> PortResult<()> {
            unreachable!("a backtest reached unpoint")
        }
        async fn pointers(&self) -> PortResult<Vec<(String, String)>> {
            unreachable!()
        }
    }

    #[test]
    fn writes_are_refused_before_they_reach_the_account() {
        let ports = ReadOnly(&Untouchable);
        let change = Change::Reservation {
            function: "hog".into(),
            previous: cguard_core::model::Reservation::Unreserved,
            new: cguard_core::model::Reservation::Reserved(100),
        };
        let err = futures::executor::block_on(ports.apply(&change)).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Denied);
        let incident = IncidentId::from_recorded("x");
        assert!(futures::executor::block_on(ports.point("arn", &incident)).is_err());
        assert!(futures::executor::block_on(ports.unpoint("arn")).is_err());
    }
}
