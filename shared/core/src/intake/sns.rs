//! The SNS notification: CloudWatch's alarm message, as a JSON string inside each record.
//!
//! Edit this file when the SNS alarm message changes shape. Most of the traps live here:
//! - a batch yields one request per record, and one bad record fails the whole event, naming
//!   its position (`Records[i].…`);
//! - `AlarmDescription` may be `null`, and `Region` is a display name ("US East (N. Virginia)"),
//!   so neither is read: the region code comes from the alarm ARN. (This is also why the
//!   message has its own struct: `aws_lambda_events`' `CloudWatchAlarmPayload` rejects a `null`
//!   description.)
//! - dimension keys are lower-case (`name`/`value`), unlike the rest of the message;
//! - a metric-math alarm has no `MetricName`; it lists `Metrics[]`, and only the entries with a
//!   `MetricStat` name a metric.

use std::collections::BTreeMap;

use aws_lambda_events::event::sns::SnsEvent;
use serde::Deserialize;
use serde_json::Value;

use super::{
    Alarm, AlarmState, EventSource, IntakeError, MetricRef, Problem, Request, Subject, non_empty,
    null_as_default, parse_time,
};

pub(super) fn parse_sns(event: &Value, dry_run: bool) -> Result<Vec<Request>, IntakeError> {
    let sns: SnsEvent = serde_json::from_value(event.clone())
        .map_err(|e| IntakeError::invalid("SNS event", Problem::Malformed(e.to_string())))?;
    if sns.records.is_empty() {
        return Err(IntakeError::invalid("Records", Problem::NoRecords));
    }
    sns.records
        .iter()
        .enumerate()
        .map(|(i, record)| {
            let message: SnsAlarmMessage =
                serde_json::from_str(&record.sns.message).map_err(|e| {
                    IntakeError::invalid(
                        format!("Records[{i}].Sns.Message"),
                        Problem::NotAnAlarmNotification(e.to_string()),
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

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use crate::intake::fixtures::{event, only_alarm};
    use crate::intake::{AlarmState, EventSource, IntakeError, Problem, parse_event};

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
    fn sns_event_without_records_is_rejected() {
        let err = parse_event(&json!({"Records": []})).unwrap_err();
        assert_eq!(err, IntakeError::invalid("Records", Problem::NoRecords));
    }

    #[test]
    fn sns_message_that_is_not_an_alarm_is_rejected_with_its_position() {
        let mut e = event("sns-account-concurrency.json");
        e["Records"][0]["Sns"]["Message"] = json!("{\"hello\": 1}");
        let Err(IntakeError::Invalid { field, problem }) = parse_event(&e) else {
            panic!("expected an invalid field");
        };
        assert_eq!(field, "Records[0].Sns.Message");
        assert!(
            matches!(problem, Problem::NotAnAlarmNotification(_)),
            "{problem:?}"
        );
        let mut e = event("sns-account-concurrency.json");
        let mut msg: Value =
            serde_json::from_str(e["Records"][0]["Sns"]["Message"].as_str().unwrap()).unwrap();
        msg["StateChangeTime"] = json!("yesterday");
        e["Records"][0]["Sns"]["Message"] = json!(msg.to_string());
        let err = parse_event(&e).unwrap_err();
        let expected = IntakeError::invalid(
            "Records[0].StateChangeTime",
            Problem::UnreadableTimestamp("yesterday".into()),
        );
        assert_eq!(err, expected);
    }
}
