//! Concurrency Guard's simulated account: a seeded, discrete-time model of one AWS account's
//! Lambda concurrency, in which the guard itself runs through its own ports.
//!
//! [`guarded`] runs the real guard (`cguard-engine`) against the account: alarm notifications
//! rendered as SNS delivers them ([`notify`]) go through the guard's intake to
//! `Guard::remediate`, the auditor's schedule calls `Guard::audit`, and [`ports::SimAccount`]
//! answers every port from the account on the simulated [`clock`]. [`Policy`] names the four
//! ways a scenario runs (no guard, a static reservation, the guard, the guard with the kill
//! switch); [`summary`] puts a run in one row, and [`goals`] holds what the guard must achieve.
//!
//! Time advances one second per [`Account::step`]. Work is counted in aggregate, never as
//! per-request objects: per function an in-flight count with its completions bucketed by
//! second (Little's law), per queue message counts by receive count, per async queue cohorts
//! of events. Every AWS figure is a named parameter in [`params`], citing
//! `shared/SIM-FACTS.md`; scenarios are TOML files ([`Scenario`]).
//!
//! Simplifications, each chosen because no AWS figure says otherwise or because it does not
//! change who is throttled:
//! - a full pool is shared among the functions that want more in proportion to what they
//!   want (requests from many sources interleave at random; no source wins by model order);
//! - durations of a second or more are whole ticks; a shorter function serves several
//!   invocations per slot and second;
//! - in-flight invocations above a lowered reservation run to completion (what Lambda does to
//!   them is UNCONFIRMED) and hold their share of the account's pool until they end; new ones
//!   wait for the reservation;
//! - functions do not fail: every admitted invocation succeeds, so only throttles retry;
//! - Lambda's recursive-loop detection and the async queue's slower reading "with a long
//!   queue" are not modelled (no figure is published for either).
//!
//! ```no_run
//! use cguard_sim::{Policy, Scenario, run};
//! let scenario = Scenario::load("scenarios/seed-000.toml".as_ref())?;
//! let outcome = run(&scenario, Policy::NoGuard)?;
//! println!("victims throttled {} times", outcome.victims.throttled);
//! # Ok::<(), cguard_sim::ScenarioError>(())
//! ```

pub mod account;
pub mod alarm;
pub mod api;
pub mod async_queue;
pub mod change;
pub mod clock;
pub mod cloudwatch;
pub mod execution;
pub mod goals;
pub mod guarded;
pub mod load;
pub mod notify;
pub mod outcome;
pub mod params;
pub mod policy;
pub mod ports;
pub mod scenario;
pub mod share;
pub mod sqs;
pub mod summary;
pub mod tally;

/// Simulated time: whole seconds since the scenario started.
pub type Second = u32;

pub use account::Account;
pub use change::{Refusal, Setting};
pub use outcome::Outcome;
pub use params::Params;
pub use policy::{Policy, run};
pub use scenario::{Scenario, ScenarioError};
pub use tally::{Cause, Counts, Role};
