//! Concurrency Guard's policy: everything that decides, nothing that calls AWS.
//!
//! The pipeline, one module per step:
//! - [`intake`]: any event shape → [`intake::Request`] (an [`intake::Alarm`] or a named function);
//! - [`observation`]: the CloudWatch figures for the minutes before the alarm;
//! - [`confirm`]: an alarm is acted on only when CloudWatch confirms it;
//! - [`ranking`]: whether a one-query ranking is believed, or the batched path confirms;
//! - [`attribution`]: what the alarm is about ([`attribution::Scope`]), the ranking, the offenders;
//! - [`model`]: facts about functions and what drives them, and reversible [`model::Change`]s;
//! - [`plan`]: tiered, bounded actions that never raise a limit;
//! - [`record`]: what the ledger holds — every previous value, recorded before anything changes;
//! - [`report`]: the one JSON document (and human summary) per alarm;
//! - [`audit`]: the auditor's verify and decide; [`posture`]: the production checklist;
//! - [`error`]: how an AWS call failed, and [`fault`]: what that left undone, as values;
//! - [`backtest`]: past transitions into ALARM, replayed as dry runs, and their table.
//!
//! Nothing here is async and nothing calls anything: the use-cases that read, call this crate
//! and carry its decisions out live in `cguard-engine`, over ports that crate defines.
//!
//! [`config::Settings`] is read once at the edge and passed down.

pub mod attribution;
pub mod audit;
pub mod backtest;
pub mod config;
pub mod confirm;
pub mod drivers;
pub mod emf;
pub mod error;
pub mod fault;
pub mod intake;
pub mod model;
pub mod observation;
pub mod plan;
pub mod posture;
pub mod ranking;
pub mod record;
pub mod report;
pub mod text;
