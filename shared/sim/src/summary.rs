//! One run in one row: the figures the outcome table shows, the goals are checked on, and
//! `--json` prints.

use serde::Serialize;

use crate::Second;
use crate::outcome::Outcome;
use crate::policy::Policy;
use crate::tally::{Counts, Role};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub scenario: String,
    pub policy: Policy,
    /// Victims' throttled invocations, and when the last one was against the first alarm and
    /// the guard's first action (seconds; negative: before).
    pub victims_throttled: u64,
    pub victims_last_throttle_s: Option<Second>,
    pub victims_end_after_alarm_s: Option<i64>,
    pub victims_end_after_action_s: Option<i64>,
    /// What the offenders' callers got: API Gateway's 500 (Lambda throttled) or 429 (its own
    /// throttle), over the run and from the guard's first action on.
    pub offender_callers: Callers,
    pub offender_callers_after_action: Callers,
    pub victim_callers: Callers,
    /// Messages SQS moved to a DLQ, every function.
    pub messages_to_dlq: u64,
    /// Async events older than their maximum age, and those lost (no destination), every
    /// function; kill-switched events are counted apart.
    pub events_expired: u64,
    pub events_kill_switched: u64,
    pub events_dropped: u64,
    pub first_alarm_s: Option<Second>,
    pub first_action_s: Option<Second>,
    /// The guard's applied actions and restore steps.
    pub actions: usize,
    pub restores: usize,
    pub first_restore_s: Option<Second>,
    /// Alarm transitions into ALARM after the guard's first restore.
    pub realarms: u32,
    /// Applied actions on a protected function (the guard must never make one).
    pub protected_actions: usize,
    /// Notifications CloudWatch did not confirm.
    pub unconfirmed: usize,
}

/// Callers' responses from API Gateway.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Callers {
    pub status_500: u64,
    pub status_429: u64,
}

impl From<Counts> for Callers {
    fn from(c: Counts) -> Self {
        Self {
            status_500: c.callers_500,
            status_429: c.callers_429,
        }
    }
}

impl Summary {
    pub fn of(o: &Outcome) -> Self {
        let all = Role::ALL
            .into_iter()
            .fold(Counts::default(), |mut sum, role| {
                sum += &o.role(role);
                sum
            });
        let protected: Vec<&str> = o
            .functions
            .iter()
            .filter(|f| f.role == Role::Protected)
            .map(|f| f.name.as_str())
            .collect();
        let guard = o.guard.as_ref();
        let applied = |steps: Option<&Vec<crate::guarded::Step>>| {
            steps.map_or(0, |s| s.iter().filter(|s| s.applied).count())
        };
        Self {
            scenario: o.scenario.clone(),
            policy: o.policy,
            victims_throttled: o.victims.throttled,
            victims_last_throttle_s: o.victims.last_throttle_s,
            victims_end_after_alarm_s: o.victims.last_throttle_after_alarm_s,
            victims_end_after_action_s: o.victims.last_throttle_after_change_s,
            offender_callers: o.role(Role::Offender).into(),
            offender_callers_after_action: o.role_since_first_change(Role::Offender).into(),
            victim_callers: o.role(Role::Victim).into(),
            messages_to_dlq: all.messages_to_dlq,
            events_expired: all.events_expired,
            events_kill_switched: all.events_kill_switched,
            events_dropped: all.events_dropped,
            first_alarm_s: o.first_alarm_s,
            first_action_s: o.first_change_s,
            actions: applied(guard.map(|g| &g.actions)),
            restores: applied(guard.map(|g| &g.restores)),
            first_restore_s: o.first_restore_s,
            realarms: o.realarms,
            protected_actions: guard.map_or(0, |g| {
                g.actions
                    .iter()
                    .filter(|s| s.applied && protected.contains(&s.function.as_str()))
                    .count()
            }),
            unconfirmed: guard.map_or(0, |g| g.unconfirmed.len()),
        }
    }
}
