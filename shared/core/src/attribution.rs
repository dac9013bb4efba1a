//! Attribution: from an alarm and its metrics to the ranked functions and the offender(s).

use serde::{Deserialize, Serialize};

use crate::config::Policy;
use crate::intake::{Alarm, MetricRef};
use crate::observation::{FunctionUsage, Observation, Peaks};

/// Account-wide concurrency metrics: an alarm on any of these (or math over them) is about the
/// shared pool.
const ACCOUNT_METRICS: [&str; 3] = [
    "ConcurrentExecutions",
    "UnreservedConcurrentExecutions",
    "ClaimedAccountConcurrency",
];
/// A function alarmed on these is suffering, not causing: rank the others.
const VICTIM_METRICS: [&str; 3] = ["Throttles", "Errors", "DeadLetterErrors"];
/// A function alarmed on these is the one using the pool.
const OWN_LOAD_METRICS: [&str; 4] = [
    "ConcurrentExecutions",
    "Invocations",
    "Duration",
    "ProvisionedConcurrencySpilloverInvocations",
];

/// What an alarm is about, which decides where to look for the offender.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Scope {
    /// The account's pool is full: rank every recently active function.
    Account,
    /// This function is throttled or failing: rank the others.
    Victim { function: String },
    /// This function's own load alarmed (or an operator named it).
    Function { function: String },
    /// Not about Lambda concurrency: nothing to do.
    Unrelated { why: String },
}

impl Scope {
    pub fn of(alarm: &Alarm) -> Self {
        let lambda: Vec<&MetricRef> = alarm
            .metrics
            .iter()
            .filter(|m| m.namespace == "AWS/Lambda")
            .collect();
        if lambda.is_empty() {
            return Self::Unrelated {
                why: if alarm.metrics.is_empty() {
                    "the alarm names no metric".into()
                } else {
                    format!(
                        "the alarm watches no AWS/Lambda metric ({})",
                        describe(&alarm.metrics)
                    )
                },
            };
        }
        // Function-level first: an alarm on a function's own metric names it exactly.
        for m in &lambda {
            if let Some(f) = m.function_name() {
                if VICTIM_METRICS.contains(&m.name.as_str()) {
                    return Self::Victim {
                        function: f.to_owned(),
                    };
                }
                if OWN_LOAD_METRICS.contains(&m.name.as_str()) {
                    return Self::Function {
                        function: f.to_owned(),
                    };
                }
            }
        }
        if lambda
            .iter()
            .any(|m| m.dimensions.is_empty() && ACCOUNT_METRICS.contains(&m.name.as_str()))
        {
            return Self::Account;
        }
        Self::Unrelated {
            why: format!(
                "no supported concurrency metric in the alarm ({})",
                describe(&alarm.metrics)
            ),
        }
    }

    fn excluded(&self) -> Option<&str> {
        match self {
            Self::Victim { function } => Some(function),
            _ => None,
        }
    }
}

fn describe(metrics: &[MetricRef]) -> String {
    metrics
        .iter()
        .map(|m| format!("{}/{}", m.namespace, m.name))
        .collect::<Vec<_>>()
        .join(", ")
}

/// How many functions the report ranks.
pub const RANKING_SIZE: usize = 10;

/// The functions worth a detailed read: the busiest by peak concurrency, plus the one the
/// alarm names. Everything else only costs the one batched peak query.
pub fn candidates(scope: &Scope, peaks: &Peaks, policy: &Policy) -> Vec<String> {
    let mut ranked: Vec<(&String, f64)> = peaks.functions.iter().map(|(n, p)| (n, *p)).collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    let mut out: Vec<String> = ranked
        .into_iter()
        .take(RANKING_SIZE.max(policy.max_offenders + 1))
        .map(|(n, _)| n.clone())
        .collect();
    if let Scope::Victim { function } | Scope::Function { function } = scope
        && !out.contains(function)
    {
        out.push(function.clone());
    }
    out
}

/// One function's figures, as the report shows them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ranked {
    pub function: String,
    pub peak_concurrency: Option<f64>,
    pub little_estimate: Option<f64>,
    pub invocations_per_second: Option<f64>,
    pub avg_duration_ms: Option<f64>,
    pub throttles: f64,
    /// Share of the account's peak concurrency.
    pub share: Option<f64>,
}

impl Ranked {
    fn from_usage(u: &FunctionUsage, total: Option<f64>) -> Self {
        let load = u.load();
        Self {
            function: u.name.clone(),
            peak_concurrency: u.peak_concurrency(),
            little_estimate: u.little_estimate().map(round2),
            invocations_per_second: u.peak_rate().map(round2),
            avg_duration_ms: u.avg_duration_ms().map(round2),
            throttles: u.throttles.sum(),
            share: match (load, total) {
                (Some(l), Some(t)) if t > 0.0 => Some(round2(l / t)),
                _ => None,
            },
        }
    }

