//! `Ledger::close` on DynamoDB: one transaction that puts the history item and deletes the
//! open one, each conditional, and what a cancelled transaction becomes.

use aws_sdk_dynamodb::Client as Dynamo;
use aws_sdk_dynamodb::operation::get_item::GetItemOutput;
use aws_sdk_dynamodb::operation::transact_write_items::{
    TransactWriteItemsInput, TransactWriteItemsOutput,
};
use aws_smithy_mocks::{MockResponse, mock};
use cguard_core::intake::IncidentId;
use cguard_core::record::SettledAction;
use cguard_engine::ports::{ErrorKind, Ledger};

use crate::common::{Rules, TABLE, aws, dynamodb_json, no_retries};
use crate::ledger::{
    Sent, at, cap, incident, json, n, names, open_item, open_key, s, throttle, values,
};

fn settled_items() -> Vec<SettledAction> {
    vec![
        SettledAction {
            action: cap(),
            outcome: "restored".into(),
        },
        SettledAction {
            action: throttle(),
            outcome: "restored".into(),
        },
    ]
}

#[tokio::test]
async fn close_moves_the_record_to_history_in_one_transaction() {
    // GIVEN orders-api's record has two settled actions, none pending, at revision 5
    let get = mock!(Dynamo::get_item).then_output(|| {
        GetItemOutput::builder()
            .set_item(Some(open_item("4f1c2b9a7d3e", &[], &settled_items())))
            .build()
    });
    let sent: Sent<TransactWriteItemsInput> = Sent::default();
    let keep = sent.clone();
    let transact = mock!(Dynamo::transact_write_items).then_compute_output(move |r| {
        keep.lock().unwrap().push(r.clone());
        TransactWriteItemsOutput::builder().build()
    });
    let aws = aws(Rules {
        dynamodb: vec![&get, &transact],
        ..Default::default()
    });

    // WHEN the record is closed
    let closed_at = at("2026-11-23T10:05:00.5Z");
    let expires = at("2027-02-21T10:05:00Z");
    aws.close("orders-api", &incident(), closed_at, expires)
        .await
        .unwrap();

    // THEN one transaction puts the history item (if new) and deletes the open item (if it is
    // still this incident's, with nothing pending, at the revision read)
    let sent = sent.lock().unwrap();
    let items = sent[0].transact_items();
    assert_eq!(items.len(), 2);
    let put = items[0].put().expect("a put first");
    assert_eq!(put.table_name(), TABLE);
    assert_eq!(
        put.condition_expression(),
        Some("attribute_not_exists(#pk)")
    );
    assert_eq!(
        put.expression_attribute_names(),
        Some(&names(&[("#pk", "pk")]))
    );
    let item = put.item();
    assert_eq!(item["pk"], s("history"));
    assert_eq!(
        item["sk"],
        s("2026-11-23T10:05:00.500Z#orders-api#4f1c2b9a7d3e")
    );
    assert_eq!(item["function"], s("orders-api"));
    assert_eq!(item["incident"], s("4f1c2b9a7d3e"));
    assert_eq!(item["opened_at"], s("2026-11-23T09:40:27Z"));
    assert_eq!(item["closed_at"], s("2026-11-23T10:05:00.500Z"));
    assert_eq!(item["alarm"], s("account-concurrency"));
    assert_eq!(item["expires_at"], n(1_803_204_300));
    // the last made first, as a restore settles them
    assert_eq!(item["actions"], json(&settled_items()));
    assert_eq!(item.len(), 9, "{item:?}");
    let delete = items[1].delete().expect("then a delete");
    assert_eq!(delete.key(), &open_key("orders-api"));
    assert_eq!(
        delete.condition_expression(),
        Some("#incident = :incident AND #pending = :zero AND #revision = :revision")
    );
    assert_eq!(
        delete.expression_attribute_values(),
        Some(&values(&[
            (":incident", s("4f1c2b9a7d3e")),
            (":zero", n(0)),
            (":revision", n(5))
        ]))
    );
}

#[tokio::test]
async fn close_refuses_a_record_with_pending_actions_or_of_another_incident() {
    // GIVEN orders-api's record still has the cap pending
    let get = mock!(Dynamo::get_item).then_output(|| {
        GetItemOutput::builder()
            .set_item(Some(open_item("4f1c2b9a7d3e", &[cap()], &[])))
            .build()
    });
    let transact = mock!(Dynamo::transact_write_items)
        .then_output(|| TransactWriteItemsOutput::builder().build());
    let aws = aws(Rules {
        dynamodb: vec![&get, &transact],
        ..Default::default()
    });
    let (closed_at, expires) = (at("2026-11-23T10:05:00Z"), at("2027-02-21T10:05:00Z"));

    // WHEN it is closed, and closed under another incident
    let pending = aws
        .close("orders-api", &incident(), closed_at, expires)
        .await
        .unwrap_err();
    let other = IncidentId::from_recorded("0000aaaa1111");
    let foreign = aws
        .close("orders-api", &other, closed_at, expires)
        .await
        .unwrap_err();

    // THEN both are conflicts, and no transaction was even attempted
    assert_eq!(pending.kind, ErrorKind::Conflict);
    assert!(
        pending.message.contains("1 actions are still pending"),
        "{pending}"
    );
    assert_eq!(foreign.kind, ErrorKind::Conflict);
    assert!(
        foreign.message.contains("incident 4f1c2b9a7d3e's"),
        "{foreign}"
    );
    assert_eq!(transact.num_calls(), 0);
}

/// TransactionCanceledException as DynamoDB sends it, with one reason per item.
fn cancelled(reasons: &str) -> aws_smithy_runtime_api::client::orchestrator::HttpResponse {
    dynamodb_json(
        400,
        &format!(
            r#"{{"__type":"com.amazonaws.dynamodb.v20120810#TransactionCanceledException","Message":"Transaction cancelled, please refer cancellation reasons for specific reasons","CancellationReasons":{reasons}}}"#
        ),
    )
}

#[tokio::test]
async fn a_cancelled_close_is_a_conflict_only_when_a_condition_failed() {
    for (reasons, kind) in [
        (
            r#"[{"Code":"None"},{"Code":"ConditionalCheckFailed","Message":"The conditional request failed"}]"#,
            ErrorKind::Conflict,
        ),
        (
            r#"[{"Code":"None"},{"Code":"TransactionConflict","Message":"Transaction is ongoing for the item"}]"#,
            ErrorKind::Unavailable,
        ),
    ] {
        // GIVEN the record can be closed, but the transaction is cancelled for `reasons`
        let get = mock!(Dynamo::get_item).then_output(|| {
            GetItemOutput::builder()
                .set_item(Some(open_item("4f1c2b9a7d3e", &[], &settled_items())))
                .build()
        });
        let transact = mock!(Dynamo::transact_write_items)
            .then_compute_response(move |_| MockResponse::Http(cancelled(reasons)));
        let aws = aws(Rules {
            dynamodb: vec![&get, &transact],
            retry: Some(no_retries()),
            ..Default::default()
        });

        // WHEN it is closed
        let err = aws
            .close(
                "orders-api",
                &incident(),
                at("2026-11-23T10:05:00Z"),
                at("2027-02-21T10:05:00Z"),
            )
            .await
            .unwrap_err();

        // THEN the kind follows the reasons, and a failed condition says which
        assert_eq!(err.kind, kind, "{reasons}: {err}");
        assert_eq!(err.operation, "dynamodb:TransactWriteItems");
        assert_eq!(
            err.message
                .starts_with("orders-api: the open record changed while it was being closed ("),
            kind == ErrorKind::Conflict,
            "{err}"
        );
    }
}
