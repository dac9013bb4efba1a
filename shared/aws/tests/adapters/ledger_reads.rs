//! `Ledger` reads on DynamoDB: a record read consistently, the open records and the history
//! across pages, what the guard cannot read, and a missing table.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::Client as Dynamo;
use aws_sdk_dynamodb::operation::get_item::GetItemOutput;
use aws_sdk_dynamodb::operation::query::{QueryInput, QueryOutput};
use aws_sdk_dynamodb::types::AttributeValue;
use aws_smithy_mocks::mock;
use cguard_core::intake::IncidentId;
use cguard_core::record::{OpenRecord, Record, SettledAction};
use cguard_engine::ports::{ErrorKind, Ledger};

use crate::common::{Rules, TABLE, aws, dynamodb_json, no_retries};
use crate::ledger::{at, cap, header, incident, json, n, open_item, open_key, s};

type Item = HashMap<String, AttributeValue>;

#[tokio::test]
async fn an_open_record_reads_back_with_its_pending_actions_only() {
    // GIVEN orders-api's item has the cap pending and another action settled
    let mut settled = cap();
    settled.tier = cguard_core::model::Tier::KillSwitch;
    let get = mock!(Dynamo::get_item)
        .match_requests(|r| r.consistent_read() == Some(true) && r.table_name() == Some(TABLE))
        .then_output(move || {
            let done = SettledAction {
                action: settled.clone(),
                outcome: "restored".into(),
            };
            GetItemOutput::builder()
                .set_item(Some(open_item("4f1c2b9a7d3e", &[cap()], &[done])))
                .build()
        });
    let aws = aws(Rules {
        dynamodb: vec![&get],
        ..Default::default()
    });

    // WHEN the record is read
    let record = aws.open_record("orders-api").await.unwrap();

    // THEN it is the header with the pending cap, exactly as recorded
    assert_eq!(record, Some(header().with_actions([cap()])));
}

#[tokio::test]
async fn no_item_is_no_record_and_an_unreadable_item_is_an_error_naming_the_attribute() {
    // GIVEN no item for thumbnailer, and an item for orders-api whose action is not JSON
    let none = mock!(Dynamo::get_item)
        .match_requests(|r| r.key() == Some(&open_key("thumbnailer")))
        .then_output(|| GetItemOutput::builder().build());
    let broken = mock!(Dynamo::get_item)
        .match_requests(|r| r.key() == Some(&open_key("orders-api")))
        .then_output(|| {
            let mut item = open_item("4f1c2b9a7d3e", &[], &[]);
            item.insert(format!("a:{}", cap().key()), s("{\"tier\":"));
            GetItemOutput::builder().set_item(Some(item)).build()
        });
    let aws = aws(Rules {
        dynamodb: vec![&none, &broken],
        ..Default::default()
    });

    // WHEN both are read
    let nothing = aws.open_record("thumbnailer").await.unwrap();
    let err = aws.open_record("orders-api").await.unwrap_err();

    // THEN thumbnailer has no record; orders-api's item is refused, never half-read
    assert_eq!(nothing, None);
    assert_eq!(err.kind, ErrorKind::Rejected, "{err}");
    assert!(
        err.message.contains(&format!(
            "open record of orders-api, attribute `a:{}`",
            cap().key()
        )),
        "{err}"
    );
}

fn listing(function: &str, opened: &str) -> Item {
    let mut item = open_key(function);
    item.insert("incident".into(), s("4f1c2b9a7d3e"));
    item.insert("opened_at".into(), s(opened));
    item
}

#[tokio::test]
async fn open_records_are_read_across_pages_with_only_what_the_listing_needs() {
    // GIVEN two pages of open records, one with an unreadable opening time
    let sent: Arc<Mutex<Vec<QueryInput>>> = Arc::default();
    let keep = sent.clone();
    let query = mock!(Dynamo::query).then_compute_output(move |r| {
        keep.lock().unwrap().push(r.clone());
        match r.exclusive_start_key() {
            None => QueryOutput::builder()
                .items(listing("orders-api", "2026-11-23T09:40:27Z"))
                .items(listing("report-builder", "not a time"))
                .set_last_evaluated_key(Some(open_key("report-builder")))
                .build(),
            Some(_) => QueryOutput::builder()
                .items(listing("thumbnailer", "2026-11-23T09:40:27Z"))
                .build(),
        }
    });
    let aws = aws(Rules {
        dynamodb: vec![&query],
        ..Default::default()
    });

    // WHEN the open records are listed
    let records = aws.open_records().await.unwrap();

    // THEN every one is listed, `None` where unreadable, from both pages
    let opened = Some(at("2026-11-23T09:40:27Z"));
    let record = |function: &str, opened| OpenRecord {
        function: function.into(),
        incident: Some(incident()),
        opened,
    };
    assert_eq!(
        records,
        [
            record("orders-api", opened),
            record("report-builder", None),
            record("thumbnailer", opened)
        ]
    );
    // AND each page was a consistent query of the `open` partition, projected
    let sent = sent.lock().unwrap();
    assert_eq!(sent.len(), 2);
    assert_eq!(
        sent[1].exclusive_start_key(),
        Some(&open_key("report-builder"))
    );
    for q in sent.iter() {
        assert_eq!(q.table_name(), Some(TABLE));
        assert_eq!(q.key_condition_expression(), Some("#pk = :pk"));
        assert_eq!(q.projection_expression(), Some("#sk, #incident, #opened"));
        assert_eq!(q.expression_attribute_values().unwrap()[":pk"], s("open"));
        assert_eq!(q.consistent_read(), Some(true));
    }
}

