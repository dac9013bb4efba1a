//! A scenario file: one account, its functions and their traffic, the alarms, the length of
//! the run and its seed. TOML, read with serde; unknown fields are refused, and every error
//! names the file and the field.

use std::collections::BTreeMap;
use std::path::Path;

use cguard_core::model::{ApiKind, Throttle};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::Second;
use crate::alarm::{AccountMetric, AlarmDef, AlarmMetric, Operator, TreatMissing};
use crate::api::Callers;
use crate::load::Load;
use crate::params::Params;
use crate::tally::Role;

mod check;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub name: String,
    /// The incident it represents.
    #[serde(default)]
    pub description: String,
    pub seed: u64,
    pub duration_s: Second,
    #[serde(default)]
    pub params: Params,
    /// The stack's alarm parameters: its two account alarms are always there.
    #[serde(default)]
    pub template: AlarmTemplate,
    /// Alarms beyond the template's (a team's alarm on its API's throttles).
    #[serde(default)]
    pub alarms: Vec<AlarmDef>,
    #[serde(default)]
    pub baseline: Baseline,
    #[serde(default)]
    pub stages: Vec<StageSpec>,
    #[serde(default)]
    pub queues: Vec<QueueSpec>,
    pub functions: Vec<FunctionSpec>,
}

/// The template's alarm parameters (template.yaml `AccountConcurrencyThreshold`,
/// `ClaimedConcurrencyThreshold`, `AlarmEvaluationPeriods`, `AlarmDatapointsToAlarm`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AlarmTemplate {
    pub account_threshold: f64,
    pub claimed_threshold: f64,
    pub evaluation_periods: u32,
    pub datapoints_to_alarm: u32,
}

impl Default for AlarmTemplate {
    fn default() -> Self {
        Self {
            account_threshold: 800.0,
            claimed_threshold: 900.0,
            evaluation_periods: 1,
            datapoints_to_alarm: 1,
        }
    }
}

/// Names the template's alarms get in the simulated stack.
pub const ACCOUNT_ALARM: &str = "cguard-account-concurrency";
pub const CLAIMED_ALARM: &str = "cguard-claimed-concurrency";

impl AlarmTemplate {
    /// `AccountConcurrencyAlarm` and `ClaimedConcurrencyAlarm` as the template defines them:
    /// Maximum over 60 s, `GreaterThanOrEqualToThreshold`, `TreatMissingData: notBreaching`.
    pub fn alarms(&self) -> Vec<AlarmDef> {
        let alarm = |name: &str, metric, threshold| AlarmDef {
            name: name.to_owned(),
            metric: AlarmMetric::Account { name: metric },
            period_s: 60,
            evaluation_periods: self.evaluation_periods,
            datapoints_to_alarm: Some(self.datapoints_to_alarm),
            threshold,
            comparison: Operator::GreaterThanOrEqualToThreshold,
            treat_missing_data: TreatMissing::NotBreaching,
        };
        vec![
            alarm(
                ACCOUNT_ALARM,
                AccountMetric::ConcurrentExecutions,
                self.account_threshold,
            ),
            alarm(
                CLAIMED_ALARM,
                AccountMetric::ClaimedAccountConcurrency,
                self.claimed_threshold,
            ),
        ]
    }
}

/// What the baselines that need no guard use.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Baseline {
    /// The reservation every offender gets from the start under the static policy; the
    /// template's `TargetConcurrency` default.
    pub static_reservation: u32,
}

impl Default for Baseline {
    fn default() -> Self {
        Self {
            static_reservation: 100,
        }
    }
}

/// An API stage and its stage-wide throttle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StageSpec {
    pub api: String,
    pub kind: ApiKind,
    pub stage: String,
    #[serde(default)]
    pub throttle: Option<Throttle>,
}

/// An SQS standard queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueSpec {
    pub name: String,
    /// SQS's default visibility timeout is 30 s; AWS recommends ≥ 6× the function timeout.
    #[serde(default = "thirty")]
    pub visibility_timeout_s: Second,
    /// The redrive policy; `None`: no DLQ.
    #[serde(default)]
    pub max_receive_count: Option<u32>,
}

