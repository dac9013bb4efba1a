//! One manual request through the whole `Guard` over the mocked adapters: CloudWatch ranks,
//! Lambda describes, the ledger records each change before it is made, and the function points
//! at the incident.

use std::collections::HashMap;

use aws_sdk_cloudwatch::Client as CloudWatch;
use aws_sdk_cloudwatch::operation::get_metric_data::GetMetricDataOutput;
use aws_sdk_cloudwatch::operation::list_metrics::ListMetricsOutput;
use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataResult, StatusCode};
use aws_sdk_dynamodb::Client as Dynamo;
use aws_sdk_dynamodb::operation::get_item::GetItemOutput;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_lambda::Client as Lambda;
use aws_sdk_lambda::operation::get_function::GetFunctionOutput;
use aws_sdk_lambda::operation::list_event_source_mappings::ListEventSourceMappingsOutput;
use aws_sdk_lambda::operation::update_event_source_mapping::UpdateEventSourceMappingOutput;
use aws_sdk_lambda::types::{EventSourceMappingConfiguration, FunctionConfiguration};
use aws_smithy_mocks::{Rule, mock};
use aws_smithy_types::DateTime as SmithyTime;
use cguard_core::config::Policy;
use cguard_core::intake::{EventSource, Request, Subject};
use cguard_core::model::{Change, Reservation, Status};
use cguard_core::report::Outcome;
use cguard_engine::Guard;

use crate::common::{
    ACCOUNT, REGION, Rules, account_settings, aws, function_arn, no_policy, unreserved,
};
use crate::engine::{CAP_KEY, Log, ledger_ok, now, put_ok, recorded, tag_ok};
use crate::ledger::Sent;

/// Lambda as it describes orders-api (an SQS consumer without maximum concurrency and without
/// a reservation, in an account with 850 of 1000 unreserved), and accepting the two changes.
fn lambda_rules(log: &Log, uuid: &'static str) -> Vec<Rule> {
    let queue = format!("arn:aws:sqs:{REGION}:{ACCOUNT}:orders-queue");
    vec![
        account_settings(1000, 850),
        mock!(Lambda::get_function)
            .match_requests(|r| r.function_name() == Some("orders-api"))
            .then_output(|| {
                GetFunctionOutput::builder()
                    .configuration(
                        FunctionConfiguration::builder()
                            .function_name("orders-api")
                            .function_arn(function_arn("orders-api"))
                            .build(),
                    )
                    .tags("team", "payments")
                    .build()
            }),
        unreserved(),
        no_policy(),
        mock!(Lambda::list_event_source_mappings).then_output(move || {
            ListEventSourceMappingsOutput::builder()
                .event_source_mappings(
                    EventSourceMappingConfiguration::builder()
                        .uuid(uuid)
                        .event_source_arn(&queue)
                        .function_arn(function_arn("orders-api"))
                        .state("Enabled")
                        .batch_size(10)
                        .build(),
                )
                .build()
        }),
        tag_ok(log),
        {
            let log = log.clone();
            mock!(Lambda::update_event_source_mapping)
                .match_requests(move |r| {
                    r.uuid() == Some(uuid)
                        && r.scaling_config().and_then(|s| s.maximum_concurrency()) == Some(100)
                })
                .then_compute_output(move |_| {
                    log.push("UpdateEventSourceMapping 100");
                    UpdateEventSourceMappingOutput::builder().uuid(uuid).build()
                })
        },
        put_ok(log),
    ]
}

