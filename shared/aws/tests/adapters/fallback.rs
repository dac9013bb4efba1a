//! Issue 10's fallback through the real adapters: an account alarm arrives, CloudWatch answers
//! the Metrics Insights query with `PartialData` (as it does when more than 10,000 metrics
//! match), and the guard — Insights on, as deployed — does not believe it: the batched
//! `GetMetricData` path ranks in the same invocation, the report says why, and the offender is
//! found. Every AWS client is a smithy mock; the request is `events/alarm-action.json`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use aws_sdk_cloudwatch::Client as CloudWatch;
use aws_sdk_cloudwatch::operation::describe_alarms::DescribeAlarmsOutput;
use aws_sdk_cloudwatch::operation::get_metric_data::GetMetricDataOutput;
use aws_sdk_cloudwatch::operation::list_metrics::ListMetricsOutput;
use aws_sdk_cloudwatch::types::{
    ComparisonOperator, Dimension, MessageData, Metric, MetricAlarm, MetricDataQuery,
    MetricDataResult, StateValue, Statistic, StatusCode,
};
use aws_sdk_dynamodb::Client as Dynamo;
use aws_sdk_dynamodb::operation::get_item::GetItemOutput;
use aws_sdk_lambda::Client as Lambda;
use aws_sdk_lambda::operation::get_function::GetFunctionOutput;
use aws_sdk_lambda::operation::list_event_source_mappings::ListEventSourceMappingsOutput;
use aws_sdk_lambda::types::FunctionConfiguration;
use aws_smithy_mocks::{Rule, mock};
use aws_smithy_types::DateTime as SmithyTime;
use cguard_core::config::Policy;
use cguard_core::intake::{Subject, parse_event};
use cguard_core::model::{Status, Tier};
use cguard_core::ranking::{Fallback, RankedBy};
use cguard_core::report::Outcome;
use cguard_engine::Guard;
use chrono::{Duration, DurationRound, Utc};

use crate::common::{Rules, account_settings, aws, function_arn, no_policy, unreserved};

const ALARM: &str = "concurrency-guard-account-concurrency";
const MESSAGE: &str = "Maximum number of allowed metrics exceeded";

/// The peak each series reads over the window: the account's, and two functions'.
fn peak(function: Option<&str>, metric: &str) -> f64 {
    let figures = HashMap::from([
        ((None, "ConcurrentExecutions"), 962.0),
        ((Some("hog"), "ConcurrentExecutions"), 700.0),
        ((Some("hog"), "Invocations"), 1400.0),
        ((Some("hog"), "Duration"), 30_000.0),
        ((Some("quiet"), "ConcurrentExecutions"), 40.0),
        ((Some("quiet"), "Invocations"), 600.0),
        ((Some("quiet"), "Duration"), 500.0),
    ]);
    figures.get(&(function, metric)).copied().unwrap_or(0.0)
}

/// One `GetMetricData` result: the Insights query partial (one series of the two it should
/// have), every metric read complete at its figure.
fn answer(q: &MetricDataQuery, at: SmithyTime) -> MetricDataResult {
    let result = MetricDataResult::builder()
        .id(q.id().unwrap())
        .timestamps(at);
    if q.expression().is_some() {
        return result
            .label("hog")
            .values(700.0)
            .status_code(StatusCode::PartialData)
            .build();
    }
    let m = q.metric_stat().and_then(|s| s.metric()).unwrap();
    let function = m.dimensions().first().and_then(|d| d.value());
    result
        .values(peak(function, m.metric_name().unwrap()))
        .status_code(StatusCode::Complete)
        .build()
}

fn metric(function: &str) -> Metric {
    Metric::builder()
        .namespace("AWS/Lambda")
        .metric_name("ConcurrentExecutions")
        .dimensions(
            Dimension::builder()
                .name("FunctionName")
                .value(function)
                .build(),
        )
        .build()
}

/// `DescribeAlarms`: the stack's account alarm as CloudWatch has it, in ALARM since `changed`.
fn confirming(changed: SmithyTime) -> Rule {
    mock!(CloudWatch::describe_alarms).then_output(move || {
        DescribeAlarmsOutput::builder()
            .metric_alarms(
                MetricAlarm::builder()
                    .alarm_name(ALARM)
                    .alarm_arn(format!(
                        "arn:aws:cloudwatch:us-east-1:123456789012:alarm:{ALARM}"
                    ))
                    .state_value(StateValue::Alarm)
                    .state_updated_timestamp(changed)
                    .namespace("AWS/Lambda")
                    .metric_name("ConcurrentExecutions")
                    .statistic(Statistic::Maximum)
                    .period(60)
                    .evaluation_periods(1)
                    .threshold(800.0)
                    .comparison_operator(ComparisonOperator::GreaterThanOrEqualToThreshold)
                    .build(),
            )
            .build()
    })
}

