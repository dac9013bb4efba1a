//! The production checklist: one function per item, each reading [`PostureFacts`] and yielding a
//! finding only for what needs attention, or [`Severity::Unknown`] when its facts could not be
//! read, so that a failed read is never mistaken for a clean account. Changes when a checklist
//! item changes.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::report::{Finding, PostureFacts, PostureReport, Severity};
use super::{AlarmInfo, BUSY_CHECKED, BUSY_SHARE, BUSY_WINDOW_MINUTES, PostureSettings};
use crate::config::Policy;
use crate::model::{AccountFacts, Reservation};
use crate::observation::Peaks;

/// One checklist item. Its serialised name is the `check` field of the JSON report, which its
/// readers match on: the names predate the enum and must not change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Check {
    /// Enough of the account's concurrency can still be reserved to cap an offender.
    #[serde(rename = "unreserved_headroom")]
    Headroom,
    /// The busiest functions have a reservation.
    #[serde(rename = "busy_without_reservation")]
    BusyFunctions,
    /// Every enabled SQS mapping sets MaximumConcurrency.
    #[serde(rename = "sqs_without_maximum_concurrency")]
    QueueMappings,
    /// Every REST API stage that invokes Lambda is throttled.
    #[serde(rename = "api_stage_without_throttle")]
    ApiStages,
    /// The remediator exists and has a reservation of its own.
    #[serde(rename = "remediator_reservation")]
    RemediatorReservation,
    /// An account-wide concurrency alarm reaches the guard.
    #[serde(rename = "account_concurrency_alarm")]
    AccountAlarm,
    /// The functions exempted by the protection tag could be listed.
    #[serde(rename = "protected_by_tag")]
    ProtectedByTag,
}

impl Check {
    fn finding(self, severity: Severity, detail: impl Into<String>) -> Finding {
        Finding {
            check: self,
            severity,
            detail: detail.into(),
            resource: None,
        }
    }
}

impl Finding {
    fn about(mut self, resource: impl Into<String>) -> Self {
        self.resource = Some(resource.into());
        self
    }
}

/// The serialised name, so that the text report and the JSON one cannot disagree.
impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.serialize(f)
    }
}

/// The checklist, from facts already read, in a fixed order.
pub fn assess(
    facts: &PostureFacts,
    policy: &Policy,
    settings: &PostureSettings,
    at: DateTime<Utc>,
) -> PostureReport {
    let findings = [
        headroom(facts, policy),
        busy_functions(facts, policy),
        queue_mappings(facts),
        api_stages(facts),
        remediator_reservation(facts, settings),
        account_alarm(facts, settings),
        protected_unlisted(facts),
    ]
    .concat();
    PostureReport {
        at,
        findings,
        protected_by_tag: protected_by_tag(facts),
    }
}

/// The functions the protection tag exempts, with the value the guard itself honours (`true`,
/// any case).
fn protected_by_tag(facts: &PostureFacts) -> Option<Vec<String>> {
    let tagged = facts.protected.as_ref().ok()?;
    let mut names: Vec<String> = tagged
        .iter()
        .filter(|(_, value)| value.eq_ignore_ascii_case("true"))
        .map(|(name, _)| name.clone())
        .collect();
    names.sort();
    names.dedup();
    Some(names)
}

fn protected_unlisted(facts: &PostureFacts) -> Vec<Finding> {
    match &facts.protected {
        Ok(_) => Vec::new(),
        Err(e) => vec![Check::ProtectedByTag.finding(
            Severity::Unknown,
            format!("could not list the functions tagged protected: {e}"),
        )],
    }
}

fn headroom(facts: &PostureFacts, policy: &Policy) -> Vec<Finding> {
    let target = policy.target_concurrency;
    let (severity, detail) = match &facts.account {
        Ok(
            account @ AccountFacts {
                limit: Some(limit),
                unreserved: Some(unreserved),
            },
        ) => {
            // Never `None` here: with the limit known, the minimum can be derived from it.
            let minimum = account
                .unreserved_minimum(policy.unreserved_minimum)
                .unwrap_or(0);
            let headroom = i64::from(*unreserved) - i64::from(minimum);
            if headroom >= i64::from(target) {
                return Vec::new();
            }
            let detail = format!(
                "only {headroom} of the account's concurrency can still be reserved \
                 ({unreserved} unreserved of limit {limit}, minimum {minimum}): \
                 the guard cannot cap an offender at the target {target}; \
                 release reservations or request a higher limit"
            );
            (Severity::Warning, detail)
        }
        Ok(_) => (
            Severity::Unknown,
            "the account settings name no limit: headroom unknown".to_owned(),
        ),
        Err(e) => (
            Severity::Unknown,
            format!("account settings unavailable ({e}): headroom unknown"),
        ),
    };
    vec![Check::Headroom.finding(severity, detail)]
}

