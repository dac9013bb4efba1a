//! The simulated account: every modelled part, advanced one second at a time by
//! [`Account::step`], and the reads a guard's ports make of it.

mod build;
mod settings;
mod step;

use std::collections::BTreeMap;
use std::ops::Range;

use cguard_core::model::{AccountFacts, ApiTarget, Driver, FunctionFacts, Reservation, Route};
use rand::rngs::ChaCha8Rng;
use serde::Serialize;

use crate::Second;
use crate::alarm::{Alarm, Transition};
use crate::api::{Attempts, Bucket, Callers, Retries, Stage};
use crate::async_queue::AsyncQueue;
use crate::change::Applied;
use crate::cloudwatch::{AccountMinute, FunctionMinute, MINUTE, Series, published_minutes};
use crate::execution::Execution;
use crate::load::Load;
use crate::params::Params;
use crate::sqs::Queue;
use crate::tally::{Counts, Role, RoleCounts};

/// The simulated account's identity in ARNs.
pub const ACCOUNT_ID: &str = "123456789012";
pub const REGION: &str = "us-east-1";

/// One function: its configuration, its executions and what happened to it.
#[derive(Debug, Clone)]
pub struct Function {
    name: String,
    role: Role,
    tags: BTreeMap<String, String>,
    duration_s: f64,
    configured: Reservation,
    effective: Reservation,
    drive: Drive,
    loads: Vec<Load>,
    /// (queue index, messages per completed invocation)
    emits: Option<(usize, f64)>,
    exec: Execution,
    metrics: Series<FunctionMinute>,
    totals: Counts,
    first_throttle: Option<Second>,
    last_throttle: Option<Second>,
}

/// What invokes a function, with that source's state.
#[derive(Debug, Clone)]
enum Drive {
    Api {
        stage: usize,
        route: Route,
        bucket: Bucket,
        callers: Callers,
        retries: Retries,
        /// This second's requests by attempt.
        attempts: Attempts,
    },
    Direct {
        callers: Callers,
        retries: Retries,
        attempts: Attempts,
    },
    Queue {
        queue: usize,
    },
    Async(AsyncQueue),
}

/// An alarm state change on its way to the remediator.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Delivery {
    pub alarm: String,
    pub transition: Transition,
    pub deliver_at: Second,
}

#[derive(Debug)]
pub struct Account {
    params: Params,
    now: Second,
    /// Seeded from the scenario: ChaCha8 gives the same stream on every platform.
    rng: ChaCha8Rng,
    functions: Vec<Function>,
    index: BTreeMap<String, usize>,
    stages: Vec<Stage>,
    queues: Vec<Queue>,
    alarms: Vec<Alarm>,
    /// API Gateway's account-level bucket, shared by every API.
    api_account: Bucket,
    pending: Vec<Applied>,
    applied: Vec<Applied>,
    deliveries: Vec<Delivery>,
    delivered: usize,
    metrics: Series<AccountMinute>,
    ticks: Vec<RoleCounts>,
    scratch: step::Scratch,
}

impl Function {
    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn role(&self) -> Role {
        self.role
    }
    pub fn tags(&self) -> &BTreeMap<String, String> {
        &self.tags
    }
    pub fn duration_s(&self) -> f64 {
        self.duration_s
    }
    /// The reservation as `GetFunctionConcurrency` answers.
    pub fn reservation(&self) -> Reservation {
        self.configured
    }
    /// The reservation invocations obey now (it lags a change by the propagation delay).
    pub fn effective_reservation(&self) -> Reservation {
        self.effective
    }
    pub fn in_flight(&self) -> u64 {
        self.exec.in_flight()
    }
    pub fn totals(&self) -> &Counts {
        &self.totals
    }
    /// The first and last second Lambda throttled it.
    pub fn throttled_between(&self) -> Option<(Second, Second)> {
        self.first_throttle.zip(self.last_throttle)
    }
    /// Every closed minute's datapoints, published or not.
    pub fn minutes(&self) -> &[FunctionMinute] {
        self.metrics.closed()
    }
    pub fn arn(&self) -> String {
        function_arn(&self.name)
    }
}

pub fn function_arn(name: &str) -> String {
    format!("arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{name}")
}

impl Account {
    /// Seconds since the scenario started.
    pub fn now(&self) -> Second {
        self.now
    }

    pub fn params(&self) -> &Params {
        &self.params
    }

    pub fn functions(&self) -> &[Function] {
        &self.functions
    }

    pub fn function(&self, name: &str) -> Option<&Function> {
        self.index.get(name).map(|&i| &self.functions[i])
    }

    /// Whole minutes CloudWatch answers for now.
    pub fn published_minutes(&self) -> usize {
        published_minutes(self.now, self.params.cloudwatch.publish_delay_s)
            .min(self.metrics.closed().len())
    }

    /// A function's published minutes (`GetMetricData` now); `None` if it does not exist.
    pub fn function_metrics(&self, name: &str) -> Option<&[FunctionMinute]> {
        let f = self.function(name)?;
        Some(&f.metrics.closed()[..self.published_minutes()])
    }

    /// The account's published minutes.
    pub fn account_metrics(&self) -> &[AccountMinute] {
        &self.metrics.closed()[..self.published_minutes()]
    }

