//! `Actuator::apply` sends exactly the request each change needs (checked on the SDK input with
//! `match_requests`, and on the wire where the JSON shape matters); `current` reads it back.

use std::collections::HashMap;

use aws_sdk_apigateway::operation::get_stage::GetStageOutput;
use aws_sdk_apigateway::operation::update_stage::UpdateStageOutput;
use aws_sdk_apigateway::types::{MethodSetting, Op, PatchOperation};
use aws_sdk_apigatewayv2::operation::delete_route_settings::DeleteRouteSettingsOutput;
use aws_sdk_apigatewayv2::operation::get_stage::GetStageOutput as HttpGetStageOutput;
use aws_sdk_apigatewayv2::operation::update_stage::UpdateStageOutput as HttpUpdateStageOutput;
use aws_sdk_apigatewayv2::types::RouteSettings;
use aws_sdk_lambda::Client as Lambda;
use aws_sdk_lambda::operation::delete_function_concurrency::DeleteFunctionConcurrencyOutput;
use aws_sdk_lambda::operation::get_event_source_mapping::GetEventSourceMappingOutput;
use aws_sdk_lambda::operation::get_function_concurrency::GetFunctionConcurrencyOutput;
use aws_sdk_lambda::operation::put_function_concurrency::PutFunctionConcurrencyOutput;
use aws_sdk_lambda::operation::update_event_source_mapping::UpdateEventSourceMappingOutput;
use aws_sdk_lambda::types::ScalingConfig;
use aws_smithy_mocks::mock;
use cguard_core::model::{ApiKind, ApiTarget, Change, Current, Reservation, Route, Throttle};
use cguard_engine::ports::Actuator;
use serde_json::json;

use crate::common::{Rules, Wire, aws};

const REST_API: &str = "a1b2c3d4e5";
const HTTP_API: &str = "h7k2m9p4q1";
const UUID: &str = "6d9f3e2a-1b4c-4d5e-8f70-112233445566";

fn rest(route: Option<(&str, &str)>) -> ApiTarget {
    ApiTarget {
        kind: ApiKind::Rest,
        api_id: REST_API.into(),
        stage: "prod".into(),
        route: route.map(|(m, p)| Route {
            method: m.into(),
            path: p.into(),
        }),
    }
}

fn http_items() -> ApiTarget {
    ApiTarget {
        kind: ApiKind::Http,
        api_id: HTTP_API.into(),
        stage: "$default".into(),
        route: Some(Route {
            method: "GET".into(),
            path: "/items".into(),
        }),
    }
}

const GUARD: Throttle = Throttle {
    rate: 3.33,
    burst: 4,
};

fn patch(op: Op, path: &str, value: Option<&str>) -> PatchOperation {
    PatchOperation::builder()
        .op(op)
        .path(path)
        .set_value(value.map(str::to_owned))
        .build()
}

#[tokio::test]
async fn a_rest_stage_throttle_replaces_rate_and_burst_under_star_star() {
    // GIVEN API Gateway accepts exactly the two replace operations on `/*/*`
    let update = mock!(aws_sdk_apigateway::Client::update_stage)
        .match_requests(|r| {
            r.rest_api_id() == Some(REST_API)
                && r.stage_name() == Some("prod")
                && r.patch_operations()
                    == [
                        patch(Op::Replace, "/*/*/throttling/rateLimit", Some("3.33")),
                        patch(Op::Replace, "/*/*/throttling/burstLimit", Some("4")),
                    ]
        })
        .then_output(|| UpdateStageOutput::builder().stage_name("prod").build());
    let aws = aws(Rules {
        apigateway: vec![&update],
        ..Default::default()
    });

    // WHEN the whole stage is throttled to 3.33 req/s, burst 4
    aws.apply(&Change::Throttle {
        target: rest(None),
        previous: None,
        new: Some(GUARD),
    })
    .await
    .unwrap();

    // THEN one UpdateStage was sent
    assert_eq!(update.num_calls(), 1);
}

