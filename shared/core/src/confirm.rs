//! An alarm is acted on only when CloudWatch itself confirms it: the alarm exists in this
//! account and region with the notification's ARN, it is in ALARM since no earlier than the
//! notification says, and its own metric — re-read with the alarm's own statistic, period,
//! comparison and threshold, never the message's — breaches now. A notification that is
//! forged, replayed for an alarm that recovered, or produced by `SetAlarmState` on a calm
//! account changes nothing.
//!
//! Alarm history is not needed for this: an alarm that is no longer in ALARM needs no new
//! limit (the auditor restores what an earlier run did), so the current state decides.

use std::fmt;

use chrono::{DateTime, Duration, Utc};
use serde::{Serialize, Serializer};

use crate::error::Failure;
use crate::intake::{Alarm, AlarmState};

/// How an alarm compares its metric with its threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    GreaterThanOrEqual,
    GreaterThan,
    LessThan,
    LessThanOrEqual,
}

impl Comparison {
    /// CloudWatch's `ComparisonOperator`; `None` for the anomaly-band operators, which have no
    /// fixed threshold to re-check.
    pub fn parse(operator: &str) -> Option<Self> {
        match operator {
            "GreaterThanOrEqualToThreshold" => Some(Self::GreaterThanOrEqual),
            "GreaterThanThreshold" => Some(Self::GreaterThan),
            "LessThanThreshold" => Some(Self::LessThan),
            "LessThanOrEqualToThreshold" => Some(Self::LessThanOrEqual),
            _ => None,
        }
    }

    pub fn breaches(self, value: f64, threshold: f64) -> bool {
        match self {
            Self::GreaterThanOrEqual => value >= threshold,
            Self::GreaterThan => value > threshold,
            Self::LessThan => value < threshold,
            Self::LessThanOrEqual => value <= threshold,
        }
    }
}

/// What CloudWatch says of an alarm now (`DescribeAlarms`) and its metric re-read with the
/// alarm's own definition (`GetMetricData`).
#[derive(Debug, Clone, PartialEq)]
pub struct AlarmEvidence {
    pub arn: String,
    pub state: AlarmState,
    pub state_updated: DateTime<Utc>,
    /// `None`: an operator this guard cannot re-check (anomaly bands).
    pub comparison: Option<Comparison>,
    pub threshold: Option<f64>,
    pub evaluation_periods: u32,
    /// `DatapointsToAlarm`, defaulting to `evaluation_periods`.
    pub datapoints_to_alarm: u32,
    /// The alarm's metric over its last evaluation periods, oldest first.
    pub datapoints: Vec<f64>,
}

/// Why a notification was not acted on.
#[derive(Debug, Clone, PartialEq)]
pub enum Unconfirmed {
    /// The notification names no ARN to check.
    NoArn,
    /// No such alarm in this account and region.
    NoSuchAlarm,
    /// An alarm of that name exists, with another ARN (another account or region).
    OtherArn { found: String },
    /// The alarm is not in ALARM now.
    NotInAlarm { state: AlarmState },
    /// CloudWatch shows the alarm in ALARM since another time than the notification claims:
    /// a forged time, or an older notification of an alarm that has since transitioned again
    /// (whose own notification handles it).
    NoTransitionThen { since: DateTime<Utc> },
    /// The alarm's operator cannot be re-checked here.
    Unsupported,
    /// The alarm's own metric does not breach its own threshold now.
    Calm {
        breaching: usize,
        needed: u32,
        latest: Option<f64>,
        threshold: f64,
    },
    /// CloudWatch could not be asked; transient, so the invocation fails and is retried.
    Unreadable(Failure),
}

/// How far CloudWatch's own transition time may lie from the notification's: payloads round
/// the time, and the local stand-in stamps the state when it is set.
pub fn tolerance() -> Duration {
    Duration::minutes(2)
}

/// `Ok` when CloudWatch confirms `alarm`, as `evidence` shows it.
pub fn confirm(alarm: &Alarm, evidence: Option<&AlarmEvidence>) -> Result<(), Unconfirmed> {
    let Some(arn) = &alarm.arn else {
        return Err(Unconfirmed::NoArn);
    };
    let Some(e) = evidence else {
        return Err(Unconfirmed::NoSuchAlarm);
    };
    if &e.arn != arn {
        return Err(Unconfirmed::OtherArn {
            found: e.arn.clone(),
        });
    }
    if e.state != AlarmState::Alarm {
        return Err(Unconfirmed::NotInAlarm { state: e.state });
    }
    if (e.state_updated - alarm.changed_at).abs() > tolerance() {
        return Err(Unconfirmed::NoTransitionThen {
            since: e.state_updated,
        });
    }
    let (Some(comparison), Some(threshold)) = (e.comparison, e.threshold) else {
        return Err(Unconfirmed::Unsupported);
    };
    let recent = &e.datapoints[e
        .datapoints
        .len()
        .saturating_sub(e.evaluation_periods as usize)..];
    let breaching = recent
        .iter()
        .filter(|v| comparison.breaches(**v, threshold))
        .count();
    let needed = e.datapoints_to_alarm.max(1);
    if breaching < needed as usize {
        return Err(Unconfirmed::Calm {
            breaching,
            needed,
            latest: e.datapoints.last().copied(),
            threshold,
        });
    }
    Ok(())
}

