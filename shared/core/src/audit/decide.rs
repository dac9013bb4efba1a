//! The auditor's rule: from a record and the offender's health now, hold, escalate one tier,
//! or restore. Pure: the clock and the health are passed in.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{CALM_SHARE, Verdict, Verified};
use crate::alarm::AlarmState;
use crate::config::Policy;
use crate::model::Tier;
use crate::observation::{FunctionUsage, Series, Window};
use crate::record::Record;

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

#[cfg(test)]
mod tests {
    use super::super::fixtures::{after, cap, capped, record, t0, throttle};
    use super::*;
    use crate::model::{Current, Reservation};

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
}
