//! The auditor's judgement, as pure functions: each recorded action verified against the live
//! value ([`Verdict`]: in place, changed since by a person, never made), the offender's
//! [`Health`], and the [`decide`] rule — hold, escalate one tier, or restore. The passes that
//! read and act on these live in `cguard-engine`.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::alarm::{AlarmState, IncidentId};
use crate::config::Policy;
use crate::model::{Action, Change, Current, ResourceKey, Status, Tier};
use crate::observation::{FunctionUsage, Series, Window};
use crate::record::Record;

/// An offender counts as calm while its peak concurrency stays below this share of the target:
/// a capped offender sits *at* the cap while demand persists, so "below the target" alone would
/// restore in the middle of the spike.
pub const CALM_SHARE: f64 = 0.8;

// ------------------------------------------------------------------------------- verification

/// What a recorded action finds on its resource now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "verdict")]
pub enum Verdict {
    /// The resource holds the value the guard put there.
    InPlace,
    /// A person changed it since: reported, and their value is left alone.
    Drifted { current: Current },
    /// The resource holds the previous value: the change was recorded but never made.
    NotApplied,
    /// The resource no longer exists: nothing to undo.
    Gone,
    /// The live value could not be read; nothing is concluded.
    Unreadable { why: String },
}

/// What a resource holds, as read (or as it will be once newer actions are undone).
#[derive(Debug, Clone, PartialEq)]
pub enum Reading {
    Value(Current),
    Gone,
    Unreadable(String),
}

/// Compares one change with the value its resource holds.
pub fn verify(change: &Change, current: &Current) -> Verdict {
    if *current == change.applied_value() {
        Verdict::InPlace
    } else if *current == change.previous_value() {
        Verdict::NotApplied
    } else {
        Verdict::Drifted {
            current: current.clone(),
        }
    }
}

pub fn verify_reading(change: &Change, reading: &Reading) -> Verdict {
    match reading {
        Reading::Value(c) => verify(change, c),
        Reading::Gone => Verdict::Gone,
        Reading::Unreadable(why) => Verdict::Unreadable { why: why.clone() },
    }
}

/// What the resource holds once this action is undone (or found not to need undoing).
pub fn underneath(change: &Change, verdict: &Verdict, reading: Reading) -> Reading {
    match verdict {
        Verdict::InPlace | Verdict::NotApplied => Reading::Value(change.previous_value()),
        _ => reading,
    }
}

/// Verdicts for every action of a record, given what each resource holds now (`live`, keyed by
/// resource; a resource missing there is unreadable).
///
/// Several actions may touch one resource (a kill switch after a cap): the newest is checked
/// against the live value, an older one against the value the newer one replaced — what the
/// resource returns to once the newer one is undone, which is the order a restore works in.
pub fn verify_record(
    record: &Record,
    live: &BTreeMap<ResourceKey, Reading>,
) -> BTreeMap<u32, Verdict> {
    let mut live = live.clone();
    let mut out = BTreeMap::new();
    for (index, action) in record.actions.iter().rev() {
        let key = action.change.resource();
        let reading = live
            .remove(&key)
            .unwrap_or_else(|| Reading::Unreadable("not read".into()));
        let verdict = verify_reading(&action.change, &reading);
        live.insert(key, underneath(&action.change, &verdict, reading));
        out.insert(*index, verdict);
    }
    out
}


// ----------------------------------------------------------------------------------- decision

/// The offender's health as the auditor sees it now.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Health {
    /// The state of the alarm that opened the incident; `None` when the record names no alarm
    /// (an operator's request) or the alarm no longer exists.
    pub alarm: Option<AlarmState>,
    /// Peak `ConcurrentExecutions` over the last `grace` minutes (`None`: no datapoints, i.e.
    /// no invocations).
    pub recent_peak: Option<f64>,
    /// `Throttles` over the last `grace` minutes.
    pub recent_throttles: f64,
    /// Peak `ConcurrentExecutions` over the last `cooldown` minutes.
    pub cooldown_peak: Option<f64>,
    /// `Throttles` over the last `cooldown` minutes.
    pub cooldown_throttles: f64,
}