    /// Every closed minute of the account, published or not (for reports).
    pub fn account_minutes(&self) -> &[AccountMinute] {
        self.metrics.closed()
    }

    /// Peak `ConcurrentExecutions` of `name` over the published part of `minutes`; `None`
    /// when it has no datapoint there.
    pub fn peak(&self, name: &str, minutes: Range<usize>) -> Option<u64> {
        let series = self.function_metrics(name)?;
        clip(series, minutes)
            .iter()
            .filter(|m| m.active)
            .map(|m| m.concurrency)
            .max()
    }

    /// Peak account `ConcurrentExecutions` over the published part of `minutes`.
    pub fn account_peak(&self, minutes: Range<usize>) -> Option<u64> {
        clip(self.account_metrics(), minutes)
            .iter()
            .filter(|m| m.active)
            .map(|m| m.concurrent)
            .max()
    }

    pub fn alarms(&self) -> &[Alarm] {
        &self.alarms
    }

    pub fn alarm(&self, name: &str) -> Option<&Alarm> {
        self.alarms.iter().find(|a| a.def.name == name)
    }

    /// Every alarm state change into ALARM or OK, with when it reaches the remediator.
    pub fn deliveries(&self) -> &[Delivery] {
        &self.deliveries
    }

    /// The deliveries that have arrived since the last call.
    pub fn take_deliveries(&mut self) -> Vec<Delivery> {
        let start = self.delivered;
        while self
            .deliveries
            .get(self.delivered)
            .is_some_and(|d| d.deliver_at <= self.now)
        {
            self.delivered += 1;
        }
        self.deliveries[start..self.delivered].to_vec()
    }

    /// Whether the auditor's schedule fires this second.
    pub fn audit_due(&self) -> bool {
        let every = self.params.cloudwatch.audit_every_s;
        every > 0 && self.now > 0 && self.now.is_multiple_of(every)
    }

    /// Every change accepted so far.
    pub fn applied(&self) -> &[Applied] {
        &self.applied
    }

    /// Per second since the start, the counts by role (index with [`Role::index`]).
    pub fn ticks(&self) -> &[RoleCounts] {
        &self.ticks
    }

    /// Messages waiting in a queue (visible, or held by throttled pollers).
    pub fn queue_depth(&self, queue: &str) -> Option<u64> {
        self.queues
            .iter()
            .find(|q| q.name == queue)
            .map(Queue::depth)
    }

    /// Events waiting in a function's asynchronous queue.
    pub fn async_depth(&self, name: &str) -> Option<u64> {
        match &self.function(name)?.drive {
            Drive::Async(q) => Some(q.depth()),
            _ => None,
        }
    }

    /// `GetAccountSettings`.
    pub fn account_facts(&self) -> AccountFacts {
        let reserved: u32 = self.functions.iter().map(|f| f.configured.held()).sum();
        let limit = self.params.pool.account_limit;
        AccountFacts {
            limit: Some(limit),
            unreserved: Some(limit.saturating_sub(reserved)),
        }
    }

    /// A function as the guard's inventory reads it: reservation, tags, drivers.
    pub fn function_facts(&self, name: &str) -> Option<FunctionFacts> {
        let f = self.function(name)?;
        Some(FunctionFacts {
            name: f.name.clone(),
            arn: f.arn(),
            reservation: f.configured,
            tags: f.tags.clone(),
            drivers: vec![self.driver(f)],
        })
    }

    fn driver(&self, f: &Function) -> Driver {
        match &f.drive {
            Drive::Api { stage, route, .. } => {
                let s = &self.stages[*stage];
                Driver::Api {
                    target: ApiTarget {
                        kind: s.kind,
                        api_id: s.api_id.clone(),
                        stage: s.stage.clone(),
                        route: Some(route.clone()),
                    },
                    current: s.configured.for_route(route),
                    shared_entry: false,
                }
            }
            Drive::Queue { queue } => {
                let q = &self.queues[*queue];
                let mapping = q.mapping.as_ref();
                Driver::Queue {
                    uuid: mapping.map(|m| m.uuid.clone()).unwrap_or_default(),
                    source_arn: format!("arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{}", q.name),
                    maximum_concurrency: mapping.and_then(|m| m.configured_maximum),
                }
            }
            Drive::Async(_) => Driver::Other {
                source: "async".to_owned(),
            },
            Drive::Direct { .. } => Driver::Other {
                source: "direct".to_owned(),
            },
        }
    }

    /// Sets (`Some`) or removes (`None`) one tag of a function, as `TagResource` and
    /// `UntagResource` do; `false` if there is no such function.
    pub fn set_tag(&mut self, function: &str, key: &str, value: Option<&str>) -> bool {
        let Some(&i) = self.index.get(function) else {
            return false;
        };
        let tags = &mut self.functions[i].tags;
        match value {
            Some(v) => tags.insert(key.to_owned(), v.to_owned()),
            None => tags.remove(key),
        };
        true
    }

    /// Runs until `end` (seconds since the start).
    pub fn run_until(&mut self, end: Second) {
        while self.now < end {
            self.step();
        }
    }

    /// The minute `t` falls in.
    pub fn minute_of(t: Second) -> usize {
        (t / MINUTE) as usize
    }
}

fn clip<T>(series: &[T], minutes: Range<usize>) -> &[T] {
    let end = minutes.end.min(series.len());
    &series[minutes.start.min(end)..end]
}
