//! Alarm intake: every way an alarm reaches the remediator, normalised to one [`Alarm`].
//!
//! This file holds what an alarm *is* — the types every later step reads ([`Alarm`],
//! [`Request`], [`IncidentId`], [`IntakeError`]) — and [`parse_event`], which recognises an
//! event's shape and hands it to the one file that reads that shape:
//! - `sns.rs`: SNS notifications (one alarm per record);
//! - `alarm_action.rs`: the direct CloudWatch alarm-action payload;
//! - `eventbridge.rs`: the EventBridge "CloudWatch Alarm State Change" event;
//! - `manual.rs`: an operator's manual payload, wrapping any of those or naming a function.
//!
//! Edit this file when what an alarm means changes (a field later steps need, how an incident is
//! identified) or when a new shape must be recognised; a change to one wire format stays in its
//! own file. Real payloads carry traps that library fixtures do not (see
//! `../shared/AWS-FACTS.md` and `events/`): a `null` description or unit, a region *display name*
//! in SNS messages, lower-case dimension keys, metric-math alarms with `Metrics[]` instead of
//! `MetricName`. Parsing is strict about what we need and lenient about everything else.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

mod alarm_action;
mod eventbridge;
mod manual;
mod name;
mod sns;

pub use name::{canonical_function_name, valid_alarm_arn};

/// The state an alarm moved into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AlarmState {
    Alarm,
    Ok,
    InsufficientData,
}

impl AlarmState {
    fn parse(s: &str) -> Result<Self, IntakeError> {
        match s {
            "ALARM" => Ok(Self::Alarm),
            "OK" => Ok(Self::Ok),
            "INSUFFICIENT_DATA" => Ok(Self::InsufficientData),
            other => Err(IntakeError::invalid(
                "state",
                Problem::UnknownState(other.to_owned()),
            )),
        }
    }
}

impl fmt::Display for AlarmState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Alarm => "ALARM",
            Self::Ok => "OK",
            Self::InsufficientData => "INSUFFICIENT_DATA",
        })
    }
}

/// One metric an alarm watches (a single-metric alarm has one; a metric-math alarm one per
/// `MetricStat` entry — expressions themselves name no metric).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetricRef {
    pub namespace: String,
    pub name: String,
    pub dimensions: BTreeMap<String, String>,
}

impl MetricRef {
    pub fn function_name(&self) -> Option<&str> {
        self.dimensions.get("FunctionName").map(String::as_str)
    }
}

/// A CloudWatch alarm state change, whatever shape it arrived in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alarm {
    pub name: String,
    /// Absent only from manual payloads that name an alarm loosely.
    pub arn: Option<String>,
    pub account_id: Option<String>,
    /// A region *code* (`us-east-1`), taken from the ARN when the payload only has a display name.
    pub region: Option<String>,
    pub state: AlarmState,
    pub previous_state: Option<AlarmState>,
    pub reason: Option<String>,
    pub changed_at: DateTime<Utc>,
    pub metrics: Vec<MetricRef>,
    pub threshold: Option<f64>,
}

impl Alarm {
    /// The incident this state change opens: the alarm ARN (or name) and the state-change time.
    /// SNS redeliveries and CloudWatch's retries of a direct action carry the same pair, so
    /// they map to the same incident and are recognised as duplicates.
    pub fn incident_id(&self) -> IncidentId {
        IncidentId::new(self.arn.as_deref().unwrap_or(&self.name), &self.changed_at)
    }
}

/// A short, tag-safe identifier of one incident.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct IncidentId(String);

impl IncidentId {
    pub fn new(alarm: &str, changed_at: &DateTime<Utc>) -> Self {
        let digest = Sha256::digest(format!("{alarm}|{}", changed_at.timestamp_millis()));
        let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
        Self(hex)
    }

