//! CloudWatch metric alarms (SIM-FACTS §4): evaluated "every minute" on the datapoints
//! published by then, `DatapointsToAlarm` (M) out of `EvaluationPeriods` (N), with the
//! template's comparison and missing-data treatment. Each state change is kept, and is
//! delivered to the remediator after the delivery latency.

use cguard_core::confirm::Comparison;
use cguard_core::intake::AlarmState;
use serde::{Deserialize, Serialize};

use crate::Second;
use crate::cloudwatch::MINUTE;

/// One alarm as `PutMetricAlarm` defines it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlarmDef {
    pub name: String,
    pub metric: AlarmMetric,
    /// A multiple of 60: AWS/Lambda metrics are 1-minute.
    #[serde(default = "one_minute")]
    pub period_s: Second,
    pub evaluation_periods: u32,
    /// `None`: equal to `evaluation_periods`, as CloudWatch defaults it.
    #[serde(default)]
    pub datapoints_to_alarm: Option<u32>,
    pub threshold: f64,
    #[serde(default)]
    pub comparison: Operator,
    #[serde(default)]
    pub treat_missing_data: TreatMissing,
}

fn one_minute() -> Second {
    MINUTE
}

/// The metric an alarm watches, with the statistic Lambda's metrics are read with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "scope", rename_all = "snake_case", deny_unknown_fields)]
pub enum AlarmMetric {
    Account {
        name: AccountMetric,
    },
    Function {
        function: String,
        name: FunctionMetric,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AccountMetric {
    ConcurrentExecutions,
    UnreservedConcurrentExecutions,
    ClaimedAccountConcurrency,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FunctionMetric {
    ConcurrentExecutions,
    Throttles,
    Invocations,
}

impl AlarmMetric {
    /// Concurrency is read with Maximum, counts with Sum.
    pub fn is_sum(&self) -> bool {
        matches!(
            self,
            Self::Function {
                name: FunctionMetric::Throttles | FunctionMetric::Invocations,
                ..
            }
        )
    }
}

/// CloudWatch's `ComparisonOperator` (the fixed-threshold ones).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Operator {
    #[default]
    GreaterThanOrEqualToThreshold,
    GreaterThanThreshold,
    LessThanThreshold,
    LessThanOrEqualToThreshold,
}

impl Operator {
    /// The same comparison in the guard's own terms.
    pub fn comparison(self) -> Comparison {
        match self {
            Self::GreaterThanOrEqualToThreshold => Comparison::GreaterThanOrEqual,
            Self::GreaterThanThreshold => Comparison::GreaterThan,
            Self::LessThanThreshold => Comparison::LessThan,
            Self::LessThanOrEqualToThreshold => Comparison::LessThanOrEqual,
        }
    }
}

/// `TreatMissingData`; the template sets `notBreaching`, CloudWatch defaults to `missing`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum TreatMissing {
    Breaching,
    NotBreaching,
    Ignore,
    #[default]
    Missing,
}

/// One state change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Transition {
    pub at: Second,
    pub from: AlarmState,
    pub to: AlarmState,
}

/// An alarm with its state and history.
#[derive(Debug, Clone)]
pub struct Alarm {
    pub def: AlarmDef,
    pub state: AlarmState,
    /// When the current state began.
    pub since: Second,
    pub transitions: Vec<Transition>,
    /// The datapoints of the last evaluation, oldest first (`None`: missing).
    pub last_datapoints: Vec<Option<f64>>,
}

impl AlarmDef {
    pub fn minutes_per_period(&self) -> usize {
        (self.period_s / MINUTE).max(1) as usize
    }

    pub fn datapoints_to_alarm(&self) -> u32 {
        self.datapoints_to_alarm.unwrap_or(self.evaluation_periods)
    }

    /// The last `evaluation_periods` whole periods among the `published` minutes, each
    /// aggregated from `minute` (`None`: no datapoint that minute).
    pub fn datapoints(
        &self,
        published: usize,
        minute: impl Fn(usize) -> Option<f64>,
    ) -> Vec<Option<f64>> {
        let k = self.minutes_per_period();
        let periods = published / k;
        let first = periods.saturating_sub(self.evaluation_periods as usize);
        (first..periods)
            .map(|p| {
                (p * k..(p + 1) * k).filter_map(&minute).reduce(|a, b| {
                    if self.metric.is_sum() {
                        a + b
                    } else {
                        a.max(b)
                    }
                })
            })
            .collect()
    }

    /// The state the datapoints call for; `None`: keep the current one (`ignore`, no data).
    pub fn judge(&self, datapoints: &[Option<f64>]) -> Option<AlarmState> {
        let cmp = self.comparison.comparison();
        let (mut breaching, mut present) = (0, 0);
        for d in datapoints {
            let breach = match (d, self.treat_missing_data) {
                (Some(v), _) => Some(cmp.breaches(*v, self.threshold)),
                (None, TreatMissing::Breaching) => Some(true),
                (None, TreatMissing::NotBreaching) => Some(false),
                (None, TreatMissing::Ignore | TreatMissing::Missing) => None,
            };
            if let Some(b) = breach {
                present += 1;
                breaching += u32::from(b);
            }
        }
        if breaching >= self.datapoints_to_alarm().max(1) {
            Some(AlarmState::Alarm)
        } else if present > 0 {
            Some(AlarmState::Ok)
        } else if self.treat_missing_data == TreatMissing::Missing {
            Some(AlarmState::InsufficientData)
        } else {
            None
        }
    }
}

impl Alarm {
    pub fn new(def: AlarmDef) -> Self {
        Self {
            def,
            state: AlarmState::InsufficientData,
            since: 0,
            transitions: Vec::new(),
            last_datapoints: Vec::new(),
        }
    }

    /// One evaluation at `now`; returns the state change, if any.
    pub fn evaluate(&mut self, now: Second, datapoints: Vec<Option<f64>>) -> Option<Transition> {
        let to = self.def.judge(&datapoints);
        self.last_datapoints = datapoints;
        let to = to.filter(|s| *s != self.state)?;
        let change = Transition {
            at: now,
            from: self.state,
            to,
        };
        self.state = to;
        self.since = now;
        self.transitions.push(change);
        Some(change)
    }
}
