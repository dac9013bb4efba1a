//! CloudWatch reads: recently active functions, batched `GetMetricData`, alarm states (alarm
//! evidence is `alarms.rs`'s, alarm history `history.rs`'s).
//!
//! Cost does not grow per function: one `ListMetrics` page per 500 functions, one
//! `GetMetricData` call per 500 queries (one query per function for peaks, four per candidate
//! for details), the batches run concurrently up to [`READ_CONCURRENCY`].

use std::collections::BTreeMap;

use aws_sdk_cloudwatch::types::{
    AlarmType, Dimension, DimensionFilter, Metric, MetricDataQuery, MetricStat, RecentlyActive,
    StateValue, StatusCode,
};
use aws_smithy_types::DateTime as SmithyTime;
use cguard_core::backtest::AlarmTransition;
use cguard_core::confirm::AlarmEvidence;
use cguard_core::intake::AlarmState;
use cguard_core::observation::{FunctionUsage, Peaks, Series, Window};
use cguard_core::ranking::TopPeaks;
use cguard_engine::ports::{Metrics, PortResult};
use futures::{StreamExt, TryStreamExt, stream};

use crate::error::classify;
use crate::{Aws, READ_CONCURRENCY};

/// `GetMetricData` accepts at most 500 queries per call.
pub const MAX_QUERIES: usize = 500;
const LAMBDA: &str = "AWS/Lambda";
/// The Metrics Insights query's id; an ungrouped answer is labelled with it.
const INSIGHTS_QUERY_ID: &str = "insights";

/// One query: which function (None = account), which metric and statistic.
#[derive(Debug, Clone)]
struct Query {
    function: Option<String>,
    metric: &'static str,
    stat: &'static str,
}

impl Query {
    fn to_sdk(&self, id: usize) -> MetricDataQuery {
        let mut metric = Metric::builder().namespace(LAMBDA).metric_name(self.metric);
        if let Some(f) = &self.function {
            metric = metric.dimensions(Dimension::builder().name("FunctionName").value(f).build());
        }
        MetricDataQuery::builder()
            .id(format!("q{id}"))
            .metric_stat(
                MetricStat::builder()
                    .metric(metric.build())
                    .period(Window::PERIOD_SECONDS)
                    .stat(self.stat)
                    .build(),
            )
            .return_data(true)
            .build()
    }
}

pub(crate) fn smithy(t: chrono::DateTime<chrono::Utc>) -> SmithyTime {
    SmithyTime::from_secs(t.timestamp())
}

impl Aws {
    /// Runs the queries in batches of 500, concurrently, and returns each query's series in
    /// the order given.
    async fn metric_data(&self, queries: &[Query], window: &Window) -> PortResult<Vec<Series>> {
        let batches: Vec<Vec<MetricDataQuery>> = queries
            .chunks(MAX_QUERIES)
            .enumerate()
            .map(|(b, chunk)| {
                chunk
                    .iter()
                    .enumerate()
                    .map(|(i, q)| q.to_sdk(b * MAX_QUERIES + i))
                    .collect()
            })
            .collect();
        let results: Vec<Vec<(usize, Series)>> = stream::iter(batches)
            .map(|batch| self.metric_batch(batch, *window))
            .buffer_unordered(READ_CONCURRENCY)
            .try_collect()
            .await?;
        let mut out = vec![Series::default(); queries.len()];
        for (i, s) in results.into_iter().flatten() {
            if let Some(slot) = out.get_mut(i) {
                *slot = s;
            }
        }
        Ok(out)
    }

    /// One `GetMetricData` call (more only if CloudWatch pages the datapoints).
    async fn metric_batch(
        &self,
        batch: Vec<MetricDataQuery>,
        window: Window,
    ) -> PortResult<Vec<(usize, Series)>> {
        let pages: Vec<_> = self
            .cloudwatch
            .get_metric_data()
            .set_metric_data_queries(Some(batch))
            .start_time(smithy(window.start))
            .end_time(smithy(window.end))
            .into_paginator()
            .send()
            .try_collect()
            .await
            .map_err(|e| classify("cloudwatch:GetMetricData", e))?;
        let mut by_id: BTreeMap<usize, Series> = BTreeMap::new();
        for page in pages {
            for r in page.metric_data_results() {
                let Some(i) = r
                    .id()
                    .and_then(|id| id.strip_prefix('q'))
                    .and_then(|n| n.parse().ok())
                else {
                    continue;
                };
                let series = by_id.entry(i).or_default();
                for (t, v) in r.timestamps().iter().zip(r.values()) {
                    series.0.insert(t.secs(), *v);
                }
            }
        }
        Ok(by_id.into_iter().collect())
    }
}

