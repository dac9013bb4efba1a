//! Changing the account, and reading back what is configured — as the guard's actuator would
//! see it: the configured value at once, its effect after the propagation delay.

use cguard_core::model::{ApiTarget, Change, Current, Reservation, Throttle};

use super::Account;
use crate::Second;
use crate::api::Stage;
use crate::change::{Applied, MAXIMUM_CONCURRENCY_RANGE, Refusal, Setting};
use crate::sqs::Mapping;

impl Account {
    /// Makes a change as its API would: validated now, readable now, obeyed after the
    /// propagation delay.
    pub fn apply(&mut self, setting: Setting) -> Result<(), Refusal> {
        let delay = self.validate_and_configure(&setting)?;
        let change = Applied {
            setting,
            applied_at: self.now,
            effective_at: self.now + delay,
        };
        self.applied.push(change.clone());
        if delay == 0 {
            self.take_effect(&change.setting);
        } else {
            self.pending.push(change);
        }
        Ok(())
    }

    /// The reservation `GetFunctionConcurrency` reads; `None` if no such function.
    pub fn reservation(&self, function: &str) -> Option<Reservation> {
        self.function(function).map(|f| f.configured)
    }

    /// The throttle configured at exactly `target` (the stage default for `route: None`,
    /// else that method's own setting), as `GetStage` reads it.
    pub fn throttle(&self, target: &ApiTarget) -> Result<Option<Throttle>, Refusal> {
        let stage = self.stage(target)?;
        Ok(match &target.route {
            None => stage.configured.default,
            Some(route) => stage.configured.routes.get(route).copied(),
        })
    }

    /// What a guard's change targets holds now (the actuator's read-back before a change and
    /// a restore).
    pub fn current(&self, change: &Change) -> Result<Current, Refusal> {
        Ok(match Setting::from(change) {
            Setting::Reservation { function, .. } => Current::Reservation(
                self.reservation(&function)
                    .ok_or(Refusal::NoSuchFunction(function))?,
            ),
            Setting::Throttle { target, .. } => Current::Throttle(self.throttle(&target)?),
            Setting::QueueConcurrency { uuid, .. } => {
                Current::QueueConcurrency(self.queue_concurrency(&uuid)?)
            }
        })
    }

    /// `ScalingConfig.MaximumConcurrency` as `GetEventSourceMapping` reads it.
    pub fn queue_concurrency(&self, uuid: &str) -> Result<Option<u32>, Refusal> {
        Ok(self.mapping(uuid)?.configured_maximum)
    }

    /// Changes whose effect is due by `t` take it, in the order they were made.
    pub(super) fn apply_due(&mut self, t: Second) {
        if self.pending.iter().all(|p| p.effective_at > t) {
            return;
        }
        let (due, waiting): (Vec<_>, Vec<_>) = std::mem::take(&mut self.pending)
            .into_iter()
            .partition(|p| p.effective_at <= t);
        self.pending = waiting;
        for p in due {
            self.take_effect(&p.setting);
        }
    }

    /// Checks the change as the API would and stores the configured value; returns the
    /// propagation delay.
    fn validate_and_configure(&mut self, setting: &Setting) -> Result<Second, Refusal> {
        let delays = &self.params.propagation;
        match setting {
            Setting::Reservation { function, value } => {
                let i = *self
                    .index
                    .get(function)
                    .ok_or_else(|| Refusal::NoSuchFunction(function.clone()))?;
                let others: i64 = self
                    .functions
                    .iter()
                    .enumerate()
                    .filter(|(j, _)| *j != i)
                    .map(|(_, f)| i64::from(f.configured.held()))
                    .sum();
                let pool = &self.params.pool;
                let would_leave = i64::from(pool.account_limit) - others - i64::from(value.held());
                if *value != Reservation::Unreserved
                    && would_leave < i64::from(pool.unreserved_minimum)
                {
                    return Err(Refusal::BelowUnreservedMinimum {
                        would_leave,
                        minimum: pool.unreserved_minimum,
                    });
                }
                let delay = delays.reservation_s;
                self.functions[i].configured = *value;
                Ok(delay)
            }
            Setting::Throttle { target, value } => {
                if let Some(t) = value
                    && !(t.rate.is_finite() && t.rate >= 0.0 && t.burst >= 0)
                {
                    return Err(Refusal::InvalidThrottle(*t));
                }
                let delay = delays.stage_throttle_s;
                let stage = self.stage_mut(target)?;
                set_throttle(&mut stage.configured, target, *value);
                Ok(delay)
            }
            Setting::QueueConcurrency { uuid, value } => {
                if let Some(v) = value
                    && !MAXIMUM_CONCURRENCY_RANGE.contains(v)
                {
                    return Err(Refusal::MaximumConcurrencyOutOfRange(*v));
                }
                let delay = delays.queue_concurrency_s;
                self.mapping_mut(uuid)?.configured_maximum = *value;
                Ok(delay)
            }
        }
    }

    /// The model starts obeying a change. Targets were checked when it was made and are
    /// never removed, so a lookup cannot fail here; if one did, there is nothing to obey.
    fn take_effect(&mut self, setting: &Setting) {
        match setting {
            Setting::Reservation { function, value } => {
                if let Some(&i) = self.index.get(function) {
                    self.functions[i].effective = *value;
                }
            }
            Setting::Throttle { target, value } => {
                if let Ok(stage) = self.stage_mut(target) {
                    set_throttle(&mut stage.effective, target, *value);
                }
            }
            Setting::QueueConcurrency { uuid, value } => {
                if let Ok(m) = self.mapping_mut(uuid) {
                    m.effective_maximum = *value;
                }
            }
        }
    }

    fn stage(&self, target: &ApiTarget) -> Result<&Stage, Refusal> {
        self.stages
            .iter()
            .find(|s| is_stage(s, target))
            .ok_or_else(|| Refusal::NoSuchStage(target.to_string()))
    }

    fn stage_mut(&mut self, target: &ApiTarget) -> Result<&mut Stage, Refusal> {
        self.stages
            .iter_mut()
            .find(|s| is_stage(s, target))
            .ok_or_else(|| Refusal::NoSuchStage(target.to_string()))
    }

    fn mapping(&self, uuid: &str) -> Result<&Mapping, Refusal> {
        self.queues
            .iter()
            .filter_map(|q| q.mapping.as_ref())
            .find(|m| m.uuid == uuid)
            .ok_or_else(|| Refusal::NoSuchMapping(uuid.to_owned()))
    }

    fn mapping_mut(&mut self, uuid: &str) -> Result<&mut Mapping, Refusal> {
        self.queues
            .iter_mut()
            .filter_map(|q| q.mapping.as_mut())
            .find(|m| m.uuid == uuid)
            .ok_or_else(|| Refusal::NoSuchMapping(uuid.to_owned()))
    }
}

fn is_stage(s: &Stage, target: &ApiTarget) -> bool {
    s.kind == target.kind && s.api_id == target.api_id && s.stage == target.stage
}

fn set_throttle(
    throttles: &mut crate::api::StageThrottles,
    target: &ApiTarget,
    value: Option<Throttle>,
) {
    match (&target.route, value) {
        (None, v) => throttles.default = v,
        (Some(route), Some(v)) => {
            throttles.routes.insert(route.clone(), v);
        }
        (Some(route), None) => {
            throttles.routes.remove(route);
        }
    }
}
