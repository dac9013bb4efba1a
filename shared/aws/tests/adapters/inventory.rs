//! `Inventory`: account settings, and one function's tags, reservation and drivers read from
//! GetFunction, GetFunctionConcurrency, GetPolicy, ListEventSourceMappings and API Gateway.

use aws_sdk_lambda::Client as Lambda;
use aws_sdk_lambda::operation::get_account_settings::GetAccountSettingsOutput;
use aws_sdk_lambda::operation::get_function::GetFunctionOutput;
use aws_sdk_lambda::operation::get_function_concurrency::GetFunctionConcurrencyOutput;
use aws_sdk_lambda::operation::get_policy::GetPolicyOutput;
use aws_sdk_lambda::operation::list_event_source_mappings::ListEventSourceMappingsOutput;
use aws_sdk_lambda::types::{
    AccountLimit, EventSourceMappingConfiguration, FunctionConfiguration, ScalingConfig,
};
use aws_smithy_mocks::{Rule, mock};
use cguard_core::model::{AccountFacts, ApiKind, ApiTarget, Driver, Reservation, Route, Throttle};
use cguard_engine::ports::{ErrorKind, Inventory};
use serde_json::json;

use crate::common::{ACCOUNT, REGION, Rules, aws, function_arn, rest_json};

const REST_API: &str = "a1b2c3d4e5";
const ADMIN_API: &str = "z9y8x7w6v5";
const HTTP_API: &str = "h7k2m9p4q1";

