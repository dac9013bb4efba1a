//! Why an offender or an action is left alone ([`Skip`]) and why an action is what it is
//! ([`Why`]). Each carries its figures as values, so code and tests match on them, and is
//! worded once, by `Display`; reports serialise that wording, so their JSON reads as a sentence.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Serialize, Serializer};

use super::sizing::{Floor, Lowered, NoEmergency};
use crate::attribution::Ranked;
use crate::intake::IncidentId;
use crate::model::{Current, TAG_KILL_SWITCH, TAG_PROTECTED, Throttle};

/// Why an offender, a planned action or a restore step is skipped.
#[derive(Debug, Clone, PartialEq)]
pub enum Skip {
    // The offender is not touched at all.
    NotFound,
    GuardFunction,
    ProtectedByTag,
    ProtectedByList,
    /// Another incident's record is on the function; the auditor owns it.
    OtherIncident {
        incident: IncidentId,
        since: DateTime<Utc>,
    },
    AlreadyCapped {
        reserved: u32,
        target: u32,
    },

    // One action is not taken.
    /// The stage has other settings for the method and no throttle: our throttle could not be
    /// taken out later without taking them out too.
    SharedEntry,
    ThrottledBelow(Throttle),
    QueueLimitedBelow(u32),
    ReservedBelow {
        reserved: u32,
        cap: u32,
    },
    BelowMinimum(Floor),
    KillSwitchNotAllowed,
    NoEmergency(NoEmergency),
    ReservedZero,
    ChangedByThisPlan,
    /// Redelivery: this incident recorded the change and made it.
    Recorded {
        at: DateTime<Utc>,
    },
    BudgetExhausted {
        max_actions: usize,
    },

    // One restore step is not taken.
    NeverApplied,
    /// A recorded reservation that names another function than the record's: never restored.
    OtherFunction(String),
    /// A person changed the value since; theirs wins.
    PersonsValue(Current),
    Gone,
}

/// An offender's figures, as the rationale quotes them.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Figures {
    pub peak: Option<f64>,
    pub rate: Option<f64>,
    pub duration_ms: Option<f64>,
}

impl From<&Ranked> for Figures {
    fn from(r: &Ranked) -> Self {
        Self {
            peak: r.peak_concurrency,
            rate: r.invocations_per_second,
            duration_ms: r.avg_duration_ms,
        }
    }
}

/// The rationale of an action: the figures its change was computed from.
#[derive(Debug, Clone, PartialEq)]
pub enum Why {
    /// Tier 1 on an API stage; `per_second` is [`super::sizing::little_rate`] before bounds.
    LittlesLaw {
        target: u32,
        seconds: f64,
        per_second: f64,
        stages: usize,
        offender: Figures,
    },
    /// Tier 1 on SQS mappings.
    QueueShare {
        target: u32,
        mappings: u32,
        offender: Figures,
    },
    /// Tier 2.
    Cap {
        target: u32,
        lowered: Option<Lowered>,
        offender: Figures,
    },
    /// Tier 3 asked for but not allowed, or no emergency: the status says which.
    KillSwitchRequested,
    /// Tier 3 in an emergency; `blocked` when it replaces a cap the minimum did not allow.
    Emergency {
        utilization: f64,
        blocked: Option<Floor>,
        offender: Figures,
    },
}

