//! Posture: the production checklist, read from the account on every audit pass.
//!
//! Each check yields findings only for what needs attention; their number is published as the
//! `PostureFindings` metric so that an alarm can watch it. The reads are bounded: one batched
//! peak query for every active function, reservations for the [`BUSY_CHECKED`] busiest only, and
//! paginated listings of mappings, REST APIs and alarms.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::alarm::MetricRef;
use crate::config::Policy;
use crate::model::{AccountFacts, Reservation};
use crate::observation::Peaks;

/// The metric the finding count is published as.
pub const METRIC_NAME: &str = "PostureFindings";
pub const DEFAULT_NAMESPACE: &str = "ConcurrencyGuard";
/// How many of the busiest unreserved-looking functions have their reservation read.
pub const BUSY_CHECKED: usize = 5;
/// A function is busy when its peak reached this share of the target.
pub const BUSY_SHARE: f64 = 0.5;
/// Minutes of peaks the busy check looks at.
pub const BUSY_WINDOW_MINUTES: u32 = 60;

/// An SQS event source mapping.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueMapping {
    pub uuid: String,
    pub function: String,
    pub source_arn: String,
    pub maximum_concurrency: Option<u32>,
    pub enabled: bool,
}

/// A REST API stage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiStage {
    pub api_id: String,
    pub api_name: String,
    pub stage: String,
    /// Some stage-wide or method throttle is set.
    pub throttled: bool,
    /// Whether some method integrates a Lambda function; `None` if that could not be read.
    pub invokes_lambda: Option<bool>,
}

/// A metric alarm, as far as the checklist cares.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlarmInfo {
    pub name: String,
    pub metrics: Vec<MetricRef>,
    /// The ALARM-state actions.
    pub actions: Vec<String>,
}


/// Where the guard is wired, from the environment the stack sets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PostureSettings {
    /// `CGUARD_REMEDIATOR_FUNCTION`: name (or ARN) of the remediator.
    pub remediator_function: Option<String>,
    /// `CGUARD_ALARM_TOPIC_ARN`: the topic the concurrency alarms notify.
    pub alarm_topic_arn: Option<String>,
    /// `CGUARD_METRICS_NAMESPACE`, default `ConcurrencyGuard`.
    pub metrics_namespace: String,
}

