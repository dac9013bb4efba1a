//! `Aws::init_ledger`: a missing table is created with what protects it; an existing one is
//! only read — not one write — and reported on.

use aws_sdk_dynamodb::Client as Dynamo;
use aws_sdk_dynamodb::operation::create_table::CreateTableOutput;
use aws_sdk_dynamodb::operation::describe_continuous_backups::DescribeContinuousBackupsOutput;
use aws_sdk_dynamodb::operation::describe_table::DescribeTableOutput;
use aws_sdk_dynamodb::operation::describe_time_to_live::DescribeTimeToLiveOutput;
use aws_sdk_dynamodb::operation::update_continuous_backups::UpdateContinuousBackupsOutput;
use aws_sdk_dynamodb::operation::update_time_to_live::UpdateTimeToLiveOutput;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, ContinuousBackupsDescription, ContinuousBackupsStatus,
    KeySchemaElement, KeyType, PointInTimeRecoveryDescription, PointInTimeRecoveryStatus,
    ScalarAttributeType, TableDescription, TableStatus, TimeToLiveDescription, TimeToLiveStatus,
};
use aws_smithy_mocks::{Rule, mock};
use cguard_aws::{LedgerInit, LedgerTable};
use cguard_engine::ports::ErrorKind;

use crate::common::{Rules, TABLE, aws, dynamodb_json};

fn not_found() -> aws_smithy_runtime_api::client::orchestrator::HttpResponse {
    dynamodb_json(
        400,
        r#"{"__type":"com.amazonaws.dynamodb.v20120810#ResourceNotFoundException","message":"Requested resource not found: Table: cguard-test-ledger not found"}"#,
    )
}

fn table(
    status: TableStatus,
    keys: &[(&str, KeyType, ScalarAttributeType)],
) -> DescribeTableOutput {
    let mut t = TableDescription::builder()
        .table_name(TABLE)
        .table_status(status)
        .deletion_protection_enabled(true);
    for (name, kind, scalar) in keys {
        t = t
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name(*name)
                    .key_type(kind.clone())
                    .build()
                    .unwrap(),
            )
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name(*name)
                    .attribute_type(scalar.clone())
                    .build()
                    .unwrap(),
            );
    }
    DescribeTableOutput::builder().table(t.build()).build()
}