fn not_found(what: &str) -> String {
    format!(r#"{{"Type":"User","Message":"{what}"}}"#)
}

fn lambda_not_found(message: &str) -> aws_smithy_runtime_api::client::orchestrator::HttpResponse {
    rest_json(404, Some("ResourceNotFoundException"), &not_found(message))
}

fn get_function(name: &'static str, tags: &'static [(&'static str, &'static str)]) -> Rule {
    mock!(Lambda::get_function)
        .match_requests(move |r| r.function_name() == Some(name))
        .then_output(move || {
            let mut out = GetFunctionOutput::builder().configuration(
                FunctionConfiguration::builder()
                    .function_name(name)
                    .function_arn(function_arn(name))
                    .runtime(aws_sdk_lambda::types::Runtime::Providedal2023)
                    .handler("bootstrap")
                    .timeout(30)
                    .memory_size(512)
                    .build(),
            );
            for (k, v) in tags {
                out = out.tags(*k, *v);
            }
            out.build()
        })
}

fn concurrency(name: &'static str, reserved: Option<i32>) -> Rule {
    mock!(Lambda::get_function_concurrency)
        .match_requests(move |r| r.function_name() == Some(name))
        .then_output(move || {
            GetFunctionConcurrencyOutput::builder()
                .set_reserved_concurrent_executions(reserved)
                .build()
        })
}

fn policy(name: &'static str, document: Option<String>) -> Rule {
    let rule = mock!(Lambda::get_policy).match_requests(move |r| r.function_name() == Some(name));
    match document {
        Some(doc) => rule.then_output(move || {
            GetPolicyOutput::builder()
                .policy(doc.clone())
                .revision_id("4b6f2a7e-0c1d-4e5f-8a9b-1c2d3e4f5a6b")
                .build()
        }),
        // What Lambda answers for a function without a resource-based policy.
        None => rule
            .then_http_response(|| lambda_not_found("The resource you requested does not exist.")),
    }
}

fn no_mappings(name: &'static str) -> Rule {
    mock!(Lambda::list_event_source_mappings)
        .match_requests(move |r| r.function_name() == Some(name))
        .then_output(|| ListEventSourceMappingsOutput::builder().build())
}

fn allow(sid: &str, service: &str, function: &str, source_arn: &str) -> serde_json::Value {
    json!({
        "Sid": sid,
        "Effect": "Allow",
        "Principal": {"Service": service},
        "Action": "lambda:InvokeFunction",
        "Resource": function_arn(function),
        "Condition": {"ArnLike": {"AWS:SourceArn": source_arn}}
    })
}

fn execute_api(rest: &str) -> String {
    format!("arn:aws:execute-api:{REGION}:{ACCOUNT}:{rest}")
}

/// A resource policy as `GetPolicy` returns it (a JSON document in a string).
fn policy_document(statements: Vec<serde_json::Value>) -> String {
    json!({"Version": "2012-10-17", "Id": "default", "Statement": statements}).to_string()
}

/// A REST stage's method setting as API Gateway returns it; -1 means "no throttle set".
fn method_setting(rate: f64, burst: i32) -> serde_json::Value {
    json!({
        "metricsEnabled": true,
        "loggingLevel": "ERROR",
        "dataTraceEnabled": false,
        "throttlingBurstLimit": burst,
        "throttlingRateLimit": rate,
        "cachingEnabled": false,
        "cacheTtlInSeconds": 300,
        "cacheDataEncrypted": false,
        "requireAuthorizationForCacheControl": true,
        "unauthorizedCacheControlHeaderStrategy": "SUCCEED_WITH_RESPONSE_HEADER"
    })
}

fn rest_stage(name: &str, method_settings: serde_json::Value) -> serde_json::Value {
    json!({
        "deploymentId": "k2yx4n",
        "stageName": name,
        "cacheClusterEnabled": false,
        "cacheClusterStatus": "NOT_AVAILABLE",
        "methodSettings": method_settings,
        "tracingEnabled": false,
        "createdDate": 1718000000,
        "lastUpdatedDate": 1718000600
    })
}

fn rest_stages(api: &'static str, stages: Vec<serde_json::Value>) -> Rule {
    let body = json!({ "item": stages }).to_string();
    mock!(aws_sdk_apigateway::Client::get_stages)
        .match_requests(move |r| r.rest_api_id() == Some(api))
        .then_http_response(move || rest_json(200, None, &body))
}

fn target(kind: ApiKind, api: &str, stage: &str, route: Option<(&str, &str)>) -> ApiTarget {
    ApiTarget {
        kind,
        api_id: api.into(),
        stage: stage.into(),
        route: route.map(|(m, p)| Route {
            method: m.into(),
            path: p.into(),
        }),
    }
}

#[tokio::test]
async fn account_settings_are_mapped() {
    // GIVEN an account with a limit of 1000 and 850 unreserved
    let settings = mock!(Lambda::get_account_settings).then_output(|| {
        GetAccountSettingsOutput::builder()
            .account_limit(
                AccountLimit::builder()
                    .total_code_size(80_530_636_800)
                    .code_size_unzipped(262_144_000)
                    .code_size_zipped(52_428_800)
                    .concurrent_executions(1000)
                    .unreserved_concurrent_executions(850)
                    .build(),
            )
            .build()
    });
    let aws = aws(Rules {
        lambda: vec![&settings],
        ..Default::default()
    });

    // WHEN the account is read
    let account = aws.account().await.unwrap();

    // THEN both figures are kept
    assert_eq!(
        account,
        AccountFacts {
            limit: Some(1000),
            unreserved: Some(850)
        }
    );
    assert_eq!(settings.num_calls(), 1);
}

#[tokio::test]
async fn a_missing_function_is_none() {
    // GIVEN the function does not exist: every Lambda read answers 404
    let msg = "Function not found: arn:aws:lambda:us-east-1:123456789012:function:gone";
    let get = mock!(Lambda::get_function).then_http_response(move || lambda_not_found(msg));
    let conc =
        mock!(Lambda::get_function_concurrency).then_http_response(move || lambda_not_found(msg));
    let pol = mock!(Lambda::get_policy).then_http_response(move || lambda_not_found(msg));
    let esm =
        mock!(Lambda::list_event_source_mappings).then_http_response(move || lambda_not_found(msg));
    let aws = aws(Rules {
        lambda: vec![&get, &conc, &pol, &esm],
        ..Default::default()
    });

    // WHEN the function is read
    let facts = aws.function("gone").await;

    // THEN it is None, not an error
    assert_eq!(facts.unwrap(), None);
    assert_eq!(get.num_calls(), 1);
}

#[tokio::test]
async fn no_reservation_and_reserved_zero_are_different() {
    // GIVEN one function without a reservation (GetFunctionConcurrency returns `{}`) and one
    // reserved at 0 (throttled completely)
    let rules = [
        get_function("open", &[]),
        concurrency("open", None),
        policy("open", None),
        no_mappings("open"),
        get_function("stopped", &[("concurrency-guard:kill-switch", "allowed")]),
        concurrency("stopped", Some(0)),
        policy("stopped", None),
        no_mappings("stopped"),
    ];
    let aws = aws(Rules {
        lambda: rules.iter().collect(),
        ..Default::default()
    });

    // WHEN both are read
    let open = aws.function("open").await.unwrap().unwrap();
    let stopped = aws.function("stopped").await.unwrap().unwrap();

    // THEN "no value" is Unreserved and 0 is Reserved(0)
    assert_eq!(open.reservation, Reservation::Unreserved);
    assert_eq!(stopped.reservation, Reservation::Reserved(0));
    assert_ne!(open.reservation, stopped.reservation);
    assert!(stopped.tagged("concurrency-guard:kill-switch", "allowed"));
}

#[tokio::test]
async fn a_function_has_its_tags_arn_reservation_and_no_api_drivers_without_a_policy() {
    // GIVEN a tagged function with a reservation of 250 and no resource policy (GetPolicy 404)
    let rules = [
        get_function(
            "orders-api",
            &[
                ("team", "payments"),
                ("concurrency-guard:protected", "false"),
            ],
        ),
        concurrency("orders-api", Some(250)),
        policy("orders-api", None),
        no_mappings("orders-api"),
    ];
    let aws = aws(Rules {
        lambda: rules.iter().collect(),
        // No API Gateway rules: any API Gateway call would fail the test.
        ..Default::default()
    });

    // WHEN it is read
    let facts = aws.function("orders-api").await.unwrap().unwrap();

    // THEN tags, ARN and reservation are mapped and there are no drivers
    assert_eq!(facts.name, "orders-api");
    assert_eq!(facts.arn, function_arn("orders-api"));
    assert_eq!(facts.reservation, Reservation::Reserved(250));
    assert_eq!(facts.tags.get("team").map(String::as_str), Some("payments"));
    assert_eq!(facts.tags.len(), 2);
    assert!(facts.drivers.is_empty(), "{:?}", facts.drivers);
    assert_eq!(rules[2].num_calls(), 1, "GetPolicy was asked");
}

#[tokio::test]
async fn rest_api_drivers_come_from_the_policy_and_the_stages() {
    // GIVEN a policy granting GET /items of one REST API on every stage, a whole REST stage of
    // another API, and an SNS topic
    let doc = policy_document(vec![
        allow(
            "apigw-items-get",
            "apigateway.amazonaws.com",
            "orders-api",
            &execute_api(&format!("{REST_API}/*/GET/items")),
        ),
        allow(
            "apigw-admin",
            "apigateway.amazonaws.com",
            "orders-api",
            &execute_api(&format!("{ADMIN_API}/prod/*/*")),
        ),
        allow(
            "sns-order-events",
            "sns.amazonaws.com",
            "orders-api",
            &format!("arn:aws:sns:{REGION}:{ACCOUNT}:order-events"),
        ),
    ]);
    // AND the first API has three stages: prod throttles GET /items (10 req/s, burst 20) and
    // logs everything; beta has an entry for GET /items without throttle; dev has no settings
    let items_api = rest_stages(
        REST_API,
        vec![
            rest_stage(
                "prod",
                json!({"*/*": method_setting(-1.0, -1), "~1items/GET": method_setting(10.0, 20)}),
            ),
            rest_stage("beta", json!({"~1items/GET": method_setting(-1.0, -1)})),
            rest_stage("dev", json!({})),
        ],
    );
    // AND the second API's prod stage is throttled as a whole (*/*: 50 req/s, burst 100)
    let admin_api = rest_stages(
        ADMIN_API,
        vec![
            rest_stage("prod", json!({"*/*": method_setting(50.0, 100)})),
            rest_stage("test", json!({})),
        ],
    );
    let rules = [
        get_function("orders-api", &[]),
        concurrency("orders-api", None),
        policy("orders-api", Some(doc)),
        no_mappings("orders-api"),
    ];
    let aws = aws(Rules {
        lambda: rules.iter().collect(),
        apigateway: vec![&items_api, &admin_api],
        ..Default::default()
    });

    // WHEN the function is read
    let facts = aws.function("orders-api").await.unwrap().unwrap();

    // THEN the wildcard stage is expanded to every stage with a method throttle for GET /items,
    // the granted stage of the other API gets a stage throttle, and SNS is an "other" driver
    assert_eq!(
        facts.drivers,
        vec![
            Driver::Api {
                target: target(ApiKind::Rest, REST_API, "beta", Some(("GET", "/items"))),
                current: None,
                shared_entry: true,
            },
            Driver::Api {
                target: target(ApiKind::Rest, REST_API, "dev", Some(("GET", "/items"))),
                current: None,
                shared_entry: false,
            },
            Driver::Api {
                target: target(ApiKind::Rest, REST_API, "prod", Some(("GET", "/items"))),
                current: Some(Throttle {
                    rate: 10.0,
                    burst: 20
                }),
                shared_entry: true,
            },
            Driver::Api {
                target: target(ApiKind::Rest, ADMIN_API, "prod", None),
                current: Some(Throttle {
                    rate: 50.0,
                    burst: 100
                }),
                shared_entry: true,
            },
            Driver::Other {
                source: format!("sns.amazonaws.com (arn:aws:sns:{REGION}:{ACCOUNT}:order-events)"),
            },
        ]
    );
    // AND each API's stages were read once
    assert_eq!(items_api.num_calls(), 1);
    assert_eq!(admin_api.num_calls(), 1);
}

#[tokio::test]
async fn an_http_api_is_read_from_apigatewayv2_when_rest_says_not_found() {
    // GIVEN a policy granting GET /items and POST /items of an HTTP API on every stage
    let doc = policy_document(vec![
        allow(
            "http-get",
            "apigateway.amazonaws.com",
            "orders-api",
            &execute_api(&format!("{HTTP_API}/*/GET/items")),
        ),
        allow(
            "http-post",
            "apigateway.amazonaws.com",
            "orders-api",
            &execute_api(&format!("{HTTP_API}/*/POST/items")),
        ),
    ]);
    // AND the REST API GetStages answers 404 for that id, as API Gateway does
    let rest = mock!(aws_sdk_apigateway::Client::get_stages)
        .match_requests(|r| r.rest_api_id() == Some(HTTP_API))
        .then_http_response(|| {
            rest_json(
                404,
                Some("NotFoundException"),
                &format!(
                    r#"{{"message":"Invalid API identifier specified {ACCOUNT}:{HTTP_API}"}}"#
                ),
            )
        });
    // AND apigatewayv2 GetStages returns the $default stage throttling GET /items (5 req/s, 10)
    let http = mock!(aws_sdk_apigatewayv2::Client::get_stages)
        .match_requests(|r| r.api_id() == Some(HTTP_API))
        .then_http_response(|| {
            rest_json(
                200,
                None,
                &json!({"items": [{
                    "stageName": "$default",
                    "autoDeploy": true,
                    "createdDate": "2024-06-10T08:00:00Z",
                    "lastUpdatedDate": "2024-06-11T09:30:00Z",
                    "defaultRouteSettings": {"detailedMetricsEnabled": false},
                    "routeSettings": {"GET /items": {
                        "detailedMetricsEnabled": false,
                        "throttlingBurstLimit": 10,
                        "throttlingRateLimit": 5.0
                    }},
                    "stageVariables": {},
                    "tags": {}
                }]})
                .to_string(),
            )
        });
    let rules = [
        get_function("orders-api", &[]),
        concurrency("orders-api", None),
        policy("orders-api", Some(doc)),
        no_mappings("orders-api"),
    ];
    let aws = aws(Rules {
        lambda: rules.iter().collect(),
        apigateway: vec![&rest],
        apigatewayv2: vec![&http],
        ..Default::default()
    });

    // WHEN the function is read
    let facts = aws.function("orders-api").await.unwrap().unwrap();

    // THEN each granted route of the HTTP API is a driver, with its current route throttle
    assert_eq!(
        facts.drivers,
        vec![
            Driver::Api {
                target: target(ApiKind::Http, HTTP_API, "$default", Some(("GET", "/items"))),
                current: Some(Throttle {
                    rate: 5.0,
                    burst: 10
                }),
                shared_entry: true,
            },
            Driver::Api {
                target: target(
                    ApiKind::Http,
                    HTTP_API,
                    "$default",
                    Some(("POST", "/items"))
                ),
                current: None,
                shared_entry: false,
            },
        ]
    );
    assert_eq!((rest.num_calls(), http.num_calls()), (1, 1));
}

/// An HTTP API granted with wildcards: its routes are found through the integrations.
fn wildcard_http_api(other_function: &'static str) -> (String, [Rule; 4]) {
    let doc = policy_document(vec![allow(
        "http-any",
        "apigateway.amazonaws.com",
        "orders-api",
        &execute_api(&format!("{HTTP_API}/*/*")),
    )]);
    let rest = mock!(aws_sdk_apigateway::Client::get_stages).then_http_response(|| {
        rest_json(
            404,
            Some("NotFoundException"),
            r#"{"message":"Invalid API identifier specified"}"#,
        )
    });
    let stages = mock!(aws_sdk_apigatewayv2::Client::get_stages).then_http_response(|| {
        rest_json(
            200,
            None,
            r#"{"items":[{"stageName":"$default","autoDeploy":true,"defaultRouteSettings":{"detailedMetricsEnabled":false},"routeSettings":{}}]}"#,
        )
    });
    let integrations = mock!(aws_sdk_apigatewayv2::Client::get_integrations)
        .match_requests(|r| r.api_id() == Some(HTTP_API))
        .then_http_response(move || {
            rest_json(
                200,
                None,
                &json!({"items": [
                    {"connectionType": "INTERNET", "integrationId": "i0rders", "integrationMethod": "POST",
                     "integrationType": "AWS_PROXY", "integrationUri": function_arn("orders-api"),
                     "payloadFormatVersion": "2.0", "timeoutInMillis": 30000},
                    {"connectionType": "INTERNET", "integrationId": "i0ther1", "integrationMethod": "POST",
                     "integrationType": "AWS_PROXY",
                     "integrationUri": format!("arn:aws:apigateway:{REGION}:lambda:path/2015-03-31/functions/{}/invocations", function_arn(other_function)),
                     "payloadFormatVersion": "2.0", "timeoutInMillis": 30000}
                ]})
                .to_string(),
            )
        });
    let routes = mock!(aws_sdk_apigatewayv2::Client::get_routes)
        .match_requests(|r| r.api_id() == Some(HTTP_API))
        .then_http_response(|| {
            rest_json(
                200,
                None,
                r#"{"items":[
                    {"apiKeyRequired":false,"authorizationType":"NONE","routeId":"r1","routeKey":"GET /items","target":"integrations/i0rders"},
                    {"apiKeyRequired":false,"authorizationType":"NONE","routeId":"r2","routeKey":"POST /admin","target":"integrations/i0ther1"}
                ]}"#,
            )
        });
    (doc, [rest, stages, integrations, routes])
}