    /// For ids read back from a record; any tag-safe string is accepted.
    pub fn from_recorded(s: impl Into<String>) -> Self {
        Self(s.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for IncidentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What one invocation asks for: an alarm to remediate, or (manual only) a function to treat
/// as the offender.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Subject {
    Alarm(Alarm),
    Function {
        name: String,
        requested_at: DateTime<Utc>,
    },
}

/// One unit of work taken from an event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Request {
    pub subject: Subject,
    /// Set by a manual payload (which defaults to a dry run); the global switch is applied later.
    pub dry_run: bool,
    pub source: EventSource,
}

impl Request {
    /// The incident this request belongs to: the alarm's, or for an operator-named function,
    /// one per request (name + time of the request).
    pub fn incident_id(&self) -> IncidentId {
        match &self.subject {
            Subject::Alarm(alarm) => alarm.incident_id(),
            Subject::Function { name, requested_at } => {
                IncidentId::new(&format!("manual:{name}"), requested_at)
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventSource {
    Sns,
    AlarmAction,
    EventBridge,
    Manual,
}

/// Why an event could not be read. Nothing is changed for a malformed event.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum IntakeError {
    #[error("unrecognised event: {0}")]
    Unrecognised(Unrecognised),
    /// `field` is a path into the event (`Records[0].StateChangeTime`).
    #[error("invalid {field}: {problem}")]
    Invalid { field: String, problem: Problem },
}

/// Why no shape was recognised.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Unrecognised {
    /// Names the JSON kind that came instead ("an array").
    #[error("expected a JSON object, got {0}")]
    NotAnObject(&'static str),
    /// Names the `detail-type` of the EventBridge event that came instead.
    #[error("EventBridge event of type {0:?} is not a CloudWatch alarm state change")]
    NotAnAlarmStateChange(String),
    #[error(
        "expected an SNS event (Records), a CloudWatch alarm action (alarmData), an EventBridge \
         alarm state change (detail-type), or a manual payload (dryRun, functionName or alarm)"
    )]
    NoKnownKey,
}

/// What is wrong with one field of a recognised shape. The text is written for the operator who
/// reads a rejected invocation's error, so it says what was expected.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Problem {
    /// The shape's envelope did not deserialise; serde's message says where.
    #[error("{0}")]
    Malformed(String),
    #[error("the SNS event has no records")]
    NoRecords,
    /// serde's message for the SNS message string.
    #[error("not a CloudWatch alarm notification: {0}")]
    NotAnAlarmNotification(String),
    /// The `source` that came instead.
    #[error("expected aws.cloudwatch, got {0:?}")]
    NotFromCloudWatch(String),
    #[error("unknown alarm state {0:?}")]
    UnknownState(String),
    #[error("must not be empty")]
    Empty,
    #[error("unreadable timestamp {0:?}")]
    UnreadableTimestamp(String),
    /// Names the JSON kind that came instead ("a string").
    #[error("expected true or false, got {0}")]
    NotABoolean(&'static str),
    #[error("unknown field in manual payload (expected dryRun, and functionName or alarm)")]
    UnknownManualField,
    #[error("give either functionName or alarm, not both")]
    FunctionAndAlarm,
    #[error("give functionName (a function to treat as the offender) or alarm (an alarm event)")]
    NeitherFunctionNorAlarm,
    #[error("expected a Lambda function name (1-64 of A-Z a-z 0-9 - _)")]
    NotAFunctionName,
    /// A function reference that is no name, qualified name, partial or full function ARN.
    #[error("{0:?} names no Lambda function (a name, name:qualifier, or function ARN)")]
    NotAFunctionReference(String),
    #[error("{0:?} is not the CloudWatch alarm ARN of this alarm and account")]
    NotAnAlarmArn(String),
    #[error("contains control characters")]
    ControlCharacters,
    #[error("{0} alarm records in one event; at most 10 are handled, so none is")]
    TooManyRequests(usize),
    #[error("a manual payload cannot wrap another")]
    WrapsManual,
}

impl IntakeError {
    fn invalid(field: impl Into<String>, problem: Problem) -> Self {
        Self::Invalid {
            field: field.into(),
            problem,
        }
    }
}

/// Reads an event of any supported shape. An SNS event with several records yields one request
/// per record; a malformed record fails the whole event, so that nothing is half-done.
pub fn parse_event(event: &Value) -> Result<Vec<Request>, IntakeError> {
    let requests = parse_shape(event)?;
    if requests.len() > MAX_REQUESTS_PER_EVENT {
        return Err(IntakeError::invalid(
            "Records",
            Problem::TooManyRequests(requests.len()),
        ));
    }
    requests.into_iter().map(checked).collect()
}

/// The most alarm records one event may carry. SNS delivers one message per invocation; a
/// batch of many is not CloudWatch's doing, and acting on each would let one event reserve
/// concurrency for dozens of functions.
pub const MAX_REQUESTS_PER_EVENT: usize = 10;

fn parse_shape(event: &Value) -> Result<Vec<Request>, IntakeError> {
    let Some(obj) = event.as_object() else {
        return Err(IntakeError::Unrecognised(Unrecognised::NotAnObject(
            json_kind(event),
        )));
    };
    if obj.contains_key("Records") {
        return sns::parse_sns(event, false);
    }
    if obj.get("detail-type").and_then(Value::as_str) == Some("CloudWatch Alarm State Change") {
        return eventbridge::parse_eventbridge(event, false).map(|r| vec![r]);
    }
    if obj.contains_key("alarmData") {
        return alarm_action::parse_alarm_action(event, false).map(|r| vec![r]);
    }
    if obj.contains_key("dryRun") || obj.contains_key("functionName") || obj.contains_key("alarm") {
        return manual::parse_manual(obj);
    }
    if let Some(dt) = obj.get("detail-type").and_then(Value::as_str) {
        return Err(IntakeError::Unrecognised(
            Unrecognised::NotAnAlarmStateChange(dt.to_owned()),
        ));
    }
    Err(IntakeError::Unrecognised(Unrecognised::NoKnownKey))
}

/// What every shape must satisfy before anything is done for it: an alarm's ARN is a
/// CloudWatch alarm ARN of its account and name; its name carries no control character; every
/// function a metric names becomes its one canonical name, or the request is refused.
fn checked(mut request: Request) -> Result<Request, IntakeError> {
    let Subject::Alarm(alarm) = &mut request.subject else {
        return Ok(request);
    };
    if alarm.name.chars().any(char::is_control) {
        return Err(IntakeError::invalid(
            "AlarmName",
            Problem::ControlCharacters,
        ));
    }
    if let Some(arn) = &alarm.arn
        && !valid_alarm_arn(arn, &alarm.name, alarm.account_id.as_deref())
    {
        return Err(IntakeError::invalid(
            "AlarmArn",
            Problem::NotAnAlarmArn(arn.clone()),
        ));
    }
    for metric in &mut alarm.metrics {
        if let Some(reference) = metric.dimensions.get_mut("FunctionName") {
            *reference = canonical_function_name(reference).ok_or_else(|| {
                IntakeError::invalid(
                    "FunctionName dimension",
                    Problem::NotAFunctionReference(reference.clone()),
                )
            })?;
        }
    }
    Ok(request)
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn non_empty(s: String, field: &str) -> Result<String, IntakeError> {
    if s.trim().is_empty() {
        Err(IntakeError::invalid(field, Problem::Empty))
    } else {
        Ok(s)
    }
}

/// CloudWatch writes `2015-06-03T17:43:27.123+0000` (no colon in the offset), which is not
/// RFC 3339; EventBridge envelopes use RFC 3339. Accept both.
pub fn parse_time(s: &str, field: &str) -> Result<DateTime<Utc>, IntakeError> {
    DateTime::parse_from_rfc3339(s)
        .or_else(|_| DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f%z"))
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| IntakeError::invalid(field, Problem::UnreadableTimestamp(s.to_owned())))
}

/// A list or map sent as `null` reads as empty, like one left out (serde's `default` covers only
/// the latter).
fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

#[cfg(test)]
mod fixtures {
    use super::{Alarm, Request, Subject};
    use serde_json::Value;

    pub(super) fn event(name: &str) -> Value {
        let path = format!("{}/../../events/{name}", env!("CARGO_MANIFEST_DIR"));
        serde_json::from_str(&std::fs::read_to_string(&path).expect(&path)).expect("valid JSON")
    }

    pub(super) fn only_alarm(reqs: Vec<Request>) -> Alarm {
        assert_eq!(reqs.len(), 1);
        match reqs.into_iter().next().unwrap().subject {
            Subject::Alarm(a) => a,
            other => panic!("expected an alarm, got {other:?}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::{event, only_alarm};
    use super::*;
    use serde_json::json;

    #[test]
    fn the_same_alarm_in_every_shape_is_the_same_incident() {
        let ids: Vec<_> = [
            "sns-account-concurrency.json",
            "alarm-action.json",
            "eventbridge-state-change.json",
        ]
        .iter()
        .map(|f| only_alarm(parse_event(&event(f)).unwrap()).incident_id())
        .collect();
        assert_eq!(ids[0], ids[1]);
        assert_eq!(ids[1], ids[2]);
    }

    #[test]
    fn malformed_events_get_errors_that_name_the_problem() {
        let cases = [
            (json!([]), Unrecognised::NotAnObject("an array")),
            (json!({"hello": 1}), Unrecognised::NoKnownKey),
            (
                json!({"detail-type": "Scheduled Event", "source": "aws.events"}),
                Unrecognised::NotAnAlarmStateChange("Scheduled Event".into()),
            ),
        ];
        for (input, expected) in cases {
            let err = parse_event(&input).unwrap_err();
            assert_eq!(err, IntakeError::Unrecognised(expected), "{input}");
        }
    }

    #[test]
    fn error_text_names_the_field_and_what_was_expected() {
        let err = parse_event(&json!([])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "unrecognised event: expected a JSON object, got an array"
        );
        let err = IntakeError::invalid(
            "Records[0].StateChangeTime",
            Problem::UnreadableTimestamp("yesterday".into()),
        );
        assert_eq!(
            err.to_string(),
            "invalid Records[0].StateChangeTime: unreadable timestamp \"yesterday\""
        );
    }

    #[test]
    fn timestamps_in_both_aws_formats() {
        let a = parse_time("2015-06-03T17:43:27.123+0000", "t").unwrap();
        let b = parse_time("2015-06-03T17:43:27.123Z", "t").unwrap();
        assert_eq!(a, b);
    }
}