impl Unconfirmed {
    /// A failed read is worth a retry; every other answer is final.
    pub fn transient(&self) -> bool {
        matches!(self, Self::Unreadable(_))
    }
}

impl fmt::Display for Unconfirmed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoArn => f.write_str("the notification names no alarm ARN to check"),
            Self::NoSuchAlarm => {
                f.write_str("CloudWatch has no such alarm in this account and region")
            }
            Self::OtherArn { found } => {
                write!(
                    f,
                    "CloudWatch's alarm of that name has another ARN ({found})"
                )
            }
            Self::NotInAlarm { state } => write!(f, "the alarm is {state} now"),
            Self::NoTransitionThen { since } => write!(
                f,
                "CloudWatch shows the alarm in ALARM since {since}, not since the time the \
                 notification claims"
            ),
            Self::Unsupported => f.write_str(
                "the alarm's comparison cannot be re-checked (anomaly band or no threshold)",
            ),
            Self::Calm {
                breaching,
                needed,
                latest,
                threshold,
            } => {
                write!(
                    f,
                    "its metric breaches in {breaching} of the datapoints it evaluates, {needed} \
                     needed (threshold {threshold}"
                )?;
                match latest {
                    Some(v) => write!(f, ", latest {v})"),
                    None => f.write_str(", no data)"),
                }
            }
            Self::Unreadable(e) => write!(f, "CloudWatch could not be asked: {e}"),
        }
    }
}

impl Serialize for Unconfirmed {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intake::Subject;
    use crate::intake::parse_event;

    fn alarm() -> Alarm {
        let event: serde_json::Value =
            serde_json::from_str(include_str!("../../../events/alarm-action.json")).unwrap();
        match parse_event(&event).unwrap().remove(0).subject {
            Subject::Alarm(a) => a,
            Subject::Function { .. } => unreachable!(),
        }
    }

    fn evidence(datapoints: &[f64]) -> AlarmEvidence {
        let a = alarm();
        AlarmEvidence {
            arn: a.arn.clone().unwrap(),
            state: AlarmState::Alarm,
            state_updated: a.changed_at,
            comparison: Some(Comparison::GreaterThanOrEqual),
            threshold: Some(800.0),
            evaluation_periods: 1,
            datapoints_to_alarm: 1,
            datapoints: datapoints.to_vec(),
        }
    }

    #[test]
    fn a_real_alarm_whose_metric_breaches_is_confirmed() {
        assert_eq!(confirm(&alarm(), Some(&evidence(&[700.0, 962.0]))), Ok(()));
    }

    #[test]
    fn a_forged_or_foreign_alarm_is_not() {
        assert_eq!(confirm(&alarm(), None), Err(Unconfirmed::NoSuchAlarm));
        let mut e = evidence(&[962.0]);
        e.arn =
            "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:concurrency-guard-account-concurrency"
                .into();
        assert!(matches!(
            confirm(&alarm(), Some(&e)),
            Err(Unconfirmed::OtherArn { .. })
        ));
    }

    #[test]
    fn set_alarm_state_on_a_calm_account_is_not_confirmed() {
        // SetAlarmState put the alarm in ALARM; its own metric says 140.
        assert_eq!(
            confirm(&alarm(), Some(&evidence(&[130.0, 140.0]))),
            Err(Unconfirmed::Calm {
                breaching: 0,
                needed: 1,
                latest: Some(140.0),
                threshold: 800.0
            })
        );
        assert!(matches!(
            confirm(&alarm(), Some(&evidence(&[]))),
            Err(Unconfirmed::Calm { latest: None, .. })
        ));
    }

    #[test]
    fn an_alarm_that_recovered_or_never_transitioned_then_is_not() {
        let mut e = evidence(&[962.0]);
        e.state = AlarmState::Ok;
        assert_eq!(
            confirm(&alarm(), Some(&e)),
            Err(Unconfirmed::NotInAlarm {
                state: AlarmState::Ok
            })
        );
        let mut e = evidence(&[962.0]);
        e.state_updated = alarm().changed_at - Duration::hours(5);
        assert!(
            matches!(
                confirm(&alarm(), Some(&e)),
                Err(Unconfirmed::NoTransitionThen { .. })
            ),
            "no transition at the claimed time"
        );
        let mut e = evidence(&[962.0]);
        e.state_updated = alarm().changed_at + Duration::minutes(1);
        assert!(
            confirm(&alarm(), Some(&e)).is_ok(),
            "delivery and clocks differ a little"
        );
        e.state_updated = alarm().changed_at - Duration::minutes(1);
        assert!(confirm(&alarm(), Some(&e)).is_ok());
    }

    #[test]
    fn m_of_n_needs_m_breaching_datapoints_within_the_last_n() {
        let mut e = evidence(&[900.0, 100.0, 900.0, 100.0]);
        e.evaluation_periods = 3;
        e.datapoints_to_alarm = 2;
        assert!(matches!(
            confirm(&alarm(), Some(&e)),
            Err(Unconfirmed::Calm { breaching: 1, .. })
        ));
        e.datapoints = vec![100.0, 900.0, 100.0, 900.0];
        assert_eq!(confirm(&alarm(), Some(&e)), Ok(()));
    }
}