async fn wildcard_http_drivers(other_function: &'static str) -> Vec<Driver> {
    let (doc, [rest, stages, integrations, routes]) = wildcard_http_api(other_function);
    let rules = [
        get_function("orders-api", &[]),
        concurrency("orders-api", None),
        policy("orders-api", Some(doc)),
        no_mappings("orders-api"),
    ];
    let aws = aws(Rules {
        lambda: rules.iter().collect(),
        apigateway: vec![&rest],
        apigatewayv2: vec![&stages, &integrations, &routes],
        ..Default::default()
    });
    let drivers = aws.function("orders-api").await.unwrap().unwrap().drivers;
    assert_eq!((integrations.num_calls(), routes.num_calls()), (1, 1));
    drivers
}

#[tokio::test]
async fn a_wildcard_http_grant_throttles_only_the_routes_integrating_the_function() {
    // GIVEN an HTTP API granted with `/*/*` whose GET /items integrates orders-api and whose
    // POST /admin integrates another function
    // WHEN orders-api is read
    let drivers = wildcard_http_drivers("inventory-sync").await;

    // THEN only GET /items is a driver
    assert_eq!(
        drivers,
        vec![Driver::Api {
            target: target(ApiKind::Http, HTTP_API, "$default", Some(("GET", "/items"))),
            current: None,
            shared_entry: false,
        }]
    );
}

