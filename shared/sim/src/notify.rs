//! An alarm's state change as the remediator receives it: the SNS notification the template
//! wires every alarm to (`AlarmActions` and `OKActions` → the alarm topic), rendered from the
//! alarm's definition in the shape of `events/sns-victim-throttles.json`, so that the guard's
//! own intake (`cguard_core::intake::parse_event`) reads it exactly as it reads AWS's.

use std::collections::BTreeMap;

use cguard_core::intake::{IntakeError, MetricRef, Request, parse_event};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::account::{ACCOUNT_ID, Delivery, REGION};
use crate::alarm::{AlarmDef, AlarmMetric};
use crate::clock;
use crate::ports::alarm_arn;

/// The alarm topic the template creates (`AlarmTopic`).
const TOPIC: &str = "concurrency-guard-alarms";

/// CloudWatch's timestamps in alarm messages: milliseconds and a `+0000` offset.
fn timestamp(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3f+0000").to_string()
}

/// The requests the remediator takes from `delivery` of alarm `def`.
pub fn requests(def: &AlarmDef, delivery: &Delivery) -> Result<Vec<Request>, IntakeError> {
    parse_event(&sns_event(def, delivery))
}

/// The SNS event that delivers `delivery` of alarm `def`.
pub fn sns_event(def: &AlarmDef, delivery: &Delivery) -> Value {
    let t = &delivery.transition;
    let changed = clock::at(t.at);
    let topic = format!("arn:aws:sns:{REGION}:{ACCOUNT_ID}:{TOPIC}");
    let message = json!({
        "AlarmName": def.name,
        "AlarmDescription": null,
        "AWSAccountId": ACCOUNT_ID,
        "NewStateValue": t.to.to_string(),
        "NewStateReason": format!("Threshold Crossed: simulated evaluation at second {}", t.at),
        "StateChangeTime": timestamp(changed),
        "Region": "US East (N. Virginia)",
        "AlarmArn": alarm_arn(&def.name),
        "OldStateValue": t.from.to_string(),
        "OKActions": [topic],
        "AlarmActions": [topic],
        "InsufficientDataActions": [],
        "Trigger": trigger(def),
    });
    let sent = clock::at(delivery.deliver_at);
    json!({
        "Records": [{
            "EventSource": "aws:sns",
            "EventVersion": "1.0",
            "EventSubscriptionArn": format!("{topic}:00000000-0000-0000-0000-000000000000"),
            "Sns": {
                "Type": "Notification",
                "MessageId": format!("{}-{}", def.name, t.at),
                "TopicArn": topic,
                "Subject": format!("{}: \"{}\" in US East (N. Virginia)", t.to, def.name),
                "Message": message.to_string(),
                "Timestamp": sent.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                "SignatureVersion": "1",
                "Signature": "SIMULATED",
                "SigningCertUrl": "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-0000000000000000000000.pem",
                "UnsubscribeUrl": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe",
                "MessageAttributes": {}
            }
        }]
    })
}

/// The metric alarm `def` watches, as the guard's intake names it.
pub fn metric_ref(def: &AlarmDef) -> MetricRef {
    let (name, dimensions) = match &def.metric {
        AlarmMetric::Account { name } => (format!("{name:?}"), BTreeMap::new()),
        AlarmMetric::Function { function, name } => (
            format!("{name:?}"),
            BTreeMap::from([("FunctionName".to_owned(), function.clone())]),
        ),
    };
    MetricRef {
        namespace: "AWS/Lambda".to_owned(),
        name,
        dimensions,
    }
}

/// The message's `Trigger`: the alarm's metric, statistic and evaluation settings.
fn trigger(def: &AlarmDef) -> Value {
    let (name, dimensions) = match &def.metric {
        AlarmMetric::Account { name } => (json!(name), json!([])),
        AlarmMetric::Function { function, name } => (
            json!(name),
            json!([{ "value": function, "name": "FunctionName" }]),
        ),
    };
    json!({
        "MetricName": name,
        "Namespace": "AWS/Lambda",
        "StatisticType": "Statistic",
        "Statistic": if def.metric.is_sum() { "SUM" } else { "MAXIMUM" },
        "Unit": null,
        "Dimensions": dimensions,
        "Period": def.period_s,
        "EvaluationPeriods": def.evaluation_periods,
        "DatapointsToAlarm": def.datapoints_to_alarm(),
        "ComparisonOperator": def.comparison,
        "Threshold": def.threshold,
        "TreatMissingData": def.treat_missing_data,
        "EvaluateLowSampleCountPercentile": ""
    })
}
