//! An account as a scenario describes it, at second 0.

use std::collections::BTreeMap;

use cguard_core::model::{Reservation, Route, TAG_PROTECTED};
use rand::SeedableRng;
use rand::rngs::ChaCha8Rng;

use super::{Account, Drive, Function, step};
use crate::alarm::Alarm;
use crate::api::{Attempts, Bucket, Retries, Stage, StageThrottles};
use crate::async_queue::AsyncQueue;
use crate::cloudwatch::Series;
use crate::execution::Execution;
use crate::scenario::{FunctionSpec, Scenario, ScenarioError, SourceSpec};
use crate::sqs::{Mapping, Queue};
use crate::tally::{Counts, Role};

impl Account {
    /// Builds the account `scenario` describes; `file` names it in errors.
    pub fn new(scenario: &Scenario, file: &str) -> Result<Self, ScenarioError> {
        scenario.validate(file)?;
        let params = scenario.params.clone();
        let mut stages: Vec<Stage> = scenario
            .stages
            .iter()
            .map(|s| {
                let throttles = StageThrottles {
                    default: s.throttle,
                    routes: BTreeMap::new(),
                };
                Stage {
                    kind: s.kind,
                    api_id: s.api.clone(),
                    stage: s.stage.clone(),
                    configured: throttles.clone(),
                    effective: throttles,
                }
            })
            .collect();
        let mut queues: Vec<Queue> = scenario
            .queues
            .iter()
            .map(|q| Queue::new(q.name.clone(), q.visibility_timeout_s, q.max_receive_count))
            .collect();
        let mut functions = Vec::with_capacity(scenario.functions.len());
        for (i, spec) in scenario.functions.iter().enumerate() {
            let missing = |field: &str| ScenarioError::Invalid {
                file: file.to_owned(),
                field: format!("functions[{i}] ({}).{field}", spec.name),
                problem: "refers to nothing declared".to_owned(),
            };
            let emits = match &spec.emits {
                Some(e) => {
                    let q = queues.iter().position(|q| q.name == e.queue);
                    Some((q.ok_or_else(|| missing("emits"))?, e.per_invocation))
                }
                None => None,
            };
            let drive = drive(spec, i, &mut stages, &mut queues, &params)
                .ok_or_else(|| missing("source"))?;
            functions.push(function(spec, drive, emits, &params));
        }
        let index = functions
            .iter()
            .enumerate()
            .map(|(i, f)| (f.name.clone(), i))
            .collect();
        Ok(Self {
            rng: ChaCha8Rng::seed_from_u64(scenario.seed),
            now: 0,
            functions,
            index,
            stages,
            queues,
            alarms: scenario.alarm_defs().into_iter().map(Alarm::new).collect(),
            api_account: Bucket::default(),
            pending: Vec::new(),
            applied: Vec::new(),
            deliveries: Vec::new(),
            delivered: 0,
            metrics: Series::default(),
            ticks: Vec::with_capacity(scenario.duration_s as usize),
            scratch: step::Scratch::default(),
            params,
        })
    }
}

fn function(
    spec: &FunctionSpec,
    drive: Drive,
    emits: Option<(usize, f64)>,
    params: &crate::params::Params,
) -> Function {
    let mut tags = spec.tags.clone();
    if spec.role == Role::Protected {
        tags.entry(TAG_PROTECTED.to_owned())
            .or_insert_with(|| "true".to_owned());
    }
    let reservation = spec
        .reservation
        .map_or(Reservation::Unreserved, Reservation::Reserved);
    Function {
        name: spec.name.clone(),
        role: spec.role,
        tags,
        duration_s: spec.duration_s,
        configured: reservation,
        effective: reservation,
        drive,
        loads: spec.load.clone(),
        emits,
        exec: Execution::new(spec.duration_s, &params.scaling),
        metrics: Series::default(),
        totals: Counts::default(),
        first_throttle: None,
        last_throttle: None,
    }
}

/// The function's source, wired to its stage or queue; `None` if it names neither.
fn drive(
    spec: &FunctionSpec,
    index: usize,
    stages: &mut [Stage],
    queues: &mut [Queue],
    params: &crate::params::Params,
) -> Option<Drive> {
    Some(match &spec.source {
        SourceSpec::Api {
            api,
            stage,
            method,
            path,
            throttle,
            callers,
        } => {
            let s = stages
                .iter()
                .position(|s| &s.api_id == api && &s.stage == stage)?;
            let route = Route {
                method: method.clone(),
                path: path.clone(),
            };
            if let Some(t) = throttle {
                stages[s].configured.routes.insert(route.clone(), *t);
                stages[s].effective.routes.insert(route.clone(), *t);
            }
            Drive::Api {
                stage: s,
                route,
                bucket: Bucket::default(),
                callers: callers.clone(),
                retries: Retries::default(),
                attempts: Attempts::default(),
            }
        }
        SourceSpec::Queue {
            queue,
            batch_size,
            maximum_concurrency,
            uuid,
        } => {
            let q = queues.iter().position(|q| &q.name == queue)?;
            let uuid = uuid.clone().unwrap_or_else(|| format!("esm-{}", spec.name));
            queues[q].attach(Mapping::new(
                uuid,
                index,
                *batch_size,
                *maximum_concurrency,
                &params.sqs,
            ));
            Drive::Queue { queue: q }
        }
        SourceSpec::Async {
            max_event_age_s,
            destination,
        } => Drive::Async(AsyncQueue::new(
            max_event_age_s.unwrap_or(params.async_invocation.max_event_age_s),
            *destination,
        )),
        SourceSpec::Direct { callers } => Drive::Direct {
            callers: callers.clone(),
            retries: Retries::default(),
            attempts: Attempts::default(),
        },
    })
}