/// CloudWatch: orders-api holds 600 of the account's 650; thumbnailer is quiet.
fn cloudwatch_rules() -> [Rule; 2] {
    let t0 = now().timestamp() - 120;
    let figures: HashMap<(Option<&str>, &str), f64> = HashMap::from([
        ((None, "ConcurrentExecutions"), 650.0),
        ((Some("orders-api"), "ConcurrentExecutions"), 600.0),
        ((Some("orders-api"), "Invocations"), 6000.0),
        ((Some("orders-api"), "Duration"), 6000.0),
        ((Some("orders-api"), "Throttles"), 0.0),
        ((Some("thumbnailer"), "ConcurrentExecutions"), 20.0),
        ((Some("thumbnailer"), "Invocations"), 1200.0),
        ((Some("thumbnailer"), "Duration"), 1000.0),
        ((Some("thumbnailer"), "Throttles"), 0.0),
    ]);
    let metric = |name: &str| {
        Metric::builder()
            .namespace("AWS/Lambda")
            .metric_name("ConcurrentExecutions")
            .dimensions(
                Dimension::builder()
                    .name("FunctionName")
                    .value(name)
                    .build(),
            )
            .build()
    };
    [
        mock!(CloudWatch::list_metrics).then_output(move || {
            ListMetricsOutput::builder()
                .metrics(metric("orders-api"))
                .metrics(metric("thumbnailer"))
                .build()
        }),
        mock!(CloudWatch::get_metric_data).then_compute_output(move |req| {
            let mut out = GetMetricDataOutput::builder();
            for q in req.metric_data_queries() {
                let m = q.metric_stat().and_then(|s| s.metric()).unwrap();
                let f = m.dimensions().first().and_then(|d| d.value());
                let v = figures[&(f, m.metric_name().unwrap())];
                out = out.metric_data_results(
                    MetricDataResult::builder()
                        .id(q.id().unwrap())
                        .timestamps(SmithyTime::from_secs(t0))
                        .values(v)
                        .status_code(StatusCode::Complete)
                        .build(),
                );
            }
            out.build()
        }),
    ]
}

#[tokio::test]
async fn a_manual_request_is_remediated_end_to_end() {
    // GIVEN orders-api holds 600 of the account's 650 concurrent executions, is driven by an
    // SQS queue without maximum concurrency, has no reservation, and the account has 850 of
    // 1000 unreserved
    let log = Log::default();
    let sent = Sent::default();
    let uuid = "6d9f3e2a-1b4c-4d5e-8f70-112233445566";
    let lambda_rules = lambda_rules(&log, uuid);
    let cloudwatch_rules = cloudwatch_rules();
    let dynamodb_rules = [
        mock!(Dynamo::get_item)
            .match_requests(|r| r.consistent_read() == Some(true))
            .then_output(|| GetItemOutput::builder().build()),
        ledger_ok(&log, &sent),
    ];
    let aws = aws(Rules {
        lambda: lambda_rules.iter().collect(),
        cloudwatch: cloudwatch_rules.iter().collect(),
        dynamodb: dynamodb_rules.iter().collect(),
        ..Default::default()
    });
    let request = Request {
        subject: Subject::Function {
            name: "orders-api".into(),
            requested_at: now(),
        },
        dry_run: false,
        source: EventSource::Manual,
    };

    // WHEN an operator asks to remediate orders-api
    let report = Guard::new(&aws, Policy::default())
        .remediate(&request, now())
        .await;

    // THEN the queue is limited to 100 and the function capped at 100, each after its record,
    // then the function points at the incident
    assert_eq!(report.outcome, Outcome::Remediated, "{report}");
    assert_eq!(report.account.limit, Some(1000));
    assert_eq!(report.offenders, ["orders-api"]);
    let changes: Vec<(&Change, &Status)> = report
        .actions
        .iter()
        .map(|a| (&a.change, &a.status))
        .collect();
    assert_eq!(
        changes,
        [
            (
                &Change::QueueConcurrency {
                    uuid: uuid.into(),
                    previous: None,
                    new: Some(100)
                },
                &Status::Applied
            ),
            (
                &Change::Reservation {
                    function: "orders-api".into(),
                    previous: Reservation::Unreserved,
                    new: Reservation::Reserved(100)
                },
                &Status::Applied
            ),
        ]
    );
    assert_eq!(
        log.calls(),
        [
            format!(r#"record a:1/{{"Queue":"{uuid}"}}"#),
            "UpdateEventSourceMapping 100".to_owned(),
            format!("TagResource {}", report.incident),
            format!("record {CAP_KEY}"),
            "PutFunctionConcurrency 100".to_owned(),
        ]
    );
    assert_eq!(recorded(&sent).len(), 2);
    let values = sent.lock().unwrap()[0]
        .expression_attribute_values()
        .unwrap()
        .clone();
    assert_eq!(
        values[":incident"],
        AttributeValue::S(report.incident.to_string())
    );
}
