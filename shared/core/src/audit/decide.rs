//! The auditor's rule: from a record and the offender's health now, hold, escalate one tier,
//! or restore. Pure: the clock and the health are passed in.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::{CALM_SHARE, Verdict, Verified};
use crate::config::Policy;
use crate::intake::AlarmState;
use crate::model::{Change, Current, Tier};
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

/// What the auditor does about one record, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "decision")]
pub enum Decision {
    Hold { why: HoldReason },
    Escalate { to: Tier, why: EscalateReason },
    Restore { why: RestoreReason },
}

/// A sign that the spike is still pressing, over the last `minutes` (the grace period).
#[derive(Debug, Clone, PartialEq)]
pub enum Signal {
    /// The alarm that opened the incident is still in ALARM.
    StillInAlarm,
    AboveTarget {
        peak: f64,
        target: f64,
        minutes: u32,
    },
    Throttled {
        throttles: f64,
        minutes: u32,
    },
}

/// Why one more tier: the spike still presses, and the last action has had its grace period.
#[derive(Debug, Clone, PartialEq)]
pub struct EscalateReason {
    /// At least one.
    pub signals: Vec<Signal>,
    /// Since the last action.
    pub elapsed_minutes: i64,
    pub grace_minutes: u32,
}

/// Why nothing changes in this pass.
#[derive(Debug, Clone, PartialEq)]
pub enum HoldReason {
    /// Still pressing, but the last action has not had its grace period yet.
    WithinGrace {
        signals: Vec<Signal>,
        elapsed_minutes: i64,
        grace_minutes: u32,
    },
    /// Still pressing, but the record holds no action to escalate from.
    NothingToEscalate { signals: Vec<Signal> },
    /// Still pressing at the kill switch, the last tier: a person must act.
    AtLastTier { signals: Vec<Signal> },
    /// No longer pressing, but over the last `cooldown_minutes` it peaked at or above
    /// `calm_below` or was throttled.
    Recovering {
        peak: f64,
        calm_below: f64,
        throttles: f64,
        cooldown_minutes: u32,
    },
    /// Calm, but the cooldown has not passed since the last action.
    CalmTooBriefly {
        alarm: Option<AlarmState>,
        peak: f64,
        elapsed_minutes: i64,
        cooldown_minutes: u32,
    },
    /// A person set `current` where action `index` made `change`: escalating would override
    /// their decision.
    PersonChanged {
        index: u32,
        change: Change,
        current: Current,
    },
    /// The alarm or the metrics could not be read.
    HealthUnknown,
    /// Action `index` was recorded `age_seconds` ago and is not in place yet: the process that
    /// recorded it may be making it now. Settling it as never applied would close the record
    /// under that process, and the next delivery would open a second one and change the
    /// resource again.
    ChangeInFlight { index: u32, age_seconds: i64 },
}

/// Why the recorded actions are undone.
#[derive(Debug, Clone, PartialEq)]
pub enum RestoreReason {
    /// Calm for the whole cooldown: the alarm is not in ALARM, the peak stayed below
    /// `calm_below` ([`CALM_SHARE`] of the target) and nothing was throttled.
    Calm {
        alarm: Option<AlarmState>,
        peak: f64,
        calm_below: f64,
        cooldown_minutes: u32,
    },
    /// An operator asked for it, whatever the health.
    Requested,
    /// The record holds no action: its only change failed and was taken back.
    EmptyRecord,
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
    let elapsed = now - record.last_action_at().unwrap_or(record.opened_at);
    let signals = pressing(health, policy);
    if signals.is_empty() {
        restore_once_calm(health, policy, elapsed)
    } else {
        escalate_after_grace(record, signals, policy, elapsed)
    }
}

fn pressing(health: &Health, policy: &Policy) -> Vec<Signal> {
    let target = f64::from(policy.target_concurrency);
    let minutes = policy.grace_minutes;
    let mut signals = Vec::new();
    if health.alarm == Some(AlarmState::Alarm) {
        signals.push(Signal::StillInAlarm);
    }
    if let Some(peak) = health.recent_peak.filter(|p| *p > target) {
        signals.push(Signal::AboveTarget {
            peak,
            target,
            minutes,
        });
    }
    if health.recent_throttles > 0.0 {
        signals.push(Signal::Throttled {
            throttles: health.recent_throttles,
            minutes,
        });
    }
    signals
}

fn escalate_after_grace(
    record: &Record,
    signals: Vec<Signal>,
    policy: &Policy,
    elapsed: Duration,
) -> Decision {
    let elapsed_minutes = elapsed.num_minutes();
    let grace_minutes = policy.grace_minutes;
    if elapsed < policy.grace() {
        return Decision::Hold {
            why: HoldReason::WithinGrace {
                signals,
                elapsed_minutes,
                grace_minutes,
            },
        };
    }
    match record.highest_tier().and_then(Tier::next) {
        Some(to) => Decision::Escalate {
            to,
            why: EscalateReason {
                signals,
                elapsed_minutes,
                grace_minutes,
            },
        },
        None if record.actions.is_empty() => Decision::Hold {
            why: HoldReason::NothingToEscalate { signals },
        },
        None => Decision::Hold {
            why: HoldReason::AtLastTier { signals },
        },
    }
}

