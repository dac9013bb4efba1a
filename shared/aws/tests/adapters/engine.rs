//! The engine through the mocked adapters: a change is never made without its record in the
//! ledger, a change another process recorded first is not made, a failed change has its record
//! withdrawn, and the record is written before the change.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use aws_sdk_apigateway::operation::update_stage::UpdateStageOutput;
use aws_sdk_dynamodb::Client as Dynamo;
use aws_sdk_dynamodb::operation::get_item::GetItemOutput;
use aws_sdk_dynamodb::operation::update_item::{UpdateItemInput, UpdateItemOutput};
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_lambda::Client as Lambda;
use aws_sdk_lambda::operation::put_function_concurrency::PutFunctionConcurrencyOutput;
use aws_sdk_lambda::operation::tag_resource::TagResourceOutput;
use aws_smithy_mocks::{MockResponse, Rule, mock};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use cguard_core::fault::Fault;
use cguard_core::intake::IncidentId;
use cguard_core::model::{
    Action, ApiKind, ApiTarget, Change, FunctionFacts, Reservation, Status, Throttle, Tier,
};
use cguard_core::plan::{Figures, Plan, Skip, Why};
use cguard_core::record::{Record, RecordedAction, TAG_INCIDENT};
use cguard_engine::ports::ErrorKind;
use cguard_engine::remediate::carry_out;
use chrono::{DateTime, Utc};

use crate::common::{
    Rules, aws, conditional_check_failed, dynamodb_json, function_arn, no_retries, rest_json,
};
use crate::ledger::{Sent, open_item};

const UNRESERVED_MINIMUM: &str = "Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [100].";

