//! CloudWatch's alarm history, for `cguard backtest` only: every transition into ALARM of the
//! metric alarms named `<prefix>…`. Only the CLI calls this (`DescribeAlarmHistory` is granted
//! to no function's role; `scripts/check_iam.py` lists it as an operator's call).
//!
//! `DescribeAlarmHistory` filters by one alarm name, not by a prefix: the alarms are listed
//! first (`DescribeAlarms` with `AlarmNamePrefix` — the definitions the transitions carry, as
//! the posture checklist reads them), then each one's `StateUpdate` items, page by page,
//! [`READ_CONCURRENCY`] alarms at a time. Whether an item is a transition into ALARM is read
//! from its `HistoryData` by `cguard_core::backtest::StateUpdate`.

use aws_sdk_cloudwatch::types::{
    AlarmHistoryItem, AlarmType, HistoryItemType, MetricAlarm, ScanBy,
};
use cguard_core::backtest::{AlarmTransition, StateUpdate};
use cguard_engine::ports::{ErrorKind, PortError, PortResult};
use chrono::{DateTime, Utc};
use futures::{StreamExt, TryStreamExt, stream};

use crate::cloudwatch::smithy;
use crate::error::classify;
use crate::posture::alarm_info;
use crate::{Aws, READ_CONCURRENCY};

const HISTORY: &str = "cloudwatch:DescribeAlarmHistory";

impl Aws {
    /// The transitions into ALARM between `since` and `until` of the metric alarms whose names
    /// start with `prefix`, newest first per alarm.
    pub(crate) async fn read_alarm_transitions(
        &self,
        prefix: &str,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> PortResult<Vec<AlarmTransition>> {
        let pages: Vec<_> = self
            .cloudwatch
            .describe_alarms()
            .alarm_name_prefix(prefix)
            .alarm_types(AlarmType::MetricAlarm)
            .into_paginator()
            .send()
            .try_collect()
            .await
            .map_err(|e| classify("cloudwatch:DescribeAlarms", e))?;
        // Owned, so that each read's future borrows nothing but `self`.
        let alarms: Vec<MetricAlarm> = pages
            .into_iter()
            .flat_map(|p| p.metric_alarms.unwrap_or_default())
            .collect();
        let per_alarm: Vec<Vec<AlarmTransition>> = stream::iter(alarms)
            .map(|alarm| async move { self.transitions_of(&alarm, since, until).await })
            .buffer_unordered(READ_CONCURRENCY)
            .try_collect()
            .await?;
        Ok(per_alarm.into_iter().flatten().collect())
    }

    /// One alarm's transitions into ALARM, with its definition. An item whose `HistoryData`
    /// cannot be read fails the read: a backtest that silently skipped one would claim to show
    /// every transition and not do so.
    async fn transitions_of(
        &self,
        alarm: &MetricAlarm,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> PortResult<Vec<AlarmTransition>> {
        let name = alarm.alarm_name().unwrap_or_default();
        let items: Vec<AlarmHistoryItem> = self
            .cloudwatch
            .describe_alarm_history()
            .alarm_name(name)
            .alarm_types(AlarmType::MetricAlarm)
            .history_item_type(HistoryItemType::StateUpdate)
            .start_date(smithy(since))
            .end_date(smithy(until))
            .scan_by(ScanBy::TimestampDescending)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| classify(HISTORY, e))?;
        let metrics = alarm_info(alarm).metrics;
        let mut transitions = Vec::new();
        for item in &items {
            let unreadable = |why: String| {
                PortError::new(HISTORY, ErrorKind::Unavailable, format!("{name}: {why}"))
            };
            let update = StateUpdate::parse(item.history_data().unwrap_or_default())
                .map_err(|e| unreadable(e.to_string()))?;
            if !update.entered_alarm() {
                continue;
            }
            let at = item
                .timestamp()
                .and_then(|t| DateTime::from_timestamp(t.secs(), t.subsec_nanos()))
                .ok_or_else(|| unreadable("a state update without a timestamp".into()))?;
            transitions.push(AlarmTransition {
                alarm: name.to_owned(),
                arn: alarm.alarm_arn().unwrap_or_default().to_owned(),
                at,
                reason: update.reason,
                metrics: metrics.clone(),
            });
        }
        Ok(transitions)
    }
}
