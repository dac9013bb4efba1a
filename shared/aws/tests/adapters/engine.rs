//! The engine through the mocked adapters: a change is never made without its record, a
//! failed change has its record taken back, and the record is written before the change.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use aws_sdk_apigateway::operation::update_stage::UpdateStageOutput;
use aws_sdk_cloudwatch::Client as CloudWatch;
use aws_sdk_cloudwatch::operation::get_metric_data::GetMetricDataOutput;
use aws_sdk_cloudwatch::operation::list_metrics::ListMetricsOutput;
use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataResult, StatusCode};
use aws_sdk_lambda::Client as Lambda;
use aws_sdk_lambda::operation::get_account_settings::GetAccountSettingsOutput;
use aws_sdk_lambda::operation::get_function::GetFunctionOutput;
use aws_sdk_lambda::operation::get_function_concurrency::GetFunctionConcurrencyOutput;
use aws_sdk_lambda::operation::list_event_source_mappings::ListEventSourceMappingsOutput;
use aws_sdk_lambda::operation::put_function_concurrency::PutFunctionConcurrencyOutput;
use aws_sdk_lambda::operation::tag_resource::TagResourceOutput;
use aws_sdk_lambda::operation::untag_resource::UntagResourceOutput;
use aws_sdk_lambda::operation::update_event_source_mapping::UpdateEventSourceMappingOutput;
use aws_sdk_lambda::types::{AccountLimit, EventSourceMappingConfiguration, FunctionConfiguration};
use aws_smithy_mocks::{MockResponse, Rule, mock};
use aws_smithy_types::DateTime as SmithyTime;
use cguard_core::config::Policy;
use cguard_core::fault::Fault;
use cguard_core::intake::{EventSource, IncidentId, Request, Subject};
use cguard_core::model::{
    Action, ApiKind, ApiTarget, Change, FunctionFacts, Reservation, Status, Throttle, Tier,
};
use cguard_core::plan::Plan;
use cguard_core::plan::{Figures, Why};
use cguard_core::record::{Record, TAG_INCIDENT};
use cguard_core::report::Outcome;
use cguard_engine::Guard;
use cguard_engine::remediate::carry_out;
use chrono::{DateTime, Utc};

use crate::common::{ACCOUNT, REGION, Rules, aws, function_arn, rest_json};

const UNRESERVED_MINIMUM: &str = "Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [100].";

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-23T09:40:27Z")
        .unwrap()
        .with_timezone(&Utc)
}

fn header() -> Record {
    Record::new(
        IncidentId::from_recorded("4f1c2b9a7d3e"),
        now(),
        Some("account-concurrency".into()),
    )
}

fn facts() -> BTreeMap<String, FunctionFacts> {
    BTreeMap::from([(
        "orders-api".to_owned(),
        FunctionFacts {
            name: "orders-api".into(),
            arn: function_arn("orders-api"),
            reservation: Reservation::Unreserved,
            tags: BTreeMap::from([("team".into(), "payments".into())]),
            drivers: Vec::new(),
        },
    )])
}

fn action(tier: Tier, change: Change) -> Action {
    Action {
        function: "orders-api".into(),
        tier,
        change,
        rationale: Why::Cap {
            target: 100,
            lowered: None,
            offender: Figures::default(),
        },
        status: Status::Planned,
    }
}

fn cap() -> Action {
    action(
        Tier::Reservation,
        Change::Reservation {
            function: "orders-api".into(),
            previous: Reservation::Unreserved,
            new: Reservation::Reserved(100),
        },
    )
}

fn stage_throttle() -> Action {
    action(
        Tier::Source,
        Change::Throttle {
            target: ApiTarget {
                kind: ApiKind::Rest,
                api_id: "a1b2c3d4e5".into(),
                stage: "prod".into(),
                route: None,
            },
            previous: None,
            new: Some(Throttle {
                rate: 3.33,
                burst: 4,
            }),
        },
    )
}

fn plan(actions: Vec<Action>) -> Plan {
    Plan {
        actions,
        ..Default::default()
    }
}

/// What the mocked services were asked, in order.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<String>>>);

