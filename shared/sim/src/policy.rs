//! The policies a scenario runs under. Phase 1 has the baselines that need no guard; the
//! guard-driven ones run the guard's own code against the same account.

use serde::Serialize;

use crate::account::Account;
use crate::outcome::Outcome;
use crate::scenario::{Scenario, ScenarioError};
use crate::tally::Role;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Policy {
    /// Nothing limits the offenders.
    NoGuard,
    /// Every offender holds the scenario's `baseline.static_reservation` from the start — the
    /// fixed cap an operator could have set beforehand.
    StaticReservation,
}

impl Policy {
    pub const BASELINES: [Self; 2] = [Self::NoGuard, Self::StaticReservation];

    /// The scenario as this policy starts it.
    pub fn prepare(self, scenario: &Scenario) -> Scenario {
        let mut s = scenario.clone();
        if self == Self::StaticReservation {
            for f in s.functions.iter_mut().filter(|f| f.role == Role::Offender) {
                f.reservation = Some(scenario.baseline.static_reservation);
            }
        }
        s
    }
}

/// Runs `scenario` under `policy` to its end. Fails only if the policy makes the scenario
/// invalid (a static reservation the account cannot hold).
pub fn run(scenario: &Scenario, policy: Policy) -> Result<Outcome, ScenarioError> {
    let prepared = policy.prepare(scenario);
    let mut account = Account::new(&prepared, &scenario.name)?;
    account.run_until(prepared.duration_s);
    Ok(Outcome::of(&account, &scenario.name, scenario.seed, policy))
}
