//! What one audit pass found and did, as the operator reads it: the report types, their JSON
//! shape, and every sentence the auditor writes.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Serialize, Serializer};

use super::{
    CALM_SHARE, Decision, EscalateReason, Health, HoldReason, RestoreReason, Signal, Unread,
    Verdict,
};

pub use super::error::AuditError;
use crate::intake::{AlarmState, IncidentId};
use crate::model::{Action, Change, Status, Tier};

/// One recorded action and what it found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verified {
    pub index: u32,
    pub tier: Tier,
    pub change: Change,
    pub at: DateTime<Utc>,
    #[serde(flatten)]
    pub verdict: Verdict,
}

/// One step of a restore: the inverse of a recorded action, and what became of it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Undo {
    pub index: u32,
    pub tier: Tier,
    /// The change that undoes the recorded one.
    pub change: Change,
    #[serde(flatten)]
    pub status: Status,
}

/// One function's record in one pass.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IncidentAudit {
    pub function: String,
    pub incident: Option<IncidentId>,
    pub opened_at: Option<DateTime<Utc>>,
    pub alarm: Option<String>,
    pub verdicts: Vec<Verified>,
    pub health: Option<Health>,
    pub decision: Option<Decision>,
    /// Actions planned by an escalation, with their statuses.
    pub escalation: Vec<Action>,
    /// Restore steps, newest action first.
    pub restore: Vec<Undo>,
    /// The whole record is gone from the function's tags.
    pub closed: bool,
    pub notes: Vec<String>,
    /// Reads that failed (nothing was concluded from them) and erases left to the next pass.
    pub errors: Vec<AuditError>,
}

impl IncidentAudit {
    /// An entry with nothing found yet.
    pub fn new(function: &str) -> Self {
        Self {
            function: function.to_owned(),
            incident: None,
            opened_at: None,
            alarm: None,
            verdicts: Vec::new(),
            health: None,
            decision: None,
            escalation: Vec::new(),
            restore: Vec::new(),
            closed: false,
            notes: Vec::new(),
            errors: Vec::new(),
        }
    }

    pub fn failed(&self) -> bool {
        !self.errors.is_empty()
            || self
                .escalation
                .iter()
                .any(|a| matches!(a.status, Status::Failed(_)))
            || self
                .restore
                .iter()
                .any(|u| matches!(u.status, Status::Failed(_)))
    }
}

/// One audit pass (or one operator's restore).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditReport {
    pub at: DateTime<Utc>,
    pub dry_run: bool,
    pub incidents: Vec<IncidentAudit>,
    pub errors: Vec<AuditError>,
    /// Records left for the next pass (more than one pass examines).
    pub deferred: Vec<String>,
}

impl AuditReport {
    /// A pass with nothing examined yet.
    pub fn new(at: DateTime<Utc>, dry_run: bool) -> Self {
        Self {
            at,
            dry_run,
            incidents: Vec::new(),
            errors: Vec::new(),
            deferred: Vec::new(),
        }
    }

    /// Whether a caller should treat the pass as failed (non-zero exit): an action failed or a
    /// read needed for a decision did.
    pub fn failed(&self) -> bool {
        !self.errors.is_empty() || self.incidents.iter().any(IncidentAudit::failed)
    }
}

/// A live value as the operator reads it.
/// How a status reads in the audit: as everywhere, plus whether a plan was only a dry run.
fn status_text(status: &Status, dry_run: bool) -> String {
    match status {
        Status::Planned if dry_run => format!("{status} (dry run)"),
        _ => status.to_string(),
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InPlace => f.write_str("in place"),
            Self::Drifted { current } => {
                write!(f, "changed by a person: now {current}")
            }
            Self::NotApplied => f.write_str("never applied"),
            Self::Gone => f.write_str("resource gone"),
            Self::Unreadable { why } => write!(f, "unreadable ({why})"),
        }
    }
}

impl fmt::Display for Unread {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotRead => f.write_str("not read"),
            Self::Failed(failure) => failure.fmt(f),
        }
    }
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Hold { why } => write!(f, "HOLD — {why}"),
            Self::Escalate { to, why } => write!(f, "ESCALATE to {to} — {why}"),
            Self::Restore { why } => write!(f, "RESTORE — {why}"),
        }
    }
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::StillInAlarm => f.write_str("the alarm is still in ALARM"),
            Self::AboveTarget {
                peak,
                target,
                minutes,
            } => write!(
                f,
                "peak {peak:.0} above the target {target:.0} in the last {minutes} min"
            ),
            Self::Throttled { throttles, minutes } => {
                write!(f, "{throttles:.0} throttles in the last {minutes} min")
            }
        }
    }
}

/// The signals as one clause.
struct Signals<'a>(&'a [Signal]);

impl fmt::Display for Signals<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, signal) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{signal}")?;
        }
        Ok(())
    }
}

/// The alarm's state, or that there is none to go by.
struct AlarmText(Option<AlarmState>);

impl fmt::Display for AlarmText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(state) => write!(f, "alarm {state}"),
            None => f.write_str("no alarm"),
        }
    }
}

