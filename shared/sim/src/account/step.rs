//! One simulated second, in the order the account lives it: invocations finish, sources
//! offer work, Lambda admits or throttles it (the function's own limits, then the shared
//! pool), each source settles what was refused, CloudWatch records the second; at a
//! minute's end the minute closes, and on the evaluation second the alarms are evaluated.

use cguard_core::intake::AlarmState;
use cguard_core::model::Reservation;

use rand::rngs::ChaCha8Rng;

use super::{Account, Delivery, Drive, Function};
use crate::alarm::AlarmMetric;
use crate::api::bucket_limit;
use crate::async_queue::Settled;
use crate::cloudwatch::MINUTE;
use crate::execution::Limited;
use crate::load::{arrivals, round_stochastic};
use crate::params::Params;
use crate::share::proportional;
use crate::sqs::Queue;
use crate::tally::{Counts, RoleCounts};

/// Per-second working space, kept between seconds to spare allocations.
#[derive(Debug, Default)]
pub(super) struct Scratch {
    ticks: Vec<FunctionTick>,
    claims: Vec<u64>,
    grants: Vec<u64>,
    members: Vec<usize>,
}

/// One function's second.
#[derive(Debug, Default, Clone, Copy)]
struct FunctionTick {
    counts: Counts,
    /// Invocations the source tries.
    wanted: u64,
    limited: Limited,
    admitted: u64,
}

impl Account {
    /// Advances the account by one second.
    pub fn step(&mut self) {
        let t = self.now;
        self.apply_due(t);
        self.scratch.ticks.clear();
        self.scratch
            .ticks
            .resize(self.functions.len(), FunctionTick::default());
        self.complete(t);
        self.offer(t);
        self.limit_and_share();
        self.settle(t);
        self.now = t + 1;
        if self.now.is_multiple_of(MINUTE) {
            self.close_minute();
        }
        if self.now % MINUTE == self.params.cloudwatch.evaluation_offset_s % MINUTE {
            self.evaluate_alarms();
        }
    }

    /// Invocations due to finish free their slots; a function that emits to a queue sends
    /// its messages.
    fn complete(&mut self, t: u32) {
        let Self {
            functions,
            queues,
            rng,
            scratch,
            ..
        } = self;
        for f in functions.iter_mut() {
            let done = f.exec.release(t);
            if let Some((q, per)) = f.emits {
                let sent = round_stochastic(done as f64 * per, rng);
                queues[q].send(sent);
                if let Some(m) = &queues[q].mapping {
                    scratch.ticks[m.function].counts.arrivals += sent;
                }
            }
        }
    }

    /// Each source's arrivals, and what it offers Lambda.
    fn offer(&mut self, t: u32) {
        let Self {
            functions,
            queues,
            stages,
            rng,
            scratch,
            params,
            ..
        } = self;
        for (f, tick) in functions.iter_mut().zip(scratch.ticks.iter_mut()) {
            let fresh = arrivals(&f.loads, t, rng);
            tick.counts.arrivals += fresh;
            match &mut f.drive {
                Drive::Api {
                    stage,
                    route,
                    bucket,
                    callers,
                    retries,
                    attempts,
                } => {
                    *attempts = retries.requests(t, fresh, callers);
                    let requests = attempts.total();
                    tick.counts.arrivals += requests - fresh;
                    let limit = bucket_limit(stages[*stage].effective.for_route(route));
                    tick.wanted = bucket.take(requests, limit, params.api_gateway.overrun);
                }
                Drive::Direct {
                    callers,
                    retries,
                    attempts,
                } => {
                    *attempts = retries.requests(t, fresh, callers);
                    tick.wanted = attempts.total();
                    tick.counts.arrivals += tick.wanted - fresh;
                }
                Drive::Queue { queue } => {
                    let q = &mut queues[*queue];
                    q.send(fresh);
                    let offer = q.offer(t, f.exec.in_flight());
                    tick.wanted = offer.batches;
                    tick.counts.messages_to_dlq += offer.to_dlq;
                }
                Drive::Async(q) => {
                    let mut lost = Settled::default();
                    tick.wanted = q.offer(t, fresh, &mut lost);
                    add_settled(&mut tick.counts, &lost);
                }
            }
        }
        self.api_account_limit();
    }