impl Health {
    /// Splits one usage read covering the last max(grace, cooldown) minutes into both spans.
    pub fn from_usage(
        alarm: Option<AlarmState>,
        usage: Option<&FunctionUsage>,
        policy: &Policy,
        now: DateTime<Utc>,
    ) -> Self {
        let recent = usage.map(|u| since(u, Window::before(now, policy.grace_minutes).start));
        let cooldown = usage.map(|u| since(u, Window::before(now, policy.cooldown_minutes).start));
        Self {
            alarm,
            recent_peak: recent.as_ref().and_then(FunctionUsage::peak_concurrency),
            recent_throttles: recent.as_ref().map_or(0.0, |u| u.throttles.sum()),
            cooldown_peak: cooldown.as_ref().and_then(FunctionUsage::peak_concurrency),
            cooldown_throttles: cooldown.as_ref().map_or(0.0, |u| u.throttles.sum()),
        }
    }
}

/// The datapoints of `usage` from `start` on.
pub fn since(usage: &FunctionUsage, start: DateTime<Utc>) -> FunctionUsage {
    let from = start.timestamp();
    let cut = |s: &Series| -> Series { s.0.range(from..).map(|(t, v)| (*t, *v)).collect() };
    FunctionUsage {
        name: usage.name.clone(),
        concurrency: cut(&usage.concurrency),
        invocations: cut(&usage.invocations),
        duration_ms: cut(&usage.duration_ms),
        throttles: cut(&usage.throttles),
    }
}

/// What the auditor does about one record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "decision")]
pub enum Decision {
    Hold { why: String },
    Escalate { to: Tier, why: String },
    Restore { why: String },
}

/// The auditor's rule, with the clock passed in. Time is measured from the record's last action
/// (its opening if it has none).
///
/// - **Escalate** one tier above the highest recorded one when the spike is still pressing —
///   the alarm is in ALARM, or over the last `grace` minutes the offender peaked above the
///   target or was throttled (pinned at its cap with demand left over) — and `grace` has passed
///   since the last action. Never beyond [`Tier::KillSwitch`]; whether the kill switch may be
///   used (policy or tag, and an emergency) is still the plan's call.
/// - **Restore** when the alarm is not in ALARM, and over the last `cooldown` minutes the
///   offender's peak stayed below [`CALM_SHARE`] of the target (no datapoints: no invocations)
///   with no throttles, and `cooldown` has passed since the last action.
/// - **Hold** otherwise: within grace, at the last tier, recovering, or calm but not for long
///   enough.
pub fn decide(record: &Record, health: &Health, policy: &Policy, now: DateTime<Utc>) -> Decision {
    let target = f64::from(policy.target_concurrency);
    let elapsed = now - record.last_action_at().unwrap_or(record.opened_at);
    let minutes = elapsed.num_minutes();
    let alarming = health.alarm == Some(AlarmState::Alarm);

    let mut pressing = Vec::new();
    if alarming {
        pressing.push("the alarm is still in ALARM".to_owned());
    }
    if let Some(p) = health.recent_peak.filter(|p| *p > target) {
        pressing.push(format!(
            "peak {p:.0} above the target {target:.0} in the last {} min",
            policy.grace_minutes
        ));
    }
    if health.recent_throttles > 0.0 {
        pressing.push(format!(
            "{:.0} throttles in the last {} min",
            health.recent_throttles, policy.grace_minutes
        ));
    }
    if !pressing.is_empty() {
        let why = pressing.join(", ");
        if elapsed < policy.grace() {
            return Decision::Hold {
                why: format!(
                    "{why}; within the grace period ({minutes} of {} min since the last action)",
                    policy.grace_minutes
                ),
            };
        }
        return match record.highest_tier().and_then(Tier::next) {
            Some(to) => Decision::Escalate {
                to,
                why: format!(
                    "{why}, {minutes} min after the last action (grace {} min)",
                    policy.grace_minutes
                ),
            },
            None if record.actions.is_empty() => Decision::Hold {
                why: format!("{why}; no recorded action to escalate from"),
            },
            None => Decision::Hold {
                why: format!("{why}; already at the kill switch, the last tier: a person must act"),
            },
        };
    }

    let peak = health.cooldown_peak.unwrap_or(0.0);
    let calm = peak < CALM_SHARE * target && health.cooldown_throttles == 0.0;
    let alarm = health
        .alarm
        .map_or("no alarm".to_owned(), |s| format!("alarm {s}"));
    if !calm {
        return Decision::Hold {
            why: format!(
                "recovering: over the last {} min peak {peak:.0} (calm below {:.0}) and {:.0} throttles",
                policy.cooldown_minutes,
                CALM_SHARE * target,
                health.cooldown_throttles
            ),
        };
    }
    if elapsed < policy.cooldown() {
        return Decision::Hold {
            why: format!(
                "calm ({alarm}, peak {peak:.0}); restoring once {} min have passed since the last action ({minutes} so far)",
                policy.cooldown_minutes
            ),
        };
    }
    Decision::Restore {
        why: format!(
            "{alarm}; over the last {} min peak {peak:.0} below {:.0} ({:.0}% of the target) and no throttles",
            policy.cooldown_minutes,
            CALM_SHARE * target,
            CALM_SHARE * 100.0
        ),
    }
}

