//! Posture reads: every SQS mapping, every REST API stage, every metric alarm, and the
//! `PostureFindings` datapoint. Listings are paginated; per-API reads run
//! [`READ_CONCURRENCY`] at a time.

use std::collections::BTreeMap;

use aws_sdk_apigateway::types::Stage as RestStage;
use aws_sdk_cloudwatch::types::{
    AlarmType, Dimension, Metric, MetricAlarm, MetricDatum, StandardUnit,
};
use aws_sdk_lambda::types::ScalingConfig;
use aws_smithy_types::DateTime as SmithyTime;
use cguard_core::intake::MetricRef;
use cguard_core::model::Reservation;
use cguard_core::posture::{AlarmInfo, ApiStage, QueueMapping};
use cguard_engine::ports::PortResult;
use cguard_engine::ports::Posture;
use chrono::{DateTime, Utc};
use futures::{StreamExt, TryStreamExt, stream};

use crate::error::classify;
use crate::{Aws, READ_CONCURRENCY};

/// The function name in a function ARN (qualifier dropped); the input itself if not an ARN.
fn function_name(arn: &str) -> String {
    arn.split_once(":function:")
        .map_or(arn, |(_, rest)| rest.split(':').next().unwrap_or(rest))
        .to_owned()
}

/// Whether any stage-wide or method setting holds a throttle (negative values mean "not set").
fn throttled(stage: &RestStage) -> bool {
    stage.method_settings().is_some_and(|m| {
        m.values()
            .any(|s| s.throttling_rate_limit() >= 0.0 && s.throttling_burst_limit() >= 0)
    })
}

fn metric_ref(metric: &Metric) -> MetricRef {
    MetricRef {
        namespace: metric.namespace().unwrap_or_default().to_owned(),
        name: metric.metric_name().unwrap_or_default().to_owned(),
        dimensions: dimensions(metric.dimensions()),
    }
}

fn dimensions(d: &[Dimension]) -> BTreeMap<String, String> {
    d.iter()
        .filter_map(|d| Some((d.name()?.to_owned(), d.value()?.to_owned())))
        .collect()
}

pub(crate) fn alarm_info(a: &MetricAlarm) -> AlarmInfo {
    let mut metrics: Vec<MetricRef> = a
        .metrics()
        .iter()
        .filter_map(|q| q.metric_stat()?.metric())
        .map(metric_ref)
        .collect();
    if let (Some(namespace), Some(name)) = (a.namespace(), a.metric_name()) {
        metrics.push(MetricRef {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            dimensions: dimensions(a.dimensions()),
        });
    }
    AlarmInfo {
        name: a.alarm_name().unwrap_or_default().to_owned(),
        metrics,
        // Disabled actions notify nobody.
        actions: if a.actions_enabled() == Some(false) {
            Vec::new()
        } else {
            a.alarm_actions().to_vec()
        },
    }
}

impl Aws {
    /// One REST API's stages; whether its methods integrate Lambda is best effort.
    async fn rest_api_stages(&self, id: String, name: String) -> PortResult<Vec<ApiStage>> {
        let stages = self
            .apigateway
            .get_stages()
            .rest_api_id(&id)
            .send()
            .await
            .map_err(|e| classify("apigateway:GetStages", e))?;
        let resources: Result<Vec<_>, _> = self
            .apigateway
            .get_resources()
            .rest_api_id(&id)
            .embed("methods")
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await;
        let invokes_lambda = resources.ok().map(|resources| {
            resources.iter().any(|r| {
                r.resource_methods().is_some_and(|methods| {
                    methods.values().any(|m| {
                        m.method_integration()
                            .and_then(|i| i.uri())
                            .is_some_and(|u| u.contains(":lambda:path/"))
                    })
                })
            })
        });
        Ok(stages
            .item()
            .iter()
            .map(|s| ApiStage {
                api_id: id.clone(),
                api_name: name.clone(),
                stage: s.stage_name().unwrap_or_default().to_owned(),
                throttled: throttled(s),
                invokes_lambda,
            })
            .collect())
    }
}

impl Posture for Aws {
    async fn tagged_functions(&self, key: &str) -> PortResult<Vec<(String, String)>> {
        self.tagged(key).await
    }

    async fn function_reservation(&self, function: &str) -> PortResult<Reservation> {
        self.reservation(function).await
    }

