//! `Pointers`: the incident id tag on a limited function (TagResource / UntagResource), and the
//! tagged functions found with one paginated tagging GetResources.

use std::collections::HashMap;

use aws_sdk_lambda::Client as Lambda;
use aws_sdk_lambda::operation::tag_resource::TagResourceOutput;
use aws_sdk_lambda::operation::untag_resource::UntagResourceOutput;
use aws_sdk_resourcegroupstagging::Client as Tagging;
use aws_sdk_resourcegroupstagging::operation::get_resources::GetResourcesOutput;
use aws_sdk_resourcegroupstagging::types::{ResourceTagMapping, Tag};
use aws_smithy_mocks::mock;
use cguard_core::intake::IncidentId;
use cguard_core::record::TAG_INCIDENT;
use cguard_engine::ports::Pointers;

use crate::common::{Rules, aws, function_arn};

fn tagged(name: &str, incident: &str) -> ResourceTagMapping {
    let tag = |k: &str, v: &str| Tag::builder().key(k).value(v).build().unwrap();
    ResourceTagMapping::builder()
        .resource_arn(function_arn(name))
        .tags(tag("team", "payments"))
        .tags(tag(TAG_INCIDENT, incident))
        .build()
}

#[tokio::test]
async fn pointers_are_function_names_and_tag_values_across_pages() {
    // GIVEN GetResources returns two pages of tagged functions; the last page's token is
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
                .resource_tag_mapping_list(tagged("thumbnailer", "4f1c2b9a7d3e"))
                .resource_tag_mapping_list(tagged("orders-api", "9a8b7c6d5e4f"))
                .pagination_token("AAIAAWgAAAABAAAAAAAAAAA=")
                .build()
        });
    let page2 = mock!(Tagging::get_resources)
        .match_requests(|r| r.pagination_token() == Some("AAIAAWgAAAABAAAAAAAAAAA="))
        .then_output(|| {
            GetResourcesOutput::builder()
                .resource_tag_mapping_list(tagged("report-builder", "4f1c2b9a7d3e"))
                .pagination_token("")
                .build()
        });
    let aws = aws(Rules {
        tagging: vec![&page1, &page2],
        ..Default::default()
    });

    // WHEN the pointers are listed
    let pointers = aws.pointers().await.unwrap();

    // THEN every tagged function is named, sorted, with its tag's value, and paging stopped
    let expected = [
        ("orders-api", "9a8b7c6d5e4f"),
        ("report-builder", "4f1c2b9a7d3e"),
        ("thumbnailer", "4f1c2b9a7d3e"),
    ]
    .map(|(f, i)| (f.to_owned(), i.to_owned()));
    assert_eq!(pointers, expected);
    assert_eq!((page1.num_calls(), page2.num_calls()), (1, 1));
}

#[tokio::test]
async fn point_tags_the_incident_and_unpoint_untags_only_that_key() {
    // GIVEN Lambda accepts exactly this tag on, and this key off, the function's ARN
    let expected = HashMap::from([(TAG_INCIDENT.to_owned(), "4f1c2b9a7d3e".to_owned())]);
    let tag = mock!(Lambda::tag_resource)
        .match_requests(move |r| {
            r.resource() == Some(function_arn("orders-api").as_str()) && r.tags() == Some(&expected)
        })
        .then_output(|| TagResourceOutput::builder().build());
    let untag = mock!(Lambda::untag_resource)
        .match_requests(|r| {
            r.resource() == Some(function_arn("orders-api").as_str())
                && r.tag_keys() == [TAG_INCIDENT]
        })
        .then_output(|| UntagResourceOutput::builder().build());
    let aws = aws(Rules {
        lambda: vec![&tag, &untag],
        ..Default::default()
    });

    // WHEN the function is pointed at the incident, then unpointed
    let arn = function_arn("orders-api");
    aws.point(&arn, &IncidentId::from_recorded("4f1c2b9a7d3e"))
        .await
        .unwrap();
    aws.unpoint(&arn).await.unwrap();

    // THEN one TagResource and one UntagResource were sent
    assert_eq!((tag.num_calls(), untag.num_calls()), (1, 1));
}
