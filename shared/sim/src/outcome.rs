//! One run's summary: what each role suffered, when the victims' throttling began and ended
//! against the alarm and the first change, every alarm transition, what the guard did (when
//! it ran), and a per-minute series for pictures.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::Second;
use crate::account::{Account, Delivery};
use crate::alarm::Transition;
use crate::change::Applied;
use crate::cloudwatch::{AccountMinute, MINUTE};
use crate::guarded::GuardLog;
use crate::policy::Policy;
use crate::tally::{Counts, Role};
use cguard_core::intake::AlarmState;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Outcome {
    pub scenario: String,
    pub policy: Policy,
    pub seed: u64,
    pub duration_s: Second,
    pub roles: BTreeMap<Role, Counts>,
    pub functions: Vec<FunctionOutcome>,
    pub victims: Damage,
    /// The first second any alarm went into ALARM.
    pub first_alarm_s: Option<Second>,
    /// The first change made during the run (a baseline's are made before it starts): the
    /// guard's first action.
    pub first_change_s: Option<Second>,
    /// Each role's counts from the first change on (empty without one).
    pub since_first_change: BTreeMap<Role, Counts>,
    /// The guard's first restore.
    pub first_restore_s: Option<Second>,
    /// Alarm transitions into ALARM after the guard's first restore.
    pub realarms: u32,
    /// What the guard did; `None` for the baselines.
    pub guard: Option<GuardLog>,
    pub alarms: Vec<AlarmHistory>,
    pub deliveries: Vec<Delivery>,
    pub changes: Vec<Applied>,
    pub minutes: Vec<MinutePoint>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FunctionOutcome {
    pub name: String,
    pub role: Role,
    pub counts: Counts,
    /// Highest `ConcurrentExecutions` in any minute.
    pub peak_concurrency: u64,
    pub first_throttle_s: Option<Second>,
    pub last_throttle_s: Option<Second>,
}

/// When the victims were throttled.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Damage {
    pub throttled: u64,
    /// Seconds in which any victim was throttled.
    pub seconds_throttled: u64,
    pub first_throttle_s: Option<Second>,
    pub last_throttle_s: Option<Second>,
    /// The last throttle's second minus the first alarm's (negative: it ended before).
    pub last_throttle_after_alarm_s: Option<i64>,
    /// The last throttle's second minus the first change's.
    pub last_throttle_after_change_s: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlarmHistory {
    pub name: String,
    pub transitions: Vec<Transition>,
}

/// One minute: the account's datapoints and each role's counts (a role's mean concurrency is
/// its `execution_seconds` ÷ 60).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MinutePoint {
    pub minute: usize,
    pub account: AccountMinute,
    pub roles: BTreeMap<Role, Counts>,
}

impl Outcome {
    /// Summarises `account` after a run of `scenario` under `policy`.
    pub fn of(account: &Account, scenario: &str, seed: u64, policy: Policy) -> Self {
        let mut roles: BTreeMap<Role, Counts> = BTreeMap::new();
        for f in account.functions() {
            *roles.entry(f.role()).or_default() += f.totals();
        }
        let first_alarm_s = account
            .alarms()
            .iter()
            .flat_map(|a| &a.transitions)
            .filter(|t| t.to == AlarmState::Alarm)
            .map(|t| t.at)
            .min();
        let first_change_s = account
            .applied()
            .iter()
            .map(|c| c.applied_at)
            .filter(|&t| t > 0)
            .min();
        Self {
            scenario: scenario.to_owned(),
            policy,
            seed,
            duration_s: account.now(),
            roles,
            functions: account.functions().iter().map(function).collect(),
            victims: damage(account, first_alarm_s, first_change_s),
            first_alarm_s,
            first_change_s,
            since_first_change: first_change_s
                .map(|t| by_role(&account.ticks()[t as usize..]))
                .unwrap_or_default(),
            first_restore_s: None,
            realarms: 0,
            guard: None,
            alarms: account
                .alarms()
                .iter()
                .map(|a| AlarmHistory {
                    name: a.def.name.clone(),
                    transitions: a.transitions.clone(),
                })
                .collect(),
            deliveries: account.deliveries().to_vec(),
            changes: account.applied().to_vec(),
            minutes: minutes(account),
        }
    }

    /// One role's totals (zero if no function plays it).
    pub fn role(&self, role: Role) -> Counts {
        self.roles.get(&role).copied().unwrap_or_default()
    }

    /// One role's counts from the first change on.
    pub fn role_since_first_change(&self, role: Role) -> Counts {
        self.since_first_change
            .get(&role)
            .copied()
            .unwrap_or_default()
    }

    /// Adds what the guard did, and the re-alarms after its first restore.
    pub fn with_guard(mut self, log: GuardLog) -> Self {
        self.first_restore_s = log.first_restore_s();
        self.realarms = self.first_restore_s.map_or(0, |restored| {
            self.alarms
                .iter()
                .flat_map(|a| &a.transitions)
                .filter(|t| t.to == AlarmState::Alarm && t.at > restored)
                .count() as u32
        });
        self.guard = Some(log);
        self
    }
}

/// Each role's counts summed over `ticks`.
fn by_role(ticks: &[crate::tally::RoleCounts]) -> BTreeMap<Role, Counts> {
    Role::ALL
        .into_iter()
        .map(|role| {
            let mut sum = Counts::default();
            for tick in ticks {
                sum += &tick[role.index()];
            }
            (role, sum)
        })
        .collect()
}

fn function(f: &crate::account::Function) -> FunctionOutcome {
    let (first, last) = f.throttled_between().unzip();
    FunctionOutcome {
        name: f.name().to_owned(),
        role: f.role(),
        counts: *f.totals(),
        peak_concurrency: f.minutes().iter().map(|m| m.concurrency).max().unwrap_or(0),
        first_throttle_s: first,
        last_throttle_s: last,
    }
}

fn damage(account: &Account, alarm: Option<Second>, change: Option<Second>) -> Damage {
    let victim = Role::Victim.index();
    let mut d = Damage::default();
    for (t, tick) in account.ticks().iter().enumerate() {
        let n = tick[victim].throttled();
        if n > 0 {
            let t = t as Second;
            d.throttled += n;
            d.seconds_throttled += 1;
            d.first_throttle_s.get_or_insert(t);
            d.last_throttle_s = Some(t);
        }
    }
    let after = |at: Option<Second>| Some(i64::from(d.last_throttle_s?) - i64::from(at?));
    d.last_throttle_after_alarm_s = after(alarm);
    d.last_throttle_after_change_s = after(change);
    d
}

fn minutes(account: &Account) -> Vec<MinutePoint> {
    account
        .ticks()
        .chunks(MINUTE as usize)
        .enumerate()
        .map(|(minute, ticks)| {
            let roles = by_role(ticks);
            MinutePoint {
                minute,
                account: account
                    .account_minutes()
                    .get(minute)
                    .copied()
                    .unwrap_or_default(),
                roles,
            }
        })
        .collect()
}