    pub fn load(&self) -> Option<f64> {
        self.peak_concurrency.or(self.little_estimate)
    }
}

pub(crate) fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// The outcome of attribution: the ranking and, within it, the offenders to limit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attribution {
    pub scope: Scope,
    /// Account peak used for shares: the account metric, else the sum of function peaks.
    pub account_peak: Option<f64>,
    pub ranking: Vec<Ranked>,
    pub offenders: Vec<Ranked>,
}

impl Attribution {
    /// One named offender, ranked from its own usage alone: what the auditor escalates.
    pub fn single(usage: &FunctionUsage, account_peak: Option<f64>) -> Self {
        let offender = Ranked::from_usage(usage, None);
        Self {
            scope: Scope::Function {
                function: usage.name.clone(),
            },
            account_peak,
            ranking: vec![offender.clone()],
            offenders: vec![offender],
        }
    }
}

/// Ranks the observed functions and picks the offenders.
///
/// For account and victim alarms an offender holds at least `offender_share` of the account's
/// peak and more than the target (limiting a function already below the target would free
/// nothing); at most `max_offenders`, busiest first. For a function alarm, that function.
pub fn attribute(scope: &Scope, obs: &Observation, policy: &Policy) -> Attribution {
    let account_peak = obs.peaks.account.or_else(|| {
        let sum: f64 = obs.peaks.functions.values().sum();
        (sum > 0.0).then_some(sum)
    });
    let mut ranking: Vec<Ranked> = obs
        .usage
        .iter()
        .map(|u| Ranked::from_usage(u, account_peak))
        .collect();
    ranking.sort_by(|a, b| {
        b.load()
            .unwrap_or(-1.0)
            .total_cmp(&a.load().unwrap_or(-1.0))
            .then_with(|| a.function.cmp(&b.function))
    });

    let offenders = match scope {
        Scope::Unrelated { .. } => Vec::new(),
        Scope::Function { function } => ranking
            .iter()
            .find(|r| &r.function == function)
            .cloned()
            .map_or_else(|| vec![unmeasured(function)], |r| vec![r]),
        Scope::Account | Scope::Victim { .. } => {
            let floor = account_peak.map_or(0.0, |p| p * policy.offender_share);
            ranking
                .iter()
                .filter(|r| Some(r.function.as_str()) != scope.excluded())
                .filter(|r| {
                    r.load()
                        .is_some_and(|l| l >= floor && l > f64::from(policy.target_concurrency))
                })
                .take(policy.max_offenders)
                .cloned()
                .collect()
        }
    };
    ranking.truncate(RANKING_SIZE);
    Attribution {
        scope: scope.clone(),
        account_peak,
        ranking,
        offenders,
    }
}