/// An escalation would change resources on top of a person's value: hold instead.
pub fn respect_people(decision: Decision, verdicts: &[Verified]) -> Decision {
    let Decision::Escalate { .. } = decision else {
        return decision;
    };
    match verdicts
        .iter()
        .find(|v| matches!(v.verdict, Verdict::Drifted { .. }))
    {
        Some(v) => Decision::Hold {
            why: format!(
                "a person changed what action #{} set ({}): not escalating over their decision",
                v.index,
                v.change.describe()
            ),
        },
        None => decision,
    }
}

// ------------------------------------------------------------------------------------- report

/// One recorded action and what it found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verified {
    pub index: u32,
    pub tier: Tier,
    pub change: Change,
    pub at: DateTime<Utc>,
    #[serde(flatten)]
    pub verdict: Verdict,
}

/// One step of a restore: the inverse of a recorded action, and what became of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Undo {
    pub index: u32,
    pub tier: Tier,
    /// The change that undoes the recorded one.
    pub change: Change,
    #[serde(flatten)]
    pub status: Status,
}

/// One function's record in one pass.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
    /// Reads that failed: nothing was concluded from them.
    pub errors: Vec<String>,
}

impl IncidentAudit {
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditReport {
    pub at: DateTime<Utc>,
    pub dry_run: bool,
    pub incidents: Vec<IncidentAudit>,
    pub errors: Vec<String>,
}

impl AuditReport {
    pub fn new(at: DateTime<Utc>, dry_run: bool) -> Self {
        Self {
            at,
            dry_run,
            incidents: Vec::new(),
            errors: Vec::new(),
        }
    }

