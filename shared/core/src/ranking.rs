//! Whether a one-query ranking (Metrics Insights) is believed, or the guard falls back to the
//! batched path that reads every active function's peak.
//!
//! Insights answers in one call whatever the account's size, but it can answer partially (more
//! than 10,000 matching metrics, a throttled query), not at all for windows older than three
//! hours, or wrongly (the local stand-in returns one ungrouped series). An answer that cannot
//! explain the alarm must never become "nobody is to blame": every doubt below sends the guard
//! down the batched path in the same invocation, and the report says which path ranked and why.

use std::fmt;

use serde::{Serialize, Serializer};

use crate::attribution::Scope;
use crate::config::Policy;
use crate::error::Failure;
use crate::observation::Peaks;

/// What a one-query ranking returned, before it is believed.
#[derive(Debug, Clone, PartialEq)]
pub struct TopPeaks {
    /// Each series' label (the function name, when grouped) and peak; the account's peak.
    pub peaks: Peaks,
    /// How many functions were asked for (`LIMIT`).
    pub limit: usize,
    /// Every series came back `Complete`.
    pub complete: bool,
    /// Messages CloudWatch attached to the answer (e.g. partial data).
    pub messages: Vec<String>,
    /// The query's id: an ungrouped answer is labelled with it instead of a function name.
    pub query_id: String,
}

/// Which path ranked the functions.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "path", content = "because")]
pub enum RankedBy {
    /// One Metrics Insights query, believed.
    Insights,
    /// Every active function's peak in batched `GetMetricData` calls.
    Batched(Fallback),
}

/// Why the batched path ranked instead of Insights.
#[derive(Debug, Clone, PartialEq)]
pub enum Fallback {
    /// Insights is switched off, or the window is older than it keeps.
    Unavailable,
    /// The query failed.
    Failed(Failure),
    /// Some series were not complete, or CloudWatch attached messages.
    Partial { messages: Vec<String> },
    /// No series at all.
    Empty,
    /// A series is labelled with the query's id: the answer was not grouped by function.
    Ungrouped { label: String },
    /// Fewer functions than asked for — so the answer claims to be every function — whose
    /// peaks together cannot make up the account's peak.
    Unexplained { sum: f64, account_peak: f64 },
    /// The alarm is on the account's pool (or a victim) yet no function in the answer holds
    /// the offender share of the account's peak: the batched path confirms before "no
    /// offender" is said.
    NoOffender { busiest: f64, account_peak: f64 },
}

/// The share of the account's peak that the peaks of every function must at least make up:
/// each function's maximum is at least its share of any minute, so their sum is at least the
/// account's maximum, up to the metrics' own sampling.
pub const EXPLAINED_SHARE: f64 = 0.9;

/// Believes `top` (`Ok`) or says why not.
pub fn believe(top: &TopPeaks, scope: &Scope, policy: &Policy) -> Result<(), Fallback> {
    if !top.complete || !top.messages.is_empty() {
        return Err(Fallback::Partial {
            messages: top.messages.clone(),
        });
    }
    let functions = &top.peaks.functions;
    if functions.is_empty() {
        return Err(Fallback::Empty);
    }
    if functions.contains_key(&top.query_id) {
        return Err(Fallback::Ungrouped {
            label: top.query_id.clone(),
        });
    }
    let pool_alarm = matches!(scope, Scope::Account | Scope::Victim { .. });
    let Some(account_peak) = top.peaks.account.filter(|p| *p > 0.0 && pool_alarm) else {
        return Ok(());
    };
    let sum: f64 = functions.values().sum();
    if functions.len() < top.limit && sum < EXPLAINED_SHARE * account_peak {
        return Err(Fallback::Unexplained { sum, account_peak });
    }
    let busiest = functions.values().copied().fold(0.0, f64::max);
    if busiest < policy.offender_share * account_peak {
        return Err(Fallback::NoOffender {
            busiest,
            account_peak,
        });
    }
    Ok(())
}

impl fmt::Display for Fallback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unavailable => f.write_str("Metrics Insights off or the window too old for it"),
            Self::Failed(e) => write!(f, "the Metrics Insights query failed: {e}"),
            Self::Partial { messages } if messages.is_empty() => {
                f.write_str("Metrics Insights answered partially")
            }
            Self::Partial { messages } => write!(
                f,
                "Metrics Insights answered partially: {}",
                messages.join("; ")
            ),
            Self::Empty => f.write_str("Metrics Insights returned no series"),
            Self::Ungrouped { label } => write!(
                f,
                "Metrics Insights returned a series labelled {label:?}, not grouped by function"
            ),
            Self::Unexplained { sum, account_peak } => write!(
                f,
                "the functions Metrics Insights returned peak at {sum:.0} together, less than \
                 the account's {account_peak:.0}"
            ),
            Self::NoOffender {
                busiest,
                account_peak,
            } => write!(
                f,
                "the busiest function Metrics Insights returned peaked at {busiest:.0} of the \
                 account's {account_peak:.0}: confirming with every function's peak"
            ),
        }
    }
}

