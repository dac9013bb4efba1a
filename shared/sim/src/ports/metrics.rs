//! CloudWatch as the guard reads it, answered from what the simulated account has published by
//! now (a minute is readable only `publish_delay_s` after it ends): per-minute Maximum of
//! `ConcurrentExecutions`, Sum of `Invocations` and `Throttles`, Average of `Duration`; a
//! function has no datapoint in a minute it did nothing. Metrics Insights is answered as the
//! real query would be — the busiest functions by their peak, grouped by name, complete — and
//! only for windows within its three hours.

use std::collections::BTreeMap;
use std::ops::Range;

use cguard_core::backtest::AlarmTransition;
use cguard_core::confirm::AlarmEvidence;
use cguard_core::intake::AlarmState;
use cguard_core::observation::{FunctionUsage, Peaks, Window};
use cguard_core::ranking::TopPeaks;
use cguard_engine::ports::{Metrics, PortResult};
use chrono::{DateTime, Duration, Utc};

use super::SimAccount;
use crate::account::{ACCOUNT_ID, Account, REGION};
use crate::clock;

/// How far back Metrics Insights queries (and `ListMetrics`' "recently active" looks).
fn insights_reach() -> Duration {
    Duration::hours(3)
}

/// The label an ungrouped Insights answer would carry; the simulated one is always grouped.
const INSIGHTS_QUERY_ID: &str = "insights";

pub fn alarm_arn(name: &str) -> String {
    format!("arn:aws:cloudwatch:{REGION}:{ACCOUNT_ID}:alarm:{name}")
}

fn window_minutes(window: &Window) -> Range<usize> {
    clock::minutes(window.start, window.end)
}

fn peaks(a: &Account, functions: &[String], minutes: &Range<usize>) -> Peaks {
    Peaks {
        account: a.account_peak(minutes.clone()).map(|p| p as f64),
        functions: functions
            .iter()
            .filter_map(|f| Some((f.clone(), a.peak(f, minutes.clone())? as f64)))
            .collect(),
    }
}

fn usage(a: &Account, name: &str, minutes: &Range<usize>) -> Option<FunctionUsage> {
    let duration_ms = a.function(name)?.duration_s() * 1000.0;
    let series = a.function_metrics(name)?;
    let end = minutes.end.min(series.len());
    let start = minutes.start.min(end);
    let mut u = FunctionUsage {
        name: name.to_owned(),
        ..FunctionUsage::default()
    };
    for (m, minute) in series[start..end].iter().enumerate() {
        if !minute.active {
            continue;
        }
        let label = clock::minute_label(start + m);
        u.concurrency.0.insert(label, minute.concurrency as f64);
        u.invocations.0.insert(label, minute.invocations as f64);
        u.throttles.0.insert(label, minute.throttles as f64);
        // Lambda reports Duration only for invocations that ran.
        if minute.invocations > 0 {
            u.duration_ms.0.insert(label, duration_ms);
        }
    }
    Some(u)
}

/// What `DescribeAlarms` and the alarm's own metric say of alarm `name` at `at`: its datapoints
/// over its evaluation periods that ended by `at`, as far as they are published now, the
/// missing ones left out as `GetMetricData` leaves them.
fn evidence(a: &Account, name: &str, at: DateTime<Utc>) -> Option<AlarmEvidence> {
    let alarm = a.alarm(name)?;
    let ended = clock::minutes(clock::epoch(), at).end;
    let readable = a.published_minutes().min(ended);
    let datapoints = a
        .alarm_datapoints(name, readable)?
        .into_iter()
        .flatten()
        .collect();
    let def = &alarm.def;
    Some(AlarmEvidence {
        arn: alarm_arn(name),
        state: alarm.state,
        state_updated: clock::at(alarm.since),
        comparison: Some(def.comparison.comparison()),
        threshold: Some(def.threshold),
        evaluation_periods: def.evaluation_periods,
        datapoints_to_alarm: def.datapoints_to_alarm(),
        datapoints,
    })
}

impl Metrics for SimAccount {
    async fn top_peaks(&self, window: &Window, limit: usize) -> PortResult<Option<TopPeaks>> {
        let a = self.lock();
        if window.start < clock::at(a.now()) - insights_reach() {
            return Ok(None);
        }
        let minutes = window_minutes(window);
        let mut ranked: Vec<(String, f64)> = a
            .functions()
            .iter()
            .filter_map(|f| {
                Some((
                    f.name().to_owned(),
                    a.peak(f.name(), minutes.clone())? as f64,
                ))
            })
            .collect();
        // ORDER BY MAX() DESC LIMIT n; ties by name, so the answer is reproducible.
        ranked.sort_by(|x, y| y.1.total_cmp(&x.1).then_with(|| x.0.cmp(&y.0)));
        ranked.truncate(limit);
        Ok(Some(TopPeaks {
            peaks: Peaks {
                account: a.account_peak(minutes).map(|p| p as f64),
                functions: ranked.into_iter().collect::<BTreeMap<_, _>>(),
            },
            limit,
            complete: true,
            messages: Vec::new(),
            query_id: INSIGHTS_QUERY_ID.to_owned(),
        }))
    }

    /// Functions with a datapoint published since `since`.
    async fn active_functions(&self, since: DateTime<Utc>) -> PortResult<Vec<String>> {
        let a = self.lock();
        let recent = clock::minutes(since, clock::at(a.now()));
        Ok(a.functions()
            .iter()
            .filter(|f| a.peak(f.name(), recent.clone()).is_some())
            .map(|f| f.name().to_owned())
            .collect())
    }

    async fn peaks(&self, functions: &[String], window: &Window) -> PortResult<Peaks> {
        Ok(peaks(&self.lock(), functions, &window_minutes(window)))
    }

    async fn usage(&self, functions: &[String], window: &Window) -> PortResult<Vec<FunctionUsage>> {
        let a = self.lock();
        let minutes = window_minutes(window);
        Ok(functions
            .iter()
            .filter_map(|f| usage(&a, f, &minutes))
            .collect())
    }

    async fn alarm_evidence(
        &self,
        name: &str,
        at: DateTime<Utc>,
    ) -> PortResult<Option<AlarmEvidence>> {
        Ok(evidence(&self.lock(), name, at))
    }

    async fn alarm_state(&self, name: &str) -> PortResult<Option<AlarmState>> {
        Ok(self.lock().alarm(name).map(|a| a.state))
    }

    /// The alarms' own history: every transition into ALARM so far, with the alarm's metric.
    async fn alarm_transitions(
        &self,
        prefix: &str,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> PortResult<Vec<AlarmTransition>> {
        let a = self.lock();
        Ok(a.alarms()
            .iter()
            .filter(|alarm| alarm.def.name.starts_with(prefix))
            .flat_map(|alarm| {
                let metric = crate::notify::metric_ref(&alarm.def);
                alarm
                    .transitions
                    .iter()
                    .filter(|t| t.to == AlarmState::Alarm)
                    .map(move |t| AlarmTransition {
                        alarm: alarm.def.name.clone(),
                        arn: alarm_arn(&alarm.def.name),
                        at: clock::at(t.at),
                        reason: None,
                        metrics: vec![metric.clone()],
                    })
            })
            .filter(|t| (since..=until).contains(&t.at))
            .collect())
    }
}