/// An operator-named function with no metrics in the window is still the offender they named.
fn unmeasured(function: &str) -> Ranked {
    Ranked {
        function: function.to_owned(),
        peak_concurrency: None,
        little_estimate: None,
        invocations_per_second: None,
        avg_duration_ms: None,
        throttles: 0.0,
        share: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observation::{Series, Window};
    use chrono::Utc;
    use std::collections::BTreeMap;

    fn metric(name: &str, function: Option<&str>) -> MetricRef {
        MetricRef {
            namespace: "AWS/Lambda".into(),
            name: name.into(),
            dimensions: function
                .map(|f| ("FunctionName".to_string(), f.to_string()))
                .into_iter()
                .collect(),
        }
    }

    fn alarm(metrics: Vec<MetricRef>) -> Alarm {
        Alarm {
            name: "a".into(),
            arn: None,
            account_id: None,
            region: None,
            state: crate::intake::AlarmState::Alarm,
            previous_state: None,
            reason: None,
            changed_at: Utc::now(),
            metrics,
            threshold: None,
        }
    }

    fn usage(name: &str, peak: f64, rate: f64, duration_ms: f64) -> FunctionUsage {
        FunctionUsage {
            name: name.into(),
            concurrency: Series([(0, peak)].into()),
            invocations: Series([(0, rate * 60.0)].into()),
            duration_ms: Series([(0, duration_ms)].into()),
            throttles: Series::default(),
        }
    }

    fn observation(fns: &[(&str, f64, f64, f64)], account: Option<f64>) -> Observation {
        Observation {
            window: Window::before(Utc::now(), 10),
            peaks: Peaks {
                account,
                functions: fns
                    .iter()
                    .map(|(n, p, _, _)| (n.to_string(), *p))
                    .collect::<BTreeMap<_, _>>(),
            },
            usage: fns
                .iter()
                .map(|(n, p, r, d)| usage(n, *p, *r, *d))
                .collect(),
        }
    }

    #[test]
    fn scope_follows_the_metric_and_its_dimensions() {
        assert_eq!(
            Scope::of(&alarm(vec![metric("ConcurrentExecutions", None)])),
            Scope::Account
        );
        assert_eq!(
            Scope::of(&alarm(vec![metric("ClaimedAccountConcurrency", None)])),
            Scope::Account
        );
        assert_eq!(
            Scope::of(&alarm(vec![metric("Throttles", Some("orders"))])),
            Scope::Victim {
                function: "orders".into()
            }
        );
        assert_eq!(
            Scope::of(&alarm(vec![metric("ConcurrentExecutions", Some("slow"))])),
            Scope::Function {
                function: "slow".into()
            }
        );
        let rds = MetricRef {
            namespace: "AWS/RDS".into(),
            name: "CPUUtilization".into(),
            dimensions: BTreeMap::new(),
        };
        assert!(matches!(
            Scope::of(&alarm(vec![rds])),
            Scope::Unrelated { .. }
        ));
        assert!(matches!(Scope::of(&alarm(vec![])), Scope::Unrelated { .. }));
    }

    #[test]
    fn account_alarm_picks_the_function_holding_the_pool() {
        let obs = observation(
            &[
                ("slow", 600.0, 20.0, 30_000.0),
                ("orders", 40.0, 40.0, 1000.0),
                ("cron", 5.0, 1.0, 5000.0),
            ],
            Some(700.0),
        );
        let a = attribute(&Scope::Account, &obs, &Policy::default());
        assert_eq!(a.ranking[0].function, "slow");
        assert_eq!(a.ranking[0].little_estimate, Some(600.0));
        assert_eq!(a.ranking[0].share, Some(0.86));
        let names: Vec<_> = a.offenders.iter().map(|r| r.function.as_str()).collect();
        assert_eq!(names, ["slow"]);
    }

    #[test]
    fn a_victim_is_never_its_own_offender() {
        let obs = observation(
            &[("orders", 800.0, 1.0, 1.0), ("slow", 300.0, 10.0, 30_000.0)],
            Some(1000.0),
        );
        let a = attribute(
            &Scope::Victim {
                function: "orders".into(),
            },
            &obs,
            &Policy::default(),
        );
        let names: Vec<_> = a.offenders.iter().map(|r| r.function.as_str()).collect();
        assert_eq!(names, ["slow"]);
    }

    #[test]
    fn functions_below_target_or_share_are_not_offenders() {
        let obs = observation(
            &[("a", 90.0, 1.0, 1.0), ("b", 150.0, 1.0, 1.0)],
            Some(1000.0),
        );
        let a = attribute(&Scope::Account, &obs, &Policy::default());
        assert!(a.offenders.is_empty(), "{:?}", a.offenders);
    }

    #[test]
    fn offenders_are_bounded() {
        let fns: Vec<(String, f64)> = (0..8)
            .map(|i| (format!("f{i}"), 200.0 + f64::from(i)))
            .collect();
        let refs: Vec<(&str, f64, f64, f64)> = fns
            .iter()
            .map(|(n, p)| (n.as_str(), *p, 1.0, 1.0))
            .collect();
        let obs = observation(&refs, Some(1000.0));
        let policy = Policy {
            offender_share: 0.1,
            ..Policy::default()
        };
        let a = attribute(&Scope::Account, &obs, &policy);
        assert_eq!(a.offenders.len(), 3);
        assert_eq!(a.offenders[0].function, "f7");
    }

    #[test]
    fn a_named_function_is_the_offender_even_without_metrics() {
        let obs = observation(&[("busy", 500.0, 1.0, 1.0)], None);
        let a = attribute(
            &Scope::Function {
                function: "quiet".into(),
            },
            &obs,
            &Policy::default(),
        );
        assert_eq!(a.offenders.len(), 1);
        assert_eq!(a.offenders[0].function, "quiet");
        assert_eq!(a.offenders[0].peak_concurrency, None);
    }

    #[test]
    fn candidates_are_the_busiest_plus_the_named_function() {
        let peaks = Peaks {
            account: None,
            functions: (0..30)
                .map(|i| (format!("f{i:02}"), f64::from(i)))
                .collect(),
        };
        let c = candidates(
            &Scope::Victim {
                function: "f00".into(),
            },
            &peaks,
            &Policy::default(),
        );
        assert_eq!(c.len(), RANKING_SIZE + 1);
        assert_eq!(c[0], "f29");
        assert_eq!(c.last().unwrap(), "f00");
    }
}
