//! `Ledger` writes on DynamoDB: the exact conditional writes `record`, `withdraw` and `settle`
//! send, and what a refused condition becomes (`close` is in `ledger_close`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::Client as Dynamo;
use aws_sdk_dynamodb::operation::get_item::GetItemOutput;
use aws_sdk_dynamodb::operation::update_item::{UpdateItemInput, UpdateItemOutput};
use aws_sdk_dynamodb::types::AttributeValue;
use aws_smithy_mocks::mock;
use cguard_core::intake::IncidentId;
use cguard_core::model::{ApiKind, ApiTarget, Change, Reservation, Throttle, Tier};
use cguard_core::record::{Claim, Record, RecordedAction, SettledAction};
use cguard_engine::ports::{ErrorKind, Ledger};
use chrono::{DateTime, Utc};

use crate::common::{Rules, TABLE, aws, conditional_check_failed};

pub const CAP_KEY: &str = r#"2/{"Function":"orders-api"}"#;

pub fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

pub fn incident() -> IncidentId {
    IncidentId::from_recorded("4f1c2b9a7d3e")
}

pub fn header() -> Record {
    Record::new(
        incident(),
        at("2026-11-23T09:40:27Z"),
        Some("account-concurrency".into()),
    )
}

pub fn cap() -> RecordedAction {
    RecordedAction {
        tier: Tier::Reservation,
        change: Change::Reservation {
            function: "orders-api".into(),
            previous: Reservation::Unreserved,
            new: Reservation::Reserved(100),
        },
        at: at("2026-11-23T09:41:02.250Z"),
    }
}

pub fn throttle() -> RecordedAction {
    RecordedAction {
        tier: Tier::Source,
        change: Change::Throttle {
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
        at: at("2026-11-23T09:41:01Z"),
    }
}

pub fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_owned())
}