impl fmt::Display for Skip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotFound => f.write_str("function not found"),
            Self::GuardFunction => f.write_str("one of the guard's own functions"),
            Self::ProtectedByTag => write!(f, "protected by tag {TAG_PROTECTED}=true"),
            Self::ProtectedByList => f.write_str("protected by CGUARD_PROTECTED_FUNCTIONS"),
            Self::OtherIncident { incident, since } => write!(
                f,
                "already under remediation by incident {incident} since {since}; \
                 the auditor escalates it"
            ),
            Self::AlreadyCapped { reserved, target } => {
                write!(f, "already capped: reserved {reserved} ≤ target {target}")
            }
            Self::SharedEntry => f.write_str(
                "the stage has other settings for this method and no throttle: a throttle could \
                 not be removed later without removing them; the reservation limits instead",
            ),
            Self::ThrottledBelow(t) => write!(f, "already limited to {t}"),
            Self::QueueLimitedBelow(n) => write!(f, "already limited to MaximumConcurrency {n}"),
            Self::ReservedBelow { reserved, cap } => {
                write!(f, "already capped: reserved {reserved} ≤ {cap}")
            }
            Self::BelowMinimum(floor) => write!(
                f,
                "a reservation would leave unreserved concurrency below the account minimum {} \
                 ({} unreserved now)",
                floor.minimum, floor.unreserved
            ),
            Self::KillSwitchNotAllowed => write!(
                f,
                "kill switch not allowed: CGUARD_KILL_SWITCH_ALLOWED is false and the function is \
                 not tagged {TAG_KILL_SWITCH}=allowed"
            ),
            Self::NoEmergency(no) => no.fmt(f),
            Self::ReservedZero => f.write_str("already reserved 0"),
            Self::ChangedByThisPlan => f.write_str("this resource is already changed by this plan"),
            Self::Recorded { at } => write!(
                f,
                "already recorded by this incident at {at} (duplicate delivery)"
            ),
            Self::BudgetExhausted { max_actions } => write!(
                f,
                "action budget exhausted (CGUARD_MAX_ACTIONS={max_actions})"
            ),
            Self::NeverApplied => f.write_str("never applied: it already holds its previous value"),
            Self::OtherFunction(name) => write!(
                f,
                "names another function ({name}) than the record's: never restored by the guard"
            ),
            Self::PersonsValue(current) => write!(f, "left the person's value: {current}"),
            Self::Gone => f.write_str("the resource no longer exists"),
        }
    }
}

impl fmt::Display for NoEmergency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Below {
                utilization,
                threshold,
            } => write!(
                f,
                "no emergency: account at {:.0}% of its limit, below \
                 CGUARD_EMERGENCY_UTILIZATION {:.0}%",
                utilization * 100.0,
                threshold * 100.0
            ),
            Self::Unknown => {
                f.write_str("no emergency can be established: the account limit or peak is unknown")
            }
        }
    }
}

impl fmt::Display for Figures {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let little = self.rate.zip(self.duration_ms);
        if let Some(p) = self.peak {
            write!(f, "{p:.0} concurrent")?;
            if little.is_some() {
                f.write_str(", ")?;
            }
        }
        match little {
            Some((rate, ms)) => write!(
                f,
                "{rate:.2} req/s × {:.2} s ≈ {:.0} (Little's law)",
                ms / 1000.0,
                rate * ms / 1000.0
            ),
            None if self.peak.is_none() => f.write_str("unmeasured"),
            None => Ok(()),
        }
    }
}

impl fmt::Display for Why {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::LittlesLaw {
                target,
                seconds,
                per_second,
                stages,
                offender,
            } => {
                write!(
                    f,
                    "Little's law: target {target} ÷ average duration {seconds:.2} s = \
                     {per_second:.2} req/s"
                )?;
                if *stages > 1 {
                    write!(f, " ÷ {stages} stages")?;
                }
                write!(
                    f,
                    "; at least 1 req/s, burst = one second of rate; offender peak {offender}"
                )
            }
            Self::QueueShare {
                target,
                mappings,
                offender,
            } => {
                write!(f, "SQS MaximumConcurrency = target {target}")?;
                if *mappings > 1 {
                    write!(f, " ÷ {mappings} mappings")?;
                }
                write!(
                    f,
                    " (bounded to 2..=1000): messages wait in the queue instead of being \
                     throttled into the DLQ; offender peak {offender}"
                )
            }
            Self::Cap {
                target,
                lowered,
                offender,
            } => {
                write!(
                    f,
                    "cap at target {target} (CGUARD_TARGET_CONCURRENCY); offender peak {offender}"
                )?;
                match lowered {
                    Some(Lowered { to, floor }) => write!(
                        f,
                        "; lowered from {target} to {to} to keep the account's unreserved \
                         minimum {} ({} unreserved now)",
                        floor.minimum, floor.unreserved
                    ),
                    None => Ok(()),
                }
            }
            Self::KillSwitchRequested => f.write_str("tier 3 requested"),
            Self::Emergency {
                utilization,
                blocked,
                offender,
            } => {
                write!(
                    f,
                    "emergency: account at {:.0}% of its limit; ",
                    utilization * 100.0
                )?;
                match blocked {
                    Some(floor) => Skip::BelowMinimum(*floor).fmt(f)?,
                    None => f.write_str("the spike persisted after the lower tiers")?,
                }
                write!(f, "; offender peak {offender}")
            }
        }
    }
}