impl fmt::Display for EscalateReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}, {} min after the last action (grace {} min)",
            Signals(&self.signals),
            self.elapsed_minutes,
            self.grace_minutes
        )
    }
}

impl fmt::Display for HoldReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::WithinGrace {
                signals,
                elapsed_minutes,
                grace_minutes,
            } => write!(
                f,
                "{}; within the grace period ({elapsed_minutes} of {grace_minutes} min since the last action)",
                Signals(signals)
            ),
            Self::NothingToEscalate { signals } => {
                write!(
                    f,
                    "{}; no recorded action to escalate from",
                    Signals(signals)
                )
            }
            Self::AtLastTier { signals } => write!(
                f,
                "{}; already at the kill switch, the last tier: a person must act",
                Signals(signals)
            ),
            Self::Recovering {
                peak,
                calm_below,
                throttles,
                cooldown_minutes,
            } => write!(
                f,
                "recovering: over the last {cooldown_minutes} min peak {peak:.0} (calm below {calm_below:.0}) and {throttles:.0} throttles"
            ),
            Self::CalmTooBriefly {
                alarm,
                peak,
                elapsed_minutes,
                cooldown_minutes,
            } => write!(
                f,
                "calm ({}, peak {peak:.0}); restoring once {cooldown_minutes} min have passed since the last action ({elapsed_minutes} so far)",
                AlarmText(*alarm)
            ),
            Self::PersonChanged { index, change, .. } => write!(
                f,
                "a person changed what action #{index} set ({}): not escalating over their decision",
                change.describe()
            ),
            Self::HealthUnknown => f.write_str("health unknown"),
            Self::ChangeInFlight { index, age_seconds } => write!(
                f,
                "action #{index} was recorded {age_seconds} s ago and is not in place yet: the \
                 process that recorded it may be making it; waiting out its {} s lease",
                crate::record::RECORD_LEASE_SECONDS
            ),
        }
    }
}

impl fmt::Display for RestoreReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Calm {
                alarm,
                peak,
                calm_below,
                cooldown_minutes,
            } => write!(
                f,
                "{}; over the last {cooldown_minutes} min peak {peak:.0} below {calm_below:.0} ({:.0}% of the target) and no throttles",
                AlarmText(*alarm),
                CALM_SHARE * 100.0
            ),
            Self::Requested => f.write_str("requested by an operator"),
            Self::EmptyRecord => f.write_str(
                "the record holds no action (its only change failed and was taken back)",
            ),
        }
    }
}

/// Through [`terminal_safe`](crate::text::terminal_safe): names and reasons come from outside.
impl fmt::Display for AuditReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        crate::text::write_safe(f, |f| self.render(f))
    }
}

impl AuditReport {
    fn render(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "Concurrency Guard audit at {}: {} function(s) examined{}",
            self.at.format("%Y-%m-%d %H:%M:%S UTC"),
            self.incidents.len(),
            if self.dry_run {
                " — dry run, nothing changed"
            } else {
                ""
            }
        )?;
        for e in &self.errors {
            writeln!(f, "error: {e}")?;
        }
        if !self.deferred.is_empty() {
            writeln!(
                f,
                "left for the next pass (oldest first, a bounded number a pass): {}",
                self.deferred.join(", ")
            )?;
        }
        for i in &self.incidents {
            writeln!(f)?;
            write_incident(f, i, self.dry_run)?;
        }
        Ok(())
    }
}

/// One function's part of the text report; `dry_run` words the steps that were only planned.
fn write_incident(f: &mut fmt::Formatter<'_>, i: &IncidentAudit, dry_run: bool) -> fmt::Result {
    write!(f, "{}", i.function)?;
    if let Some(inc) = &i.incident {
        write!(f, " — incident {inc}")?;
    }
    if let Some(at) = i.opened_at {
        write!(f, ", opened {}", at.format("%Y-%m-%d %H:%M UTC"))?;
    }
    if let Some(a) = &i.alarm {
        write!(f, " (alarm {a})")?;
    }
    writeln!(f)?;
    for v in &i.verdicts {
        writeln!(
            f,
            "  #{} {}: {} — {}",
            v.index,
            v.tier,
            v.change.describe(),
            v.verdict
        )?;
    }
    if let Some(h) = &i.health {
        let peak = |p: Option<f64>| p.map_or("-".to_owned(), |p| format!("{p:.0}"));
        writeln!(
            f,
            "  health: alarm {}; recent peak {}, {:.0} throttles; cooldown peak {}, {:.0} throttles",
            h.alarm.map_or("-".to_owned(), |s| s.to_string()),
            peak(h.recent_peak),
            h.recent_throttles,
            peak(h.cooldown_peak),
            h.cooldown_throttles
        )?;
    }
    if let Some(d) = &i.decision {
        writeln!(f, "  decision: {d}")?;
    }
    for a in &i.escalation {
        writeln!(
            f,
            "  escalate ({}): {} — {}",
            a.tier,
            a.change.describe(),
            status_text(&a.status, dry_run)
        )?;
    }
    for u in &i.restore {
        writeln!(
            f,
            "  restore #{}: {} — {}",
            u.index,
            u.change.describe(),
            status_text(&u.status, dry_run)
        )?;
    }
    if i.closed {
        writeln!(f, "  record closed")?;
    }
    for n in &i.notes {
        writeln!(f, "  note: {n}")?;
    }
    for e in &i.errors {
        writeln!(f, "  error: {e}")?;
    }
    Ok(())
}

