//! The policies a scenario runs under: two baselines that need no guard, and the guard itself
//! ([`crate::guarded`]) with its defaults or with the kill switch allowed.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

use crate::account::Account;
use crate::guarded;
use crate::outcome::Outcome;
use crate::scenario::{Scenario, ScenarioError};
use crate::tally::Role;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Policy {
    /// Nothing limits the offenders.
    #[serde(rename = "none")]
    NoGuard,
    /// Every offender holds the scenario's `baseline.static_reservation` from the start — the
    /// fixed cap an operator could have set beforehand.
    #[serde(rename = "static")]
    StaticReservation,
    /// The guard with its defaults (`Policy::default()`), the scenario's protected functions
    /// listed.
    Guard,
    /// The same, with `CGUARD_KILL_SWITCH_ALLOWED=true`.
    KillSwitch,
}

impl Policy {
    pub const BASELINES: [Self; 2] = [Self::NoGuard, Self::StaticReservation];
    pub const ALL: [Self; 4] = [
        Self::NoGuard,
        Self::StaticReservation,
        Self::Guard,
        Self::KillSwitch,
    ];

    /// The name the CLI and the reports use.
    pub fn name(self) -> &'static str {
        match self {
            Self::NoGuard => "none",
            Self::StaticReservation => "static",
            Self::Guard => "guard",
            Self::KillSwitch => "kill-switch",
        }
    }

    /// Whether the guard runs under this policy.
    pub fn guarded(self) -> bool {
        matches!(self, Self::Guard | Self::KillSwitch)
    }

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

impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Policy {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or_else(|| format!("unknown policy {s:?} (none, static, guard, kill-switch)"))
    }
}

/// Runs `scenario` under `policy` to its end. Fails only if the policy makes the scenario
/// invalid (a static reservation the account cannot hold).
pub fn run(scenario: &Scenario, policy: Policy) -> Result<Outcome, ScenarioError> {
    let prepared = policy.prepare(scenario);
    if policy.guarded() {
        return guarded::run(&prepared, policy);
    }
    let mut account = Account::new(&prepared, &scenario.name)?;
    account.run_until(prepared.duration_s);
    Ok(Outcome::of(&account, &scenario.name, scenario.seed, policy))
}