#[tokio::test]
async fn a_rest_method_throttle_patches_the_escaped_method_path() {
    // GIVEN API Gateway accepts the replace operations on `/~1items/GET`
    let update = mock!(aws_sdk_apigateway::Client::update_stage)
        .match_requests(|r| {
            r.patch_operations()
                == [
                    patch(
                        Op::Replace,
                        "/~1items/GET/throttling/rateLimit",
                        Some("3.33"),
                    ),
                    patch(Op::Replace, "/~1items/GET/throttling/burstLimit", Some("4")),
                ]
        })
        .then_output(|| UpdateStageOutput::builder().build());
    let aws = aws(Rules {
        apigateway: vec![&update],
        ..Default::default()
    });

    // WHEN GET /items is throttled
    aws.apply(&Change::Throttle {
        target: rest(Some(("GET", "/items"))),
        previous: None,
        new: Some(GUARD),
    })
    .await
    .unwrap();

    // THEN one UpdateStage was sent
    assert_eq!(update.num_calls(), 1);
}

#[tokio::test]
async fn restoring_no_rest_throttle_removes_the_method_entry_with_one_operation() {
    // GIVEN API Gateway accepts a single remove of `/~1items/GET`
    let update = mock!(aws_sdk_apigateway::Client::update_stage)
        .match_requests(|r| r.patch_operations() == [patch(Op::Remove, "/~1items/GET", None)])
        .then_output(|| UpdateStageOutput::builder().build());
    let wire = Wire::default();
    let aws = aws(Rules {
        apigateway: vec![&update],
        wire: Some(wire.clone()),
        ..Default::default()
    });

    // WHEN the guard's throttle is undone back to "no throttle"
    aws.apply(&Change::Throttle {
        target: rest(Some(("GET", "/items"))),
        previous: Some(GUARD),
        new: None,
    })
    .await
    .unwrap();

    // THEN one PATCH was sent, whose body holds only the remove operation (no value)
    assert_eq!(update.num_calls(), 1);
    let requests = wire.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].0, "PATCH");
    assert!(
        requests[0].1.ends_with("/restapis/a1b2c3d4e5/stages/prod"),
        "{}",
        requests[0].1
    );
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&requests[0].2).unwrap(),
        json!({"patchOperations": [{"op": "remove", "path": "/~1items/GET"}]})
    );
}

#[tokio::test]
async fn an_http_route_throttle_sets_that_routes_settings() {
    // GIVEN apigatewayv2 accepts an UpdateStage carrying RouteSettings for "GET /items" only
    let update = mock!(aws_sdk_apigatewayv2::Client::update_stage)
        .match_requests(|r| {
            let expected = HashMap::from([(
                "GET /items".to_owned(),
                RouteSettings::builder()
                    .throttling_rate_limit(3.33)
                    .throttling_burst_limit(4)
                    .build(),
            )]);
            r.api_id() == Some(HTTP_API)
                && r.stage_name() == Some("$default")
                && r.route_settings() == Some(&expected)
                && r.default_route_settings().is_none()
        })
        .then_output(|| HttpUpdateStageOutput::builder().build());
    let aws = aws(Rules {
        apigatewayv2: vec![&update],
        ..Default::default()
    });

    // WHEN the route is throttled
    aws.apply(&Change::Throttle {
        target: http_items(),
        previous: None,
        new: Some(GUARD),
    })
    .await
    .unwrap();

    // THEN one UpdateStage was sent (and no default-route throttle, which could not be undone)
    assert_eq!(update.num_calls(), 1);
}

#[tokio::test]
async fn restoring_no_http_throttle_deletes_the_route_settings() {
    // GIVEN apigatewayv2 accepts DeleteRouteSettings for "GET /items"
    let delete = mock!(aws_sdk_apigatewayv2::Client::delete_route_settings)
        .match_requests(|r| {
            r.api_id() == Some(HTTP_API)
                && r.stage_name() == Some("$default")
                && r.route_key() == Some("GET /items")
        })
        .then_output(|| DeleteRouteSettingsOutput::builder().build());
    let wire = Wire::default();
    let aws = aws(Rules {
        apigatewayv2: vec![&delete],
        wire: Some(wire.clone()),
        ..Default::default()
    });

    // WHEN the route throttle is undone back to "no throttle"
    aws.apply(&Change::Throttle {
        target: http_items(),
        previous: Some(GUARD),
        new: None,
    })
    .await
    .unwrap();

    // THEN one DELETE was sent, with the route key escaped in the path
    assert_eq!(delete.num_calls(), 1);
    let requests = wire.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].0, "DELETE");
    assert!(
        requests[0]
            .1
            .ends_with("/v2/apis/h7k2m9p4q1/stages/%24default/routesettings/GET%20%2Fitems"),
        "{}",
        requests[0].1
    );
}