    async fn queue_mappings(&self) -> PortResult<Vec<QueueMapping>> {
        let mappings: Vec<_> = self
            .lambda
            .list_event_source_mappings()
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| classify("lambda:ListEventSourceMappings", e))?;
        Ok(mappings
            .iter()
            .filter(|m| m.event_source_arn().is_some_and(|a| a.contains(":sqs:")))
            .map(|m| QueueMapping {
                uuid: m.uuid().unwrap_or_default().to_owned(),
                function: function_name(m.function_arn().unwrap_or_default()),
                source_arn: m.event_source_arn().unwrap_or_default().to_owned(),
                maximum_concurrency: m
                    .scaling_config()
                    .and_then(ScalingConfig::maximum_concurrency)
                    .and_then(|n| u32::try_from(n).ok()),
                enabled: !matches!(m.state(), Some("Disabled" | "Disabling")),
            })
            .collect())
    }

    async fn rest_stages(&self) -> PortResult<Vec<ApiStage>> {
        let apis: Vec<_> = self
            .apigateway
            .get_rest_apis()
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| classify("apigateway:GetRestApis", e))?;
        let per_api: Vec<Vec<ApiStage>> =
            stream::iter(apis.into_iter().filter_map(|a| {
                Some((a.id()?.to_owned(), a.name().unwrap_or_default().to_owned()))
            }))
            .map(|(id, name)| self.rest_api_stages(id, name))
            .buffered(READ_CONCURRENCY)
            .try_collect()
            .await?;
        Ok(per_api.into_iter().flatten().collect())
    }

    async fn alarms(&self) -> PortResult<Vec<AlarmInfo>> {
        let pages: Vec<_> = self
            .cloudwatch
            .describe_alarms()
            .alarm_types(AlarmType::MetricAlarm)
            .into_paginator()
            .send()
            .try_collect()
            .await
            .map_err(|e| classify("cloudwatch:DescribeAlarms", e))?;
        Ok(pages
            .iter()
            .flat_map(|p| p.metric_alarms())
            .map(alarm_info)
            .collect())
    }

    async fn put_metric(
        &self,
        namespace: &str,
        name: &str,
        value: f64,
        at: DateTime<Utc>,
    ) -> PortResult<()> {
        self.cloudwatch
            .put_metric_data()
            .namespace(namespace)
            .metric_data(
                MetricDatum::builder()
                    .metric_name(name)
                    .value(value)
                    .unit(StandardUnit::Count)
                    .timestamp(SmithyTime::from_secs(at.timestamp()))
                    .build(),
            )
            .send()
            .await
            .map(drop)
            .map_err(|e| classify("cloudwatch:PutMetricData", e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_apigateway::types::MethodSetting;
    use aws_sdk_cloudwatch::types::{MetricDataQuery, MetricStat};

    #[test]
    fn function_names_come_out_of_arns() {
        assert_eq!(
            function_name("arn:aws:lambda:us-east-1:1:function:worker:live"),
            "worker"
        );
        assert_eq!(
            function_name("arn:aws:lambda:us-east-1:1:function:worker"),
            "worker"
        );
    }

    #[test]
    fn a_stage_is_throttled_by_any_set_throttle() {
        let setting = |rate, burst| {
            MethodSetting::builder()
                .throttling_rate_limit(rate)
                .throttling_burst_limit(burst)
                .build()
        };
        let stage = |s: Vec<(&str, MethodSetting)>| {
            RestStage::builder()
                .set_method_settings(Some(
                    s.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
                ))
                .build()
        };
        assert!(!throttled(&RestStage::builder().build()));
        assert!(!throttled(&stage(vec![("*/*", setting(-1.0, -1))])));
        assert!(throttled(&stage(vec![("~1items/GET", setting(5.0, 10))])));
    }

    #[test]
    fn alarms_are_read_with_math_metrics_and_disabled_actions_dropped() {
        let lambda = Metric::builder()
            .namespace("AWS/Lambda")
            .metric_name("ConcurrentExecutions")
            .build();
        let math = MetricAlarm::builder()
            .alarm_name("math")
            .metrics(
                MetricDataQuery::builder()
                    .id("m1")
                    .metric_stat(MetricStat::builder().metric(lambda).build())
                    .build(),
            )
            .alarm_actions("arn:aws:sns:us-east-1:1:t")
            .build();
        let info = alarm_info(&math);
        assert_eq!(info.metrics[0].name, "ConcurrentExecutions");
        assert!(info.metrics[0].dimensions.is_empty());
        assert_eq!(info.actions, ["arn:aws:sns:us-east-1:1:t"]);

        let off = MetricAlarm::builder()
            .alarm_name("off")
            .namespace("AWS/Lambda")
            .metric_name("ConcurrentExecutions")
            .dimensions(Dimension::builder().name("FunctionName").value("f").build())
            .actions_enabled(false)
            .alarm_actions("arn:aws:sns:us-east-1:1:t")
            .build();
        let info = alarm_info(&off);
        assert_eq!(info.metrics[0].dimensions["FunctionName"], "f");
        assert!(info.actions.is_empty());
    }
}
