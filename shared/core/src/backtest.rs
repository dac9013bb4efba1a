//! Backtesting (`cguard backtest`): every transition of the guard's alarms into ALARM over a
//! period, replayed through the remediator's own steps in a dry run, to show what the guard
//! would have done at that moment from the metrics as they were.
//!
//! This module holds the pure parts:
//! - [`AlarmTransition`]: one transition, as CloudWatch's alarm history and the alarm's
//!   definition tell it, and the alarm-action event it becomes — so that intake's own
//!   validation and canonicalisation run on it, exactly as on a live notification;
//! - [`StateUpdate`]: how a `HistoryData` document says which state an alarm left and entered;
//! - which transitions are replayed ([`newest_first`], [`expired`]);
//! - the result ([`Backtest`], [`Replayed`]) and its one-line-per-transition table (`table.rs`).

use std::fmt;

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::{Value, json};

use crate::intake::{IntakeError, MetricRef, Request, parse_event};
use crate::observation::Window;
use crate::report::Report;

mod table;

pub use table::summary;

/// Most transitions one backtest replays, newest first: each replay costs the remediator's own
/// reads (a dozen CloudWatch and Lambda calls), and a flapping alarm can transition hundreds
/// of times a month. The rest are counted, not examined.
pub const MAX_REPLAYS: usize = 100;

/// Days CloudWatch keeps one-minute datapoints. The guard reads one-minute periods; for a
/// window older than this `GetMetricData` answers none at that period, so a replay would see a
/// calm account where there may have been a storm: such transitions are listed, not replayed.
pub const ONE_MINUTE_RETENTION_DAYS: i64 = 15;

/// One transition of a metric alarm into ALARM.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlarmTransition {
    /// The alarm's name.
    pub alarm: String,
    pub arn: String,
    /// When the alarm entered ALARM (the history item's timestamp).
    pub at: DateTime<Utc>,
    /// CloudWatch's reason for the transition, as the history keeps it.
    pub reason: Option<String>,
    /// The metrics the alarm watches, from its definition as it is now (`DescribeAlarms`):
    /// alarm history does not keep definitions.
    pub metrics: Vec<MetricRef>,
}

impl AlarmTransition {
    /// The direct alarm-action event CloudWatch would have sent for this transition
    /// (`events/alarm-action.json`'s shape): the alarm's ARN, account and region, its state
    /// and reason at `at`, and its metrics as `configuration.metrics[].metricStat`.
    pub fn event(&self) -> Value {
        let time = self.at.to_rfc3339_opts(SecondsFormat::Millis, true);
        // arn:<partition>:cloudwatch:<region>:<account>:alarm:<name>; intake checks the ARN.
        let mut parts = self.arn.split(':').skip(3);
        let (region, account) = (parts.next(), parts.next());
        let metrics: Vec<Value> = self
            .metrics
            .iter()
            .enumerate()
            .map(|(i, m)| {
                json!({
                    "id": format!("m{}", i + 1),
                    "metricStat": {
                        "metric": {
                            "namespace": m.namespace,
                            "name": m.name,
                            "dimensions": m.dimensions,
                        },
                    },
                    "returnData": self.metrics.len() == 1,
                })
            })
            .collect();
        json!({
            "source": "aws.cloudwatch",
            "alarmArn": self.arn,
            "accountId": account,
            "time": time,
            "region": region,
            "alarmData": {
                "alarmName": self.alarm,
                "state": { "value": "ALARM", "reason": self.reason, "timestamp": time },
                "configuration": { "metrics": metrics },
            },
        })
    }

    /// The request intake makes of [`event`](Self::event), marked as a dry run; an error when
    /// intake refuses it (an ARN that is not this alarm's, a metric naming no function).
    pub fn request(&self) -> Result<Request, IntakeError> {
        let mut request = parse_event(&self.event())?
            .into_iter()
            .next()
            .expect("an alarm action is one request");
        request.dry_run = true;
        Ok(request)
    }
}

/// What one `StateUpdate` item of alarm history says: the state left and the state entered, as
/// CloudWatch spells them (`OK`, `ALARM`, `INSUFFICIENT_DATA`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateUpdate {
    pub old: Option<String>,
    pub new: String,
    pub reason: Option<String>,
}

/// A `HistoryData` document that is not a state update.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unreadable HistoryData: {0}")]
pub struct HistoryDataError(String);