#[tokio::test]
async fn an_sqs_limit_sets_maximum_concurrency() {
    // GIVEN Lambda accepts UpdateEventSourceMapping with MaximumConcurrency 100
    let update = mock!(Lambda::update_event_source_mapping)
        .match_requests(|r| {
            r.uuid() == Some(UUID)
                && r.scaling_config()
                    == Some(&ScalingConfig::builder().maximum_concurrency(100).build())
                && r.batch_size().is_none()
                && r.enabled().is_none()
        })
        .then_output(|| UpdateEventSourceMappingOutput::builder().uuid(UUID).build());
    let aws = aws(Rules {
        lambda: vec![&update],
        ..Default::default()
    });

    // WHEN the mapping is limited to 100
    aws.apply(&Change::QueueConcurrency {
        uuid: UUID.into(),
        previous: None,
        new: Some(100),
    })
    .await
    .unwrap();

    // THEN one update was sent, touching nothing but the scaling config
    assert_eq!(update.num_calls(), 1);
}

#[tokio::test]
async fn restoring_no_sqs_maximum_sends_an_empty_scaling_config() {
    // GIVEN Lambda accepts a ScalingConfig without maximum
    let update = mock!(Lambda::update_event_source_mapping)
        .match_requests(|r| {
            r.uuid() == Some(UUID)
                && r.scaling_config()
                    .is_some_and(|s| s.maximum_concurrency().is_none())
        })
        .then_output(|| UpdateEventSourceMappingOutput::builder().uuid(UUID).build());
    let wire = Wire::default();
    let aws = aws(Rules {
        lambda: vec![&update],
        wire: Some(wire.clone()),
        ..Default::default()
    });

    // WHEN the limit is undone back to "no maximum"
    aws.apply(&Change::QueueConcurrency {
        uuid: UUID.into(),
        previous: Some(100),
        new: None,
    })
    .await
    .unwrap();

    // THEN the wire body is `{"ScalingConfig":{}}`: present (so the maximum is removed) and empty
    assert_eq!(update.num_calls(), 1);
    assert_eq!(
        wire.json_bodies("/event-source-mappings/"),
        [json!({"ScalingConfig": {}})]
    );
}

#[tokio::test]
async fn a_reservation_is_put_and_no_reservation_is_deleted_never_put_zero() {
    // GIVEN Lambda accepts PutFunctionConcurrency 100 and DeleteFunctionConcurrency, and would
    // record any PutFunctionConcurrency 0
    let put_100 = mock!(Lambda::put_function_concurrency)
        .match_requests(|r| {
            r.function_name() == Some("orders-api")
                && r.reserved_concurrent_executions() == Some(100)
        })
        .then_output(|| {
            PutFunctionConcurrencyOutput::builder()
                .reserved_concurrent_executions(100)
                .build()
        });
    let put_0 = mock!(Lambda::put_function_concurrency)
        .match_requests(|r| r.reserved_concurrent_executions() == Some(0))
        .then_output(|| {
            PutFunctionConcurrencyOutput::builder()
                .reserved_concurrent_executions(0)
                .build()
        });
    let delete = mock!(Lambda::delete_function_concurrency)
        .match_requests(|r| r.function_name() == Some("orders-api"))
        .then_output(|| DeleteFunctionConcurrencyOutput::builder().build());
    let aws = aws(Rules {
        lambda: vec![&put_100, &put_0, &delete],
        ..Default::default()
    });
    let cap = Change::Reservation {
        function: "orders-api".into(),
        previous: Reservation::Unreserved,
        new: Reservation::Reserved(100),
    };

    // WHEN the cap is applied, then undone
    aws.apply(&cap).await.unwrap();
    aws.apply(&cap.inverse()).await.unwrap();

    // THEN the cap was a Put of 100 and the undo a Delete — never a Put of 0
    assert_eq!(put_100.num_calls(), 1);
    assert_eq!(delete.num_calls(), 1);
    assert_eq!(put_0.num_calls(), 0);
}