fn ledger_keys() -> [(&'static str, KeyType, ScalarAttributeType); 2] {
    [
        ("pk", KeyType::Hash, ScalarAttributeType::S),
        ("sk", KeyType::Range, ScalarAttributeType::S),
    ]
}

/// Every write `init_ledger` could send, answering success, to count that none was sent.
fn writes() -> [Rule; 3] {
    [
        mock!(Dynamo::create_table).then_output(|| CreateTableOutput::builder().build()),
        mock!(Dynamo::update_time_to_live)
            .then_output(|| UpdateTimeToLiveOutput::builder().build()),
        mock!(Dynamo::update_continuous_backups)
            .then_output(|| UpdateContinuousBackupsOutput::builder().build()),
    ]
}

fn reads(ttl: TimeToLiveStatus, pitr: PointInTimeRecoveryStatus) -> [Rule; 2] {
    [
        mock!(Dynamo::describe_time_to_live).then_output(move || {
            DescribeTimeToLiveOutput::builder()
                .time_to_live_description(
                    TimeToLiveDescription::builder()
                        .time_to_live_status(ttl.clone())
                        .attribute_name("expires_at")
                        .build(),
                )
                .build()
        }),
        mock!(Dynamo::describe_continuous_backups).then_output(move || {
            DescribeContinuousBackupsOutput::builder()
                .continuous_backups_description(
                    ContinuousBackupsDescription::builder()
                        .continuous_backups_status(ContinuousBackupsStatus::Enabled)
                        .point_in_time_recovery_description(
                            PointInTimeRecoveryDescription::builder()
                                .point_in_time_recovery_status(pitr.clone())
                                .build(),
                        )
                        .build()
                        .unwrap(),
                )
                .build()
        }),
    ]
}

#[tokio::test]
async fn a_missing_table_is_created_on_demand_protected_and_with_ttl() {
    // GIVEN no table yet; once created it is CREATING, then ACTIVE
    let describe = mock!(Dynamo::describe_table)
        .sequence()
        .http_response(not_found)
        .output(|| table(TableStatus::Creating, &ledger_keys()))
        .output(|| table(TableStatus::Active, &ledger_keys()))
        .build();
    let create = mock!(Dynamo::create_table)
        .match_requests(|r| {
            let keys: Vec<(&str, &KeyType)> = r
                .key_schema()
                .iter()
                .map(|k| (k.attribute_name(), k.key_type()))
                .collect();
            let strings = r
                .attribute_definitions()
                .iter()
                .all(|d| d.attribute_type() == &ScalarAttributeType::S);
            r.table_name() == Some(TABLE)
                && keys == [("pk", &KeyType::Hash), ("sk", &KeyType::Range)]
                && r.attribute_definitions().len() == 2
                && strings
                && r.billing_mode() == Some(&BillingMode::PayPerRequest)
                && r.deletion_protection_enabled() == Some(true)
        })
        .then_output(|| CreateTableOutput::builder().build());
    let ttl = mock!(Dynamo::update_time_to_live)
        .match_requests(|r| {
            let spec = r.time_to_live_specification().unwrap();
            r.table_name() == Some(TABLE) && spec.enabled() && spec.attribute_name() == "expires_at"
        })
        .then_output(|| UpdateTimeToLiveOutput::builder().build());
    let pitr = mock!(Dynamo::update_continuous_backups)
        .match_requests(|r| {
            r.table_name() == Some(TABLE)
                && r.point_in_time_recovery_specification()
                    .is_some_and(|s| s.point_in_time_recovery_enabled())
        })
        .then_output(|| UpdateContinuousBackupsOutput::builder().build());
    let aws = aws(Rules {
        dynamodb: vec![&describe, &create, &ttl, &pitr],
        ..Default::default()
    });

    // WHEN the ledger is initialised
    let init = aws.init_ledger().await.unwrap();

    // THEN the table was created once, waited for, then given TTL and point-in-time recovery
    let created = LedgerTable {
        name: TABLE.into(),
        ttl_attribute: Some("expires_at".into()),
        point_in_time_recovery: true,
        deletion_protection: true,
    };
    assert_eq!(init, LedgerInit::Created(created));
    assert!(init.table().warnings().is_empty());
    assert_eq!(
        init.to_string(),
        format!(
            "created the ledger table `{TABLE}`: on demand, TTL on `expires_at`, point-in-time \
             recovery, deletion protection"
        )
    );
    assert_eq!(
        (create.num_calls(), ttl.num_calls(), pitr.num_calls()),
        (1, 1, 1)
    );
    assert_eq!(describe.num_calls(), 3, "until ACTIVE");
}

#[tokio::test]
async fn an_existing_table_is_only_read_and_what_is_off_is_reported() {
    // GIVEN the table exists, with TTL off and no point-in-time recovery
    let describe =
        mock!(Dynamo::describe_table).then_output(|| table(TableStatus::Active, &ledger_keys()));
    let reads = reads(
        TimeToLiveStatus::Disabled,
        PointInTimeRecoveryStatus::Disabled,
    );
    let writes = writes();
    let mut rules: Vec<&Rule> = vec![&describe];
    rules.extend(reads.iter().chain(writes.iter()));
    let aws = aws(Rules {
        dynamodb: rules,
        ..Default::default()
    });

    // WHEN the ledger is initialised, twice
    let first = aws.init_ledger().await.unwrap();
    let second = aws.init_ledger().await.unwrap();

    // THEN nothing was written, and both say what is off
    assert_eq!(writes.iter().map(Rule::num_calls).sum::<usize>(), 0);
    assert_eq!(first, second);
    let printed = first.to_string();
    assert!(
        printed.starts_with(&format!(
            "the ledger table `{TABLE}` exists: nothing was changed\nwarning: "
        )),
        "{printed}"
    );
    assert_eq!(printed.lines().count(), 3, "{printed}");
    let LedgerInit::Existed(found) = first else {
        panic!("expected Existed, got {first:?}")
    };
    assert_eq!(
        found,
        LedgerTable {
            name: TABLE.into(),
            ttl_attribute: None,
            point_in_time_recovery: false,
            deletion_protection: true,
        }
    );
    let warnings = found.warnings();
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert!(warnings[0].contains("has no TTL"), "{warnings:?}");
    assert!(
        warnings[1].contains("no point-in-time recovery"),
        "{warnings:?}"
    );
}

#[tokio::test]
async fn a_table_created_meanwhile_by_another_process_counts_as_existing() {
    // GIVEN no table when first described, but CreateTable finds it in use (created meanwhile)
    let describe = mock!(Dynamo::describe_table)
        .sequence()
        .http_response(not_found)
        .output(|| table(TableStatus::Active, &ledger_keys()))
        .repeatedly()
        .build();
    let create = mock!(Dynamo::create_table).then_http_response(|| {
        dynamodb_json(
            400,
            r#"{"__type":"com.amazonaws.dynamodb.v20120810#ResourceInUseException","message":"Table already exists: cguard-test-ledger"}"#,
        )
    });
    let reads = reads(
        TimeToLiveStatus::Enabled,
        PointInTimeRecoveryStatus::Enabled,
    );
    let [_, ttl, pitr] = writes();
    let mut rules: Vec<&Rule> = vec![&describe, &create, &ttl, &pitr];
    rules.extend(reads.iter());
    let aws = aws(Rules {
        dynamodb: rules,
        ..Default::default()
    });

    // WHEN the ledger is initialised
    let init = aws.init_ledger().await.unwrap();

    // THEN it is reported as existing, everything on, and this process changed nothing more
    assert!(matches!(init, LedgerInit::Existed(_)), "{init:?}");
    assert!(init.table().warnings().is_empty(), "{init:?}");
    assert_eq!(
        (create.num_calls(), ttl.num_calls(), pitr.num_calls()),
        (1, 0, 0)
    );
}

#[tokio::test]
async fn a_table_with_other_keys_is_refused_untouched() {
    // GIVEN a table of that name keyed by `id` (number)
    let describe = mock!(Dynamo::describe_table).then_output(|| {
        table(
            TableStatus::Active,
            &[("id", KeyType::Hash, ScalarAttributeType::N)],
        )
    });
    let writes = writes();
    let mut rules: Vec<&Rule> = vec![&describe];
    rules.extend(writes.iter());
    let aws = aws(Rules {
        dynamodb: rules,
        ..Default::default()
    });

    // WHEN the ledger is initialised
    let err = aws.init_ledger().await.unwrap_err();

    // THEN it is refused, saying which keys it found, and nothing was written
    assert_eq!(err.kind, ErrorKind::Rejected, "{err}");
    assert!(err.message.contains("[id (N, HASH)]"), "{err}");
    assert!(err.message.contains("CGUARD_LEDGER_TABLE"), "{err}");
    assert_eq!(writes.iter().map(Rule::num_calls).sum::<usize>(), 0);
}