impl PostureSettings {
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Self {
        let read = |k: &str| {
            get(k)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        Self {
            remediator_function: read("CGUARD_REMEDIATOR_FUNCTION"),
            alarm_topic_arn: read("CGUARD_ALARM_TOPIC_ARN"),
            metrics_namespace: read("CGUARD_METRICS_NAMESPACE")
                .unwrap_or_else(|| DEFAULT_NAMESPACE.to_owned()),
        }
    }

    pub fn from_env() -> Self {
        Self::from_lookup(|k| std::env::var(k).ok())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// The guard cannot work as intended.
    Critical,
    /// A spike would hurt more than it needs to.
    Warning,
    /// The check could not be made.
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    pub check: String,
    pub severity: Severity,
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PostureReport {
    pub at: DateTime<Utc>,
    pub findings: Vec<Finding>,
}

/// A busy function and its reservation (or why it could not be read).
#[derive(Debug, Clone, PartialEq)]
pub struct Busy {
    pub function: String,
    pub peak: f64,
    pub reservation: Result<Reservation, String>,
}

/// Everything the checks read; each part may have failed on its own.
#[derive(Debug, Clone, PartialEq)]
pub struct PostureFacts {
    pub account: Result<AccountFacts, String>,
    pub busy: Result<Vec<Busy>, String>,
    pub queues: Result<Vec<QueueMapping>, String>,
    pub stages: Result<Vec<ApiStage>, String>,
    /// `None` when no remediator is configured; `Some(Ok(None))` when it does not exist.
    pub remediator: Option<Result<Option<Reservation>, String>>,
    pub alarms: Result<Vec<AlarmInfo>, String>,
}

pub const CHECK_HEADROOM: &str = "unreserved_headroom";
pub const CHECK_BUSY: &str = "busy_without_reservation";
pub const CHECK_QUEUE: &str = "sqs_without_maximum_concurrency";
pub const CHECK_STAGE: &str = "api_stage_without_throttle";
pub const CHECK_REMEDIATOR: &str = "remediator_reservation";
pub const CHECK_ALARM: &str = "account_concurrency_alarm";

/// The busiest functions worth a reservation read: peak at least [`BUSY_SHARE`] of the target,
/// not the guard's own, busiest first, at most [`BUSY_CHECKED`].
pub fn busy_candidates(peaks: &Peaks, policy: &Policy) -> Vec<(String, f64)> {
    let floor = BUSY_SHARE * f64::from(policy.target_concurrency);
    let mut busy: Vec<(String, f64)> = peaks
        .functions
        .iter()
        .filter(|(n, p)| **p >= floor && !policy.guard_functions.contains(*n))
        .map(|(n, p)| (n.clone(), *p))
        .collect();
    busy.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    busy.truncate(BUSY_CHECKED);
    busy
}

/// Whether an alarm watches the account's `ConcurrentExecutions` (no dimensions) and notifies
/// the guard (the alarm topic, or the remediator directly).
pub fn notifies_the_guard(alarm: &AlarmInfo, settings: &PostureSettings) -> bool {
    let watches = alarm.metrics.iter().any(|m| {
        m.namespace == "AWS/Lambda" && m.name == "ConcurrentExecutions" && m.dimensions.is_empty()
    });
    let reaches = alarm.actions.iter().any(|a| {
        settings.alarm_topic_arn.as_deref() == Some(a.as_str())
            || settings
                .remediator_function
                .as_deref()
                .is_some_and(|r| is_function(a, r))
    });
    watches && reaches
}

/// `arn` names the function `name` (a name or an ARN), with or without a qualifier.
fn is_function(arn: &str, name: &str) -> bool {
    if name.starts_with("arn:") {
        return arn == name || arn.strip_prefix(name).is_some_and(|q| q.starts_with(':'));
    }
    let Some((_, rest)) = arn.split_once(":function:") else {
        return false;
    };
    rest.split(':').next() == Some(name)
}

/// The checks, from facts already read.
pub fn assess(
    facts: &PostureFacts,
    policy: &Policy,
    settings: &PostureSettings,
    at: DateTime<Utc>,
) -> PostureReport {
    let mut findings = Vec::new();
    let mut add = |check: &str, severity, detail: String| {
        findings.push(Finding {
            check: check.to_owned(),
            severity,
            detail,
        });
    };
    let target = policy.target_concurrency;

    match &facts.account {
        Ok(AccountFacts {
            limit: Some(limit),
            unreserved: Some(unreserved),
        }) => {
            let minimum = facts
                .account
                .as_ref()
                .ok()
                .and_then(|a| a.unreserved_minimum(policy.unreserved_minimum))
                .unwrap_or(0);
            let headroom = i64::from(*unreserved) - i64::from(minimum);
            if headroom < i64::from(target) {
                add(
                    CHECK_HEADROOM,
                    Severity::Warning,
                    format!(
                        "only {headroom} of the account's concurrency can still be reserved ({unreserved} unreserved of \
                         limit {limit}, minimum {minimum}): the guard cannot cap an offender at the target {target}; \
                         release reservations or request a higher limit"
                    ),
                );
            }
        }
        Ok(_) => add(
            CHECK_HEADROOM,
            Severity::Unknown,
            "the account settings name no limit: headroom unknown".into(),
        ),
        Err(e) => add(
            CHECK_HEADROOM,
            Severity::Unknown,
            format!("account settings unavailable ({e}): headroom unknown"),
        ),
    }

    match &facts.busy {
        Ok(busy) => {
            for b in busy {
                match &b.reservation {
                    Ok(Reservation::Unreserved) => add(
                        CHECK_BUSY,
                        Severity::Warning,
                        format!(
                            "{} peaked at {:.0} in the last {BUSY_WINDOW_MINUTES} min (≥ {:.0}% of the target {target}) \
                             with no reservation: a spike of it takes from every unreserved function",
                            b.function,
                            b.peak,
                            BUSY_SHARE * 100.0
                        ),
                    ),
                    Ok(Reservation::Reserved(_)) => {}
                    Err(e) => add(
                        CHECK_BUSY,
                        Severity::Unknown,
                        format!("{}: reservation unknown ({e})", b.function),
                    ),
                }
            }
        }
        Err(e) => add(
            CHECK_BUSY,
            Severity::Unknown,
            format!("peaks unavailable ({e})"),
        ),
    }

    match &facts.queues {
        Ok(queues) => {
            for q in queues
                .iter()
                .filter(|q| q.enabled && q.maximum_concurrency.is_none())
            {
                let queue = q.source_arn.rsplit(':').next().unwrap_or(&q.source_arn);
                add(
                    CHECK_QUEUE,
                    Severity::Warning,
                    format!(
                        "SQS mapping {} (queue {queue} → {}) has no MaximumConcurrency: a backlog scales the \
                         function up until the pool or its reservation throttles it",
                        q.uuid, q.function
                    ),
                );
            }
        }
        Err(e) => add(
            CHECK_QUEUE,
            Severity::Unknown,
            format!("event source mappings unavailable ({e})"),
        ),
    }

    match &facts.stages {
        Ok(stages) => {
            for s in stages
                .iter()
                .filter(|s| !s.throttled && s.invokes_lambda != Some(false))
            {
                add(
                    CHECK_STAGE,
                    Severity::Warning,
                    format!(
                        "REST API {} ({}) stage {} {} Lambda with no stage or method throttle: only the account-wide \
                         API Gateway limit applies",
                        s.api_name,
                        s.api_id,
                        s.stage,
                        if s.invokes_lambda.is_some() {
                            "invokes"
                        } else {
                            "may invoke (its integrations could not be read)"
                        }
                    ),
                );
            }
        }
        Err(e) => add(
            CHECK_STAGE,
            Severity::Unknown,
            format!("REST APIs unavailable ({e})"),
        ),
    }

    let remediator = settings.remediator_function.as_deref().unwrap_or_default();
    match &facts.remediator {
        None => add(
            CHECK_REMEDIATOR,
            Severity::Unknown,
            "CGUARD_REMEDIATOR_FUNCTION is not set: the remediator's reservation was not checked"
                .into(),
        ),
        Some(Ok(None)) => add(
            CHECK_REMEDIATOR,
            Severity::Critical,
            format!("the remediator {remediator} (CGUARD_REMEDIATOR_FUNCTION) does not exist"),
        ),
        Some(Ok(Some(Reservation::Unreserved))) => add(
            CHECK_REMEDIATOR,
            Severity::Critical,
            format!(
                "the remediator {remediator} has no reserved concurrency: in a spike it is throttled by the very \
                 pool it protects"
            ),
        ),
        Some(Ok(Some(Reservation::Reserved(0)))) => add(
            CHECK_REMEDIATOR,
            Severity::Critical,
            format!("the remediator {remediator} is reserved 0: it cannot run"),
        ),
        Some(Ok(Some(Reservation::Reserved(_)))) => {}
        Some(Err(e)) => add(
            CHECK_REMEDIATOR,
            Severity::Unknown,
            format!("the remediator {remediator}'s reservation is unknown ({e})"),
        ),
    }

    match (&facts.alarms, &settings.alarm_topic_arn, &settings.remediator_function) {
        (_, None, None) => add(
            CHECK_ALARM,
            Severity::Unknown,
            "neither CGUARD_ALARM_TOPIC_ARN nor CGUARD_REMEDIATOR_FUNCTION is set: the alarm wiring was not checked"
                .into(),
        ),
        (Err(e), _, _) => add(
            CHECK_ALARM,
            Severity::Unknown,
            format!("alarms unavailable ({e})"),
        ),
        (Ok(alarms), _, _) => {
            if !alarms.iter().any(|a| notifies_the_guard(a, settings)) {
                add(
                    CHECK_ALARM,
                    Severity::Critical,
                    "no alarm on AWS/Lambda ConcurrentExecutions (account-wide) notifies the alarm topic or the \
                     remediator: the guard never hears of a spike"
                        .into(),
                );
            }
        }
    }

    PostureReport { at, findings }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Critical => "CRITICAL",
            Self::Warning => "WARNING",
            Self::Unknown => "UNKNOWN",
        })
    }
}