impl Log {
    fn push(&self, s: impl Into<String>) {
        self.0.lock().unwrap().push(s.into());
    }
    fn calls(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
}

/// TagResource that succeeds, logging the call and keeping every tag it was given.
fn tag_ok(log: &Log, written: &Arc<Mutex<BTreeMap<String, String>>>) -> Rule {
    let (log, written) = (log.clone(), written.clone());
    mock!(Lambda::tag_resource).then_compute_output(move |r| {
        assert_eq!(r.resource(), Some(function_arn("orders-api").as_str()));
        log.push("TagResource");
        written
            .lock()
            .unwrap()
            .extend(r.tags().cloned().unwrap_or_default());
        TagResourceOutput::builder().build()
    })
}

fn put_ok(log: &Log) -> Rule {
    let log = log.clone();
    mock!(Lambda::put_function_concurrency).then_compute_output(move |r| {
        log.push(format!(
            "PutFunctionConcurrency {}",
            r.reserved_concurrent_executions().unwrap()
        ));
        PutFunctionConcurrencyOutput::builder()
            .set_reserved_concurrent_executions(r.reserved_concurrent_executions())
            .build()
    })
}

fn untag_ok(log: &Log) -> Rule {
    let log = log.clone();
    mock!(Lambda::untag_resource).then_compute_output(move |r| {
        log.push(format!("UntagResource {}", r.tag_keys().join(",")));
        UntagResourceOutput::builder().build()
    })
}

#[tokio::test]
async fn a_change_whose_record_cannot_be_written_is_not_made() {
    // GIVEN TagResource is denied
    let log = Log::default();
    let tag = mock!(Lambda::tag_resource).then_http_response(|| {
        rest_json(
            403,
            Some("AccessDeniedException"),
            r#"{"Message":"User is not authorized to perform: lambda:TagResource"}"#,
        )
    });
    let put = put_ok(&log);
    let untag = untag_ok(&log);
    let aws = aws(Rules {
        lambda: vec![&tag, &put, &untag],
        ..Default::default()
    });
    let mut plan = plan(vec![cap()]);

    // WHEN the planned cap is carried out
    carry_out(&aws, &mut plan, &facts(), &header(), now()).await;

    // THEN the reservation was never touched and the action failed saying why
    assert_eq!(
        put.num_calls(),
        0,
        "no PutFunctionConcurrency without a record"
    );
    assert_eq!(untag.num_calls(), 0, "nothing to take back");
    assert_eq!(tag.num_calls(), 1);
    let Status::Failed(Fault::NotRecorded(why)) = &plan.actions[0].status else {
        panic!("expected NotRecorded, got {:?}", plan.actions[0].status)
    };
    assert_eq!(why.operation, "lambda:TagResource", "{why}");
}

#[tokio::test]
async fn a_reservation_rejected_for_the_unreserved_minimum_fails_and_its_record_is_taken_back() {
    // GIVEN the record is written, but Lambda rejects the reservation (unreserved minimum)
    let log = Log::default();
    let written = Arc::default();
    let tag = tag_ok(&log, &written);
    let put_log = log.clone();
    let put = mock!(Lambda::put_function_concurrency).then_compute_response(move |_| {
        put_log.push("PutFunctionConcurrency (rejected)");
        MockResponse::Http(rest_json(
            400,
            Some("InvalidParameterValueException"),
            &format!(r#"{{"Type":"User","message":"{UNRESERVED_MINIMUM}"}}"#),
        ))
    });
    let untag_log = log.clone();
    let untag = mock!(Lambda::untag_resource)
        .match_requests(|r| {
            r.resource() == Some(function_arn("orders-api").as_str())
                && r.tag_keys() == Record::action_keys(0)
        })
        .then_compute_output(move |r| {
            untag_log.push(format!("UntagResource {}", r.tag_keys().join(",")));
            UntagResourceOutput::builder().build()
        });
    let aws = aws(Rules {
        lambda: vec![&tag, &put, &untag],
        ..Default::default()
    });
    let mut plan = plan(vec![cap()]);

    // WHEN the planned cap is carried out
    carry_out(&aws, &mut plan, &facts(), &header(), now()).await;

    // THEN the action failed naming the unreserved minimum, with AWS's own message
    let Status::Failed(Fault::BelowUnreservedMinimum(why)) = &plan.actions[0].status else {
        panic!(
            "expected BelowUnreservedMinimum, got {:?}",
            plan.actions[0].status
        )
    };
    assert!(
        why.message.contains("below its minimum value of [100]"),
        "{why}"
    );
    // AND record, attempt and take-back happened in that order; the action's keys were removed
    assert_eq!(
        log.calls(),
        [
            "TagResource",
            "PutFunctionConcurrency (rejected)",
            "UntagResource concurrency-guard:action:0,concurrency-guard:action:0.1,concurrency-guard:action:0.2,concurrency-guard:action:0.3",
        ]
    );
    assert_eq!(put.num_calls(), 1, "a rejection is not retried");
    assert!(plan.notes.is_empty(), "{:?}", plan.notes);
}

#[tokio::test]
async fn a_record_that_cannot_be_taken_back_is_noted() {
    // GIVEN the change fails and so does UntagResource
    let log = Log::default();
    let written = Arc::default();
    let tag = tag_ok(&log, &written);
    let put = mock!(Lambda::put_function_concurrency).then_http_response(|| {
        rest_json(
            400,
            Some("InvalidParameterValueException"),
            &format!(r#"{{"Type":"User","message":"{UNRESERVED_MINIMUM}"}}"#),
        )
    });
    let untag = mock!(Lambda::untag_resource).then_http_response(|| {
        rest_json(
            403,
            Some("AccessDeniedException"),
            r#"{"Message":"User is not authorized to perform: lambda:UntagResource"}"#,
        )
    });
    let aws = aws(Rules {
        lambda: vec![&tag, &put, &untag],
        ..Default::default()
    });
    let mut plan = plan(vec![cap()]);

    // WHEN the planned cap is carried out
    carry_out(&aws, &mut plan, &facts(), &header(), now()).await;

    // THEN the action failed and a note says the record of an unmade change remains
    assert!(matches!(plan.actions[0].status, Status::Failed(_)));
    assert_eq!(untag.num_calls(), 1);
    assert_eq!(plan.notes.len(), 1, "{:?}", plan.notes);
    assert!(
        plan.notes[0].contains("orders-api: record 0 of a change that was not made remains"),
        "{}",
        plan.notes[0]
    );
}

#[tokio::test]
async fn each_record_is_written_before_its_change_and_reads_back_as_the_plan() {
    // GIVEN every call succeeds
    let log = Log::default();
    let written: Arc<Mutex<BTreeMap<String, String>>> = Arc::default();
    let tag = tag_ok(&log, &written);
    let put = put_ok(&log);
    let stage_log = log.clone();
    let update = mock!(aws_sdk_apigateway::Client::update_stage).then_compute_output(move |r| {
        stage_log.push(format!("UpdateStage {}", r.patch_operations().len()));
        UpdateStageOutput::builder().build()
    });
    let aws = aws(Rules {
        lambda: vec![&tag, &put],
        apigateway: vec![&update],
        ..Default::default()
    });
    let mut plan = plan(vec![stage_throttle(), cap()]);

    // WHEN a stage throttle and a cap are carried out
    carry_out(&aws, &mut plan, &facts(), &header(), now()).await;

    // THEN both are applied, each after its own TagResource
    assert_eq!(plan.actions[0].status, Status::Applied);
    assert_eq!(plan.actions[1].status, Status::Applied);
    assert_eq!(
        log.calls(),
        [
            "TagResource",
            "UpdateStage 2",
            "TagResource",
            "PutFunctionConcurrency 100",
        ]
    );
    // AND the tags written (with the function's own) read back as a record of exactly these
    // two changes under this incident
    let mut tags = facts()["orders-api"].tags.clone();
    tags.extend(written.lock().unwrap().clone());
    assert_eq!(tags[TAG_INCIDENT], "4f1c2b9a7d3e");
    let record = Record::from_tags(&tags).unwrap().expect("a record");
    assert_eq!(record.incident, header().incident);
    assert_eq!(record.alarm.as_deref(), Some("account-concurrency"));
    assert_eq!(record.actions.len(), 2);
    assert_eq!(record.actions[&0].change, stage_throttle().change);
    assert_eq!(record.actions[&1].change, cap().change);
    assert_eq!(record.actions[&1].tier, Tier::Reservation);
    // AND every written value is a valid Lambda tag value
    for (k, v) in written.lock().unwrap().iter() {
        assert!(
            v.len() <= 256
                && v.chars()
                    .all(|c| c.is_alphanumeric() || " _.:/=+-@".contains(c)),
            "{k}={v}"
        );
    }
}

#[tokio::test]
async fn a_manual_request_is_remediated_end_to_end() {
    // GIVEN orders-api holds 600 of the account's 650 concurrent executions, is driven by an
    // SQS queue without maximum concurrency, has no reservation, and the account has 850 of
    // 1000 unreserved
    let log = Log::default();
    let written = Arc::default();
    let uuid = "6d9f3e2a-1b4c-4d5e-8f70-112233445566";
    let queue = format!("arn:aws:sqs:{REGION}:{ACCOUNT}:orders-queue");
    let lambda_rules = [
        mock!(Lambda::get_account_settings).then_output(|| {
            GetAccountSettingsOutput::builder()
                .account_limit(
                    AccountLimit::builder()
                        .concurrent_executions(1000)
                        .unreserved_concurrent_executions(850)
                        .build(),
                )
                .build()
        }),
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
        mock!(Lambda::get_function_concurrency)
            .then_output(|| GetFunctionConcurrencyOutput::builder().build()),
        mock!(Lambda::get_policy).then_http_response(|| {
            rest_json(
                404,
                Some("ResourceNotFoundException"),
                r#"{"Type":"User","Message":"The resource you requested does not exist."}"#,
            )
        }),
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
        tag_ok(&log, &written),
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
        put_ok(&log),
    ];
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
    let cloudwatch_rules = [
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
    ];
    let aws = aws(Rules {
        lambda: lambda_rules.iter().collect(),
        cloudwatch: cloudwatch_rules.iter().collect(),
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

    // THEN the queue is limited to 100 and the function capped at 100, each after its record
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
            "TagResource",
            "UpdateEventSourceMapping 100",
            "TagResource",
            "PutFunctionConcurrency 100",
        ]
    );
}