fn restore_once_calm(health: &Health, policy: &Policy, elapsed: Duration) -> Decision {
    let calm_below = CALM_SHARE * f64::from(policy.target_concurrency);
    let peak = health.cooldown_peak.unwrap_or(0.0);
    let cooldown_minutes = policy.cooldown_minutes;
    let calm = peak < calm_below && health.cooldown_throttles == 0.0;
    if !calm {
        return Decision::Hold {
            why: HoldReason::Recovering {
                peak,
                calm_below,
                throttles: health.cooldown_throttles,
                cooldown_minutes,
            },
        };
    }
    if elapsed < policy.cooldown() {
        return Decision::Hold {
            why: HoldReason::CalmTooBriefly {
                alarm: health.alarm,
                peak,
                elapsed_minutes: elapsed.num_minutes(),
                cooldown_minutes,
            },
        };
    }
    Decision::Restore {
        why: RestoreReason::Calm {
            alarm: health.alarm,
            peak,
            calm_below,
            cooldown_minutes,
        },
    }
}

/// An escalation would change resources on top of a person's value: hold instead.
pub fn respect_people(decision: Decision, verdicts: &[Verified]) -> Decision {
    let Decision::Escalate { .. } = decision else {
        return decision;
    };
    let drifted = verdicts.iter().find_map(|v| match &v.verdict {
        Verdict::Drifted { current } => Some((v, current)),
        _ => None,
    });
    match drifted {
        Some((v, current)) => Decision::Hold {
            why: HoldReason::PersonChanged {
                index: v.index,
                change: v.change.clone(),
                current: current.clone(),
            },
        },
        None => decision,
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{after, cap, capped, record, t0, throttle};
    use super::*;
    use crate::model::Reservation;

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
        assert_eq!(
            d,
            Decision::Hold {
                why: HoldReason::WithinGrace {
                    signals: vec![Signal::StillInAlarm],
                    elapsed_minutes: 9,
                    grace_minutes: 10,
                }
            }
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
        assert_eq!(
            decide(&tier1, &above, &Policy::default(), after(15)),
            Decision::Escalate {
                to: Tier::Reservation,
                why: EscalateReason {
                    signals: vec![Signal::AboveTarget {
                        peak: 250.0,
                        target: 100.0,
                        minutes: 10
                    }],
                    elapsed_minutes: 15,
                    grace_minutes: 10,
                }
            }
        );
        let pinned = Health {
            alarm: None,
            recent_peak: Some(100.0),
            recent_throttles: 40.0,
            ..calm()
        };
        let d = decide(&capped(), &pinned, &Policy::default(), after(15));
        assert_eq!(
            d,
            Decision::Escalate {
                to: Tier::KillSwitch,
                why: EscalateReason {
                    signals: vec![Signal::Throttled {
                        throttles: 40.0,
                        minutes: 10
                    }],
                    elapsed_minutes: 15,
                    grace_minutes: 10,
                }
            }
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
        assert_eq!(
            d,
            Decision::Hold {
                why: HoldReason::AtLastTier {
                    signals: vec![Signal::StillInAlarm]
                }
            }
        );
    }

    #[test]
    fn a_record_without_actions_has_nothing_to_escalate_from() {
        let d = decide(&record(&[]), &alarming(), &Policy::default(), after(120));
        assert_eq!(
            d,
            Decision::Hold {
                why: HoldReason::NothingToEscalate {
                    signals: vec![Signal::StillInAlarm]
                }
            }
        );
    }

    #[test]
    fn restores_after_the_cooldown_when_calm() {
        let policy = Policy::default();
        let d = decide(&capped(), &calm(), &policy, after(29));
        assert_eq!(
            d,
            Decision::Hold {
                why: HoldReason::CalmTooBriefly {
                    alarm: Some(AlarmState::Ok),
                    peak: 79.0,
                    elapsed_minutes: 29,
                    cooldown_minutes: 30,
                }
            }
        );
        assert_eq!(
            decide(&capped(), &calm(), &policy, after(30)),
            Decision::Restore {
                why: RestoreReason::Calm {
                    alarm: Some(AlarmState::Ok),
                    peak: 79.0,
                    calm_below: 80.0,
                    cooldown_minutes: 30,
                }
            }
        );
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
        assert_eq!(
            decide(&capped(), &near, &policy, after(60)),
            Decision::Hold {
                why: HoldReason::Recovering {
                    peak: 80.0,
                    calm_below: 80.0,
                    throttles: 0.0,
                    cooldown_minutes: 30,
                }
            }
        );
        let throttled_earlier = Health {
            cooldown_throttles: 3.0,
            ..calm()
        };
        assert!(matches!(
            decide(&capped(), &throttled_earlier, &policy, after(60)),
            Decision::Hold {
                why: HoldReason::Recovering { throttles, .. }
            } if throttles == 3.0
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
        let escalate = Decision::Escalate {
            to: Tier::KillSwitch,
            why: EscalateReason {
                signals: vec![Signal::StillInAlarm],
                elapsed_minutes: 10,
                grace_minutes: 10,
            },
        };
        assert_eq!(
            respect_people(escalate, &verdicts),
            Decision::Hold {
                why: HoldReason::PersonChanged {
                    index: 1,
                    change: cap(Reservation::Unreserved, Reservation::Reserved(100)),
                    current: Current::Reservation(Reservation::Reserved(300)),
                }
            }
        );
        let restore = Decision::Restore {
            why: RestoreReason::Requested,
        };
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