#[tokio::test]
async fn a_wildcard_http_grant_ignores_a_function_whose_name_extends_ours() {
    // GIVEN the other route integrates `orders-api-admin`, whose ARN starts with orders-api's
    // WHEN orders-api is read
    let drivers = wildcard_http_drivers("orders-api-admin").await;

    // THEN POST /admin (orders-api-admin's route) is still not a driver of orders-api
    assert_eq!(
        drivers,
        vec![Driver::Api {
            target: target(ApiKind::Http, HTTP_API, "$default", Some(("GET", "/items"))),
            current: None,
            shared_entry: false,
        }]
    );
}

#[tokio::test]
async fn sqs_mappings_are_queue_drivers_across_pages_and_others_are_other() {
    // GIVEN two pages of event source mappings: an SQS queue limited to 50, a DynamoDB stream,
    // a disabled SQS mapping and an SQS queue without maximum concurrency
    let queue = format!("arn:aws:sqs:{REGION}:{ACCOUNT}:orders-queue");
    let retry_queue = format!("arn:aws:sqs:{REGION}:{ACCOUNT}:orders-retry");
    let stream =
        format!("arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/orders/stream/2024-06-10T08:00:00.000");
    let mapping = |uuid: &str, arn: &str, state: &str, max: Option<i32>| {
        EventSourceMappingConfiguration::builder()
            .uuid(uuid)
            .event_source_arn(arn)
            .function_arn(function_arn("orders-api"))
            .state(state)
            .batch_size(10)
            .set_scaling_config(
                max.map(|m| ScalingConfig::builder().maximum_concurrency(m).build()),
            )
            .build()
    };
    let (q, s, r) = (queue.clone(), stream.clone(), retry_queue.clone());
    let page1 = mock!(Lambda::list_event_source_mappings)
        .match_requests(|r| r.function_name() == Some("orders-api") && r.marker().is_none())
        .then_output(move || {
            ListEventSourceMappingsOutput::builder()
                .event_source_mappings(mapping(
                    "6d9f3e2a-1b4c-4d5e-8f70-112233445566",
                    &q,
                    "Enabled",
                    Some(50),
                ))
                .event_source_mappings(mapping(
                    "0a1b2c3d-4e5f-4a7b-8c9d-aabbccddeeff",
                    &s,
                    "Enabled",
                    None,
                ))
                .next_marker("page-2")
                .build()
        });
    let q2 = queue.clone();
    let page2 = mock!(Lambda::list_event_source_mappings)
        .match_requests(|r| r.marker() == Some("page-2"))
        .then_output(move || {
            ListEventSourceMappingsOutput::builder()
                .event_source_mappings(mapping(
                    "deadbeef-0000-4000-8000-000000000001",
                    &q2,
                    "Disabled",
                    Some(5),
                ))
                .event_source_mappings(mapping(
                    "7e8f9a0b-1c2d-4e3f-9a4b-5c6d7e8f9a0b",
                    &r,
                    "Enabled",
                    None,
                ))
                .build()
        });
    let rules = [
        get_function("orders-api", &[]),
        concurrency("orders-api", None),
        policy("orders-api", None),
    ];
    let aws = aws(Rules {
        lambda: rules.iter().chain([&page1, &page2]).collect(),
        ..Default::default()
    });

    // WHEN the function is read
    let facts = aws.function("orders-api").await.unwrap().unwrap();

    // THEN the enabled SQS mappings are queue drivers with their maximum, the stream is "other",
    // and the disabled mapping is left out
    assert_eq!(
        facts.drivers,
        vec![
            Driver::Queue {
                uuid: "6d9f3e2a-1b4c-4d5e-8f70-112233445566".into(),
                source_arn: queue,
                maximum_concurrency: Some(50),
            },
            Driver::Other {
                source: format!("event source mapping from {stream}"),
            },
            Driver::Queue {
                uuid: "7e8f9a0b-1c2d-4e3f-9a4b-5c6d7e8f9a0b".into(),
                source_arn: retry_queue,
                maximum_concurrency: None,
            },
        ]
    );
    assert_eq!((page1.num_calls(), page2.num_calls()), (1, 1));
}