impl fmt::Display for RankedBy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Insights => f.write_str("one Metrics Insights query"),
            Self::Batched(why) => write!(f, "every active function's peak, batched ({why})"),
        }
    }
}

/// Reports carry the sentence a person reads.
impl Serialize for Fallback {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn top(functions: &[(&str, f64)], account: Option<f64>) -> TopPeaks {
        TopPeaks {
            peaks: Peaks {
                account,
                functions: functions
                    .iter()
                    .map(|(n, p)| (n.to_string(), *p))
                    .collect::<BTreeMap<_, _>>(),
            },
            limit: 10,
            complete: true,
            messages: Vec::new(),
            query_id: "insights".into(),
        }
    }

    fn believe_for_account(t: &TopPeaks) -> Result<(), Fallback> {
        believe(t, &Scope::Account, &Policy::default())
    }

    #[test]
    fn a_grouped_complete_answer_that_explains_the_peak_is_believed() {
        let t = top(
            &[("slow-search", 600.0), ("orders", 300.0), ("b", 62.0)],
            Some(962.0),
        );
        assert_eq!(believe_for_account(&t), Ok(()));
    }

    #[test]
    fn the_stand_in_s_ungrouped_series_is_not_believed() {
        // moto answers the GROUP BY query with one series labelled with the query id.
        let t = top(&[("insights", 962.0)], Some(962.0));
        assert_eq!(
            believe_for_account(&t),
            Err(Fallback::Ungrouped {
                label: "insights".into()
            })
        );
    }

    #[test]
    fn partial_or_empty_answers_are_not_believed() {
        let mut t = top(&[("slow-search", 600.0)], Some(700.0));
        t.complete = false;
        assert_eq!(
            believe_for_account(&t),
            Err(Fallback::Partial { messages: vec![] })
        );
        let mut t = top(&[("slow-search", 600.0)], Some(700.0));
        t.messages = vec!["MaxMetricsExceeded".into()];
        assert!(matches!(
            believe_for_account(&t),
            Err(Fallback::Partial { .. })
        ));
        assert_eq!(
            believe_for_account(&top(&[], Some(700.0))),
            Err(Fallback::Empty)
        );
    }

    #[test]
    fn every_function_together_must_make_up_the_account_s_peak() {
        // Three functions (fewer than asked for) peaking at 30 cannot explain 962.
        let t = top(&[("a", 10.0), ("b", 10.0), ("c", 10.0)], Some(962.0));
        assert_eq!(
            believe_for_account(&t),
            Err(Fallback::Unexplained {
                sum: 30.0,
                account_peak: 962.0
            })
        );
        // Ten of many: the rest may make it up, but nobody is an offender — confirm first.
        let many: Vec<(String, f64)> = (0..10).map(|i| (format!("f{i}"), 10.0)).collect();
        let refs: Vec<(&str, f64)> = many.iter().map(|(n, p)| (n.as_str(), *p)).collect();
        assert_eq!(
            believe_for_account(&top(&refs, Some(962.0))),
            Err(Fallback::NoOffender {
                busiest: 10.0,
                account_peak: 962.0
            })
        );
    }

    #[test]
    fn a_function_alarm_needs_no_account_explanation() {
        let t = top(&[("a", 10.0)], Some(962.0));
        let scope = Scope::Function {
            function: "a".into(),
        };
        assert_eq!(believe(&t, &scope, &Policy::default()), Ok(()));
    }

    #[test]
    fn the_reason_reads_and_serialises_as_one_sentence() {
        let why = RankedBy::Batched(Fallback::Ungrouped {
            label: "insights".into(),
        });
        assert_eq!(
            serde_json::to_value(&why).unwrap(),
            serde_json::json!({
                "path": "batched",
                "because": "Metrics Insights returned a series labelled \"insights\", not grouped by function"
            })
        );
        assert_eq!(
            serde_json::to_value(RankedBy::Insights).unwrap(),
            serde_json::json!({ "path": "insights" })
        );
    }
}
