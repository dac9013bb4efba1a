//! What CloudWatch itself says of an alarm: its definition and state (`DescribeAlarms`) and its
//! own metric re-read with that definition (`GetMetricData`) — the evidence
//! `cguard_core::confirm` weighs before a notification is acted on.

use aws_sdk_cloudwatch::types::{
    AlarmType, Metric, MetricAlarm, MetricDataQuery, MetricStat, ScanBy, StateValue,
};
use cguard_core::confirm::{AlarmEvidence, Comparison};
use cguard_core::intake::AlarmState;
use cguard_engine::ports::PortResult;
use chrono::{DateTime, Duration, Utc};

use crate::Aws;
use crate::cloudwatch::smithy;
use crate::error::classify;

impl Aws {
    /// The metric alarm called `name`, with its metric over its evaluation periods up to `at`
    /// (the state change being confirmed); `None` when this account and region have no such
    /// metric alarm.
    pub(crate) async fn read_alarm_evidence(
        &self,
        name: &str,
        at: DateTime<Utc>,
    ) -> PortResult<Option<AlarmEvidence>> {
        let out = self
            .cloudwatch
            .describe_alarms()
            .alarm_names(name)
            .alarm_types(AlarmType::MetricAlarm)
            .send()
            .await
            .map_err(|e| classify("cloudwatch:DescribeAlarms", e))?;
        let Some(alarm) = out.metric_alarms().first() else {
            return Ok(None);
        };
        let periods = alarm.evaluation_periods().unwrap_or(1).max(1) as u32;
        let datapoints = self.alarm_datapoints(alarm, periods, at).await?;
        Ok(Some(AlarmEvidence {
            arn: alarm.alarm_arn().unwrap_or_default().to_owned(),
            state: match alarm.state_value() {
                Some(StateValue::Alarm) => AlarmState::Alarm,
                Some(StateValue::Ok) => AlarmState::Ok,
                _ => AlarmState::InsufficientData,
            },
            state_updated: alarm
                .state_updated_timestamp()
                .and_then(|t| DateTime::from_timestamp(t.secs(), t.subsec_nanos()))
                .unwrap_or_default(),
            comparison: alarm
                .comparison_operator()
                .and_then(|c| Comparison::parse(c.as_str())),
            threshold: alarm.threshold(),
            evaluation_periods: periods,
            datapoints_to_alarm: alarm
                .datapoints_to_alarm()
                .map_or(periods, |d| d.max(1) as u32),
            datapoints,
        }))
    }

    /// The alarm's own series — its single metric with its statistic, or its metric-math
    /// queries as they are — oldest first, over its evaluation periods before `at`, as CloudWatch
    /// evaluated them: whole periods only (the one `at` falls in was still filling), one spare.
    async fn alarm_datapoints(
        &self,
        alarm: &MetricAlarm,
        periods: u32,
        at: DateTime<Utc>,
    ) -> PortResult<Vec<f64>> {
        let queries: Vec<MetricDataQuery> = if alarm.metrics().is_empty() {
            let Some(stat) = alarm
                .statistic()
                .map(|s| s.as_str().to_owned())
                .or_else(|| alarm.extended_statistic().map(str::to_owned))
            else {
                return Ok(Vec::new());
            };
            let metric = Metric::builder()
                .set_namespace(alarm.namespace().map(str::to_owned))
                .set_metric_name(alarm.metric_name().map(str::to_owned))
                .set_dimensions(Some(alarm.dimensions().to_vec()))
                .build();
            vec![
                MetricDataQuery::builder()
                    .id("alarm")
                    .metric_stat(
                        MetricStat::builder()
                            .metric(metric)
                            .period(alarm.period().unwrap_or(60))
                            .stat(stat)
                            .build(),
                    )
                    .return_data(true)
                    .build(),
            ]
        } else {
            alarm.metrics().to_vec()
        };
        let period = alarm
            .period()
            .or_else(|| alarm.metrics().iter().find_map(|q| q.period()))
            .or_else(|| {
                alarm
                    .metrics()
                    .iter()
                    .find_map(|q| q.metric_stat().and_then(MetricStat::period))
            })
            .unwrap_or(60);
        let period_s = i64::from(period.max(1));
        // EndTime is exclusive: the last whole period before `at`.
        let end = DateTime::from_timestamp(at.timestamp() / period_s * period_s, 0).unwrap_or(at);
        let start = end - Duration::seconds(period_s * (i64::from(periods) + 1));
        let out = self
            .cloudwatch
            .get_metric_data()
            .set_metric_data_queries(Some(queries))
            .start_time(smithy(start))
            .end_time(smithy(end))
            .scan_by(ScanBy::TimestampAscending)
            .send()
            .await
            .map_err(|e| classify("cloudwatch:GetMetricData", e))?;
        // The one returned series: the alarm's own (math alarms return exactly one).
        Ok(out
            .metric_data_results()
            .first()
            .map(|r| r.values().to_vec())
            .unwrap_or_default())
    }
}