fn busy_functions(facts: &PostureFacts, policy: &Policy) -> Vec<Finding> {
    let busy = match &facts.busy {
        Ok(busy) => busy,
        Err(e) => {
            let detail = format!("peaks unavailable ({e})");
            return vec![Check::BusyFunctions.finding(Severity::Unknown, detail)];
        }
    };
    let target = policy.target_concurrency;
    let unreserved = |function: &str, peak: f64| {
        format!(
            "{function} peaked at {peak:.0} in the last {BUSY_WINDOW_MINUTES} min \
             (≥ {:.0}% of the target {target}) with no reservation: \
             a spike of it takes from every unreserved function",
            BUSY_SHARE * 100.0
        )
    };
    busy.iter()
        .filter_map(|b| match &b.reservation {
            Ok(Reservation::Unreserved) => Some(
                Check::BusyFunctions
                    .finding(Severity::Warning, unreserved(&b.function, b.peak))
                    .about(&b.function),
            ),
            Ok(Reservation::Reserved(_)) => None,
            Err(e) => Some(
                Check::BusyFunctions
                    .finding(
                        Severity::Unknown,
                        format!("{}: reservation unknown ({e})", b.function),
                    )
                    .about(&b.function),
            ),
        })
        .collect()
}

fn queue_mappings(facts: &PostureFacts) -> Vec<Finding> {
    let queues = match &facts.queues {
        Ok(queues) => queues,
        Err(e) => {
            let detail = format!("event source mappings unavailable ({e})");
            return vec![Check::QueueMappings.finding(Severity::Unknown, detail)];
        }
    };
    queues
        .iter()
        // A disabled mapping scales nothing until it is enabled again.
        .filter(|q| q.enabled && q.maximum_concurrency.is_none())
        .map(|q| {
            let detail = format!(
                "SQS mapping {} (queue {} → {}) has no MaximumConcurrency: \
                 a backlog scales the function up until the pool or its reservation throttles it",
                q.uuid,
                queue_name(&q.source_arn),
                q.function
            );
            Check::QueueMappings
                .finding(Severity::Warning, detail)
                .about(&q.uuid)
        })
        .collect()
}

/// The queue's name is the last part of its ARN.
fn queue_name(source_arn: &str) -> &str {
    source_arn.rsplit(':').next().unwrap_or(source_arn)
}

fn api_stages(facts: &PostureFacts) -> Vec<Finding> {
    let stages = match &facts.stages {
        Ok(stages) => stages,
        Err(e) => {
            let detail = format!("REST APIs unavailable ({e})");
            return vec![Check::ApiStages.finding(Severity::Unknown, detail)];
        }
    };
    stages
        .iter()
        // Unread integrations count as invoking: a needless finding costs less than a missed one.
        .filter(|s| !s.throttled && s.invokes_lambda != Some(false))
        .map(|s| {
            let invokes = if s.invokes_lambda.is_some() {
                "invokes"
            } else {
                "may invoke (its integrations could not be read)"
            };
            let detail = format!(
                "REST API {} ({}) stage {} {invokes} Lambda with no stage or method throttle: \
                 only the account-wide API Gateway limit applies",
                s.api_name, s.api_id, s.stage
            );
            Check::ApiStages
                .finding(Severity::Warning, detail)
                .about(format!("{}/{}", s.api_id, s.stage))
        })
        .collect()
}