/// The report's JSON carries the sentence, as the text report does; the figures are for code.
fn as_text<T: fmt::Display, S: Serializer>(value: &T, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(value)
}

impl Serialize for Unread {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        as_text(self, s)
    }
}

impl Serialize for HoldReason {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        as_text(self, s)
    }
}

impl Serialize for EscalateReason {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        as_text(self, s)
    }
}

impl Serialize for RestoreReason {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        as_text(self, s)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::fixtures::{cap, t0};
    use super::*;
    use crate::error::{ErrorKind, Failure};
    use crate::model::{Current, Reservation};

    fn failure() -> Failure {
        Failure {
            operation: "usage".into(),
            kind: ErrorKind::Throttled,
            message: "slow down".into(),
        }
    }

    #[test]
    fn a_decision_reads_and_serialises_as_one_sentence() {
        let all = vec![
            Signal::StillInAlarm,
            Signal::AboveTarget {
                peak: 250.4,
                target: 100.0,
                minutes: 10,
            },
            Signal::Throttled {
                throttles: 40.0,
                minutes: 10,
            },
        ];
        let hold = Decision::Hold {
            why: HoldReason::WithinGrace {
                signals: all,
                elapsed_minutes: 9,
                grace_minutes: 10,
            },
        };
        let why = "the alarm is still in ALARM, peak 250 above the target 100 in the last 10 min, \
                   40 throttles in the last 10 min; within the grace period (9 of 10 min since \
                   the last action)";
        assert_eq!(hold.to_string(), format!("HOLD — {why}"));
        assert_eq!(
            serde_json::to_value(&hold).unwrap(),
            json!({ "decision": "hold", "why": why })
        );

        let escalate = Decision::Escalate {
            to: Tier::KillSwitch,
            why: EscalateReason {
                signals: vec![Signal::StillInAlarm],
                elapsed_minutes: 15,
                grace_minutes: 10,
            },
        };
        let why = "the alarm is still in ALARM, 15 min after the last action (grace 10 min)";
        assert_eq!(
            escalate.to_string(),
            format!("ESCALATE to tier 3 (kill switch) — {why}")
        );
        assert_eq!(
            serde_json::to_value(&escalate).unwrap(),
            json!({ "decision": "escalate", "to": "kill_switch", "why": why })
        );

        let restore = Decision::Restore {
            why: RestoreReason::Calm {
                alarm: None,
                peak: 12.0,
                calm_below: 80.0,
                cooldown_minutes: 30,
            },
        };
        assert_eq!(
            restore.to_string(),
            "RESTORE — no alarm; over the last 30 min peak 12 below 80 (80% of the target) and no \
             throttles"
        );
    }

    #[test]
    fn a_person_s_change_is_named_by_the_action_it_overrode() {
        let why = HoldReason::PersonChanged {
            index: 1,
            change: cap(Reservation::Unreserved, Reservation::Reserved(100)),
            current: Current::Reservation(Reservation::Reserved(300)),
        };
        assert_eq!(
            why.to_string(),
            "a person changed what action #1 set (function slow: no reservation → reserved 100): \
             not escalating over their decision"
        );
    }

    #[test]
    fn errors_and_unread_values_serialise_as_the_sentences_the_text_shows() {
        let mut entry = IncidentAudit::new("slow");
        entry.verdicts.push(Verified {
            index: 0,
            tier: Tier::Reservation,
            change: cap(Reservation::Unreserved, Reservation::Reserved(100)),
            at: t0(),
            verdict: Verdict::Unreadable {
                why: Unread::Failed(failure()),
            },
        });
        entry.errors.push(AuditError::ReadHealth(failure()));
        let mut report = AuditReport::new(t0(), false);
        report.errors.push(AuditError::ListRecords(failure()));
        report.incidents.push(entry);

        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(
            json["errors"],
            json!(["could not list the open records: usage failed (Throttled): slow down"])
        );
        let incident = &json["incidents"][0];
        assert_eq!(
            incident["errors"],
            json!(["could not read health: usage failed (Throttled): slow down"])
        );
        assert_eq!(incident["verdicts"][0]["verdict"], "unreadable");
        assert_eq!(
            incident["verdicts"][0]["why"],
            "usage failed (Throttled): slow down"
        );

        let text = report.to_string();
        assert!(text.contains(
            "error: could not list the open records: usage failed (Throttled): slow down\n"
        ));
        assert!(text.contains(
            "  #0 tier 2 (reservation): function slow: no reservation → reserved 100 — unreadable (usage \
             failed (Throttled): slow down)\n"
        ));
        assert!(
            text.contains("  error: could not read health: usage failed (Throttled): slow down\n")
        );
        assert!(report.failed());
    }
}