impl fmt::Display for PostureReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "Concurrency Guard posture at {}: {} finding(s)",
            self.at.format("%Y-%m-%d %H:%M:%S UTC"),
            self.findings.len()
        )?;
        for x in &self.findings {
            writeln!(f, "  {:<8} {}: {}", x.severity, x.check, x.detail)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn at() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-23T10:15:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:cg-alarms";

    fn settings() -> PostureSettings {
        PostureSettings {
            remediator_function: Some("cg-remediator".into()),
            alarm_topic_arn: Some(TOPIC.into()),
            metrics_namespace: DEFAULT_NAMESPACE.into(),
        }
    }

    fn account_alarm(actions: &[&str]) -> AlarmInfo {
        AlarmInfo {
            name: "account-concurrency".into(),
            metrics: vec![MetricRef {
                namespace: "AWS/Lambda".into(),
                name: "ConcurrentExecutions".into(),
                dimensions: BTreeMap::new(),
            }],
            actions: actions.iter().map(|a| (*a).to_owned()).collect(),
        }
    }

    /// An account with nothing to report.
    fn healthy() -> PostureFacts {
        PostureFacts {
            account: Ok(AccountFacts {
                limit: Some(1000),
                unreserved: Some(900),
            }),
            busy: Ok(vec![Busy {
                function: "api".into(),
                peak: 80.0,
                reservation: Ok(Reservation::Reserved(200)),
            }]),
            queues: Ok(vec![QueueMapping {
                uuid: "u1".into(),
                function: "worker".into(),
                source_arn: "arn:aws:sqs:us-east-1:1:jobs".into(),
                maximum_concurrency: Some(50),
                enabled: true,
            }]),
            stages: Ok(vec![ApiStage {
                api_id: "a1".into(),
                api_name: "shop".into(),
                stage: "prod".into(),
                throttled: true,
                invokes_lambda: Some(true),
            }]),
            remediator: Some(Ok(Some(Reservation::Reserved(5)))),
            alarms: Ok(vec![account_alarm(&[TOPIC])]),
        }
    }

    fn checks(r: &PostureReport) -> Vec<(&str, Severity)> {
        r.findings
            .iter()
            .map(|f| (f.check.as_str(), f.severity))
            .collect()
    }

    #[test]
    fn a_well_set_up_account_has_no_findings() {
        let r = assess(&healthy(), &Policy::default(), &settings(), at());
        assert!(r.findings.is_empty(), "{r}");
    }

    #[test]
    fn each_gap_is_one_finding() {
        let mut f = healthy();
        f.account = Ok(AccountFacts {
            limit: Some(1000),
            unreserved: Some(150),
        });
        f.busy = Ok(vec![Busy {
            function: "api".into(),
            peak: 80.0,
            reservation: Ok(Reservation::Unreserved),
        }]);
        if let Ok(q) = &mut f.queues {
            q[0].maximum_concurrency = None;
            q.push(QueueMapping {
                uuid: "u2".into(),
                enabled: false,
                maximum_concurrency: None,
                ..q[0].clone()
            });
        }
        if let Ok(s) = &mut f.stages {
            s[0].throttled = false;
            s.push(ApiStage {
                stage: "static".into(),
                invokes_lambda: Some(false),
                ..s[0].clone()
            });
        }
        f.remediator = Some(Ok(Some(Reservation::Unreserved)));
        f.alarms = Ok(vec![account_alarm(&[
            "arn:aws:sns:us-east-1:1:someone-else",
        ])]);
        let r = assess(&f, &Policy::default(), &settings(), at());
        assert_eq!(
            checks(&r),
            [
                (CHECK_HEADROOM, Severity::Warning),
                (CHECK_BUSY, Severity::Warning),
                (CHECK_QUEUE, Severity::Warning),
                (CHECK_STAGE, Severity::Warning),
                (CHECK_REMEDIATOR, Severity::Critical),
                (CHECK_ALARM, Severity::Critical),
            ],
            "{r}"
        );
        assert!(r.findings[0].detail.contains("only 50"), "{r}");
        assert!(r.findings[2].detail.contains("jobs → worker"), "{r}");
    }

    #[test]
    fn a_missing_or_zero_reserved_remediator_is_critical() {
        for remediator in [None, Some(Reservation::Reserved(0))] {
            let f = PostureFacts {
                remediator: Some(Ok(remediator)),
                ..healthy()
            };
            let r = assess(&f, &Policy::default(), &settings(), at());
            assert_eq!(checks(&r), [(CHECK_REMEDIATOR, Severity::Critical)], "{r}");
        }
    }

    #[test]
    fn unreadable_parts_are_unknown_not_silent() {
        let f = PostureFacts {
            account: Err("denied".into()),
            busy: Err("denied".into()),
            queues: Err("denied".into()),
            stages: Err("denied".into()),
            remediator: None,
            alarms: Err("denied".into()),
        };
        let r = assess(&f, &Policy::default(), &settings(), at());
        assert_eq!(r.findings.len(), 6);
        assert!(r.findings.iter().all(|x| x.severity == Severity::Unknown));
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["findings"][0]["severity"], "unknown");
    }

    #[test]
    fn the_alarm_may_invoke_the_remediator_directly_but_must_be_account_wide() {
        let s = settings();
        let direct =
            account_alarm(&["arn:aws:lambda:us-east-1:123456789012:function:cg-remediator"]);
        assert!(notifies_the_guard(&direct, &s));
        let alias = account_alarm(&["arn:aws:lambda:us-east-1:1:function:cg-remediator:live"]);
        assert!(notifies_the_guard(&alias, &s));
        let other = account_alarm(&["arn:aws:lambda:us-east-1:1:function:cg-remediator-old"]);
        assert!(!notifies_the_guard(&other, &s));
        let mut per_function = account_alarm(&[TOPIC]);
        per_function.metrics[0]
            .dimensions
            .insert("FunctionName".into(), "api".into());
        assert!(!notifies_the_guard(&per_function, &s));
    }

    #[test]
    fn busy_candidates_are_bounded_and_skip_the_guard() {
        let mut policy = Policy::default();
        policy.guard_functions.insert("cg-remediator".into());
        let peaks = Peaks {
            account: Some(900.0),
            functions: (0..10)
                .map(|i| (format!("f{i}"), 40.0 + 10.0 * f64::from(i)))
                .chain([("cg-remediator".to_owned(), 500.0)])
                .collect(),
        };
        let busy = busy_candidates(&peaks, &policy);
        let names: Vec<&str> = busy.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["f9", "f8", "f7", "f6", "f5"]);
    }

    #[test]
    fn settings_default_the_namespace() {
        let s = PostureSettings::from_lookup(|k| {
            (k == "CGUARD_ALARM_TOPIC_ARN").then(|| format!(" {TOPIC} "))
        });
        assert_eq!(s.alarm_topic_arn.as_deref(), Some(TOPIC));
        assert_eq!(s.metrics_namespace, "ConcurrencyGuard");
        assert_eq!(s.remediator_function, None);
    }
}
