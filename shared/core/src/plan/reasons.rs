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
    /// A consumer's reservation shared between its mappings leaves each less than the 2 that
    /// `MaximumConcurrency` accepts: no setting keeps its pollers within the reservation.
    BelowQueueMinimum {
        reserved: u32,
        mappings: u32,
    },
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
    /// The guard's `MaximumConcurrency` keeps a consumer within its own reservation: restoring
    /// what was there would throttle valid messages into the DLQ again.
    KeptWithinReservation {
        maximum: u32,
        reserved: u32,
    },
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
    /// Tier 1 on the SQS mappings of a victim held back by its own reservation: the pollers
    /// may take no more batches than the function may run.
    WithinReservation {
        reserved: u32,
        mappings: u32,
        maximum: u32,
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
            Self::BelowQueueMinimum { reserved, mappings } => {
                write!(f, "reserved {reserved}")?;
                if *mappings > 1 {
                    write!(f, " ÷ {mappings} mappings")?;
                }
                f.write_str(
                    " is below MaximumConcurrency's minimum of 2: no setting keeps the pollers \
                     within the reservation",
                )
            }
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
            Self::KeptWithinReservation { maximum, reserved } => write!(
                f,
                "kept: MaximumConcurrency {maximum} keeps the pollers within the function's own \
                 reservation {reserved}; what was there would have them take more batches than \
                 it may run, and throttle valid messages into the DLQ"
            ),
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
                per_mapping(f, *mappings)?;
                write!(
                    f,
                    " (bounded to 2..=1000): messages wait in the queue instead of being \
                     throttled into the DLQ; offender peak {offender}"
                )
            }
            Self::WithinReservation {
                reserved,
                mappings,
                maximum,
            } => within_reservation(f, *reserved, *mappings, *maximum),
            Self::Cap {
                target,
                lowered,
                offender,
            } => cap(f, *target, lowered.as_ref(), offender),
            Self::KillSwitchRequested => f.write_str("tier 3 requested"),
            Self::Emergency {
                utilization,
                blocked,
                offender,
            } => emergency(f, *utilization, blocked.as_ref(), offender),
        }
    }
}

/// " ÷ N mappings" when a queue's share is split between several.
fn per_mapping(f: &mut fmt::Formatter<'_>, mappings: u32) -> fmt::Result {
    if mappings > 1 {
        write!(f, " ÷ {mappings} mappings")?;
    }
    Ok(())
}

fn within_reservation(
    f: &mut fmt::Formatter<'_>,
    reserved: u32,
    mappings: u32,
    maximum: u32,
) -> fmt::Result {
    write!(
        f,
        "SQS MaximumConcurrency = the function's own reservation {reserved}"
    )?;
    per_mapping(f, mappings)?;
    write!(
        f,
        " = {maximum}: pollers that take more batches than the reservation runs have \
         them throttled until the visibility timeout, and valid messages reach the \
         DLQ (AWS: \"Don't set maximum concurrency higher than the function's \
         reserved concurrency\")"
    )
}

fn cap(
    f: &mut fmt::Formatter<'_>,
    target: u32,
    lowered: Option<&Lowered>,
    offender: &impl fmt::Display,
) -> fmt::Result {
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

fn emergency(
    f: &mut fmt::Formatter<'_>,
    utilization: f64,
    blocked: Option<&Floor>,
    offender: &impl fmt::Display,
) -> fmt::Result {
    write!(
        f,
        "emergency: account at {:.0}% of its limit; ",
        utilization * 100.0
    )?;
    match blocked {
        Some(floor) => fmt::Display::fmt(&Skip::BelowMinimum(*floor), f)?,
        None => f.write_str("the spike persisted after the lower tiers")?,
    }
    write!(f, "; offender peak {offender}")
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
mod tests;