#[tokio::test]
async fn the_kill_switch_puts_zero() {
    // GIVEN Lambda accepts PutFunctionConcurrency 0
    let put_0 = mock!(Lambda::put_function_concurrency)
        .match_requests(|r| r.reserved_concurrent_executions() == Some(0))
        .then_output(|| {
            PutFunctionConcurrencyOutput::builder()
                .reserved_concurrent_executions(0)
                .build()
        });
    let aws = aws(Rules {
        lambda: vec![&put_0],
        ..Default::default()
    });

    // WHEN reserved concurrency 0 is applied
    aws.apply(&Change::Reservation {
        function: "orders-api".into(),
        previous: Reservation::Reserved(100),
        new: Reservation::Reserved(0),
    })
    .await
    .unwrap();

    // THEN exactly one Put of 0 was sent
    assert_eq!(put_0.num_calls(), 1);
}

#[tokio::test]
async fn current_values_are_read_back_per_kind() {
    // GIVEN a REST stage throttling GET /items at 3.33/4 (and `*/*` with no throttle), an HTTP
    // stage throttling GET /items at 3.33/4, a mapping limited to 100, and a function without
    // reservation
    let rest_stage = mock!(aws_sdk_apigateway::Client::get_stage)
        .match_requests(|r| r.rest_api_id() == Some(REST_API) && r.stage_name() == Some("prod"))
        .then_output(|| {
            GetStageOutput::builder()
                .stage_name("prod")
                .method_settings(
                    "*/*",
                    MethodSetting::builder()
                        .metrics_enabled(true)
                        .throttling_rate_limit(-1.0)
                        .throttling_burst_limit(-1)
                        .build(),
                )
                .method_settings(
                    "~1items/GET",
                    MethodSetting::builder()
                        .throttling_rate_limit(3.33)
                        .throttling_burst_limit(4)
                        .build(),
                )
                .build()
        });
    let http_stage = mock!(aws_sdk_apigatewayv2::Client::get_stage)
        .match_requests(|r| r.api_id() == Some(HTTP_API) && r.stage_name() == Some("$default"))
        .then_output(|| {
            HttpGetStageOutput::builder()
                .stage_name("$default")
                .route_settings(
                    "GET /items",
                    RouteSettings::builder()
                        .throttling_rate_limit(3.33)
                        .throttling_burst_limit(4)
                        .build(),
                )
                .build()
        });
    let mapping = mock!(Lambda::get_event_source_mapping)
        .match_requests(|r| r.uuid() == Some(UUID))
        .then_output(|| {
            GetEventSourceMappingOutput::builder()
                .uuid(UUID)
                .state("Enabled")
                .scaling_config(ScalingConfig::builder().maximum_concurrency(100).build())
                .build()
        });
    let reservation = mock!(Lambda::get_function_concurrency)
        .then_output(|| GetFunctionConcurrencyOutput::builder().build());
    let aws = aws(Rules {
        lambda: vec![&mapping, &reservation],
        apigateway: vec![&rest_stage],
        apigatewayv2: vec![&http_stage],
        ..Default::default()
    });
    let throttle = |target| Change::Throttle {
        target,
        previous: None,
        new: Some(GUARD),
    };

    // WHEN each change's target is read back
    let method = aws
        .current(&throttle(rest(Some(("GET", "/items")))))
        .await
        .unwrap();
    let stage = aws.current(&throttle(rest(None))).await.unwrap();
    let route = aws.current(&throttle(http_items())).await.unwrap();
    let queue = aws
        .current(&Change::QueueConcurrency {
            uuid: UUID.into(),
            previous: None,
            new: Some(100),
        })
        .await
        .unwrap();
    let function = aws
        .current(&Change::Reservation {
            function: "orders-api".into(),
            previous: Reservation::Unreserved,
            new: Reservation::Reserved(100),
        })
        .await
        .unwrap();

    // THEN each holds what AWS reports; `*/*` with -1 reads as "no throttle"
    assert_eq!(method, Current::Throttle(Some(GUARD)));
    assert_eq!(stage, Current::Throttle(None));
    assert_eq!(route, Current::Throttle(Some(GUARD)));
    assert_eq!(queue, Current::QueueConcurrency(Some(100)));
    assert_eq!(function, Current::Reservation(Reservation::Unreserved));
}
