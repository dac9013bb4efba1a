//! The AWS sample script's algorithm, the baseline of `scale table`: list every function, then
//! ask CloudWatch for each one's peak, one call per function.

use anyhow::{Context, Result};
use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat};
use aws_smithy_types::DateTime as SmithyTime;
use cguard_core::observation::Window;

/// The AWS sample script's hunt: list every function (50 a page, as AWS pages them), then ask
/// CloudWatch for each one's `ConcurrentExecutions` Maximum over the window, one call each.
pub async fn hunt(
    lambda: &aws_sdk_lambda::Client,
    cloudwatch: &aws_sdk_cloudwatch::Client,
    window: &Window,
) -> Result<Option<(String, f64)>> {
    let pages: Vec<_> = lambda
        .list_functions()
        .max_items(50)
        .into_paginator()
        .send()
        .try_collect()
        .await
        .context("ListFunctions")?;
    let names: Vec<String> = pages
        .iter()
        .flat_map(|p| p.functions())
        .filter_map(|f| f.function_name().map(str::to_owned))
        .collect();
    let mut busiest: Option<(String, f64)> = None;
    for name in names {
        let out = cloudwatch
            .get_metric_data()
            .metric_data_queries(peak_query(&name))
            .start_time(SmithyTime::from_secs(window.start.timestamp()))
            .end_time(SmithyTime::from_secs(window.end.timestamp()))
            .send()
            .await
            .with_context(|| format!("GetMetricData {name}"))?;
        let peak = out
            .metric_data_results()
            .iter()
            .flat_map(|r| r.values())
            .copied()
            .reduce(f64::max);
        if let Some(p) = peak
            && busiest.as_ref().is_none_or(|(_, b)| p > *b)
        {
            busiest = Some((name, p));
        }
    }
    Ok(busiest)
}

/// One function's `ConcurrentExecutions` Maximum, a period at a time.
fn peak_query(name: &str) -> MetricDataQuery {
    MetricDataQuery::builder()
        .id("m1")
        .metric_stat(
            MetricStat::builder()
                .metric(
                    Metric::builder()
                        .namespace("AWS/Lambda")
                        .metric_name("ConcurrentExecutions")
                        .dimensions(
                            Dimension::builder()
                                .name("FunctionName")
                                .value(name)
                                .build(),
                        )
                        .build(),
                )
                .period(Window::PERIOD_SECONDS)
                .stat("Maximum")
                .build(),
        )
        .build()
}