/// Reports carry the sentence a person reads, as they always have.
impl Serialize for Skip {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl Serialize for Why {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Reservation;
    use chrono::TimeZone;

    fn at() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 23, 9, 40, 0).unwrap()
    }

    const FLOOR: Floor = Floor {
        minimum: 100,
        unreserved: 150,
    };

    const MEASURED: Figures = Figures {
        peak: Some(600.0),
        rate: Some(20.0),
        duration_ms: Some(30_000.0),
    };

    #[test]
    fn every_skip_keeps_its_wording() {
        let cases = [
            (Skip::NotFound, "function not found"),
            (Skip::GuardFunction, "one of the guard's own functions"),
            (
                Skip::ProtectedByTag,
                "protected by tag concurrency-guard:protected=true",
            ),
            (
                Skip::ProtectedByList,
                "protected by CGUARD_PROTECTED_FUNCTIONS",
            ),
            (
                Skip::OtherIncident {
                    incident: IncidentId::from_recorded("other"),
                    since: at(),
                },
                "already under remediation by incident other since 2026-11-23 09:40:00 UTC; \
                 the auditor escalates it",
            ),
            (
                Skip::AlreadyCapped {
                    reserved: 40,
                    target: 100,
                },
                "already capped: reserved 40 ≤ target 100",
            ),
            (
                Skip::SharedEntry,
                "the stage has other settings for this method and no throttle: a throttle could \
                 not be removed later without removing them; the reservation limits instead",
            ),
            (
                Skip::ThrottledBelow(Throttle {
                    rate: 1.0,
                    burst: 2,
                }),
                "already limited to 1 req/s, burst 2",
            ),
            (
                Skip::QueueLimitedBelow(5),
                "already limited to MaximumConcurrency 5",
            ),
            (
                Skip::ReservedBelow {
                    reserved: 40,
                    cap: 100,
                },
                "already capped: reserved 40 ≤ 100",
            ),
            (
                Skip::BelowMinimum(FLOOR),
                "a reservation would leave unreserved concurrency below the account minimum 100 \
                 (150 unreserved now)",
            ),
            (
                Skip::KillSwitchNotAllowed,
                "kill switch not allowed: CGUARD_KILL_SWITCH_ALLOWED is false and the function \
                 is not tagged concurrency-guard:kill-switch=allowed",
            ),
            (
                Skip::NoEmergency(NoEmergency::Below {
                    utilization: 0.7,
                    threshold: 0.95,
                }),
                "no emergency: account at 70% of its limit, below CGUARD_EMERGENCY_UTILIZATION \
                 95%",
            ),
            (
                Skip::NoEmergency(NoEmergency::Unknown),
                "no emergency can be established: the account limit or peak is unknown",
            ),
            (Skip::ReservedZero, "already reserved 0"),
            (
                Skip::ChangedByThisPlan,
                "this resource is already changed by this plan",
            ),
            (
                Skip::Recorded { at: at() },
                "already recorded by this incident at 2026-11-23 09:40:00 UTC (duplicate \
                 delivery)",
            ),
            (
                Skip::BudgetExhausted { max_actions: 3 },
                "action budget exhausted (CGUARD_MAX_ACTIONS=3)",
            ),
            (
                Skip::NeverApplied,
                "never applied: it already holds its previous value",
            ),
            (
                Skip::PersonsValue(Current::Reservation(Reservation::Reserved(300))),
                "left the person's value: reserved 300",
            ),
            (Skip::Gone, "the resource no longer exists"),
        ];
        for (skip, wording) in cases {
            assert_eq!(skip.to_string(), wording);
            assert_eq!(serde_json::to_value(&skip).unwrap(), wording);
        }
    }

    #[test]
    fn every_rationale_keeps_its_wording() {
        let cases = [
            (
                Why::LittlesLaw {
                    target: 100,
                    seconds: 30.0,
                    per_second: 100.0 / 30.0,
                    stages: 1,
                    offender: MEASURED,
                },
                "Little's law: target 100 ÷ average duration 30.00 s = 3.33 req/s; at least 1 \
                 req/s, burst = one second of rate; offender peak 600 concurrent, 20.00 req/s × \
                 30.00 s ≈ 600 (Little's law)",
            ),
            (
                Why::LittlesLaw {
                    target: 100,
                    seconds: 10.0,
                    per_second: 5.0,
                    stages: 2,
                    offender: Figures::default(),
                },
                "Little's law: target 100 ÷ average duration 10.00 s = 5.00 req/s ÷ 2 stages; at \
                 least 1 req/s, burst = one second of rate; offender peak unmeasured",
            ),
            (
                Why::QueueShare {
                    target: 100,
                    mappings: 1,
                    offender: Figures {
                        peak: Some(700.0),
                        ..Figures::default()
                    },
                },
                "SQS MaximumConcurrency = target 100 (bounded to 2..=1000): messages wait in the \
                 queue instead of being throttled into the DLQ; offender peak 700 concurrent",
            ),
            (
                Why::QueueShare {
                    target: 100,
                    mappings: 3,
                    offender: Figures {
                        peak: None,
                        ..MEASURED
                    },
                },
                "SQS MaximumConcurrency = target 100 ÷ 3 mappings (bounded to 2..=1000): \
                 messages wait in the queue instead of being throttled into the DLQ; offender \
                 peak 20.00 req/s × 30.00 s ≈ 600 (Little's law)",
            ),
            (
                Why::Cap {
                    target: 100,
                    lowered: None,
                    offender: MEASURED,
                },
                "cap at target 100 (CGUARD_TARGET_CONCURRENCY); offender peak 600 concurrent, \
                 20.00 req/s × 30.00 s ≈ 600 (Little's law)",
            ),
            (
                Why::Cap {
                    target: 100,
                    lowered: Some(Lowered {
                        to: 50,
                        floor: FLOOR,
                    }),
                    offender: Figures::default(),
                },
                "cap at target 100 (CGUARD_TARGET_CONCURRENCY); offender peak unmeasured; \
                 lowered from 100 to 50 to keep the account's unreserved minimum 100 (150 \
                 unreserved now)",
            ),
            (Why::KillSwitchRequested, "tier 3 requested"),
            (
                Why::Emergency {
                    utilization: 0.98,
                    blocked: None,
                    offender: Figures::default(),
                },
                "emergency: account at 98% of its limit; the spike persisted after the lower \
                 tiers; offender peak unmeasured",
            ),
            (
                Why::Emergency {
                    utilization: 0.98,
                    blocked: Some(FLOOR),
                    offender: Figures::default(),
                },
                "emergency: account at 98% of its limit; a reservation would leave unreserved \
                 concurrency below the account minimum 100 (150 unreserved now); offender peak \
                 unmeasured",
            ),
        ];
        for (why, wording) in cases {
            assert_eq!(why.to_string(), wording);
            assert_eq!(serde_json::to_value(&why).unwrap(), wording);
        }
    }
}
