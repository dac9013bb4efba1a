//! Planning: from offenders and what drives them to tiered, bounded, reversible actions.
//!
//! Tier 1 limits at the source (API stage throttle → callers get 429 instead of 500; SQS
//! `MaximumConcurrency` → messages wait in the queue). Tier 2 caps the function's reservation.
//! A victim alarm also relieves the victim where its own configuration hurts it: an SQS
//! consumer held back by its reservation gets a `MaximumConcurrency` within it (`victim`).
//! Tier 3, reserved concurrency 0, only where policy allows it *and* the account is in an
//! emergency (see [`emergency`]). Nothing is ever raised, a reservation is never removed to
//! "cap", and the account's unreserved minimum is kept.
//!
//! Who may be touched is `eligibility`'s; what each tier proposes is `tiers`'s, with the
//! formulas in [`sizing`]; why, in words, is [`reasons`]'s. This module keeps the rules every
//! action obeys.

mod eligibility;
pub mod reasons;
pub mod sizing;
mod tiers;
mod victim;

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::attribution::{Attribution, Ranked};
use crate::config::Policy;
use crate::intake::IncidentId;
use crate::model::{AccountFacts, Action, Change, FunctionFacts, ResourceKey, Status, Tier};
use crate::record::Record;

pub use eligibility::taken;
pub use reasons::{Figures, Skip, Why};
pub use sizing::{Floor, NoEmergency, emergency};

use eligibility::Eligible;
use tiers::Proposal;

/// An offender the plan leaves alone, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Skipped {
    pub function: String,
    pub reason: Skip,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
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
    /// The offenders' open records in the guard's ledger, by function name.
    pub records: &'a BTreeMap<String, Record>,
    pub account: AccountFacts,
    pub policy: &'a Policy,
    /// `None` for the remediator's first response (tiers 1 and 2); the auditor asks for exactly
    /// one tier when it escalates.
    pub escalate_to: Option<Tier>,
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
    planner.victim();
    planner.plan
}

struct Planner<'a> {
    input: &'a PlanInput<'a>,
    plan: Plan,
    budget: usize,
    touched: BTreeSet<ResourceKey>,
    /// Unreserved concurrency once the caps planned so far are made.
    unreserved: Option<i64>,
    minimum: Option<u32>,
}

impl Planner<'_> {
    fn offender(&mut self, offender: &Ranked) {
        let input = self.input;
        let Eligible { facts, record } = match eligibility::eligible(input, &offender.function) {
            Ok(e) => e,
            Err(reason) => {
                return self.plan.skipped.push(Skipped {
                    function: offender.function.clone(),
                    reason,
                });
            }
        };
        let record = record.as_ref();
        if let Some(r) = record
            && input.escalate_to.is_none()
        {
            self.plan.notes.push(format!(
                "{}: incident {} was delivered before; only what it did not complete is planned",
                facts.name, r.incident
            ));
        }
        let target = input.policy.target_concurrency;
        let in_emergency =
            || emergency(input.attribution.account_peak, &input.account, input.policy);
        let ladder: &[Tier] = match input.escalate_to {
            None => &[Tier::Source, Tier::Reservation],
            Some(Tier::Source) => &[Tier::Source],
            Some(Tier::Reservation) => &[Tier::Reservation],
            Some(Tier::KillSwitch) => &[Tier::KillSwitch],
        };
        let mut blocked = None;
        for tier in ladder {
            match tier {
                Tier::Source => {
                    let notes = &mut self.plan.notes;
                    for p in tiers::source_limits(offender, facts, target, notes) {
                        self.push(&offender.function, p, record);
                    }
                }
                Tier::Reservation => {
                    let p = tiers::reservation(offender, facts, target, self.floor());
                    if let Some(Skip::BelowMinimum(floor)) = p.skip {
                        blocked = Some(floor);
                    }
                    let change = p.change.clone();
                    if self.push(&offender.function, p, record) {
                        self.reserve(&change);
                    }
                }
                Tier::KillSwitch => {
                    let p = tiers::kill_switch(offender, facts, input.policy, in_emergency(), None);
                    self.push(&offender.function, p, record);
                }
            }
        }
        // First response: the cap could not be placed (unreserved minimum) — in an emergency,
        // and only where allowed, the kill switch is what is left.
        if input.escalate_to.is_none()
            && blocked.is_some()
            && let Ok(u) = in_emergency()
        {
            let p = tiers::kill_switch(offender, facts, input.policy, Ok(u), blocked);
            self.push(&offender.function, p, record);
        }
    }

    /// The unreserved pool a cap must leave alone, when the account's settings are known.
    fn floor(&self) -> Option<Floor> {
        let (unreserved, minimum) = (self.unreserved?, self.minimum?);
        Some(Floor {
            minimum,
            unreserved,
        })
    }

    /// Takes a planned reservation out of the unreserved pool, so the next cap sees what is left.
    fn reserve(&mut self, change: &Change) {
        if let (Change::Reservation { previous, new, .. }, Some(u)) = (change, &mut self.unreserved)
        {
            *u -= i64::from(new.held()) - i64::from(previous.held());
        }
    }

    /// Adds an action, applying the rules every action obeys: one change per resource per
    /// plan, a redelivered incident does not repeat itself, and the action budget. Returns
    /// whether the action is planned (will be carried out).
    fn push(&mut self, function: &str, p: Proposal, record: Option<&Record>) -> bool {
        let resource = p.change.resource();
        let first_response = self.input.escalate_to.is_none();
        let skip = p.skip.or_else(|| {
            if first_response && self.touched.contains(&resource) {
                return Some(Skip::ChangedByThisPlan);
            }
            // Recorded by this incident *and* made: the resource no longer holds the value the
            // record replaced. (A record whose change failed, and could not be taken back, still
            // sees the old value: that change is planned again.)
            if first_response
                && let Some((_, done)) = record.and_then(|r| r.find(&resource))
                && done.change.previous_value() != p.change.previous_value()
            {
                return Some(Skip::Recorded { at: done.at });
            }
            (self.budget == 0).then_some(Skip::BudgetExhausted {
                max_actions: self.input.policy.max_actions,
            })
        });
        let planned = skip.is_none();
        if planned {
            self.budget -= 1;
            self.touched.insert(resource);
        }
        self.plan.actions.push(Action {
            function: function.to_owned(),
            tier: p.tier,
            change: p.change,
            rationale: p.why,
            status: skip.map_or(Status::Planned, Status::Skipped),
        });
        planned
    }
}

#[cfg(test)]
mod tests;