    /// API Gateway's account-level bucket, shared by every API in proportion to demand.
    fn api_account_limit(&mut self) {
        let Self {
            functions,
            scratch,
            params,
            api_account,
            ..
        } = self;
        scratch.claims.clear();
        scratch.members.clear();
        for (i, f) in functions.iter().enumerate() {
            if matches!(f.drive, Drive::Api { .. }) {
                scratch.claims.push(scratch.ticks[i].wanted);
                scratch.members.push(i);
            }
        }
        let claimed = scratch.claims.iter().sum();
        let gw = &params.api_gateway;
        let allowed = api_account.take(claimed, Some((gw.account_rate, gw.account_burst)), 0.0);
        proportional(&scratch.claims, allowed, &mut scratch.grants);
        for (k, &i) in scratch.members.iter().enumerate() {
            let tick = &mut scratch.ticks[i];
            tick.wanted = scratch.grants[k];
            tick.counts.callers_429 = tick.counts.arrivals - tick.wanted;
        }
    }

    /// Each function's own limits, then the unreserved pool shared among the unreserved
    /// functions in proportion to what they still want.
    fn limit_and_share(&mut self) {
        let Self {
            functions,
            scratch,
            params,
            ..
        } = self;
        // A reserved function holds its reservation, or more while invocations admitted
        // before a lower reservation still run: they occupy the account's pool until they end.
        let reserved: u64 = functions
            .iter()
            .filter(|f| f.effective != Reservation::Unreserved)
            .map(|f| u64::from(f.effective.held()).max(f.exec.in_flight()))
            .sum();
        let unreserved_busy: u64 = functions
            .iter()
            .filter(|f| f.effective == Reservation::Unreserved)
            .map(|f| f.exec.in_flight())
            .sum();
        let free = u64::from(params.pool.account_limit)
            .saturating_sub(reserved)
            .saturating_sub(unreserved_busy);
        scratch.claims.clear();
        scratch.members.clear();
        for (i, f) in functions.iter().enumerate() {
            let tick = &mut scratch.ticks[i];
            let reservation = match f.effective {
                Reservation::Reserved(n) => Some(n),
                Reservation::Unreserved => None,
            };
            tick.limited = f.exec.limit(tick.wanted, reservation);
            if reservation.is_some() {
                tick.admitted = tick.limited.passed;
            } else {
                scratch.claims.push(f.exec.slots_for(tick.limited.passed));
                scratch.members.push(i);
            }
        }
        proportional(&scratch.claims, free, &mut scratch.grants);
        for (k, &i) in scratch.members.iter().enumerate() {
            let tick = &mut scratch.ticks[i];
            let fits = functions[i].exec.invocations_in(scratch.grants[k]);
            tick.admitted = tick.limited.passed.min(fits);
        }
    }

    /// Starts what was admitted; each source settles what was throttled; the second is
    /// counted and recorded.
    fn settle(&mut self, t: u32) {
        let Self {
            functions,
            queues,
            rng,
            scratch,
            params,
            ticks,
            metrics,
            ..
        } = self;
        let mut roles = RoleCounts::default();
        let (mut concurrent, mut unreserved, mut reserved) = (0, 0, 0);
        for (f, tick) in functions.iter_mut().zip(scratch.ticks.iter_mut()) {
            f.exec.admit(t, tick.admitted);
            let c = &mut tick.counts;
            c.invocations += tick.admitted;
            c.throttled_reservation += tick.limited.by_reservation;
            c.throttled_scaling += tick.limited.by_scaling;
            c.throttled_pool += tick.limited.passed - tick.admitted;
            f.settle_source(t, tick, queues, params, rng);
            f.exec.refill(&params.scaling);
            let in_flight = f.exec.in_flight();
            tick.counts.execution_seconds = in_flight;
            f.record(t, tick);
            roles[f.role.index()] += &tick.counts;
            concurrent += in_flight;
            match f.effective {
                Reservation::Unreserved => unreserved += in_flight,
                Reservation::Reserved(n) => reserved += u64::from(n),
            }
        }
        metrics
            .current
            .observe(concurrent, unreserved, unreserved + reserved);
        ticks.push(roles);
    }

    fn close_minute(&mut self) {
        for f in &mut self.functions {
            f.metrics.close();
            f.exec.close_minute(&self.params.scaling);
        }
        self.metrics.close();
    }

