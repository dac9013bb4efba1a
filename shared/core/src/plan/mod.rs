//! Planning: from offenders and what drives them to tiered, bounded, reversible actions.
//!
//! Tier 1 limits at the source (API stage throttle → callers get 429 instead of 500; SQS
//! `MaximumConcurrency` → messages wait in the queue). Tier 2 caps the function's reservation.
//! Tier 3, reserved concurrency 0, only where policy allows it *and* the account is in an
//! emergency (see [`emergency`]). Nothing is ever raised, a reservation is never removed to
//! "cap", and the account's unreserved minimum is kept.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::alarm::IncidentId;
use crate::attribution::{Attribution, Ranked, round2};
use crate::config::Policy;
use crate::model::{
    AccountFacts, Action, ApiTarget, Change, Driver, FunctionFacts, Reservation, ResourceKey,
    Status, TAG_KILL_SWITCH, TAG_PROTECTED, Throttle, Tier,
};
use crate::record::Record;

/// An offender the plan leaves alone, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Skipped {
    pub function: String,
    pub reason: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub actions: Vec<Action>,
    pub skipped: Vec<Skipped>,
    pub notes: Vec<String>,
}

/// Everything planning reads; nothing here does I/O.
#[derive(Debug)]
pub struct PlanInput<'a> {
    pub incident: &'a IncidentId,
    pub attribution: &'a Attribution,
    /// By function name; an offender missing here was not found.
    pub facts: &'a BTreeMap<String, FunctionFacts>,
    pub account: AccountFacts,
    pub policy: &'a Policy,
    /// `None` for the remediator's first response (tiers 1 and 2); the auditor asks for exactly
    /// one tier when it escalates.
    pub escalate_to: Option<Tier>,
}

/// The documented emergency condition: the account's peak concurrency in the window reached
/// `emergency_utilization` of its limit. Unknown limit → no emergency can be established.
pub fn emergency(
    account_peak: Option<f64>,
    account: &AccountFacts,
    policy: &Policy,
) -> Result<f64, String> {
    match (account_peak, account.limit) {
        (Some(peak), Some(limit)) if limit > 0 => {
            let utilization = peak / f64::from(limit);
            if utilization >= policy.emergency_utilization {
                Ok(utilization)
            } else {
                Err(format!(
                    "no emergency: account at {:.0}% of its limit, below CGUARD_EMERGENCY_UTILIZATION {:.0}%",
                    utilization * 100.0,
                    policy.emergency_utilization * 100.0
                ))
            }
        }
        _ => Err("no emergency can be established: the account limit or peak is unknown".into()),
    }
}

pub fn plan(input: &PlanInput<'_>) -> Plan {
    let mut planner = Planner {
        input,
        plan: Plan::default(),
        budget: input.policy.max_actions,
        touched: BTreeSet::new(),
        unreserved: input.account.unreserved.map(i64::from),
        minimum: input
            .account
            .unreserved_minimum(input.policy.unreserved_minimum),
    };
    if input.account.limit.is_none() {
        planner.plan.notes.push(
            "account settings unavailable: the unreserved minimum is enforced by AWS's own check"
                .into(),
        );
    }
    for offender in &input.attribution.offenders {
        planner.offender(offender);
    }
    planner.plan
}

struct Planner<'a> {
    input: &'a PlanInput<'a>,
    plan: Plan,
    budget: usize,
    touched: BTreeSet<ResourceKey>,
    unreserved: Option<i64>,
    minimum: Option<u32>,
}