fn remediator_reservation(facts: &PostureFacts, settings: &PostureSettings) -> Vec<Finding> {
    let remediator = settings.remediator_function.as_deref().unwrap_or_default();
    let (severity, detail) = match &facts.remediator {
        None => (
            Severity::Unknown,
            "CGUARD_REMEDIATOR_FUNCTION is not set: the remediator's reservation was not checked"
                .to_owned(),
        ),
        Some(Ok(None)) => (
            Severity::Critical,
            format!("the remediator {remediator} (CGUARD_REMEDIATOR_FUNCTION) does not exist"),
        ),
        Some(Ok(Some(Reservation::Unreserved))) => (
            Severity::Critical,
            format!(
                "the remediator {remediator} has no reserved concurrency: \
                 in a spike it is throttled by the very pool it protects"
            ),
        ),
        Some(Ok(Some(Reservation::Reserved(0)))) => (
            Severity::Critical,
            format!("the remediator {remediator} is reserved 0: it cannot run"),
        ),
        Some(Ok(Some(Reservation::Reserved(_)))) => return Vec::new(),
        Some(Err(e)) => (
            Severity::Unknown,
            format!("the remediator {remediator}'s reservation is unknown ({e})"),
        ),
    };
    vec![Check::RemediatorReservation.finding(severity, detail)]
}