fn thirty() -> Second {
    30
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FunctionSpec {
    pub name: String,
    #[serde(default)]
    pub role: Role,
    /// Seconds per invocation.
    pub duration_s: f64,
    /// Reserved concurrency; absent: none (0 is the kill switch).
    #[serde(default)]
    pub reservation: Option<u32>,
    /// Role `protected` adds `concurrency-guard:protected = "true"`.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    pub source: SourceSpec,
    /// Arrivals at the source: requests, messages or events per second, summed.
    #[serde(default)]
    pub load: Vec<Load>,
    /// A function that sends messages to a queue when it completes (a recursive loop when
    /// the queue is its own).
    #[serde(default)]
    pub emits: Option<Emit>,
}

/// What invokes a function.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum SourceSpec {
    /// An API Gateway proxy integration on one method of a declared stage.
    Api {
        api: String,
        stage: String,
        method: String,
        path: String,
        /// A method-level throttle overriding the stage's.
        #[serde(default)]
        throttle: Option<Throttle>,
        #[serde(default)]
        callers: Callers,
    },
    /// An SQS event source mapping on a declared queue; the load is the producers' rate.
    Queue {
        queue: String,
        #[serde(default = "ten")]
        batch_size: u32,
        #[serde(default)]
        maximum_concurrency: Option<u32>,
        /// Default: `esm-<function>`.
        #[serde(default)]
        uuid: Option<String>,
    },
    /// Asynchronous invocations (SNS, EventBridge, S3, `InvocationType=Event`).
    Async {
        /// `MaximumEventAgeInSeconds`; default: the account parameter (6 h).
        #[serde(default)]
        max_event_age_s: Option<Second>,
        /// Whether an on-failure destination (or DLQ) catches lost events.
        #[serde(default)]
        destination: bool,
    },
    /// Synchronous invokes from SDK clients: a throttle is their `TooManyRequestsException`.
    Direct {
        #[serde(default)]
        callers: Callers,
    },
}

fn ten() -> u32 {
    10
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Emit {
    pub queue: String,
    /// Messages sent per completed invocation (stochastically rounded).
    pub per_invocation: f64,
}

/// Why a scenario could not be read.
#[derive(Debug, Error)]
pub enum ScenarioError {
    #[error("{file}: cannot read: {source}")]
    Read {
        file: String,
        source: std::io::Error,
    },
    #[error("{file}: {source}")]
    Parse {
        file: String,
        source: Box<toml::de::Error>,
    },
    #[error("{file}: {field}: {problem}")]
    Invalid {
        file: String,
        field: String,
        problem: String,
    },
}

impl Scenario {
    pub fn load(path: &Path) -> Result<Self, ScenarioError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Read {
            file: file.clone(),
            source,
        })?;
        Self::parse(&file, &text)
    }

    /// Parses and checks `text`; `file` names it in errors.
    pub fn parse(file: &str, text: &str) -> Result<Self, ScenarioError> {
        let scenario: Self = toml::from_str(text).map_err(|e| ScenarioError::Parse {
            file: file.to_owned(),
            source: Box::new(e),
        })?;
        scenario.validate(file)?;
        Ok(scenario)
    }

    /// Checks what TOML cannot (names that must exist or be unique, AWS's ranges); `file`
    /// names the scenario in the error.
    pub fn validate(&self, file: &str) -> Result<(), ScenarioError> {
        self.check()
            .map_err(|(field, problem)| ScenarioError::Invalid {
                file: file.to_owned(),
                field,
                problem,
            })
    }

    /// The alarms the run evaluates: the template's, then the scenario's own.
    pub fn alarm_defs(&self) -> Vec<AlarmDef> {
        let mut alarms = self.template.alarms();
        alarms.extend(self.alarms.iter().cloned());
        alarms
    }
}