    /// Whether a caller should treat the pass as failed (non-zero exit): an action failed or a
    /// read needed for a decision did.
    pub fn failed(&self) -> bool {
        !self.errors.is_empty() || self.incidents.iter().any(IncidentAudit::failed)
    }
}


pub fn describe_current(c: &Current) -> String {
    match c {
        Current::Throttle(Some(t)) => t.to_string(),
        Current::Throttle(None) => "no throttle".into(),
        Current::QueueConcurrency(Some(n)) => format!("MaximumConcurrency {n}"),
        Current::QueueConcurrency(None) => "no maximum concurrency".into(),
        Current::Reservation(r) => r.to_string(),
    }
}

fn status_text(status: &Status, dry_run: bool) -> String {
    match status {
        Status::Planned if dry_run => "PLANNED (dry run)".into(),
        Status::Planned => "PLANNED".into(),
        Status::Applied => "APPLIED".into(),
        Status::Skipped(why) => format!("SKIPPED: {why}"),
        Status::Failed(why) => format!("FAILED: {why}"),
    }
}

fn tier_name(t: Tier) -> &'static str {
    match t {
        Tier::Source => "source",
        Tier::Reservation => "reservation",
        Tier::KillSwitch => "kill switch",
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InPlace => f.write_str("in place"),
            Self::Drifted { current } => {
                write!(f, "changed by a person: now {}", describe_current(current))
            }
            Self::NotApplied => f.write_str("never applied"),
            Self::Gone => f.write_str("resource gone"),
            Self::Unreadable { why } => write!(f, "unreadable ({why})"),
        }
    }
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Hold { why } => write!(f, "HOLD — {why}"),
            Self::Escalate { to, why } => write!(f, "ESCALATE to {} — {why}", tier_name(*to)),
            Self::Restore { why } => write!(f, "RESTORE — {why}"),
        }
    }
}

