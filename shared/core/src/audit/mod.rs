//! The auditor's judgement, as pure functions, in three modules with one reason to change each:
//! [`verify`](verify_record) (what counts as in place, changed since by a person, or never made),
//! [`decide`] (hold, escalate one tier, or restore) and [`AuditReport`] (what the operator
//! reads). The passes that read the account and carry the decisions out live in
//! `cguard-engine`.

mod decide;
mod error;
mod guardrail;
mod report;
mod schedule;
mod verify;
mod within;

#[cfg(test)]
mod fixtures;

pub use decide::{
    Decision, EscalateReason, Health, HoldReason, RestoreReason, Signal, decide, respect_people,
    since,
};
pub use guardrail::{in_flight, restore_refusal, tampering};
pub use report::{AuditError, AuditReport, IncidentAudit, Undo, Verified};
pub use schedule::{MAX_RECORDS_PER_PASS, Schedule, schedule};
pub use verify::{Reading, Unread, Verdict, underneath, verify, verify_reading, verify_record};
pub use within::{Undoing, undoing};

/// An offender counts as calm while its peak concurrency stays below this share of the target:
/// a capped offender sits *at* the cap while demand persists, so "below the target" alone would
/// restore in the middle of the spike.
pub const CALM_SHARE: f64 = 0.8;
