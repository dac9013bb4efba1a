//! The direct CloudWatch alarm action: the alarm invokes the function itself, with the alarm
//! under `alarmData`.
//!
//! Edit this file when that payload changes. Its `alarmData` is also the `detail` of the
//! EventBridge event (`eventbridge.rs`), so [`AlarmData`] and its reading into an [`Alarm`] are
//! defined here once for both. Dimensions are a map here, unlike the list in SNS messages.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{
    Alarm, AlarmState, EventSource, IntakeError, MetricRef, Problem, Request, Subject, non_empty,
    null_as_default, parse_time,
};

pub(super) fn parse_alarm_action(event: &Value, dry_run: bool) -> Result<Request, IntakeError> {
    let e: AlarmActionEvent = serde_json::from_value(event.clone()).map_err(|e| {
        IntakeError::invalid("alarm action event", Problem::Malformed(e.to_string()))
    })?;
    if e.source != "aws.cloudwatch" {
        return Err(IntakeError::invalid(
            "source",
            Problem::NotFromCloudWatch(e.source),
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
// Serialize only because `EventBridgeEvent<T>` requires `T: Serialize`; nothing writes it.
#[derive(Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct AlarmData {
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
    pub(super) fn into_alarm(
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

#[cfg(test)]
mod tests {
    use crate::intake::fixtures::{event, only_alarm};
    use crate::intake::{EventSource, parse_event};

    #[test]
    fn direct_alarm_action_uses_dimension_maps() {
        let reqs = parse_event(&event("alarm-action.json")).unwrap();
        assert_eq!(reqs[0].source, EventSource::AlarmAction);
        let alarm = only_alarm(reqs);
        assert_eq!(alarm.region.as_deref(), Some("us-east-1"));
        assert_eq!(alarm.metrics[0].namespace, "AWS/Lambda");
        assert_eq!(alarm.metrics[0].name, "ConcurrentExecutions");
    }
}
