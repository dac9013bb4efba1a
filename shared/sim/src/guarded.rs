//! The guard itself, running in the simulated account: nothing of it is re-implemented here.
//! Each second the account steps; every alarm state change that reaches the remediator is
//! rendered as the SNS notification the template sends and read by the guard's own intake,
//! then handed to [`Guard::remediate`]; on the auditor's schedule [`Guard::audit`] runs. The
//! ports are the simulated account's ([`SimAccount`]), on the simulated clock.
//!
//! The engine needs no runtime: its ports here answer at once, so `block_on` drives each call.

use std::collections::BTreeMap;

use cguard_core::audit::AuditReport;
use cguard_core::config::Policy as GuardPolicy;
use cguard_core::model::{Action, Change, Status, Tier};
use cguard_core::report::Report;
use cguard_engine::Guard;
use futures::executor::block_on;
use serde::Serialize;

use crate::Second;
use crate::account::{Account, Delivery};
use crate::alarm::AlarmDef;
use crate::clock;
use crate::notify;
use crate::outcome::Outcome;
use crate::policy::Policy;
use crate::ports::SimAccount;
use crate::scenario::{Scenario, ScenarioError};
use crate::tally::Role;

/// Who made a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Actor {
    Remediator,
    Auditor,
}

/// One action or restore step as the guard's report gave it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Step {
    pub at: Second,
    pub by: Actor,
    pub function: String,
    pub tier: Tier,
    pub change: Change,
    /// The status as the report words it (`APPLIED`, `SKIPPED: …`).
    pub status: String,
    pub applied: bool,
}

/// A notification the guard did not act on because CloudWatch did not confirm it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Unconfirmed {
    pub at: Second,
    pub alarm: String,
    pub why: String,
}

/// What the guard did in one run, from its own reports.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct GuardLog {
    /// Alarm notifications handed to the remediator (into ALARM and into OK).
    pub notifications: u32,
    pub unconfirmed: Vec<Unconfirmed>,
    /// Notifications the guard's intake refused (none is expected: the payloads are AWS's).
    pub intake_errors: Vec<String>,
    /// Every action planned by the remediator or an escalation, with what became of it.
    pub actions: Vec<Step>,
    /// Every restore step.
    pub restores: Vec<Step>,
    pub audit_passes: u32,
}

impl GuardLog {
    pub fn first_action_s(&self) -> Option<Second> {
        self.actions.iter().find(|s| s.applied).map(|s| s.at)
    }

    pub fn first_restore_s(&self) -> Option<Second> {
        self.restores.iter().find(|s| s.applied).map(|s| s.at)
    }

    fn remediated(&mut self, at: Second, report: &Report) {
        self.notifications += 1;
        if let (Some(why), Some(alarm)) = (&report.unconfirmed, &report.alarm) {
            self.unconfirmed.push(Unconfirmed {
                at,
                alarm: alarm.name.clone(),
                why: why.to_string(),
            });
        }
        self.actions.extend(
            report
                .actions
                .iter()
                .map(|a| step(at, Actor::Remediator, a)),
        );
    }

    fn audited(&mut self, at: Second, report: &AuditReport) {
        self.audit_passes += 1;
        for incident in &report.incidents {
            self.actions.extend(
                incident
                    .escalation
                    .iter()
                    .map(|a| step(at, Actor::Auditor, a)),
            );
            self.restores.extend(incident.restore.iter().map(|u| Step {
                at,
                by: Actor::Auditor,
                function: incident.function.clone(),
                tier: u.tier,
                change: u.change.clone(),
                status: u.status.to_string(),
                applied: u.status == Status::Applied,
            }));
        }
    }
}

fn step(at: Second, by: Actor, a: &Action) -> Step {
    Step {
        at,
        by,
        function: a.function.clone(),
        tier: a.tier,
        change: a.change.clone(),
        status: a.status.to_string(),
        applied: a.status == Status::Applied,
    }
}

/// The guard's policy in a scenario: its defaults, the scenario's protected functions listed
/// as well as tagged, the account's unreserved minimum, and the kill switch where `kill_switch`.
pub fn guard_policy(scenario: &Scenario, kill_switch: bool) -> GuardPolicy {
    GuardPolicy {
        kill_switch_allowed: kill_switch,
        protected_functions: scenario
            .functions
            .iter()
            .filter(|f| f.role == Role::Protected)
            .map(|f| f.name.clone())
            .collect(),
        unreserved_minimum: Some(scenario.params.pool.unreserved_minimum),
        ..GuardPolicy::default()
    }
}

/// Runs `scenario` to its end with the guard under `policy` (one of the guard's policies).
pub fn run(scenario: &Scenario, policy: Policy) -> Result<Outcome, ScenarioError> {
    let account = Account::new(scenario, &scenario.name)?;
    let alarms: BTreeMap<String, AlarmDef> = scenario
        .alarm_defs()
        .into_iter()
        .map(|d| (d.name.clone(), d))
        .collect();
    let guard = Guard::new(
        SimAccount::new(account),
        guard_policy(scenario, policy == Policy::KillSwitch),
    );
    let mut log = GuardLog::default();
    loop {
        let (now, deliveries, audit_due) = {
            let mut a = guard.ports().lock();
            if a.now() >= scenario.duration_s {
                break;
            }
            a.step();
            (a.now(), a.take_deliveries(), a.audit_due())
        };
        for delivery in &deliveries {
            deliver(&guard, &alarms, delivery, now, &mut log);
        }
        if audit_due {
            let report = block_on(guard.audit(clock::at(now)));
            log.audited(now, &report);
        }
    }
    let account = guard.ports().lock();
    Ok(Outcome::of(&account, &scenario.name, scenario.seed, policy).with_guard(log))
}

/// One notification through the guard's intake and the remediator.
fn deliver(
    guard: &Guard<SimAccount>,
    alarms: &BTreeMap<String, AlarmDef>,
    delivery: &Delivery,
    now: Second,
    log: &mut GuardLog,
) {
    let Some(def) = alarms.get(&delivery.alarm) else {
        return;
    };
    match notify::requests(def, delivery) {
        Ok(requests) => {
            for request in &requests {
                let report = block_on(guard.remediate(request, clock::at(now)));
                log.remediated(now, &report);
            }
        }
        Err(e) => log.intake_errors.push(format!("{}: {e}", delivery.alarm)),
    }
}