/// Lambda describing hog: no reservation, no resource policy, no event source.
fn hog_rules() -> [Rule; 5] {
    [
        account_settings(1000, 1000),
        mock!(Lambda::get_function).then_output(|| {
            GetFunctionOutput::builder()
                .configuration(
                    FunctionConfiguration::builder()
                        .function_name("hog")
                        .function_arn(function_arn("hog"))
                        .build(),
                )
                .build()
        }),
        unreserved(),
        no_policy(),
        mock!(Lambda::list_event_source_mappings)
            .then_output(|| ListEventSourceMappingsOutput::builder().build()),
    ]
}

#[tokio::test]
async fn a_partial_insights_answer_falls_back_to_the_batched_path_and_finds_the_offender() {
    // GIVEN the account alarm as EventBridge delivers it, and CloudWatch confirming it
    let event: serde_json::Value =
        serde_json::from_str(include_str!("../../../../events/alarm-action.json")).unwrap();
    let mut request = parse_event(&event).unwrap().remove(0);
    let Subject::Alarm(alarm) = &mut request.subject else {
        panic!("an alarm request")
    };
    // Re-dated to now: the adapter asks Insights only about the last 3 hours.
    alarm.changed_at = Utc::now()
        .duration_trunc(Duration::milliseconds(1))
        .unwrap()
        - Duration::seconds(3);
    let alarm = alarm.clone();
    let changed = SmithyTime::from_millis(alarm.changed_at.timestamp_millis());
    let minute = SmithyTime::from_secs(alarm.changed_at.timestamp() - 87);
    let describe = confirming(changed);
    // ...and the Insights query answered partially, with CloudWatch's message
    let queries: Arc<Mutex<Vec<bool>>> = Arc::default();
    let seen = queries.clone();
    let read = mock!(CloudWatch::get_metric_data).then_compute_output(move |req| {
        let insights = req
            .metric_data_queries()
            .iter()
            .any(|q| q.expression().is_some());
        seen.lock().unwrap().push(insights);
        let mut out = GetMetricDataOutput::builder();
        for q in req.metric_data_queries() {
            out = out.metric_data_results(answer(q, minute));
        }
        if insights {
            out = out.messages(
                MessageData::builder()
                    .code("MaxMetricsExceeded")
                    .value(MESSAGE)
                    .build(),
            );
        }
        out.build()
    });
    let list = mock!(CloudWatch::list_metrics).then_output(|| {
        ListMetricsOutput::builder()
            .metrics(metric("hog"))
            .metrics(metric("quiet"))
            .build()
    });
    let lambda = hog_rules();
    let ledger = mock!(Dynamo::get_item).then_output(|| GetItemOutput::builder().build());
    let aws = aws(Rules {
        lambda: lambda.iter().collect(),
        cloudwatch: vec![&describe, &read, &list],
        dynamodb: vec![&ledger],
        ..Default::default()
    })
    .with_metrics_insights(true);
    let policy = Policy {
        dry_run: true,
        ..Policy::default()
    };

    // WHEN the remediator plans for it, Insights on
    let now = alarm.changed_at + Duration::seconds(3);
    let report = Guard::new(&aws, policy).remediate(&request, now).await;

    // THEN the partial answer is named as the reason the batched path ranked...
    assert!(report.unconfirmed.is_none(), "{report}");
    assert_eq!(
        report.ranked_by,
        Some(RankedBy::Batched(Fallback::Partial {
            messages: vec![format!("MaxMetricsExceeded: {MESSAGE}")]
        })),
        "{report}"
    );
    // ...after one Insights query, every function listed and read in one batch
    assert_eq!(queries.lock().unwrap().iter().filter(|q| **q).count(), 1);
    assert_eq!(list.num_calls(), 1);
    // ...and hog, 700 of the account's 962, is the offender, its cap planned
    assert_eq!(report.outcome, Outcome::DryRun, "{report}");
    assert_eq!(report.offenders, ["hog"]);
    assert_eq!(report.account_peak, Some(962.0));
    assert!(
        report
            .actions
            .iter()
            .any(|a| a.tier == Tier::Reservation && a.status == Status::Planned),
        "{report}"
    );
}