#[tokio::test]
async fn a_denied_policy_read_is_an_error_not_an_empty_policy() {
    // GIVEN GetPolicy is denied (the guard's role lacks lambda:GetPolicy)
    let denied = mock!(Lambda::get_policy).then_http_response(|| {
        rest_json(
            403,
            Some("AccessDeniedException"),
            r#"{"Message":"User is not authorized to perform: lambda:GetPolicy"}"#,
        )
    });
    let rules = [
        get_function("orders-api", &[]),
        concurrency("orders-api", None),
        no_mappings("orders-api"),
    ];
    let aws = aws(Rules {
        lambda: rules.iter().chain([&denied]).collect(),
        ..Default::default()
    });

    // WHEN the function is read
    let err = aws.function("orders-api").await.unwrap_err();

    // THEN the read fails as Denied instead of silently reporting no API drivers
    assert_eq!(err.kind, ErrorKind::Denied);
    assert_eq!(err.operation, "lambda:GetPolicy");
}

#[tokio::test]
async fn a_wildcard_http_grant_reads_every_page_of_routes() {
    // GIVEN a wildcard-granted HTTP API whose GetRoutes pages: GET /items is on the second page
    let (doc, [rest, stages, integrations, _]) = wildcard_http_api("inventory-sync");
    let first = mock!(aws_sdk_apigatewayv2::Client::get_routes)
        .match_requests(|r| r.next_token().is_none())
        .then_http_response(|| {
            rest_json(
                200,
                None,
                r#"{"items":[{"apiKeyRequired":false,"authorizationType":"NONE","routeId":"r2","routeKey":"POST /admin","target":"integrations/i0ther1"}],"nextToken":"eyJsYXN0IjoicjIifQ"}"#,
            )
        });
    let second = mock!(aws_sdk_apigatewayv2::Client::get_routes)
        .match_requests(|r| r.next_token() == Some("eyJsYXN0IjoicjIifQ"))
        .then_http_response(|| {
            rest_json(
                200,
                None,
                r#"{"items":[{"apiKeyRequired":false,"authorizationType":"NONE","routeId":"r1","routeKey":"GET /items","target":"integrations/i0rders"}]}"#,
            )
        });
    let rules = [
        get_function("orders-api", &[]),
        concurrency("orders-api", None),
        policy("orders-api", Some(doc)),
        no_mappings("orders-api"),
    ];
    let aws = aws(Rules {
        lambda: rules.iter().collect(),
        apigateway: vec![&rest],
        apigatewayv2: vec![&stages, &integrations, &first, &second],
        ..Default::default()
    });

    // WHEN orders-api is read
    let drivers = aws.function("orders-api").await.unwrap().unwrap().drivers;

    // THEN the route on the second page is found
    assert_eq!(second.num_calls(), 1, "the second page was never requested");
    assert_eq!(
        drivers,
        vec![Driver::Api {
            target: target(ApiKind::Http, HTTP_API, "$default", Some(("GET", "/items"))),
            current: None,
            shared_entry: false,
        }]
    );
}
