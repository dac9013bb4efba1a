//! What the lab seeds: a function's load as CloudWatch would record it, the stack's alarms,
//! the classic incident, and the repository's event payloads re-dated for a run.

use anyhow::{Context, Result};
use aws_sdk_cloudwatch::types::{ComparisonOperator, Dimension, MetricDatum, Statistic};
use aws_smithy_types::DateTime as SmithyTime;
use chrono::{DateTime, Duration, DurationRound, Utc};
use serde_json::Value;

use crate::Lab;

/// One function's steady load during the incident.
#[derive(Debug, Clone, Copy)]
pub struct Load {
    pub concurrency: f64,
    pub per_second: f64,
    pub duration_ms: f64,
    pub throttles: f64,
}

impl Load {
    /// A function obeying Little's law: concurrency = rate × duration.
    pub fn steady(per_second: f64, duration_ms: f64) -> Self {
        Self {
            concurrency: (per_second * duration_ms / 1000.0).round(),
            per_second,
            duration_ms,
            throttles: 0.0,
        }
    }
}

/// One datapoint of `name` with `dims`, at `t`.
pub fn datum(name: &str, dims: &[(&str, &str)], t: DateTime<Utc>, value: f64) -> MetricDatum {
    MetricDatum::builder()
        .metric_name(name)
        .set_dimensions(Some(
            dims.iter()
                .map(|(k, v)| Dimension::builder().name(*k).value(*v).build())
                .collect(),
        ))
        .timestamp(SmithyTime::from_secs(t.timestamp()))
        .value(value)
        .build()
}

/// The `n` whole minutes up to and including the minute of `at`.
pub fn minutes_before(at: DateTime<Utc>, n: i64) -> Vec<DateTime<Utc>> {
    let minute = at.duration_trunc(Duration::minutes(1)).expect("minute");
    (0..n)
        .rev()
        .map(|i| minute - Duration::minutes(i))
        .collect()
}

/// A sample event from `events/`, moved to `at` (and `region`) so it lines up with seeded
/// metrics. Only times and the alarm ARN's region change; the shape stays the real one.
pub fn event_at(file: &str, at: DateTime<Utc>, region: &str) -> Result<Value> {
    let path = format!("{}/../../events/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).with_context(|| path.clone())?;
    let aws_time = at.format("%Y-%m-%dT%H:%M:%S%.3f+0000").to_string();
    let text = text
        .replace("2026-11-23T09:40:27.123+0000", &aws_time)
        .replace(
            "2026-11-23T09:40:27Z",
            &at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        )
        .replace("cloudwatch:us-east-1:", &format!("cloudwatch:{region}:"))
        .replace(
            "\"region\": \"us-east-1\"",
            &format!("\"region\": \"{region}\""),
        );
    Ok(serde_json::from_str(&text)?)
}

/// An alarm as the template (or a team) defines it.
#[derive(Debug, Clone)]
pub struct AlarmDefinition {
    pub name: &'static str,
    pub metric: &'static str,
    pub function: Option<&'static str>,
    pub statistic: Statistic,
    pub comparison: ComparisonOperator,
    pub threshold: f64,
    pub periods: i32,
}

/// The stack's alarm on the account's concurrency (`events/*account-concurrency*`).
pub static ACCOUNT_ALARM: AlarmDefinition = AlarmDefinition {
    name: "concurrency-guard-account-concurrency",
    metric: "ConcurrentExecutions",
    function: None,
    statistic: Statistic::Maximum,
    comparison: ComparisonOperator::GreaterThanOrEqualToThreshold,
    threshold: 800.0,
    periods: 1,
};

/// A team's alarm on its API being throttled (`events/sns-victim-throttles.json`).
pub static VICTIM_ALARM: AlarmDefinition = AlarmDefinition {
    name: "orders-api-throttles",
    metric: "Throttles",
    function: Some("orders-api"),
    statistic: Statistic::Sum,
    comparison: ComparisonOperator::GreaterThanThreshold,
    threshold: 0.0,
    periods: 2,
};

/// The classic incident: a 30-second function behind an open REST API eats the pool; a small
/// API function is throttled; a protected batch function is busy; seven bystanders idle.
#[derive(Debug, Clone)]
pub struct ClassicIncident {
    pub at: DateTime<Utc>,
    pub offender: &'static str,
    pub victim: &'static str,
    pub protected: &'static str,
    pub bystanders: Vec<String>,
    pub api_id: String,
    pub stage: &'static str,
}

impl ClassicIncident {
    pub async fn seed(lab: &Lab, at: DateTime<Utc>) -> Result<Self> {
        let minutes = minutes_before(at, 10);
        let offender = "slow-search";
        let arn = lab.function(offender, &[("team", "search")]).await?;
        let api_id = lab
            .rest_api(offender, &arn, "prod", "GET", "/items")
            .await?;
        // 20 req/s × 30 s = 600 concurrent executions.
        lab.function_metrics(offender, &minutes, Load::steady(20.0, 30_000.0))
            .await?;

        let victim = "orders-api";
        lab.function(victim, &[]).await?;
        lab.function_metrics(
            victim,
            &minutes,
            Load {
                throttles: 57.0,
                ..Load::steady(40.0, 250.0)
            },
        )
        .await?;

        let protected = "payments-batch";
        lab.function(protected, &[("concurrency-guard:protected", "true")])
            .await?;
        lab.function_metrics(protected, &minutes, Load::steady(5.0, 50_000.0))
            .await?;

        let mut bystanders = Vec::new();
        for i in 0..7 {
            let name = format!("bystander-{i}");
            lab.function(&name, &[]).await?;
            lab.function_metrics(&name, &minutes, Load::steady(2.0 + f64::from(i), 2_000.0))
                .await?;
            bystanders.push(name);
        }
        lab.account_metrics(&minutes, 962.0).await?;
        lab.alarm_fires(&VICTIM_ALARM).await?;
        Ok(Self {
            at,
            offender,
            victim,
            protected,
            bystanders,
            api_id,
            stage: "prod",
        })
    }
}