fn account_alarm(facts: &PostureFacts, settings: &PostureSettings) -> Vec<Finding> {
    let wiring = (&settings.alarm_topic_arn, &settings.remediator_function);
    let (severity, detail) = match (&facts.alarms, wiring) {
        // Without either, no alarm can be recognised as the guard's: "unknown", not "missing".
        (_, (None, None)) => (
            Severity::Unknown,
            "neither CGUARD_ALARM_TOPIC_ARN nor CGUARD_REMEDIATOR_FUNCTION is set: \
             the alarm wiring was not checked"
                .to_owned(),
        ),
        (Err(e), _) => (Severity::Unknown, format!("alarms unavailable ({e})")),
        (Ok(alarms), _) if alarms.iter().any(|a| notifies_the_guard(a, settings)) => {
            return Vec::new();
        }
        (Ok(_), _) => (
            Severity::Critical,
            "no alarm on AWS/Lambda ConcurrentExecutions (account-wide) notifies the alarm topic \
             or the remediator: the guard never hears of a spike"
                .to_owned(),
        ),
    };
    vec![Check::AccountAlarm.finding(severity, detail)]
}

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

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::error::{ErrorKind, Failure};
    use crate::intake::MetricRef;
    use crate::posture::report::Busy;
    use crate::posture::{ApiStage, DEFAULT_NAMESPACE, QueueMapping};

    const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:cg-alarms";

    fn at() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-23T10:15:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn settings() -> PostureSettings {
        PostureSettings {
            remediator_function: Some("cg-remediator".into()),
            alarm_topic_arn: Some(TOPIC.into()),
            metrics_namespace: DEFAULT_NAMESPACE.into(),
        }
    }

    fn unwired() -> PostureSettings {
        PostureSettings {
            remediator_function: None,
            alarm_topic_arn: None,
            ..settings()
        }
    }

    fn denied() -> Failure {
        Failure {
            operation: "Read".into(),
            kind: ErrorKind::Denied,
            message: "denied".into(),
        }
    }

    fn concurrency_alarm(actions: &[&str]) -> AlarmInfo {
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

    fn busy(function: &str, reservation: Result<Reservation, Failure>) -> Busy {
        Busy {
            function: function.into(),
            peak: 80.0,
            reservation,
        }
    }

    fn queue(uuid: &str, maximum_concurrency: Option<u32>, enabled: bool) -> QueueMapping {
        QueueMapping {
            uuid: uuid.into(),
            function: "worker".into(),
            source_arn: "arn:aws:sqs:us-east-1:1:jobs".into(),
            maximum_concurrency,
            enabled,
        }
    }

    fn resources(findings: &[Finding]) -> Vec<Option<&str>> {
        findings.iter().map(|f| f.resource.as_deref()).collect()
    }

    fn stage(stage: &str, throttled: bool, invokes_lambda: Option<bool>) -> ApiStage {
        ApiStage {
            api_id: "a1".into(),
            api_name: "shop".into(),
            stage: stage.into(),
            throttled,
            invokes_lambda,
        }
    }

    /// An account with nothing to report.
    fn healthy() -> PostureFacts {
        PostureFacts {
            account: Ok(AccountFacts {
                limit: Some(1000),
                unreserved: Some(900),
            }),
            busy: Ok(vec![busy("api", Ok(Reservation::Reserved(200)))]),
            queues: Ok(vec![queue("u1", Some(50), true)]),
            stages: Ok(vec![stage("prod", true, Some(true))]),
            remediator: Some(Ok(Some(Reservation::Reserved(5)))),
            alarms: Ok(vec![concurrency_alarm(&[TOPIC])]),
            protected: Ok(vec![
                ("payments".into(), "TRUE".into()),
                ("scratch".into(), "no".into()),
            ]),
        }
    }

    #[test]
    fn tag_protected_functions_are_listed_not_counted() {
        let report = assess(&healthy(), &Policy::default(), &settings(), at());
        assert_eq!(report.protected_by_tag, Some(vec!["payments".to_owned()]));
        assert!(report.findings.is_empty(), "{:?}", report.findings);
        assert!(report.to_string().contains("never limited"), "{report}");
        let unreadable = PostureFacts {
            protected: Err(denied()),
            ..healthy()
        };
        let report = assess(&unreadable, &Policy::default(), &settings(), at());
        assert_eq!(report.protected_by_tag, None);
        assert_eq!(
            found(&report.findings),
            [(Check::ProtectedByTag, Severity::Unknown)]
        );
    }

    fn found(findings: &[Finding]) -> Vec<(Check, Severity)> {
        findings.iter().map(|f| (f.check, f.severity)).collect()
    }

    /// The severities one check found, in order; the check itself must be `check` throughout.
    fn severities(check: Check, findings: &[Finding]) -> Vec<Severity> {
        assert!(findings.iter().all(|f| f.check == check), "{findings:?}");
        findings.iter().map(|f| f.severity).collect()
    }

    #[test]
    fn every_check_serialises_as_the_name_reports_already_carry() {
        let names = [
            (Check::Headroom, "unreserved_headroom"),
            (Check::BusyFunctions, "busy_without_reservation"),
            (Check::QueueMappings, "sqs_without_maximum_concurrency"),
            (Check::ApiStages, "api_stage_without_throttle"),
            (Check::RemediatorReservation, "remediator_reservation"),
            (Check::AccountAlarm, "account_concurrency_alarm"),
        ];
        for (check, name) in names {
            assert_eq!(serde_json::to_value(check).unwrap(), name);
            assert_eq!(check.to_string(), name);
            assert_eq!(serde_json::from_value::<Check>(name.into()).unwrap(), check);
        }
    }

    #[test]
    fn a_well_set_up_account_has_no_findings() {
        let r = assess(&healthy(), &Policy::default(), &settings(), at());
        assert!(r.findings.is_empty(), "{r}");
        assert_eq!(r.at, at());
    }

    #[test]
    fn each_gap_is_one_finding_in_checklist_order() {
        let f = PostureFacts {
            account: Ok(AccountFacts {
                limit: Some(1000),
                unreserved: Some(150),
            }),
            busy: Ok(vec![busy("api", Ok(Reservation::Unreserved))]),
            queues: Ok(vec![queue("u1", None, true), queue("u2", None, false)]),
            stages: Ok(vec![
                stage("prod", false, Some(true)),
                stage("static", false, Some(false)),
            ]),
            remediator: Some(Ok(Some(Reservation::Unreserved))),
            alarms: Ok(vec![concurrency_alarm(&[
                "arn:aws:sns:us-east-1:1:someone-else",
            ])]),
            protected: Ok(vec![]),
        };
        let r = assess(&f, &Policy::default(), &settings(), at());
        assert_eq!(
            found(&r.findings),
            [
                (Check::Headroom, Severity::Warning),
                (Check::BusyFunctions, Severity::Warning),
                (Check::QueueMappings, Severity::Warning),
                (Check::ApiStages, Severity::Warning),
                (Check::RemediatorReservation, Severity::Critical),
                (Check::AccountAlarm, Severity::Critical),
            ],
            "{r}"
        );
    }

    #[test]
    fn unreadable_parts_are_unknown_not_silent() {
        let f = PostureFacts {
            account: Err(denied()),
            busy: Err(denied()),
            queues: Err(denied()),
            stages: Err(denied()),
            remediator: None,
            alarms: Err(denied()),
            protected: Err(denied()),
        };
        let r = assess(&f, &Policy::default(), &settings(), at());
        assert_eq!(
            found(&r.findings),
            [
                (Check::Headroom, Severity::Unknown),
                (Check::BusyFunctions, Severity::Unknown),
                (Check::QueueMappings, Severity::Unknown),
                (Check::ApiStages, Severity::Unknown),
                (Check::RemediatorReservation, Severity::Unknown),
                (Check::AccountAlarm, Severity::Unknown),
                (Check::ProtectedByTag, Severity::Unknown),
            ],
            "{r}"
        );
    }

    /// The headroom finding for an account with a limit of 1000 and `unreserved` left.
    fn headroom_with(unreserved: u32, policy: &Policy) -> Vec<Severity> {
        let f = PostureFacts {
            account: Ok(AccountFacts {
                limit: Some(1000),
                unreserved: Some(unreserved),
            }),
            ..healthy()
        };
        severities(Check::Headroom, &headroom(&f, policy))
    }

    #[test]
    fn headroom_is_what_can_be_reserved_above_the_minimum_against_the_target() {
        // Target 100; the minimum derived from the limit 1000 is 100.
        let derived = Policy::default();
        assert_eq!(headroom_with(199, &derived), [Severity::Warning]);
        assert_eq!(headroom_with(200, &derived), []);
        // Less unreserved than the minimum: negative headroom, not an overflow.
        assert_eq!(headroom_with(50, &derived), [Severity::Warning]);
        let configured = Policy {
            unreserved_minimum: Some(20),
            target_concurrency: 200,
            ..Policy::default()
        };
        assert_eq!(headroom_with(219, &configured), [Severity::Warning]);
        assert_eq!(headroom_with(220, &configured), []);
    }

    #[test]
    fn headroom_is_unknown_without_a_limit_or_the_account_settings() {
        let policy = Policy::default();
        for account in [
            Ok(AccountFacts {
                limit: None,
                unreserved: Some(900),
            }),
            Ok(AccountFacts {
                limit: Some(1000),
                unreserved: None,
            }),
            Err(denied()),
        ] {
            let f = PostureFacts {
                account,
                ..healthy()
            };
            let findings = headroom(&f, &policy);
            assert_eq!(severities(Check::Headroom, &findings), [Severity::Unknown]);
        }
    }

    #[test]
    fn only_busy_functions_without_a_reservation_or_with_an_unknown_one_are_found() {
        let f = PostureFacts {
            busy: Ok(vec![
                busy("checkout", Ok(Reservation::Unreserved)),
                busy("search", Ok(Reservation::Reserved(200))),
                busy("thumbnails", Ok(Reservation::Reserved(0))),
                busy("reports", Err(denied())),
            ]),
            ..healthy()
        };
        let findings = busy_functions(&f, &Policy::default());
        assert_eq!(
            severities(Check::BusyFunctions, &findings),
            [Severity::Warning, Severity::Unknown]
        );
        // Which function each finding is about, since the operator acts on that.
        assert_eq!(resources(&findings), [Some("checkout"), Some("reports")]);

        let f = PostureFacts {
            busy: Err(denied()),
            ..healthy()
        };
        let findings = busy_functions(&f, &Policy::default());
        assert_eq!(
            severities(Check::BusyFunctions, &findings),
            [Severity::Unknown]
        );
    }

    #[test]
    fn only_enabled_queue_mappings_without_a_maximum_are_found() {
        let f = PostureFacts {
            queues: Ok(vec![
                queue("bounded", Some(50), true),
                queue("unbounded", None, true),
                queue("disabled", None, false),
            ]),
            ..healthy()
        };
        let findings = queue_mappings(&f);
        assert_eq!(
            severities(Check::QueueMappings, &findings),
            [Severity::Warning]
        );
        assert_eq!(resources(&findings), [Some("unbounded")]);

        let f = PostureFacts {
            queues: Err(denied()),
            ..healthy()
        };
        let findings = queue_mappings(&f);
        assert_eq!(
            severities(Check::QueueMappings, &findings),
            [Severity::Unknown]
        );
    }

    #[test]
    fn a_queue_is_named_by_the_last_part_of_its_arn() {
        assert_eq!(queue_name("arn:aws:sqs:us-east-1:1:jobs"), "jobs");
        assert_eq!(queue_name("jobs"), "jobs");
    }

    #[test]
    fn unthrottled_stages_that_invoke_or_may_invoke_lambda_are_found() {
        let f = PostureFacts {
            stages: Ok(vec![
                stage("throttled", true, Some(true)),
                stage("orders", false, Some(true)),
                stage("legacy", false, None),
                stage("static", false, Some(false)),
            ]),
            ..healthy()
        };
        let findings = api_stages(&f);
        assert_eq!(
            severities(Check::ApiStages, &findings),
            [Severity::Warning, Severity::Warning]
        );
        assert_eq!(resources(&findings), [Some("a1/orders"), Some("a1/legacy")]);

        let f = PostureFacts {
            stages: Err(denied()),
            ..healthy()
        };
        let findings = api_stages(&f);
        assert_eq!(severities(Check::ApiStages, &findings), [Severity::Unknown]);
    }

    #[test]
    fn a_missing_unreserved_or_zero_reserved_remediator_is_critical() {
        let cases = [
            (Some(Ok(None)), Some(Severity::Critical)),
            (
                Some(Ok(Some(Reservation::Unreserved))),
                Some(Severity::Critical),
            ),
            (
                Some(Ok(Some(Reservation::Reserved(0)))),
                Some(Severity::Critical),
            ),
            (Some(Ok(Some(Reservation::Reserved(5)))), None),
            (Some(Err(denied())), Some(Severity::Unknown)),
            // Not configured, so not read.
            (None, Some(Severity::Unknown)),
        ];
        for (remediator, expected) in cases {
            let f = PostureFacts {
                remediator: remediator.clone(),
                ..healthy()
            };
            let findings = remediator_reservation(&f, &settings());
            assert_eq!(
                severities(Check::RemediatorReservation, &findings),
                Vec::from_iter(expected),
                "{remediator:?}"
            );
        }
    }

    #[test]
    fn a_remediator_problem_is_its_only_finding() {
        for remediator in [None, Some(Reservation::Reserved(0))] {
            let f = PostureFacts {
                remediator: Some(Ok(remediator)),
                ..healthy()
            };
            let r = assess(&f, &Policy::default(), &settings(), at());
            assert_eq!(
                found(&r.findings),
                [(Check::RemediatorReservation, Severity::Critical)],
                "{r}"
            );
        }
    }

    #[test]
    fn the_account_alarm_must_reach_the_guard_and_is_unknown_when_unwired_or_unread() {
        let elsewhere = concurrency_alarm(&["arn:aws:sns:us-east-1:1:someone-else"]);
        let cases = [
            (Ok(vec![concurrency_alarm(&[TOPIC])]), settings(), None),
            (
                Ok(vec![elsewhere.clone()]),
                settings(),
                Some(Severity::Critical),
            ),
            (Ok(vec![]), settings(), Some(Severity::Critical)),
            (Err(denied()), settings(), Some(Severity::Unknown)),
            // Nothing to recognise the guard by: unknown, even where alarms were read.
            (Ok(vec![elsewhere]), unwired(), Some(Severity::Unknown)),
            (Err(denied()), unwired(), Some(Severity::Unknown)),
        ];
        for (alarms, settings, expected) in cases {
            let f = PostureFacts {
                alarms: alarms.clone(),
                ..healthy()
            };
            let findings = account_alarm(&f, &settings);
            assert_eq!(
                severities(Check::AccountAlarm, &findings),
                Vec::from_iter(expected),
                "{alarms:?} {settings:?}"
            );
        }
    }

    #[test]
    fn the_alarm_may_invoke_the_remediator_directly_but_must_be_account_wide() {
        let s = settings();
        let direct =
            concurrency_alarm(&["arn:aws:lambda:us-east-1:123456789012:function:cg-remediator"]);
        assert!(notifies_the_guard(&direct, &s));
        let alias = concurrency_alarm(&["arn:aws:lambda:us-east-1:1:function:cg-remediator:live"]);
        assert!(notifies_the_guard(&alias, &s));
        let other = concurrency_alarm(&["arn:aws:lambda:us-east-1:1:function:cg-remediator-old"]);
        assert!(!notifies_the_guard(&other, &s));
        let mut per_function = concurrency_alarm(&[TOPIC]);
        per_function.metrics[0]
            .dimensions
            .insert("FunctionName".into(), "api".into());
        assert!(!notifies_the_guard(&per_function, &s));
    }

    #[test]
    fn a_remediator_configured_by_arn_matches_that_arn_and_its_qualifiers_only() {
        let arn = "arn:aws:lambda:us-east-1:1:function:cg-remediator";
        assert!(is_function(arn, arn));
        assert!(is_function(&format!("{arn}:live"), arn));
        assert!(!is_function(&format!("{arn}-old"), arn));
        assert!(!is_function(
            "arn:aws:sns:us-east-1:1:cg-remediator",
            "cg-remediator"
        ));
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
}
