//! `Ledger`: records as tags on the function (TagResource / UntagResource), and the recorded
//! functions found with one paginated tagging GetResources.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_lambda::Client as Lambda;
use aws_sdk_lambda::operation::tag_resource::TagResourceOutput;
use aws_sdk_lambda::operation::untag_resource::UntagResourceOutput;
use aws_sdk_resourcegroupstagging::Client as Tagging;
use aws_sdk_resourcegroupstagging::operation::get_resources::GetResourcesOutput;
use aws_sdk_resourcegroupstagging::types::{ResourceTagMapping, Tag};
use aws_smithy_mocks::mock;
use cguard_core::record::{TAG_INCIDENT, TAG_OPENED};
use cguard_engine::ports::Ledger;
use chrono::{DateTime, Utc};

use crate::common::{Rules, aws, function_arn};

fn recorded(name: &str) -> ResourceTagMapping {
    ResourceTagMapping::builder()
        .resource_arn(function_arn(name))
        .tags(
            Tag::builder()
                .key(TAG_INCIDENT)
                .value("4f1c2b9a7d3e")
                .build()
                .unwrap(),
        )
        .tags(
            Tag::builder()
                .key(TAG_OPENED)
                .value("2026-11-23T09:40:27Z")
                .build()
                .unwrap(),
        )
        .tags(
            Tag::builder()
                .key("team")
                .value("payments")
                .build()
                .unwrap(),
        )
        .build()
}

#[tokio::test]
async fn open_records_are_function_names_across_pages() {
    // GIVEN GetResources returns two pages of recorded functions; the last page's token is
    // empty, as the Tagging API sends it
    let page1 = mock!(Tagging::get_resources)
        .match_requests(|r| {
            r.pagination_token().is_none()
                && r.resource_type_filters() == ["lambda:function"]
                && r.tag_filters().len() == 1
                && r.tag_filters()[0].key() == Some(TAG_INCIDENT)
                && r.tag_filters()[0].values().is_empty()
        })
        .then_output(|| {
            GetResourcesOutput::builder()
                .resource_tag_mapping_list(recorded("thumbnailer"))
                .resource_tag_mapping_list(recorded("orders-api"))
                .pagination_token("AAIAAWgAAAABAAAAAAAAAAA=")
                .build()
        });
    let page2 = mock!(Tagging::get_resources)
        .match_requests(|r| r.pagination_token() == Some("AAIAAWgAAAABAAAAAAAAAAA="))
        .then_output(|| {
            GetResourcesOutput::builder()
                .resource_tag_mapping_list(recorded("report-builder"))
                .pagination_token("")
                .build()
        });
    let aws = aws(Rules {
        tagging: vec![&page1, &page2],
        ..Default::default()
    });

    // WHEN the open records are listed
    let names = aws.open_records().await.unwrap();

    // THEN every recorded function is named, sorted, from both pages, with when its incident
    // opened (read from the listing, no function read), and paging stopped
    let opened = DateTime::parse_from_rfc3339("2026-11-23T09:40:27Z")
        .unwrap()
        .with_timezone(&Utc);
    assert_eq!(
        names
            .iter()
            .map(|r| (r.function.as_str(), r.opened))
            .collect::<Vec<_>>(),
        [
            ("orders-api", Some(opened)),
            ("report-builder", Some(opened)),
            ("thumbnailer", Some(opened))
        ]
    );
    assert_eq!((page1.num_calls(), page2.num_calls()), (1, 1));
}

#[tokio::test]
async fn write_tags_the_function_and_erase_untags_the_keys() {
    // GIVEN Lambda accepts exactly these tags on, and these keys off, the function's ARN
    let tags = BTreeMap::from([
        (TAG_INCIDENT.to_owned(), "4f1c2b9a7d3e".to_owned()),
        (
            "concurrency-guard:action:0".to_owned(),
            "eyJ0aWVyIjoicmVzZXJ2YXRpb24ifQ".to_owned(),
        ),
    ]);
    let expected: HashMap<String, String> = tags.clone().into_iter().collect();
    let tag = mock!(Lambda::tag_resource)
        .match_requests(move |r| {
            r.resource() == Some(function_arn("orders-api").as_str()) && r.tags() == Some(&expected)
        })
        .then_output(|| TagResourceOutput::builder().build());
    let keys = vec![
        "concurrency-guard:action:0".to_owned(),
        "concurrency-guard:action:0.1".to_owned(),
    ];
    let expected_keys = keys.clone();
    let untag = mock!(Lambda::untag_resource)
        .match_requests(move |r| {
            r.resource() == Some(function_arn("orders-api").as_str())
                && r.tag_keys() == expected_keys
        })
        .then_output(|| UntagResourceOutput::builder().build());
    let aws = aws(Rules {
        lambda: vec![&tag, &untag],
        ..Default::default()
    });

    // WHEN a record is written, then erased
    aws.write(&function_arn("orders-api"), &tags).await.unwrap();
    aws.erase(&function_arn("orders-api"), &keys).await.unwrap();

    // THEN one TagResource and one UntagResource were sent
    assert_eq!((tag.num_calls(), untag.num_calls()), (1, 1));
}