fn history(function: &str, closed_at: &str) -> Item {
    let actions = vec![SettledAction {
        action: cap(),
        outcome: "restored".into(),
    }];
    HashMap::from([
        ("pk".into(), s("history")),
        (
            "sk".into(),
            s(&format!("{closed_at}#{function}#4f1c2b9a7d3e")),
        ),
        ("function".into(), s(function)),
        ("incident".into(), s("4f1c2b9a7d3e")),
        ("opened_at".into(), s("2026-11-23T09:40:27Z")),
        ("closed_at".into(), s(closed_at)),
        ("actions".into(), json(&actions)),
        ("expires_at".into(), n(1_803_204_300)),
    ])
}

#[tokio::test]
async fn history_is_the_records_closed_since_newest_first() {
    // GIVEN the query answers with two records, newest first, and one closed within the
    // millisecond before `since` (which the sort key cannot tell apart)
    let sent: Arc<Mutex<Vec<QueryInput>>> = Arc::default();
    let keep = sent.clone();
    let query = mock!(Dynamo::query).then_compute_output(move |r| {
        keep.lock().unwrap().push(r.clone());
        QueryOutput::builder()
            .items(history("thumbnailer", "2026-11-23T11:00:00Z"))
            .items(history("orders-api", "2026-11-23T10:05:00.5001Z"))
            .items(history("report-builder", "2026-11-23T10:00:00.0004Z"))
            .build()
    });
    let aws = aws(Rules {
        dynamodb: vec![&query],
        ..Default::default()
    });

    // WHEN the history since 10:00:00.0005 is read
    let since = at("2026-11-23T10:00:00.0005Z");
    let closed = aws.history(since).await.unwrap();

    // THEN the two closed since are returned, newest first, read back whole
    let functions: Vec<&str> = closed.iter().map(|c| c.function.as_str()).collect();
    assert_eq!(functions, ["thumbnailer", "orders-api"]);
    assert_eq!(
        closed[1].incident,
        IncidentId::from_recorded("4f1c2b9a7d3e")
    );
    assert_eq!(closed[1].closed_at, at("2026-11-23T10:05:00.5001Z"));
    assert_eq!(closed[1].actions[0].action, cap());
    assert_eq!(closed[1].alarm, None);
    // AND the query asked DynamoDB for sort keys from `since`, newest first
    let q = &sent.lock().unwrap()[0];
    assert_eq!(
        q.key_condition_expression(),
        Some("#pk = :pk AND #sk >= :since")
    );
    assert_eq!(
        q.expression_attribute_values().unwrap()[":since"],
        s("2026-11-23T10:00:00.000Z")
    );
    assert_eq!(
        q.expression_attribute_values().unwrap()[":pk"],
        s("history")
    );
    assert_eq!(q.scan_index_forward(), Some(false));
}

#[tokio::test]
async fn a_missing_table_says_how_to_create_it() {
    // GIVEN the table does not exist
    let get = mock!(Dynamo::get_item).then_http_response(|| {
        dynamodb_json(
            400,
            r#"{"__type":"com.amazonaws.dynamodb.v20120810#ResourceNotFoundException","message":"Requested resource not found"}"#,
        )
    });
    let aws = aws(Rules {
        dynamodb: vec![&get],
        ..Default::default()
    });

    // WHEN a record is read
    let err = aws.open_record("orders-api").await.unwrap_err();

    // THEN it is NotFound, naming the table and what to do, with AWS's message
    assert_eq!(err.kind, ErrorKind::NotFound, "{err}");
    assert_eq!(err.operation, "dynamodb:GetItem");
    assert!(
        err.message.contains(&format!(
            "the ledger table `{TABLE}` does not exist: deploy the template or run `cguard init`"
        )),
        "{err}"
    );
    assert!(
        err.message.contains("Requested resource not found"),
        "{err}"
    );
}

#[tokio::test]
async fn a_throttled_ledger_is_throttled_and_denied_is_denied() {
    for (body, kind) in [
        (
            r#"{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException","message":"Rate exceeded"}"#,
            ErrorKind::Throttled,
        ),
        (
            r#"{"__type":"com.amazon.coral.service#AccessDeniedException","Message":"User is not authorized to perform: dynamodb:UpdateItem"}"#,
            ErrorKind::Denied,
        ),
    ] {
        // GIVEN DynamoDB answers every write with `body`
        let update = mock!(aws_sdk_dynamodb::Client::update_item)
            .then_http_response(move || dynamodb_json(400, body));
        let aws = aws(Rules {
            dynamodb: vec![&update],
            retry: Some(no_retries()),
            ..Default::default()
        });

        // WHEN the cap is recorded
        let err = aws
            .record("orders-api", &header(), &cap())
            .await
            .unwrap_err();

        // THEN the kind says what to do next
        assert_eq!(err.kind, kind, "{err}");
        assert_eq!(err.operation, "dynamodb:UpdateItem");
    }
}

#[tokio::test]
async fn a_record_with_no_alarm_reads_back_without_one() {
    // GIVEN an item without the optional alarm
    let get = mock!(Dynamo::get_item).then_output(|| {
        let mut item = open_item("4f1c2b9a7d3e", &[cap()], &[]);
        item.remove("alarm");
        GetItemOutput::builder().set_item(Some(item)).build()
    });
    let aws = aws(Rules {
        dynamodb: vec![&get],
        ..Default::default()
    });

    // WHEN it is read
    let record = aws.open_record("orders-api").await.unwrap().unwrap();

    // THEN it has no alarm
    assert_eq!(
        record,
        Record::new(incident(), at("2026-11-23T09:40:27Z"), None).with_actions([cap()])
    );
}