pub fn n(v: i64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

pub fn json(v: &impl serde::Serialize) -> AttributeValue {
    s(&serde_json::to_string(v).unwrap())
}

pub fn open_key(function: &str) -> HashMap<String, AttributeValue> {
    HashMap::from([("pk".into(), s("open")), ("sk".into(), s(function))])
}

/// The open item of `orders-api` as the ledger writes it.
pub fn open_item(
    incident: &str,
    pending: &[RecordedAction],
    settled: &[SettledAction],
) -> HashMap<String, AttributeValue> {
    let mut item = open_key("orders-api");
    item.insert("incident".into(), s(incident));
    item.insert("opened_at".into(), s("2026-11-23T09:40:27Z"));
    item.insert("alarm".into(), s("account-concurrency"));
    item.insert("pending".into(), n(pending.len() as i64));
    item.insert("revision".into(), n(5));
    for a in pending {
        item.insert(format!("a:{}", a.key()), json(a));
    }
    for x in settled {
        item.insert(format!("s:{}", x.action.key()), json(x));
    }
    item
}

pub fn names(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

pub fn values(pairs: &[(&str, AttributeValue)]) -> HashMap<String, AttributeValue> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect()
}

/// Keeps every request a rule answers, to be asserted on after the call.
pub type Sent<T> = Arc<Mutex<Vec<T>>>;

fn update_ok(sent: &Sent<UpdateItemInput>) -> aws_smithy_mocks::Rule {
    let sent = sent.clone();
    mock!(Dynamo::update_item).then_compute_output(move |r| {
        sent.lock().unwrap().push(r.clone());
        UpdateItemOutput::builder().build()
    })
}

#[tokio::test]
async fn record_is_one_conditional_update_that_opens_the_record_and_adds_the_action() {
    // GIVEN DynamoDB accepts the write
    let sent = Sent::default();
    let update = update_ok(&sent);
    let aws = aws(Rules {
        dynamodb: vec![&update],
        ..Default::default()
    });

    // WHEN the cap is recorded under the incident's header
    let claim = aws.record("orders-api", &header(), &cap()).await.unwrap();

    // THEN it is recorded by exactly this write
    assert_eq!(claim, Claim::Recorded);
    let sent = sent.lock().unwrap();
    assert_eq!(sent.len(), 1);
    let r = &sent[0];
    assert_eq!(r.table_name(), Some(TABLE));
    assert_eq!(r.key(), Some(&open_key("orders-api")));
    assert_eq!(
        r.update_expression(),
        Some(
            "SET #incident = if_not_exists(#incident, :incident), \
             #opened = if_not_exists(#opened, :opened), #alarm = if_not_exists(#alarm, :alarm), \
             #a = :action ADD #pending :one, #revision :one"
        )
    );
    assert_eq!(
        r.condition_expression(),
        Some(
            "(attribute_not_exists(#incident) OR #incident = :incident) \
             AND attribute_not_exists(#a) AND attribute_not_exists(#s)"
        )
    );
    let a = format!("a:{CAP_KEY}");
    let settled = format!("s:{CAP_KEY}");
    assert_eq!(
        r.expression_attribute_names(),
        Some(&names(&[
            ("#incident", "incident"),
            ("#opened", "opened_at"),
            ("#alarm", "alarm"),
            ("#pending", "pending"),
            ("#revision", "revision"),
            ("#a", &a),
            ("#s", &settled),
        ]))
    );
    let values_sent = r.expression_attribute_values().unwrap();
    assert_eq!(values_sent.len(), 5, "{values_sent:?}");
    assert_eq!(values_sent[":incident"], s("4f1c2b9a7d3e"));
    assert_eq!(values_sent[":opened"], s("2026-11-23T09:40:27Z"));
    assert_eq!(values_sent[":alarm"], s("account-concurrency"));
    assert_eq!(values_sent[":one"], n(1));
    let AttributeValue::S(action) = &values_sent[":action"] else {
        panic!("the action is a string: {:?}", values_sent[":action"])
    };
    assert_eq!(
        serde_json::from_str::<RecordedAction>(action).unwrap(),
        cap()
    );
}

#[tokio::test]
async fn a_record_without_an_alarm_names_no_alarm_attribute() {
    // GIVEN a manual request's header (no alarm): DynamoDB refuses unused placeholders
    let sent = Sent::default();
    let update = update_ok(&sent);
    let aws = aws(Rules {
        dynamodb: vec![&update],
        ..Default::default()
    });
    let manual = Record::new(incident(), at("2026-11-23T09:40:27Z"), None);

    // WHEN the cap is recorded
    aws.record("orders-api", &manual, &cap()).await.unwrap();

    // THEN neither the expression nor the placeholders mention the alarm
    let r = &sent.lock().unwrap()[0];
    assert!(!r.update_expression().unwrap().contains("alarm"));
    assert!(
        !r.expression_attribute_names()
            .unwrap()
            .contains_key("#alarm")
    );
    assert!(
        !r.expression_attribute_values()
            .unwrap()
            .contains_key(":alarm")
    );
}

#[tokio::test]
async fn a_refused_record_is_taken_with_the_record_as_it_stands() {
    // GIVEN another incident holds orders-api's record, with a stage throttle pending
    let update = mock!(Dynamo::update_item).then_http_response(conditional_check_failed);
    let get = mock!(Dynamo::get_item)
        .match_requests(|r| {
            r.table_name() == Some(TABLE)
                && r.key() == Some(&open_key("orders-api"))
                && r.consistent_read() == Some(true)
        })
        .then_output(|| {
            GetItemOutput::builder()
                .set_item(Some(open_item("9a8b7c6d5e4f", &[throttle()], &[])))
                .build()
        });
    let aws = aws(Rules {
        dynamodb: vec![&update, &get],
        ..Default::default()
    });

    // WHEN this incident records its cap
    let claim = aws.record("orders-api", &header(), &cap()).await.unwrap();

    // THEN the claim is taken, with the other incident's record as read consistently
    let expected = Record::new(
        IncidentId::from_recorded("9a8b7c6d5e4f"),
        at("2026-11-23T09:40:27Z"),
        Some("account-concurrency".into()),
    )
    .with_actions([throttle()]);
    assert_eq!(claim, Claim::Taken(expected));
    assert_eq!((update.num_calls(), get.num_calls()), (1, 1), "no retry");
}

#[tokio::test]
async fn a_record_closed_between_the_refusal_and_the_read_is_tried_once_more() {
    // GIVEN the first write is refused, the record is then gone (closed), the second accepted
    let update = mock!(Dynamo::update_item)
        .sequence()
        .http_response(conditional_check_failed)
        .output(|| UpdateItemOutput::builder().build())
        .build();
    let get = mock!(Dynamo::get_item).then_output(|| GetItemOutput::builder().build());
    let aws = aws(Rules {
        dynamodb: vec![&update, &get],
        ..Default::default()
    });

    // WHEN the cap is recorded
    let claim = aws.record("orders-api", &header(), &cap()).await.unwrap();

    // THEN the second write recorded it
    assert_eq!(claim, Claim::Recorded);
    assert_eq!((update.num_calls(), get.num_calls()), (2, 1));
}

#[tokio::test]
async fn a_record_refused_while_its_action_was_being_withdrawn_is_tried_once_more() {
    // GIVEN the first write is refused, but the record read next no longer holds the cap (it
    // was withdrawn meanwhile); the second write is accepted
    let update = mock!(Dynamo::update_item)
        .sequence()
        .http_response(conditional_check_failed)
        .output(|| UpdateItemOutput::builder().build())
        .build();
    let get = mock!(Dynamo::get_item).then_output(|| {
        GetItemOutput::builder()
            .set_item(Some(open_item("4f1c2b9a7d3e", &[throttle()], &[])))
            .build()
    });
    let aws = aws(Rules {
        dynamodb: vec![&update, &get],
        ..Default::default()
    });

    // WHEN the cap is recorded
    let claim = aws.record("orders-api", &header(), &cap()).await.unwrap();

    // THEN the second write recorded it
    assert_eq!(claim, Claim::Recorded);
    assert_eq!((update.num_calls(), get.num_calls()), (2, 1));
}

#[tokio::test]
async fn a_settled_action_is_taken_even_though_nothing_is_pending() {
    // GIVEN the write is refused because the cap was recorded and settled in this incident
    let update = mock!(Dynamo::update_item).then_http_response(conditional_check_failed);
    let get = mock!(Dynamo::get_item).then_output(|| {
        let done = SettledAction {
            action: cap(),
            outcome: "restored".into(),
        };
        GetItemOutput::builder()
            .set_item(Some(open_item("4f1c2b9a7d3e", &[], &[done])))
            .build()
    });
    let aws = aws(Rules {
        dynamodb: vec![&update, &get],
        ..Default::default()
    });

    // WHEN the cap is recorded again
    let claim = aws.record("orders-api", &header(), &cap()).await.unwrap();

    // THEN it is taken, with the record (nothing pending), and not retried
    assert_eq!(claim, Claim::Taken(header()));
    assert_eq!((update.num_calls(), get.num_calls()), (1, 1));
}

#[tokio::test]
async fn a_record_refused_and_gone_twice_is_a_conflict() {
    // GIVEN every write is refused and every read finds nothing
    let update = mock!(Dynamo::update_item).then_http_response(conditional_check_failed);
    let get = mock!(Dynamo::get_item).then_output(|| GetItemOutput::builder().build());
    let aws = aws(Rules {
        dynamodb: vec![&update, &get],
        ..Default::default()
    });

    // WHEN the cap is recorded
    let err = aws
        .record("orders-api", &header(), &cap())
        .await
        .unwrap_err();

    // THEN it gives up after the second try, saying so
    assert_eq!(err.kind, ErrorKind::Conflict, "{err}");
    assert_eq!((update.num_calls(), get.num_calls()), (2, 2));
}

#[tokio::test]
async fn withdraw_removes_the_action_only_if_it_is_still_as_recorded() {
    // GIVEN DynamoDB accepts the write
    let sent = Sent::default();
    let update = update_ok(&sent);
    let aws = aws(Rules {
        dynamodb: vec![&update],
        ..Default::default()
    });

    // WHEN the cap's record is withdrawn
    aws.withdraw("orders-api", &cap()).await.unwrap();

    // THEN exactly this conditional write was sent
    let r = &sent.lock().unwrap()[0];
    assert_eq!(r.key(), Some(&open_key("orders-api")));
    assert_eq!(
        r.update_expression(),
        Some("REMOVE #a ADD #pending :minus_one, #revision :one")
    );
    assert_eq!(r.condition_expression(), Some("#a = :action"));
    let a = format!("a:{CAP_KEY}");
    assert_eq!(
        r.expression_attribute_names(),
        Some(&names(&[
            ("#a", &a),
            ("#pending", "pending"),
            ("#revision", "revision")
        ]))
    );
    assert_eq!(
        r.expression_attribute_values(),
        Some(&values(&[
            (":action", json(&cap())),
            (":minus_one", n(-1)),
            (":one", n(1))
        ]))
    );
}

#[tokio::test]
async fn settle_moves_the_action_to_settled_with_its_outcome() {
    // GIVEN DynamoDB accepts the write
    let sent = Sent::default();
    let update = update_ok(&sent);
    let aws = aws(Rules {
        dynamodb: vec![&update],
        ..Default::default()
    });

    // WHEN the cap is settled as restored
    aws.settle("orders-api", &cap(), "restored").await.unwrap();

    // THEN exactly this conditional write was sent
    let r = &sent.lock().unwrap()[0];
    assert_eq!(
        r.update_expression(),
        Some("REMOVE #a SET #s = :settled ADD #pending :minus_one, #revision :one")
    );
    assert_eq!(r.condition_expression(), Some("attribute_exists(#a)"));
    let (a, settled) = (format!("a:{CAP_KEY}"), format!("s:{CAP_KEY}"));
    assert_eq!(
        r.expression_attribute_names(),
        Some(&names(&[
            ("#a", &a),
            ("#s", &settled),
            ("#pending", "pending"),
            ("#revision", "revision")
        ]))
    );
    let outcome = SettledAction {
        action: cap(),
        outcome: "restored".into(),
    };
    assert_eq!(
        r.expression_attribute_values(),
        Some(&values(&[
            (":settled", json(&outcome)),
            (":minus_one", n(-1)),
            (":one", n(1))
        ]))
    );
}

#[tokio::test]
async fn a_refused_withdraw_or_settle_is_a_conflict_that_says_what() {
    // GIVEN every write is refused: the action is no longer as recorded / not pending
    let update = mock!(Dynamo::update_item).then_http_response(conditional_check_failed);
    let aws = aws(Rules {
        dynamodb: vec![&update],
        ..Default::default()
    });

    // WHEN the cap is withdrawn, then settled
    let withdrawn = aws.withdraw("orders-api", &cap()).await.unwrap_err();
    let settled = aws
        .settle("orders-api", &cap(), "restored")
        .await
        .unwrap_err();

    // THEN both are conflicts naming the action, with AWS's message, each sent once
    assert_eq!(withdrawn.kind, ErrorKind::Conflict, "{withdrawn}");
    assert!(
        withdrawn
            .message
            .contains("is no longer as recorded (ConditionalCheckFailedException"),
        "{withdrawn}"
    );
    assert_eq!(settled.kind, ErrorKind::Conflict, "{settled}");
    assert!(
        settled
            .message
            .contains(&format!("the action {CAP_KEY} is not pending")),
        "{settled}"
    );
    assert_eq!(update.num_calls(), 2);
}