impl Metrics for Aws {
    async fn top_peaks(&self, window: &Window, limit: usize) -> PortResult<Option<TopPeaks>> {
        // Metrics Insights only queries the last three hours.
        if !self.metrics_insights || window.start < chrono::Utc::now() - chrono::Duration::hours(3)
        {
            return Ok(None);
        }
        let query = MetricDataQuery::builder()
            .id(INSIGHTS_QUERY_ID)
            .expression(format!(
                "SELECT MAX(ConcurrentExecutions) FROM SCHEMA(\"AWS/Lambda\", FunctionName) \
                 GROUP BY FunctionName ORDER BY MAX() DESC LIMIT {limit}"
            ))
            .period(Window::PERIOD_SECONDS)
            .return_data(true)
            .build();
        // The account's peak is read alongside, not after: one round trip fewer.
        let (out, account) = futures::join!(
            self.cloudwatch
                .get_metric_data()
                .metric_data_queries(query)
                .start_time(smithy(window.start))
                .end_time(smithy(window.end))
                .send(),
            self.peaks(&[], window)
        );
        let out = out.map_err(|e| classify("cloudwatch:GetMetricData", e))?;
        // One series per function, labelled with the GROUP BY value: the function's name —
        // when the answer is right; `ranking::believe` checks that it is.
        let complete = out
            .metric_data_results()
            .iter()
            .all(|r| r.status_code() == Some(&StatusCode::Complete));
        let messages = out
            .messages()
            .iter()
            .chain(out.metric_data_results().iter().flat_map(|r| r.messages()))
            .map(|m| format!("{}: {}", m.code().unwrap_or("-"), m.value().unwrap_or("-")))
            .collect();
        let functions: BTreeMap<String, f64> = out
            .metric_data_results()
            .iter()
            .filter_map(|r| {
                Some((
                    r.label()?.to_owned(),
                    r.values().iter().copied().reduce(f64::max)?,
                ))
            })
            .collect();
        let account = account?.account;
        Ok(Some(TopPeaks {
            peaks: Peaks { account, functions },
            limit,
            complete,
            messages,
            query_id: INSIGHTS_QUERY_ID.to_owned(),
        }))
    }

    async fn active_functions(
        &self,
        since: chrono::DateTime<chrono::Utc>,
    ) -> PortResult<Vec<String>> {
        // "Recently active" is CloudWatch's only filter, and it means the last 3 hours; without
        // it ListMetrics returns every metric with data in the last two weeks.
        let recent = since >= chrono::Utc::now() - chrono::Duration::hours(3);
        let pages: Vec<_> = self
            .cloudwatch
            .list_metrics()
            .namespace(LAMBDA)
            .metric_name("ConcurrentExecutions")
            .dimensions(DimensionFilter::builder().name("FunctionName").build())
            .set_recently_active(recent.then_some(RecentlyActive::Pt3H))
            .into_paginator()
            .send()
            .try_collect()
            .await
            .map_err(|e| classify("cloudwatch:ListMetrics", e))?;
        let mut names: Vec<String> = pages
            .iter()
            .flat_map(|p| p.metrics())
            // Alias and version metrics carry a second dimension (Resource); the function's own
            // series has FunctionName alone.
            .filter(|m| m.dimensions().len() == 1)
            .filter_map(|m| m.dimensions()[0].value().map(str::to_owned))
            .collect();
        names.sort();
        names.dedup();
        Ok(names)
    }

    async fn peaks(&self, functions: &[String], window: &Window) -> PortResult<Peaks> {
        let mut queries = vec![Query {
            function: None,
            metric: "ConcurrentExecutions",
            stat: "Maximum",
        }];
        queries.extend(functions.iter().map(|f| Query {
            function: Some(f.clone()),
            metric: "ConcurrentExecutions",
            stat: "Maximum",
        }));
        let series = self.metric_data(&queries, window).await?;
        let mut peaks = Peaks {
            account: series[0].max(),
            functions: BTreeMap::new(),
        };
        for (f, s) in functions.iter().zip(&series[1..]) {
            if let Some(p) = s.max() {
                peaks.functions.insert(f.clone(), p);
            }
        }
        Ok(peaks)
    }

    async fn usage(&self, functions: &[String], window: &Window) -> PortResult<Vec<FunctionUsage>> {
        const METRICS: [(&str, &str); 4] = [
            ("ConcurrentExecutions", "Maximum"),
            ("Invocations", "Sum"),
            ("Duration", "Average"),
            ("Throttles", "Sum"),
        ];
        let queries: Vec<Query> = functions
            .iter()
            .flat_map(|f| {
                METRICS.iter().map(|(metric, stat)| Query {
                    function: Some(f.clone()),
                    metric,
                    stat,
                })
            })
            .collect();
        let series = self.metric_data(&queries, window).await?;
        Ok(functions
            .iter()
            .zip(series.chunks(METRICS.len()))
            .map(|(f, s)| FunctionUsage {
                name: f.clone(),
                concurrency: s[0].clone(),
                invocations: s[1].clone(),
                duration_ms: s[2].clone(),
                throttles: s[3].clone(),
            })
            .collect())
    }

    async fn alarm_evidence(
        &self,
        name: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> PortResult<Option<AlarmEvidence>> {
        self.read_alarm_evidence(name, now).await
    }

    async fn alarm_state(&self, name: &str) -> PortResult<Option<AlarmState>> {
        let out = self
            .cloudwatch
            .describe_alarms()
            .alarm_names(name)
            .alarm_types(AlarmType::MetricAlarm)
            .alarm_types(AlarmType::CompositeAlarm)
            .send()
            .await
            .map_err(|e| classify("cloudwatch:DescribeAlarms", e))?;
        let state = out
            .metric_alarms()
            .first()
            .and_then(|a| a.state_value())
            .or_else(|| out.composite_alarms().first().and_then(|a| a.state_value()));
        Ok(state.map(|s| match s {
            StateValue::Alarm => AlarmState::Alarm,
            StateValue::Ok => AlarmState::Ok,
            _ => AlarmState::InsufficientData,
        }))
    }

    async fn alarm_transitions(
        &self,
        prefix: &str,
        since: chrono::DateTime<chrono::Utc>,
        until: chrono::DateTime<chrono::Utc>,
    ) -> PortResult<Vec<AlarmTransition>> {
        self.read_alarm_transitions(prefix, since, until).await
    }
}