pub fn now() -> DateTime<Utc> {
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
pub struct Log(Arc<Mutex<Vec<String>>>);

impl Log {
    pub fn push(&self, s: impl Into<String>) {
        self.0.lock().unwrap().push(s.into());
    }
    pub fn calls(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
}

/// UpdateItem on the ledger that succeeds, logging `record <key>` or `withdraw <key>` and
/// keeping every request.
pub fn ledger_ok(log: &Log, sent: &Sent<UpdateItemInput>) -> Rule {
    let (log, sent) = (log.clone(), sent.clone());
    mock!(Dynamo::update_item).then_compute_output(move |r| {
        log.push(ledger_call(r));
        sent.lock().unwrap().push(r.clone());
        UpdateItemOutput::builder().build()
    })
}

fn ledger_call(r: &UpdateItemInput) -> String {
    let verb = match r.update_expression() {
        Some(e) if e.starts_with("SET") => "record",
        Some(e) if e.starts_with("REMOVE #a ADD") => "withdraw",
        other => panic!("unexpected ledger write {other:?}"),
    };
    let key = &r.expression_attribute_names().unwrap()["#a"];
    format!("{verb} {key}")
}

/// The actions recorded by the `record` writes among `sent`.
pub fn recorded(sent: &Sent<UpdateItemInput>) -> Vec<RecordedAction> {
    sent.lock()
        .unwrap()
        .iter()
        .filter(|r| r.update_expression().unwrap().starts_with("SET"))
        .map(
            |r| match &r.expression_attribute_values().unwrap()[":action"] {
                AttributeValue::S(json) => serde_json::from_str(json).unwrap(),
                other => panic!("not a string: {other:?}"),
            },
        )
        .collect()
}

/// TagResource that succeeds, logging the pointer it writes.
pub fn tag_ok(log: &Log) -> Rule {
    let log = log.clone();
    mock!(Lambda::tag_resource).then_compute_output(move |r| {
        assert_eq!(r.resource(), Some(function_arn("orders-api").as_str()));
        log.push(format!("TagResource {}", r.tags().unwrap()[TAG_INCIDENT]));
        TagResourceOutput::builder().build()
    })
}

pub fn put_ok(log: &Log) -> Rule {
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

fn rejected_put(log: &Log) -> Rule {
    let log = log.clone();
    mock!(Lambda::put_function_concurrency).then_compute_response(move |_| {
        log.push("PutFunctionConcurrency (rejected)");
        MockResponse::Http(rest_json(
            400,
            Some("InvalidParameterValueException"),
            &format!(r#"{{"Type":"User","message":"{UNRESERVED_MINIMUM}"}}"#),
        ))
    })
}

fn denied(action: &str) -> HttpResponse {
    dynamodb_json(
        400,
        &format!(
            r#"{{"__type":"com.amazon.coral.service#AccessDeniedException","Message":"User is not authorized to perform: dynamodb:{action}"}}"#
        ),
    )
}

pub const CAP_KEY: &str = r#"a:2/{"Function":"orders-api"}"#;

#[tokio::test]
async fn a_change_whose_record_cannot_be_written_is_not_made() {
    // GIVEN the ledger write is denied
    let log = Log::default();
    let update = mock!(Dynamo::update_item).then_http_response(|| denied("UpdateItem"));
    let put = put_ok(&log);
    let tag = tag_ok(&log);
    let aws = aws(Rules {
        lambda: vec![&put, &tag],
        dynamodb: vec![&update],
        retry: Some(no_retries()),
        ..Default::default()
    });
    let mut plan = plan(vec![cap()]);

    // WHEN the planned cap is carried out
    carry_out(&aws, &mut plan, &facts(), &header(), now()).await;

    // THEN the reservation was never touched, no pointer written, and the action failed
    // saying why
    assert_eq!(
        put.num_calls(),
        0,
        "no PutFunctionConcurrency without a record"
    );
    assert_eq!(tag.num_calls(), 0, "nothing changed, nothing to point at");
    assert_eq!(update.num_calls(), 1);
    let Status::Failed(Fault::NotRecorded(why)) = &plan.actions[0].status else {
        panic!("expected NotRecorded, got {:?}", plan.actions[0].status)
    };
    assert_eq!(why.operation, "dynamodb:UpdateItem", "{why}");
    assert_eq!(why.kind, ErrorKind::Denied, "{why}");
}

#[tokio::test]
async fn a_change_another_process_recorded_first_is_not_made() {
    // GIVEN another delivery of the same alarm recorded the cap a moment ago
    let log = Log::default();
    let earlier = RecordedAction {
        tier: Tier::Reservation,
        change: cap().change,
        at: now() - chrono::Duration::seconds(2),
    };
    let update = mock!(Dynamo::update_item).then_http_response(conditional_check_failed);
    let stored = earlier.clone();
    let get = mock!(Dynamo::get_item).then_output(move || {
        GetItemOutput::builder()
            .set_item(Some(open_item(
                "4f1c2b9a7d3e",
                std::slice::from_ref(&stored),
                &[],
            )))
            .build()
    });
    let put = put_ok(&log);
    let tag = tag_ok(&log);
    let aws = aws(Rules {
        lambda: vec![&put, &tag],
        dynamodb: vec![&update, &get],
        ..Default::default()
    });
    let mut plan = plan(vec![cap()]);

    // WHEN this process carries out the same cap
    carry_out(&aws, &mut plan, &facts(), &header(), now()).await;

    // THEN it makes no change and says the change was recorded when the other process did it
    assert_eq!(
        plan.actions[0].status,
        Status::Skipped(Skip::Recorded { at: earlier.at })
    );
    assert_eq!((put.num_calls(), tag.num_calls()), (0, 0));
    assert_eq!((update.num_calls(), get.num_calls()), (1, 1));
}

#[tokio::test]
async fn a_reservation_rejected_for_the_unreserved_minimum_fails_and_its_record_is_withdrawn() {
    // GIVEN the record is written, but Lambda rejects the reservation (unreserved minimum)
    let log = Log::default();
    let sent = Sent::default();
    let update = ledger_ok(&log, &sent);
    let put = rejected_put(&log);
    let tag = tag_ok(&log);
    let aws = aws(Rules {
        lambda: vec![&put, &tag],
        dynamodb: vec![&update],
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
    // AND record, attempt (with the pointer alongside: the record stays open, empty, so the
    // pointer is backed) and withdrawal happened in that order
    assert_eq!(
        log.calls(),
        [
            format!("record {CAP_KEY}"),
            "PutFunctionConcurrency (rejected)".to_owned(),
            "TagResource 4f1c2b9a7d3e".to_owned(),
            format!("withdraw {CAP_KEY}"),
        ]
    );
    // AND the withdrawal is conditional on exactly the action recorded
    let sent = sent.lock().unwrap();
    assert_eq!(
        sent[1].expression_attribute_values().unwrap()[":action"],
        sent[0].expression_attribute_values().unwrap()[":action"]
    );
    assert_eq!(put.num_calls(), 1, "a rejection is not retried");
    assert!(plan.notes.is_empty(), "{:?}", plan.notes);
}

#[tokio::test]
async fn a_record_that_cannot_be_withdrawn_is_noted() {
    // GIVEN the change fails and so does the withdrawal
    let log = Log::default();
    let update = mock!(Dynamo::update_item).then_compute_response(|r| {
        if r.update_expression().unwrap().starts_with("SET") {
            MockResponse::Output(UpdateItemOutput::builder().build())
        } else {
            MockResponse::Http(denied("UpdateItem"))
        }
    });
    let put = rejected_put(&log);
    let tag = tag_ok(&log);
    let aws = aws(Rules {
        lambda: vec![&put, &tag],
        dynamodb: vec![&update],
        retry: Some(no_retries()),
        ..Default::default()
    });
    let mut plan = plan(vec![cap()]);

    // WHEN the planned cap is carried out
    carry_out(&aws, &mut plan, &facts(), &header(), now()).await;

    // THEN the action failed and a note says the record of an unmade change remains
    assert!(matches!(plan.actions[0].status, Status::Failed(_)));
    assert_eq!(update.num_calls(), 2, "record, then the withdrawal");
    assert_eq!(plan.notes.len(), 1, "{:?}", plan.notes);
    assert!(
        plan.notes[0].contains("orders-api: the record of a change that was not made remains"),
        "{}",
        plan.notes[0]
    );
}

#[tokio::test]
async fn each_record_is_written_before_its_change_and_reads_back_as_the_plan() {
    // GIVEN every call succeeds
    let log = Log::default();
    let sent = Sent::default();
    let update = ledger_ok(&log, &sent);
    let put = put_ok(&log);
    let tag = tag_ok(&log);
    let stage_log = log.clone();
    let stage = mock!(aws_sdk_apigateway::Client::update_stage).then_compute_output(move |r| {
        stage_log.push(format!("UpdateStage {}", r.patch_operations().len()));
        UpdateStageOutput::builder().build()
    });
    let aws = aws(Rules {
        lambda: vec![&put, &tag],
        apigateway: vec![&stage],
        dynamodb: vec![&update],
        ..Default::default()
    });
    let mut plan = plan(vec![stage_throttle(), cap()]);

    // WHEN a stage throttle and a cap are carried out
    carry_out(&aws, &mut plan, &facts(), &header(), now()).await;

    // THEN both are applied, each after its own record, and the function points at the
    // incident once, alongside its first change
    assert_eq!(plan.actions[0].status, Status::Applied);
    assert_eq!(plan.actions[1].status, Status::Applied);
    assert_eq!(
        log.calls(),
        [
            r#"record a:1/{"Api":{"kind":"rest","api_id":"a1b2c3d4e5","stage":"prod","route":null}}"#
                .to_owned(),
            "UpdateStage 2".to_owned(),
            "TagResource 4f1c2b9a7d3e".to_owned(),
            format!("record {CAP_KEY}"),
            "PutFunctionConcurrency 100".to_owned(),
        ]
    );
    // AND the ledger holds exactly the plan's changes, under this incident's header
    let recorded = recorded(&sent);
    let changes: Vec<(Tier, &Change)> = recorded.iter().map(|a| (a.tier, &a.change)).collect();
    assert_eq!(
        changes,
        [
            (Tier::Source, &stage_throttle().change),
            (Tier::Reservation, &cap().change)
        ]
    );
    assert!(recorded.iter().all(|a| a.at == now()));
    for r in sent.lock().unwrap().iter() {
        let values = r.expression_attribute_values().unwrap();
        assert_eq!(
            values[":incident"],
            AttributeValue::S("4f1c2b9a7d3e".into())
        );
        assert_eq!(
            values[":alarm"],
            AttributeValue::S("account-concurrency".into())
        );
    }
}
