//! Alarm intake: every way an alarm reaches the remediator, normalised to one [`Alarm`].
//!
//! Four shapes arrive (see `../shared/AWS-FACTS.md` and `events/`):
//! SNS notifications (one alarm per record), the direct alarm-action payload, the EventBridge
//! "CloudWatch Alarm State Change" event, and an operator's manual payload wrapping any of those
//! or naming a function outright. Real payloads carry traps that library fixtures do not: a
//! `null` description or unit, a region *display name* in SNS messages, lower-case dimension keys,
//! metric-math alarms with `Metrics[]` instead of `MetricName`. Parsing is strict about what we
//! need and lenient about everything else.

use std::collections::BTreeMap;
use std::fmt;

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use aws_lambda_events::event::sns::SnsEvent;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

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
                format!("unknown alarm state {other:?}"),
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
    Unrecognised(String),
    #[error("invalid {field}: {problem}")]
    Invalid { field: String, problem: String },
}

impl IntakeError {
    fn invalid(field: impl Into<String>, problem: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.into(),
            problem: problem.into(),
        }
    }
}

/// Reads an event of any supported shape. An SNS event with several records yields one request
/// per record; a malformed record fails the whole event, so that nothing is half-done.
pub fn parse_event(event: &Value) -> Result<Vec<Request>, IntakeError> {
    let Some(obj) = event.as_object() else {
        return Err(IntakeError::Unrecognised(format!(
            "expected a JSON object, got {}",
            json_kind(event)
        )));
    };
    if obj.contains_key("Records") {
        return parse_sns(event, false);
    }
    if obj.get("detail-type").and_then(Value::as_str) == Some("CloudWatch Alarm State Change") {
        return parse_eventbridge(event, false).map(|r| vec![r]);
    }
    if obj.contains_key("alarmData") {
        return parse_alarm_action(event, false).map(|r| vec![r]);
    }
    if obj.contains_key("dryRun") || obj.contains_key("functionName") || obj.contains_key("alarm") {
        return parse_manual(obj);
    }
    if let Some(dt) = obj.get("detail-type").and_then(Value::as_str) {
        return Err(IntakeError::Unrecognised(format!(
            "EventBridge event of type {dt:?} is not a CloudWatch alarm state change"
        )));
    }
    Err(IntakeError::Unrecognised(
        "expected an SNS event (Records), a CloudWatch alarm action (alarmData), an EventBridge \
         alarm state change (detail-type), or a manual payload (dryRun, functionName or alarm)"
            .into(),
    ))
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

fn parse_manual(obj: &serde_json::Map<String, Value>) -> Result<Vec<Request>, IntakeError> {
    // A hand-made invocation is a dry run unless the operator says otherwise, explicitly.
    let dry_run = match obj.get("dryRun") {
        None => true,
        Some(Value::Bool(b)) => *b,
        Some(other) => {
            return Err(IntakeError::invalid(
                "dryRun",
                format!("expected true or false, got {}", json_kind(other)),
            ));
        }
    };
    let known = ["dryRun", "functionName", "alarm"];
    if let Some(k) = obj.keys().find(|k| !known.contains(&k.as_str())) {
        return Err(IntakeError::invalid(
            k.clone(),
            "unknown field in manual payload (expected dryRun, and functionName or alarm)",
        ));
    }
    match (obj.get("functionName"), obj.get("alarm")) {
        (Some(_), Some(_)) => Err(IntakeError::invalid(
            "manual payload",
            "give either functionName or alarm, not both",
        )),
        (Some(name), None) => {
            let name = name
                .as_str()
                .filter(|s| valid_function_name(s))
                .ok_or_else(|| {
                    IntakeError::invalid(
                        "functionName",
                        "expected a Lambda function name (1-64 of A-Z a-z 0-9 - _)",
                    )
                })?;
            Ok(vec![Request {
                subject: Subject::Function {
                    name: name.to_owned(),
                    requested_at: Utc::now(),
                },
                dry_run,
                source: EventSource::Manual,
            }])
        }
        (None, Some(alarm)) => {
            let inner = parse_event(alarm)?;
            if inner.iter().any(|r| r.source == EventSource::Manual) {
                return Err(IntakeError::invalid(
                    "alarm",
                    "a manual payload cannot wrap another",
                ));
            }
            Ok(inner
                .into_iter()
                .map(|r| Request {
                    dry_run,
                    source: EventSource::Manual,
                    ..r
                })
                .collect())
        }
        (None, None) => Err(IntakeError::invalid(
            "manual payload",
            "give functionName (a function to treat as the offender) or alarm (an alarm event)",
        )),
    }
}

/// Lambda names: letters, digits, hyphens, underscores, at most 64 (ARNs and qualifiers are
/// not accepted here, so the operator's intent is unambiguous).
pub fn valid_function_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

// ---------------------------------------------------------------- SNS

fn parse_sns(event: &Value, dry_run: bool) -> Result<Vec<Request>, IntakeError> {
    let sns: SnsEvent = serde_json::from_value(event.clone())
        .map_err(|e| IntakeError::invalid("SNS event", e.to_string()))?;
    if sns.records.is_empty() {
        return Err(IntakeError::invalid(
            "Records",
            "the SNS event has no records",
        ));
    }
    sns.records
        .iter()
        .enumerate()
        .map(|(i, record)| {
            let message: SnsAlarmMessage =
                serde_json::from_str(&record.sns.message).map_err(|e| {
                    IntakeError::invalid(
                        format!("Records[{i}].Sns.Message"),
                        format!("not a CloudWatch alarm notification: {e}"),
                    )
                })?;
            let alarm = message
                .into_alarm()
                .map_err(|e| prefix(e, &format!("Records[{i}]")))?;
            Ok(Request {
                subject: Subject::Alarm(alarm),
                dry_run,
                source: EventSource::Sns,
            })
        })
        .collect()
}

fn prefix(e: IntakeError, at: &str) -> IntakeError {
    match e {
        IntakeError::Invalid { field, problem } => IntakeError::Invalid {
            field: format!("{at}.{field}"),
            problem,
        },
        other => other,
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SnsAlarmMessage {
    alarm_name: String,
    #[serde(rename = "AWSAccountId")]
    aws_account_id: Option<String>,
    new_state_value: String,
    old_state_value: Option<String>,
    new_state_reason: Option<String>,
    state_change_time: String,
    alarm_arn: Option<String>,
    trigger: SnsTrigger,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SnsTrigger {
    metric_name: Option<String>,
    namespace: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    dimensions: Vec<SnsDimension>,
    #[serde(default, deserialize_with = "null_as_default")]
    metrics: Vec<SnsMathMetric>,
    threshold: Option<f64>,
}

#[derive(Deserialize)]
struct SnsDimension {
    // SNS alarm messages use lower-case keys here, unlike everywhere else in the message.
    #[serde(alias = "Name")]
    name: String,
    #[serde(alias = "Value")]
    value: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SnsMathMetric {
    metric_stat: Option<SnsMetricStat>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SnsMetricStat {
    metric: SnsMetric,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SnsMetric {
    metric_name: String,
    namespace: String,
    #[serde(default, deserialize_with = "null_as_default")]
    dimensions: Vec<SnsDimension>,
}

fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

fn dims(list: Vec<SnsDimension>) -> BTreeMap<String, String> {
    list.into_iter().map(|d| (d.name, d.value)).collect()
}

impl SnsAlarmMessage {
    fn into_alarm(self) -> Result<Alarm, IntakeError> {
        let metrics = match (self.trigger.metric_name, self.trigger.namespace) {
            (Some(name), Some(namespace)) => {
                vec![MetricRef {
                    namespace,
                    name,
                    dimensions: dims(self.trigger.dimensions),
                }]
            }
            _ => self
                .trigger
                .metrics
                .into_iter()
                .filter_map(|m| m.metric_stat)
                .map(|s| MetricRef {
                    namespace: s.metric.namespace,
                    name: s.metric.metric_name,
                    dimensions: dims(s.metric.dimensions),
                })
                .collect(),
        };
        let arn = self.alarm_arn.filter(|a| !a.is_empty());
        Ok(Alarm {
            region: arn.as_deref().and_then(crate::drivers::region_of),
            arn,
            name: non_empty(self.alarm_name, "AlarmName")?,
            account_id: self.aws_account_id,
            state: AlarmState::parse(&self.new_state_value)?,
            previous_state: self
                .old_state_value
                .as_deref()
                .map(AlarmState::parse)
                .transpose()?,
            reason: self.new_state_reason,
            changed_at: parse_time(&self.state_change_time, "StateChangeTime")?,
            metrics,
            threshold: self.trigger.threshold,
        })
    }
}

// ------------------------------------------- direct alarm action and EventBridge

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AlarmActionEvent {
    source: String,
    alarm_arn: String,
    account_id: Option<String>,
    region: Option<String>,
    alarm_data: AlarmData,
}

/// `alarmData` of a direct action and `detail` of an EventBridge event share this shape.
#[derive(Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
struct AlarmData {
    alarm_name: String,
    state: StateData,
    previous_state: Option<StateData>,
    configuration: Option<Configuration>,
}

#[derive(Deserialize, Serialize)]
struct StateData {
    value: String,
    reason: Option<String>,
    timestamp: String,
}

#[derive(Deserialize, Serialize)]
struct Configuration {
    #[serde(default, deserialize_with = "null_as_default")]
    metrics: Vec<ConfigMetric>,
}

#[derive(Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
struct ConfigMetric {
    metric_stat: Option<ConfigMetricStat>,
}

#[derive(Deserialize, Serialize)]
struct ConfigMetricStat {
    metric: ConfigMetricName,
}

#[derive(Deserialize, Serialize)]
struct ConfigMetricName {
    namespace: String,
    name: String,
    // A map here, unlike the SNS list.
    #[serde(default, deserialize_with = "null_as_default")]
    dimensions: BTreeMap<String, String>,
}

impl AlarmData {
    fn into_alarm(
        self,
        arn: Option<String>,
        account_id: Option<String>,
        region: Option<String>,
    ) -> Result<Alarm, IntakeError> {
        let metrics = self
            .configuration
            .map(|c| c.metrics)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|m| m.metric_stat)
            .map(|s| MetricRef {
                namespace: s.metric.namespace,
                name: s.metric.name,
                dimensions: s.metric.dimensions,
            })
            .collect();
        let region = region.or_else(|| arn.as_deref().and_then(crate::drivers::region_of));
        Ok(Alarm {
            name: non_empty(self.alarm_name, "alarmName")?,
            arn,
            account_id,
            region,
            state: AlarmState::parse(&self.state.value)?,
            previous_state: self
                .previous_state
                .as_ref()
                .map(|s| AlarmState::parse(&s.value))
                .transpose()?,
            reason: self.state.reason,
            changed_at: parse_time(&self.state.timestamp, "state.timestamp")?,
            metrics,
            threshold: None,
        })
    }
}

fn parse_alarm_action(event: &Value, dry_run: bool) -> Result<Request, IntakeError> {
    let e: AlarmActionEvent = serde_json::from_value(event.clone())
        .map_err(|e| IntakeError::invalid("alarm action event", e.to_string()))?;
    if e.source != "aws.cloudwatch" {
        return Err(IntakeError::invalid(
            "source",
            format!("expected aws.cloudwatch, got {:?}", e.source),
        ));
    }
    let alarm = e
        .alarm_data
        .into_alarm(Some(e.alarm_arn), e.account_id, e.region)?;
    Ok(Request {
        subject: Subject::Alarm(alarm),
        dry_run,
        source: EventSource::AlarmAction,
    })
}

fn parse_eventbridge(event: &Value, dry_run: bool) -> Result<Request, IntakeError> {
    let e: EventBridgeEvent<AlarmData> = serde_json::from_value(event.clone())
        .map_err(|e| IntakeError::invalid("EventBridge event", e.to_string()))?;
    if e.source != "aws.cloudwatch" {
        return Err(IntakeError::invalid(
            "source",
            format!("expected aws.cloudwatch, got {:?}", e.source),
        ));
    }
    let arn = e
        .resources
        .and_then(|r| r.into_iter().find(|a| a.contains(":alarm:")));
    let alarm = e.detail.into_alarm(arn, e.account, e.region)?;
    Ok(Request {
        subject: Subject::Alarm(alarm),
        dry_run,
        source: EventSource::EventBridge,
    })
}

// ---------------------------------------------------------------- helpers

fn non_empty(s: String, field: &str) -> Result<String, IntakeError> {
    if s.trim().is_empty() {
        Err(IntakeError::invalid(field, "must not be empty"))
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
        .map_err(|_| IntakeError::invalid(field, format!("unreadable timestamp {s:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(name: &str) -> Value {
        let path = format!("{}/../../events/{name}", env!("CARGO_MANIFEST_DIR"));
        serde_json::from_str(&std::fs::read_to_string(&path).expect(&path)).expect("valid JSON")
    }

    fn only_alarm(reqs: Vec<Request>) -> Alarm {
        assert_eq!(reqs.len(), 1);
        match reqs.into_iter().next().unwrap().subject {
            Subject::Alarm(a) => a,
            other => panic!("expected an alarm, got {other:?}"),
        }
    }

    #[test]
    fn sns_account_alarm_takes_region_code_from_the_arn_and_accepts_null_description() {
        let reqs = parse_event(&event("sns-account-concurrency.json")).unwrap();
        assert_eq!(reqs[0].source, EventSource::Sns);
        assert!(!reqs[0].dry_run);
        let alarm = only_alarm(reqs);
        assert_eq!(alarm.region.as_deref(), Some("us-east-1"));
        assert_eq!(alarm.state, AlarmState::Alarm);
        assert_eq!(alarm.previous_state, Some(AlarmState::Ok));
        assert_eq!(alarm.metrics.len(), 1);
        assert_eq!(alarm.metrics[0].name, "ConcurrentExecutions");
        assert!(alarm.metrics[0].dimensions.is_empty());
        assert_eq!(
            alarm.changed_at.to_rfc3339(),
            "2026-11-23T09:40:27.123+00:00"
        );
    }

    #[test]
    fn sns_victim_alarm_reads_lower_case_dimension_keys() {
        let alarm = only_alarm(parse_event(&event("sns-victim-throttles.json")).unwrap());
        assert_eq!(alarm.metrics[0].name, "Throttles");
        assert_eq!(alarm.metrics[0].function_name(), Some("orders-api"));
    }

    #[test]
    fn sns_metric_math_alarm_lists_the_metrics_behind_the_expression() {
        let alarm = only_alarm(parse_event(&event("sns-metric-math.json")).unwrap());
        let names: Vec<_> = alarm.metrics.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["ConcurrentExecutions", "ClaimedAccountConcurrency"]);
    }

    #[test]
    fn sns_batch_yields_one_request_per_record() {
        let mut e = event("sns-account-concurrency.json");
        let record = e["Records"][0].clone();
        e["Records"].as_array_mut().unwrap().push(record);
        assert_eq!(parse_event(&e).unwrap().len(), 2);
    }

    #[test]
    fn sns_ok_notification_parses_as_ok() {
        let alarm = only_alarm(parse_event(&event("sns-ok.json")).unwrap());
        assert_eq!(alarm.state, AlarmState::Ok);
    }

    #[test]
    fn direct_alarm_action_uses_dimension_maps() {
        let reqs = parse_event(&event("alarm-action.json")).unwrap();
        assert_eq!(reqs[0].source, EventSource::AlarmAction);
        let alarm = only_alarm(reqs);
        assert_eq!(alarm.region.as_deref(), Some("us-east-1"));
        assert_eq!(alarm.metrics[0].namespace, "AWS/Lambda");
        assert_eq!(alarm.metrics[0].name, "ConcurrentExecutions");
    }

    #[test]
    fn eventbridge_state_change_takes_the_arn_from_resources() {
        let reqs = parse_event(&event("eventbridge-state-change.json")).unwrap();
        assert_eq!(reqs[0].source, EventSource::EventBridge);
        let alarm = only_alarm(reqs);
        assert!(alarm.arn.unwrap().contains(":alarm:"));
        assert_eq!(alarm.state, AlarmState::Alarm);
    }

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
    fn manual_payload_defaults_to_dry_run_and_names_a_function() {
        let reqs = parse_event(&event("manual-dry-run.json")).unwrap();
        assert!(reqs[0].dry_run);
        assert!(
            matches!(&reqs[0].subject, Subject::Function { name, .. } if name == "checkout-worker")
        );
        let wrapped = parse_event(&json!({"alarm": event("alarm-action.json")})).unwrap();
        assert!(wrapped[0].dry_run);
        assert_eq!(wrapped[0].source, EventSource::Manual);
        let wrapped = parse_event(&event("manual-alarm-dry-run.json")).unwrap();
        assert!(wrapped[0].dry_run);
        assert!(matches!(&wrapped[0].subject, Subject::Alarm(a) if a.state == AlarmState::Alarm));
        let apply = parse_event(&json!({"dryRun": false, "functionName": "f"})).unwrap();
        assert!(!apply[0].dry_run);
    }

    #[test]
    fn malformed_events_get_errors_that_name_the_problem() {
        let cases = [
            (json!([]), "expected a JSON object"),
            (json!({"hello": 1}), "expected an SNS event"),
            (json!({"Records": []}), "the SNS event has no records"),
            (
                json!({"dryRun": "yes", "functionName": "f"}),
                "invalid dryRun",
            ),
            (
                json!({"functionName": "arn:aws:lambda:x"}),
                "invalid functionName",
            ),
            (json!({"functionName": "f", "force": true}), "invalid force"),
            (json!({"dryRun": true}), "give functionName"),
            (
                json!({"detail-type": "Scheduled Event", "source": "aws.events"}),
                "not a CloudWatch alarm",
            ),
        ];
        for (input, expected) in cases {
            let err = parse_event(&input).unwrap_err().to_string();
            assert!(
                err.contains(expected),
                "{input}: {err:?} should contain {expected:?}"
            );
        }
    }

    #[test]
    fn sns_message_that_is_not_an_alarm_is_rejected_with_its_position() {
        let mut e = event("sns-account-concurrency.json");
        e["Records"][0]["Sns"]["Message"] = json!("{\"hello\": 1}");
        let err = parse_event(&e).unwrap_err().to_string();
        assert!(err.contains("Records[0].Sns.Message"), "{err}");
        let mut e = event("sns-account-concurrency.json");
        let mut msg: Value =
            serde_json::from_str(e["Records"][0]["Sns"]["Message"].as_str().unwrap()).unwrap();
        msg["StateChangeTime"] = json!("yesterday");
        e["Records"][0]["Sns"]["Message"] = json!(msg.to_string());
        let err = parse_event(&e).unwrap_err().to_string();
        assert!(err.contains("StateChangeTime"), "{err}");
    }

    #[test]
    fn timestamps_in_both_aws_formats() {
        let a = parse_time("2015-06-03T17:43:27.123+0000", "t").unwrap();
        let b = parse_time("2015-06-03T17:43:27.123Z", "t").unwrap();
        assert_eq!(a, b);
    }
}