impl fmt::Display for AuditReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
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
        for i in &self.incidents {
            writeln!(f)?;
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
                    tier_name(v.tier),
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
                    tier_name(a.tier),
                    a.change.describe(),
                    status_text(&a.status, self.dry_run)
                )?;
            }
            for u in &i.restore {
                writeln!(
                    f,
                    "  restore #{}: {} — {}",
                    u.index,
                    u.change.describe(),
                    status_text(&u.status, self.dry_run)
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
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ApiKind, ApiTarget, Reservation, Throttle};
    use chrono::Duration;

    fn t0() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-23T09:40:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn cap(previous: Reservation, new: Reservation) -> Change {
        Change::Reservation {
            function: "slow".into(),
            previous,
            new,
        }
    }

    fn throttle() -> Change {
        Change::Throttle {
            target: ApiTarget {
                kind: ApiKind::Rest,
                api_id: "a1".into(),
                stage: "prod".into(),
                route: None,
            },
            previous: None,
            new: Some(Throttle {
                rate: 3.33,
                burst: 4,
            }),
        }
    }

    /// A record with a tier-1 throttle and a tier-2 cap, both made at `t0`.
    fn record(tiers: &[(Tier, Change)]) -> Record {
        let mut r = Record::new(
            IncidentId::from_recorded("inc1"),
            t0(),
            Some("account".into()),
        );
        for (i, (tier, change)) in tiers.iter().enumerate() {
            r.actions.insert(
                i as u32,
                RecordedAction {
                    tier: *tier,
                    change: change.clone(),
                    at: t0(),
                },
            );
        }
        r
    }

    fn capped() -> Record {
        record(&[
            (Tier::Source, throttle()),
            (
                Tier::Reservation,
                cap(Reservation::Unreserved, Reservation::Reserved(100)),
            ),
        ])
    }

    fn alarming() -> Health {
        Health {
            alarm: Some(AlarmState::Alarm),
            recent_peak: Some(100.0),
            recent_throttles: 0.0,
            cooldown_peak: Some(600.0),
            cooldown_throttles: 0.0,
        }
    }

    fn calm() -> Health {
        Health {
            alarm: Some(AlarmState::Ok),
            recent_peak: Some(20.0),
            recent_throttles: 0.0,
            cooldown_peak: Some(79.0),
            cooldown_throttles: 0.0,
        }
    }

    fn after(minutes: i64) -> DateTime<Utc> {
        t0() + Duration::minutes(minutes)
    }

    #[test]
    fn holds_within_grace_while_the_alarm_persists() {
        let d = decide(&capped(), &alarming(), &Policy::default(), after(9));
        assert!(
            matches!(&d, Decision::Hold { why } if why.contains("grace")),
            "{d:?}"
        );
    }

    #[test]
    fn escalates_one_tier_after_grace_while_in_alarm() {
        let d = decide(&capped(), &alarming(), &Policy::default(), after(10));
        assert!(
            matches!(
                d,
                Decision::Escalate {
                    to: Tier::KillSwitch,
                    ..
                }
            ),
            "{d:?}"
        );
        let tier1 = record(&[(Tier::Source, throttle())]);
        let d = decide(&tier1, &alarming(), &Policy::default(), after(11));
        assert!(
            matches!(
                d,
                Decision::Escalate {
                    to: Tier::Reservation,
                    ..
                }
            ),
            "{d:?}"
        );
    }

    #[test]
    fn escalates_when_above_target_or_throttled_even_with_the_alarm_ok() {
        let tier1 = record(&[(Tier::Source, throttle())]);
        let above = Health {
            alarm: Some(AlarmState::Ok),
            recent_peak: Some(250.0),
            ..calm()
        };
        assert!(matches!(
            decide(&tier1, &above, &Policy::default(), after(15)),
            Decision::Escalate {
                to: Tier::Reservation,
                ..
            }
        ));
        let pinned = Health {
            alarm: None,
            recent_peak: Some(100.0),
            recent_throttles: 40.0,
            ..calm()
        };
        let d = decide(&capped(), &pinned, &Policy::default(), after(15));
        assert!(
            matches!(&d, Decision::Escalate { to: Tier::KillSwitch, why } if why.contains("40 throttles")),
            "{d:?}"
        );
    }

    #[test]
    fn the_clock_counts_from_the_last_action() {
        let mut r = capped();
        r.actions.get_mut(&1).unwrap().at = after(20);
        assert!(matches!(
            decide(&r, &alarming(), &Policy::default(), after(25)),
            Decision::Hold { .. }
        ));
        assert!(matches!(
            decide(&r, &alarming(), &Policy::default(), after(30)),
            Decision::Escalate { .. }
        ));
    }

    #[test]
    fn never_escalates_beyond_the_kill_switch() {
        let r = record(&[(
            Tier::KillSwitch,
            cap(Reservation::Unreserved, Reservation::Reserved(0)),
        )]);
        let d = decide(&r, &alarming(), &Policy::default(), after(120));
        assert!(
            matches!(&d, Decision::Hold { why } if why.contains("last tier")),
            "{d:?}"
        );
    }

    #[test]
    fn restores_after_the_cooldown_when_calm() {
        let policy = Policy::default();
        let d = decide(&capped(), &calm(), &policy, after(29));
        assert!(
            matches!(&d, Decision::Hold { why } if why.contains("restoring once 30 min")),
            "{d:?}"
        );
        assert!(matches!(
            decide(&capped(), &calm(), &policy, after(30)),
            Decision::Restore { .. }
        ));
        let silent = Health {
            alarm: Some(AlarmState::InsufficientData),
            recent_peak: None,
            cooldown_peak: None,
            ..calm()
        };
        assert!(
            matches!(
                decide(&capped(), &silent, &policy, after(45)),
                Decision::Restore { .. }
            ),
            "no datapoints means no invocations"
        );
    }

    #[test]
    fn does_not_restore_while_pinned_near_the_cap_or_throttled() {
        let policy = Policy::default();
        let near = Health {
            cooldown_peak: Some(80.0),
            ..calm()
        };
        assert!(matches!(
            decide(&capped(), &near, &policy, after(60)),
            Decision::Hold { why } if why.contains("recovering")
        ));
        let throttled_earlier = Health {
            cooldown_throttles: 3.0,
            ..calm()
        };
        assert!(matches!(
            decide(&capped(), &throttled_earlier, &policy, after(60)),
            Decision::Hold { .. }
        ));
    }

    #[test]
    fn a_person_s_change_stops_an_escalation() {
        let verdicts = vec![Verified {
            index: 1,
            tier: Tier::Reservation,
            change: cap(Reservation::Unreserved, Reservation::Reserved(100)),
            at: t0(),
            verdict: Verdict::Drifted {
                current: Current::Reservation(Reservation::Reserved(300)),
            },
        }];
        let d = respect_people(
            Decision::Escalate {
                to: Tier::KillSwitch,
                why: String::new(),
            },
            &verdicts,
        );
        assert!(
            matches!(&d, Decision::Hold { why } if why.contains("#1")),
            "{d:?}"
        );
        let restore = Decision::Restore { why: String::new() };
        assert_eq!(respect_people(restore.clone(), &verdicts), restore);
    }

    #[test]
    fn health_splits_one_read_into_the_recent_and_cooldown_spans() {
        let now = after(40);
        let minute = |m: i64| (after(m).timestamp(), 0.0);
        let usage = FunctionUsage {
            name: "slow".into(),
            // 600 at the start of the cooldown span, 50 in the last ten minutes.
            concurrency: [
                (after(11).timestamp(), 600.0),
                (after(35).timestamp(), 50.0),
            ]
            .into_iter()
            .collect(),
            throttles: [(after(12).timestamp(), 7.0), minute(36)]
                .into_iter()
                .collect(),
            ..Default::default()
        };
        let h = Health::from_usage(Some(AlarmState::Ok), Some(&usage), &Policy::default(), now);
        assert_eq!(h.recent_peak, Some(50.0));
        assert_eq!(h.recent_throttles, 0.0);
        assert_eq!(h.cooldown_peak, Some(600.0));
        assert_eq!(h.cooldown_throttles, 7.0);
    }

    #[test]
    fn verdicts_tell_in_place_drifted_and_never_applied_apart() {
        let c = cap(Reservation::Unreserved, Reservation::Reserved(100));
        assert_eq!(
            verify(&c, &Current::Reservation(Reservation::Reserved(100))),
            Verdict::InPlace
        );
        assert_eq!(
            verify(&c, &Current::Reservation(Reservation::Unreserved)),
            Verdict::NotApplied
        );
        assert_eq!(
            verify(&c, &Current::Reservation(Reservation::Reserved(0))),
            Verdict::Drifted {
                current: Current::Reservation(Reservation::Reserved(0))
            },
            "reserved 0 is not 'no reservation'"
        );
        assert_eq!(
            verify(&throttle(), &Current::Throttle(None)),
            Verdict::NotApplied
        );
    }

    #[test]
    fn an_older_action_is_checked_against_what_the_newer_one_replaced() {
        // A cap, then the kill switch on the same function, then a throttle that was never made.
        let mut r = capped();
        r.actions.insert(
            2,
            RecordedAction {
                tier: Tier::KillSwitch,
                change: cap(Reservation::Reserved(100), Reservation::Reserved(0)),
                at: after(10),
            },
        );
        let function = ResourceKey::Function("slow".into());
        let api = throttle().resource();
        let live = BTreeMap::from([
            (
                function.clone(),
                Reading::Value(Current::Reservation(Reservation::Reserved(0))),
            ),
            (api.clone(), Reading::Value(Current::Throttle(None))),
        ]);
        let v = verify_record(&r, &live);
        assert_eq!(v[&2], Verdict::InPlace);
        assert_eq!(v[&1], Verdict::InPlace, "the kill switch stands on the cap");
        assert_eq!(v[&0], Verdict::NotApplied);

        // A person raised the function to 300: both reservation actions see their value.
        let live = BTreeMap::from([
            (
                function,
                Reading::Value(Current::Reservation(Reservation::Reserved(300))),
            ),
            (api, Reading::Gone),
        ]);
        let v = verify_record(&r, &live);
        assert!(matches!(v[&2], Verdict::Drifted { .. }));
        assert!(matches!(v[&1], Verdict::Drifted { .. }));
        assert_eq!(v[&0], Verdict::Gone);
    }
}