    /// An alarm's datapoints, oldest first, as CloudWatch reads them once `published` minutes
    /// are readable (the evaluation's input, and what a guard re-reads to confirm it).
    pub fn alarm_datapoints(&self, name: &str, published: usize) -> Option<Vec<Option<f64>>> {
        let alarm = self.alarm(name)?;
        let published = published.min(self.metrics.closed().len());
        Some(
            alarm
                .def
                .datapoints(published, |m| self.datapoint(&alarm.def.metric, m)),
        )
    }

    /// Every alarm on what CloudWatch has published by now; a change of state is sent on.
    fn evaluate_alarms(&mut self) {
        let published = self.published_minutes();
        let latency = self.params.cloudwatch.delivery_latency_s;
        for a in 0..self.alarms.len() {
            let alarm = &self.alarms[a];
            let datapoints = alarm
                .def
                .datapoints(published, |m| self.datapoint(&alarm.def.metric, m));
            let now = self.now;
            let alarm = &mut self.alarms[a];
            if let Some(change) = alarm.evaluate(now, datapoints)
                && change.to != AlarmState::InsufficientData
            {
                self.deliveries.push(Delivery {
                    alarm: alarm.def.name.clone(),
                    transition: change,
                    deliver_at: now + latency,
                });
            }
        }
    }

    /// One minute's datapoint of an alarm's metric; `None` if Lambda emitted none.
    fn datapoint(&self, metric: &AlarmMetric, minute: usize) -> Option<f64> {
        use crate::alarm::{AccountMetric as A, FunctionMetric as F};
        match metric {
            AlarmMetric::Account { name } => {
                let m = self.metrics.closed().get(minute).filter(|m| m.active)?;
                Some(match name {
                    A::ConcurrentExecutions => m.concurrent,
                    A::UnreservedConcurrentExecutions => m.unreserved,
                    A::ClaimedAccountConcurrency => m.claimed,
                } as f64)
            }
            AlarmMetric::Function { function, name } => {
                let f = self.function(function)?;
                let m = f.metrics.closed().get(minute).filter(|m| m.active)?;
                Some(match name {
                    F::ConcurrentExecutions => m.concurrency,
                    F::Throttles => m.throttles,
                    F::Invocations => m.invocations,
                } as f64)
            }
        }
    }
}

impl Function {
    /// What the source does with what Lambda refused: callers get their 500 (behind API
    /// Gateway) or 429 (direct) and may retry, SQS pollers hold their batches, async events
    /// wait for their next try.
    fn settle_source(
        &mut self,
        t: u32,
        tick: &mut FunctionTick,
        queues: &mut [Queue],
        params: &Params,
        rng: &mut ChaCha8Rng,
    ) {
        let c = &mut tick.counts;
        let failed = tick.wanted - tick.admitted;
        match &mut self.drive {
            Drive::Api {
                callers,
                retries,
                attempts,
                ..
            } => {
                c.callers_500 += failed;
                let refused = failed + c.callers_429;
                c.callers_gave_up += retries.settle(t, attempts, refused, callers, rng);
            }
            Drive::Direct {
                callers,
                retries,
                attempts,
            } => {
                c.callers_throttled += failed;
                c.callers_gave_up += retries.settle(t, attempts, failed, callers, rng);
            }
            Drive::Queue { queue } => {
                c.messages_processed +=
                    queues[*queue].settle(tick.wanted, tick.admitted, &params.sqs);
            }
            Drive::Async(q) => {
                let mut settled = Settled::default();
                let kill_switch = self.effective == Reservation::Reserved(0);
                q.settle(
                    t,
                    tick.admitted,
                    kill_switch,
                    &params.async_invocation,
                    &mut settled,
                );
                add_settled(c, &settled);
            }
        }
    }

    /// The second in the function's totals and its CloudWatch minute.
    fn record(&mut self, t: u32, tick: &FunctionTick) {
        let throttled = tick.counts.throttled();
        if throttled > 0 {
            self.first_throttle.get_or_insert(t);
            self.last_throttle = Some(t);
        }
        self.metrics
            .current
            .observe(self.exec.in_flight(), tick.admitted, throttled);
        self.totals += &tick.counts;
    }
}

fn add_settled(c: &mut Counts, s: &Settled) {
    c.events_processed += s.processed;
    c.events_expired += s.expired;
    c.events_kill_switched += s.kill_switched;
    c.events_dropped += s.dropped;
}