impl StateUpdate {
    /// Reads a `StateUpdate` item's `HistoryData`: a JSON string such as
    /// `{"version":"1.0","oldState":{"stateValue":"OK",…},"newState":{"stateValue":"ALARM",
    /// "stateReason":"Threshold Crossed: …","stateReasonData":{…}}}`. Only the state values and
    /// the new reason are read; everything else may change shape without harm.
    pub fn parse(history_data: &str) -> Result<Self, HistoryDataError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Data {
            old_state: Option<State>,
            new_state: State,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct State {
            state_value: String,
            state_reason: Option<String>,
        }
        let data: Data =
            serde_json::from_str(history_data).map_err(|e| HistoryDataError(e.to_string()))?;
        Ok(Self {
            old: data.old_state.map(|s| s.state_value),
            new: data.new_state.state_value,
            reason: data.new_state.state_reason,
        })
    }

    /// Whether the alarm entered ALARM here — the only moment the guard is called.
    pub fn entered_alarm(&self) -> bool {
        self.new == "ALARM" && self.old.as_deref() != Some("ALARM")
    }
}

/// The `limit` newest transitions, newest first, and how many older ones are left out.
pub fn newest_first(
    mut transitions: Vec<AlarmTransition>,
    limit: usize,
) -> (Vec<AlarmTransition>, usize) {
    transitions.sort_by(|a, b| b.at.cmp(&a.at).then_with(|| a.alarm.cmp(&b.alarm)));
    let left_out = transitions.len().saturating_sub(limit);
    transitions.truncate(limit);
    (transitions, left_out)
}

/// Why a transition cannot be replayed, if it cannot: the metrics window the remediator would
/// read for it (`window_minutes` before `at`) reaches back further than one-minute data is kept.
pub fn expired(at: DateTime<Utc>, now: DateTime<Utc>, window_minutes: u32) -> Option<NotReplayed> {
    let kept_since = now - Duration::days(ONE_MINUTE_RETENTION_DAYS);
    (Window::before(at, window_minutes).start < kept_since).then_some(NotReplayed::MetricsExpired)
}

/// Why a transition was listed but not replayed. Serialised as its wording.
#[derive(Debug, Clone, PartialEq)]
pub enum NotReplayed {
    /// Older than [`ONE_MINUTE_RETENTION_DAYS`].
    MetricsExpired,
    /// Intake refused the event the transition makes, with intake's words.
    Refused(String),
}

impl fmt::Display for NotReplayed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MetricsExpired => write!(
                f,
                "not replayed: CloudWatch keeps one-minute metrics {ONE_MINUTE_RETENTION_DAYS} \
                 days, and the guard reads nothing coarser"
            ),
            Self::Refused(why) => write!(f, "not replayed: intake refuses this alarm: {why}"),
        }
    }
}

impl Serialize for NotReplayed {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// What became of one transition.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The remediator's report of the dry-run replay.
    Replayed(Box<Report>),
    NotReplayed(NotReplayed),
}

/// One row of the table: a transition and what the guard would have done.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Replayed {
    pub at: DateTime<Utc>,
    pub alarm: String,
    /// The verdict in one line: the actions ("cap hog at 100; …") or why there are none.
    pub summary: String,
    pub verdict: Verdict,
}

impl Replayed {
    pub fn new(transition: &AlarmTransition, verdict: Verdict) -> Self {
        let summary = match &verdict {
            Verdict::Replayed(report) => summary(report),
            Verdict::NotReplayed(why) => why.to_string(),
        };
        Self {
            at: transition.at,
            alarm: transition.alarm.clone(),
            summary,
            verdict,
        }
    }

    /// Whether a read this replay needed failed (the report says which).
    pub fn failed(&self) -> bool {
        matches!(&self.verdict, Verdict::Replayed(r) if r.failed())
    }
}

/// A whole backtest: the period, the replays newest first, and what was left out.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Backtest {
    /// The alarms examined: those whose names start with this.
    pub alarm_prefix: String,
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
    /// Every transition into ALARM in the period, examined or not.
    pub transitions: usize,
    pub rows: Vec<Replayed>,
    /// Older transitions beyond [`MAX_REPLAYS`], counted only.
    pub not_examined: usize,
}

impl Backtest {
    /// Whether any replay could not read what it needed.
    pub fn failed(&self) -> bool {
        self.rows.iter().any(Replayed::failed)
    }
}

#[cfg(test)]
mod tests;