impl Planner<'_> {
    fn skip(&mut self, function: &str, reason: impl Into<String>) {
        self.plan.skipped.push(Skipped {
            function: function.to_owned(),
            reason: reason.into(),
        });
    }

    fn offender(&mut self, offender: &Ranked) {
        let policy = self.input.policy;
        let name = offender.function.as_str();
        let Some(facts) = self.input.facts.get(name) else {
            return self.skip(name, "function not found");
        };
        if policy.guard_functions.contains(name) {
            return self.skip(name, "one of the guard's own functions");
        }
        if facts.tagged(TAG_PROTECTED, "true") {
            return self.skip(name, format!("protected by tag {TAG_PROTECTED}=true"));
        }
        if policy.protected_functions.contains(name) {
            return self.skip(name, "protected by CGUARD_PROTECTED_FUNCTIONS");
        }
        let record = match Record::from_tags(&facts.tags) {
            Err(e) => {
                return self.skip(
                    name,
                    format!("{e}; not touching a function whose record cannot be read"),
                );
            }
            Ok(Some(r)) if &r.incident != self.input.incident => {
                return self.skip(
                    name,
                    format!(
                        "already under remediation by incident {} since {}; the auditor escalates it",
                        r.incident, r.opened_at
                    ),
                );
            }
            Ok(r) => r,
        };
        if let Some(r) = &record
            && self.input.escalate_to.is_none()
        {
            self.plan.notes.push(format!(
                    "{name}: incident {} was delivered before; only what it did not complete is planned",
                    r.incident
                ));
        }

        let target = policy.target_concurrency;
        let escalate_to = self.input.escalate_to;
        // Already capped by someone else: nothing to do. Capped by this very incident (a
        // redelivery after a partial failure): go on and complete what it did not.
        if let Reservation::Reserved(r) = facts.reservation
            && r <= target
            && escalate_to != Some(crate::model::Tier::KillSwitch)
            && record.is_none()
        {
            return self.skip(
                name,
                format!("already capped: reserved {r} ≤ target {target}"),
            );
        }

        let tiers: &[Tier] = match escalate_to {
            None => &[Tier::Source, Tier::Reservation],
            Some(Tier::Source) => &[Tier::Source],
            Some(Tier::Reservation) => &[Tier::Reservation],
            Some(Tier::KillSwitch) => &[Tier::KillSwitch],
        };
        let mut reservation_blocked = None;
        for tier in tiers {
            match tier {
                Tier::Source => self.source_limits(offender, facts, record.as_ref()),
                Tier::Reservation => {
                    reservation_blocked = self.reservation_cap(offender, facts, record.as_ref())
                }
                Tier::KillSwitch => self.kill_switch(offender, facts, record.as_ref(), None),
            }
        }
        // First response: the cap could not be placed (unreserved minimum) — in an emergency,
        // and only where allowed, the kill switch is what is left.
        if escalate_to.is_none()
            && let Some(why) = reservation_blocked
            && emergency(
                self.input.attribution.account_peak,
                &self.input.account,
                policy,
            )
            .is_ok()
        {
            self.kill_switch(offender, facts, record.as_ref(), Some(why));
        }
    }

    fn source_limits(&mut self, offender: &Ranked, facts: &FunctionFacts, record: Option<&Record>) {
        let target = self.input.policy.target_concurrency;
        let apis: BTreeMap<&ApiTarget, (Option<Throttle>, bool)> = facts
            .drivers
            .iter()
            .filter_map(|d| match d {
                Driver::Api {
                    target,
                    current,
                    shared_entry,
                } => Some((target, (*current, *shared_entry))),
                _ => None,
            })
            .collect();
        let queues: Vec<(&String, Option<u32>)> = facts
            .drivers
            .iter()
            .filter_map(|d| match d {
                Driver::Queue {
                    uuid,
                    maximum_concurrency,
                    ..
                } => Some((uuid, *maximum_concurrency)),
                _ => None,
            })
            .collect();
        for d in &facts.drivers {
            if let Driver::Other { source } = d {
                self.plan.notes.push(format!(
                    "{}: also invoked by {source}; only its reservation limits that",
                    facts.name
                ));
            }
        }

        if !apis.is_empty() {
            match offender.avg_duration_ms.filter(|d| *d > 0.0) {
                None => self.plan.notes.push(format!(
                    "{}: no Duration data in the window to size an API throttle; relying on the reservation",
                    facts.name
                )),
                Some(ms) => {
                    let seconds = ms / 1000.0;
                    let share = apis.len() as f64;
                    // Little's law: concurrency = rate × duration, so rate = target ÷ duration,
                    // shared between the stages that drive the function.
                    let rate = round2((f64::from(target) / seconds / share).max(1.0));
                    let burst = rate.ceil().max(1.0) as i32;
                    for (api, (current, shared_entry)) in apis {
                        let mut new = Throttle { rate, burst };
                        let rationale = format!(
                            "Little's law: target {target} ÷ average duration {seconds:.2} s = {:.2} req/s{}; \
                             at least 1 req/s, burst = one second of rate; offender peak {}",
                            f64::from(target) / seconds / share,
                            if share > 1.0 { format!(" ÷ {share} stages") } else { String::new() },
                            figures(offender)
                        );
                        let status = match current {
                            None if shared_entry => Some(Status::Skipped(
                                "the stage has other settings for this method and no throttle: a throttle could not be \
                                 removed later without removing them; the reservation limits instead"
                                    .into(),
                            )),
                            Some(c) if c.rate <= new.rate => Some(Status::Skipped(format!("already limited to {c}"))),
                            Some(c) => {
                                new.burst = new.burst.min(c.burst);
                                None
                            }
                            None => None,
                        };
                        let change = Change::Throttle { target: api.clone(), previous: current, new: Some(new) };
                        self.push(offender, Tier::Source, change, rationale, status, record);
                    }
                }
            }
        }

        let count = queues.len() as u32;
        for (uuid, current) in queues {
            let new = (target / count).clamp(2, 1000);
            let status = match current {
                Some(c) if c <= new => Some(Status::Skipped(format!(
                    "already limited to MaximumConcurrency {c}"
                ))),
                _ => None,
            };
            let rationale = format!(
                "SQS MaximumConcurrency = target {target}{} (bounded to 2..=1000): messages wait in the queue \
                 instead of being throttled into the DLQ; offender peak {}",
                if count > 1 {
                    format!(" ÷ {count} mappings")
                } else {
                    String::new()
                },
                figures(offender)
            );
            let change = Change::QueueConcurrency {
                uuid: uuid.clone(),
                previous: current,
                new: Some(new),
            };
            self.push(offender, Tier::Source, change, rationale, status, record);
        }
    }

    /// Plans the cap; returns why it cannot be placed when the unreserved minimum forbids it.
    fn reservation_cap(
        &mut self,
        offender: &Ranked,
        facts: &FunctionFacts,
        record: Option<&Record>,
    ) -> Option<String> {
        let target = self.input.policy.target_concurrency;
        let previous = facts.reservation;
        let held = match previous {
            Reservation::Reserved(r) => i64::from(r),
            Reservation::Unreserved => 0,
        };
        let mut cap = i64::from(target);
        let mut rationale = format!(
            "cap at target {target} (CGUARD_TARGET_CONCURRENCY); offender peak {}",
            figures(offender)
        );
        let mut status = match previous {
            Reservation::Reserved(r) if i64::from(r) <= cap => Some(Status::Skipped(format!(
                "already capped: reserved {r} ≤ {cap}"
            ))),
            _ => None,
        };
        let mut blocked = None;
        if status.is_none()
            && let (Some(unreserved), Some(minimum)) = (self.unreserved, self.minimum)
        {
            let after = unreserved - (cap - held);
            if after < i64::from(minimum) {
                let largest = unreserved + held - i64::from(minimum);
                if largest >= 1 {
                    rationale.push_str(&format!(
                        "; lowered from {target} to {largest} to keep the account's unreserved minimum {minimum} \
                         ({unreserved} unreserved now)"
                    ));
                    cap = largest;
                } else {
                    let why = format!(
                        "a reservation would leave unreserved concurrency below the account minimum {minimum} \
                         ({unreserved} unreserved now)"
                    );
                    status = Some(Status::Skipped(why.clone()));
                    blocked = Some(why);
                }
            }
        }
        let cap = u32::try_from(cap.max(1)).unwrap_or(target);
        let new = Reservation::Reserved(cap);
        let change = Change::Reservation {
            function: facts.name.clone(),
            previous,
            new,
        };
        let planned = self.push(
            offender,
            Tier::Reservation,
            change,
            rationale,
            status,
            record,
        );
        if planned && let Some(u) = self.unreserved.as_mut() {
            *u -= i64::from(cap) - held;
        }
        blocked
    }

    fn kill_switch(
        &mut self,
        offender: &Ranked,
        facts: &FunctionFacts,
        record: Option<&Record>,
        because: Option<String>,
    ) {
        let policy = self.input.policy;
        // After a tier-2 cap the current reservation is the cap; the record keeps the original.
        let previous = facts.reservation;
        let change = Change::Reservation {
            function: facts.name.clone(),
            previous,
            new: Reservation::Reserved(0),
        };
        let allowed = policy.kill_switch_allowed || facts.tagged(TAG_KILL_SWITCH, "allowed");
        let emergency = emergency(
            self.input.attribution.account_peak,
            &self.input.account,
            policy,
        );
        let (status, rationale) = match (allowed, emergency) {
            (false, _) => (
                Some(Status::Skipped(format!(
                    "kill switch not allowed: CGUARD_KILL_SWITCH_ALLOWED is false and the function is not tagged {TAG_KILL_SWITCH}=allowed"
                ))),
                "tier 3 requested".to_owned(),
            ),
            (true, Err(why)) => (Some(Status::Skipped(why)), "tier 3 requested".to_owned()),
            (true, Ok(u)) => (
                None,
                format!(
                    "emergency: account at {:.0}% of its limit; {}; offender peak {}",
                    u * 100.0,
                    because
                        .as_deref()
                        .unwrap_or("the spike persisted after the lower tiers"),
                    figures(offender)
                ),
            ),
        };
        let status = match (status, previous) {
            (None, Reservation::Reserved(0)) => Some(Status::Skipped("already reserved 0".into())),
            (s, _) => s,
        };
        self.push(
            offender,
            Tier::KillSwitch,
            change,
            rationale,
            status,
            record,
        );
    }

    /// Adds an action, applying the rules every action obeys: one change per resource per
    /// plan, a redelivered incident does not repeat itself, and the action budget. Returns
    /// whether the action is planned (will be carried out).
    fn push(
        &mut self,
        offender: &Ranked,
        tier: Tier,
        change: Change,
        rationale: String,
        status: Option<Status>,
        record: Option<&Record>,
    ) -> bool {
        let resource = change.resource();
        let status = status.or_else(|| {
            if self.touched.contains(&resource) && self.input.escalate_to.is_none() {
                return Some(Status::Skipped(
                    "this resource is already changed by this plan".into(),
                ));
            }
            // Recorded by this incident *and* made: the resource no longer holds the value the
            // record replaced. (A record whose change failed, and could not be taken back, still
            // sees the old value: that change is planned again.)
            if self.input.escalate_to.is_none()
                && let Some((_, done)) = record.and_then(|r| r.find(&resource))
                && done.change.previous_value() != change.previous_value()
            {
                return Some(Status::Skipped(format!(
                    "already recorded by this incident at {} (duplicate delivery)",
                    done.at
                )));
            }
            if self.budget == 0 {
                return Some(Status::Skipped(format!(
                    "action budget exhausted (CGUARD_MAX_ACTIONS={})",
                    self.input.policy.max_actions
                )));
            }
            None
        });
        let planned = status.is_none();
        if planned {
            self.budget -= 1;
            self.touched.insert(resource);
        }
        self.plan.actions.push(Action {
            function: offender.function.clone(),
            tier,
            change,
            rationale,
            status: status.unwrap_or(Status::Planned),
        });
        planned
    }
}

fn figures(r: &Ranked) -> String {
    let mut parts = Vec::new();
    if let Some(p) = r.peak_concurrency {
        parts.push(format!("{p:.0} concurrent"));
    }
    if let (Some(rate), Some(d)) = (r.invocations_per_second, r.avg_duration_ms) {
        parts.push(format!(
            "{rate:.2} req/s × {:.2} s ≈ {:.0} (Little's law)",
            d / 1000.0,
            rate * d / 1000.0
        ));
    }
    if parts.is_empty() {
        "unmeasured".into()
    } else {
        parts.join(", ")
    }
}

#[cfg(test)]
mod tests;
