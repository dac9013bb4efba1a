//! Error classification through real SDK errors: HTTP responses shaped as AWS sends them,
//! deserialised by the SDK, then sorted by `cguard_aws::error::classify` into `ErrorKind`s.

use aws_sdk_lambda::Client as Lambda;
use aws_sdk_lambda::operation::get_account_settings::GetAccountSettingsOutput;
use aws_sdk_lambda::types::AccountLimit;
use aws_smithy_mocks::mock;
use cguard_core::model::{ApiKind, ApiTarget, Change, Reservation, Route, Throttle};
use cguard_engine::ports::{Actuator, ErrorKind, Inventory, Pointers};

use crate::common::{Rules, aws, aws_json, no_retries, rest_json};

const UNRESERVED_MINIMUM: &str = "Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [100].";

fn cap(function: &str, to: u32) -> Change {
    Change::Reservation {
        function: function.into(),
        previous: Reservation::Unreserved,
        new: Reservation::Reserved(to),
    }
}

fn rest_method(api: &str) -> ApiTarget {
    ApiTarget {
        kind: ApiKind::Rest,
        api_id: api.into(),
        stage: "prod".into(),
        route: Some(Route {
            method: "GET".into(),
            path: "/items".into(),
        }),
    }
}

#[tokio::test]
async fn lambda_too_many_requests_is_throttled_after_the_sdk_retries() {
    // GIVEN Lambda answers every PutFunctionConcurrency with its real 429 TooManyRequestsException
    let put = mock!(Lambda::put_function_concurrency).then_http_response(|| {
        let mut r = rest_json(
            429,
            Some("TooManyRequestsException"),
            r#"{"Reason":"CallerRateLimitExceeded","Type":"User","message":"Rate exceeded"}"#,
        );
        r.headers_mut().insert("Retry-After", "1");
        r
    });
    let aws = aws(Rules {
        lambda: vec![&put],
        ..Default::default()
    });

    // WHEN the guard caps a function
    let err = aws.apply(&cap("orders-api", 100)).await.unwrap_err();

    // THEN it is Throttled, named after the operation, after the SDK's 3 standard attempts
    assert_eq!(err.kind, ErrorKind::Throttled, "{err}");
    assert_eq!(err.operation, "lambda:PutFunctionConcurrency");
    assert!(err.message.contains("Rate exceeded"), "{}", err.message);
    assert_eq!(put.num_calls(), 3, "standard retry: 3 attempts");
}

#[tokio::test]
async fn throttling_exception_code_on_a_400_is_throttled() {
    // GIVEN a 400 whose error code is ThrottlingException (the code wins over the status)
    let settings = mock!(Lambda::get_account_settings).then_http_response(|| {
        rest_json(
            400,
            Some("ThrottlingException"),
            r#"{"message":"Rate exceeded"}"#,
        )
    });
    let aws = aws(Rules {
        lambda: vec![&settings],
        retry: Some(no_retries()),
        ..Default::default()
    });

    // WHEN the account settings are read (one attempt configured)
    let err = aws.account().await.unwrap_err();

    // THEN the error is Throttled, not Rejected, and exactly one request was sent
    assert_eq!(err.kind, ErrorKind::Throttled, "{err}");
    assert_eq!(err.operation, "lambda:GetAccountSettings");
    assert_eq!(settings.num_calls(), 1);
}

#[tokio::test]
async fn a_throttle_that_clears_within_the_sdk_retries_is_not_an_error() {
    // GIVEN two throttled answers, then the real settings
    let settings = mock!(Lambda::get_account_settings)
        .sequence()
        .http_response(|| {
            rest_json(
                429,
                Some("TooManyRequestsException"),
                r#"{"Reason":"CallerRateLimitExceeded","Type":"User","message":"Rate exceeded"}"#,
            )
        })
        .times(2)
        .output(|| {
            GetAccountSettingsOutput::builder()
                .account_limit(
                    AccountLimit::builder()
                        .concurrent_executions(1000)
                        .unreserved_concurrent_executions(850)
                        .build(),
                )
                .build()
        })
        .build();
    let aws = aws(Rules {
        lambda: vec![&settings],
        ..Default::default()
    });

    // WHEN the account settings are read
    let account = aws.account().await.expect("the SDK retries throttling");

    // THEN the third attempt's answer is returned
    assert_eq!(account.limit, Some(1000));
    assert_eq!(settings.num_calls(), 3);
}

#[tokio::test]
async fn access_denied_is_denied_and_not_retried() {
    // GIVEN the guard's role may not call PutFunctionConcurrency
    let put = mock!(Lambda::put_function_concurrency).then_http_response(|| {
        rest_json(
            403,
            Some("AccessDeniedException"),
            r#"{"Message":"User: arn:aws:sts::123456789012:assumed-role/concurrency-guard/remediator is not authorized to perform: lambda:PutFunctionConcurrency on resource: arn:aws:lambda:us-east-1:123456789012:function:orders-api because no identity-based policy allows the lambda:PutFunctionConcurrency action"}"#,
        )
    });
    let aws = aws(Rules {
        lambda: vec![&put],
        ..Default::default()
    });

    // WHEN the guard caps the function
    let err = aws.apply(&cap("orders-api", 100)).await.unwrap_err();

    // THEN the error is Denied, carries AWS's explanation, and was not retried
    assert_eq!(err.kind, ErrorKind::Denied, "{err}");
    assert!(err.message.contains("not authorized"), "{}", err.message);
    assert_eq!(put.num_calls(), 1);
}

#[tokio::test]
async fn resource_not_found_is_not_found() {
    // GIVEN the function was deleted
    let delete = mock!(Lambda::delete_function_concurrency).then_http_response(|| {
        rest_json(
            404,
            Some("ResourceNotFoundException"),
            r#"{"Type":"User","Message":"Function not found: arn:aws:lambda:us-east-1:123456789012:function:orders-api"}"#,
        )
    });
    let aws = aws(Rules {
        lambda: vec![&delete],
        ..Default::default()
    });

    // WHEN its reservation is removed (a restore)
    let err = aws
        .apply(&Change::Reservation {
            function: "orders-api".into(),
            previous: Reservation::Reserved(100),
            new: Reservation::Unreserved,
        })
        .await
        .unwrap_err();

    // THEN the error is NotFound from DeleteFunctionConcurrency, not retried
    assert_eq!(err.kind, ErrorKind::NotFound, "{err}");
    assert_eq!(err.operation, "lambda:DeleteFunctionConcurrency");
    assert_eq!(delete.num_calls(), 1);
}

#[tokio::test]
async fn the_unreserved_minimum_check_is_rejected_with_aws_message() {
    // GIVEN Lambda refuses the reservation because of the account's unreserved minimum
    let put = mock!(Lambda::put_function_concurrency).then_http_response(|| {
        rest_json(
            400,
            Some("InvalidParameterValueException"),
            &format!(r#"{{"Type":"User","message":"{UNRESERVED_MINIMUM}"}}"#),
        )
    });
    let aws = aws(Rules {
        lambda: vec![&put],
        ..Default::default()
    });

    // WHEN the guard caps the function
    let err = aws.apply(&cap("orders-api", 900)).await.unwrap_err();

    // THEN the error says so in its kind (the request must change), with AWS's message, not
    // retried
    assert_eq!(err.kind, ErrorKind::BelowUnreservedMinimum, "{err}");
    assert!(
        err.message.contains("below its minimum value of [100]"),
        "{}",
        err.message
    );
    assert_eq!(put.num_calls(), 1);
}

#[tokio::test]
async fn a_500_is_unavailable_after_the_sdk_retries() {
    // GIVEN Lambda fails with its 500 ServiceException
    let put = mock!(Lambda::put_function_concurrency).then_http_response(|| {
        rest_json(
            500,
            Some("ServiceException"),
            r#"{"Type":"Service","message":"An internal error occurred."}"#,
        )
    });
    let aws = aws(Rules {
        lambda: vec![&put],
        ..Default::default()
    });

    // WHEN the guard caps the function
    let err = aws.apply(&cap("orders-api", 100)).await.unwrap_err();

    // THEN the error is Unavailable (transient) after 3 attempts
    assert_eq!(err.kind, ErrorKind::Unavailable, "{err}");
    assert_eq!(put.num_calls(), 3);
}

#[tokio::test]
async fn a_500_with_retries_disabled_is_sent_once() {
    // GIVEN the same 500, and a client configured for a single attempt
    let put = mock!(Lambda::put_function_concurrency)
        .then_http_response(|| rest_json(500, Some("ServiceException"), r#"{"Type":"Service"}"#));
    let aws = aws(Rules {
        lambda: vec![&put],
        retry: Some(no_retries()),
        ..Default::default()
    });

    // WHEN the guard caps the function
    let err = aws.apply(&cap("orders-api", 100)).await.unwrap_err();

    // THEN still Unavailable, after exactly one request
    assert_eq!(err.kind, ErrorKind::Unavailable);
    assert_eq!(put.num_calls(), 1);
}

#[tokio::test]
async fn api_gateway_not_found_with_a_namespaced_error_type_is_not_found() {
    // GIVEN API Gateway's real NotFoundException header, namespaced after a colon
    let get = mock!(aws_sdk_apigateway::Client::get_stage).then_http_response(|| {
        rest_json(
            404,
            Some("NotFoundException:http://internal.amazon.com/coral/com.amazon.backplane.controlplane/"),
            r#"{"message":"Invalid stage identifier specified"}"#,
        )
    });
    let aws = aws(Rules {
        apigateway: vec![&get],
        ..Default::default()
    });

    // WHEN the current throttle of a method is read back
    let err = aws
        .current(&Change::Throttle {
            target: rest_method("a1b2c3d4e5"),
            previous: None,
            new: Some(Throttle {
                rate: 3.33,
                burst: 4,
            }),
        })
        .await
        .unwrap_err();

    // THEN the error is NotFound from apigateway:GetStage
    assert_eq!(err.kind, ErrorKind::NotFound, "{err}");
    assert_eq!(err.operation, "apigateway:GetStage");
    assert_eq!(get.num_calls(), 1);
}

#[tokio::test]
async fn api_gateway_limit_exceeded_429_is_throttled_by_its_status() {
    // GIVEN API Gateway's 429 LimitExceededException (a code the classifier does not list)
    let update = mock!(aws_sdk_apigateway::Client::update_stage).then_http_response(|| {
        rest_json(
            429,
            Some("LimitExceededException"),
            r#"{"message":"Too Many Requests"}"#,
        )
    });
    let aws = aws(Rules {
        apigateway: vec![&update],
        retry: Some(no_retries()),
        ..Default::default()
    });

    // WHEN a method throttle is set
    let err = aws
        .apply(&Change::Throttle {
            target: rest_method("a1b2c3d4e5"),
            previous: None,
            new: Some(Throttle {
                rate: 3.33,
                burst: 4,
            }),
        })
        .await
        .unwrap_err();

    // THEN the 429 status makes it Throttled
    assert_eq!(err.kind, ErrorKind::Throttled, "{err}");
    assert_eq!(err.operation, "apigateway:UpdateStage");
}

#[tokio::test]
async fn tagging_throttled_exception_is_throttled() {
    // GIVEN the Resource Groups Tagging API's real throttling error: 400 ThrottledException
    let get =
        mock!(aws_sdk_resourcegroupstagging::Client::get_resources).then_http_response(|| {
            aws_json(
                400,
                r#"{"__type":"ThrottledException","Message":"Rate exceeded"}"#,
            )
        });
    let aws = aws(Rules {
        tagging: vec![&get],
        retry: Some(no_retries()),
        ..Default::default()
    });

    // WHEN the incident pointers are listed
    let err = aws.pointers().await.unwrap_err();

    // THEN it is Throttled (retry later), not Rejected (change the request)
    assert_eq!(err.operation, "tag:GetResources");
    assert_eq!(err.kind, ErrorKind::Throttled, "{err}");
}

#[tokio::test]
async fn a_conflict_while_the_function_is_updating_is_transient_not_rejected() {
    // GIVEN Lambda answers 409 ResourceConflictException while a deployment updates the function
    let put = mock!(Lambda::put_function_concurrency).then_http_response(|| {
        rest_json(
            409,
            Some("ResourceConflictException"),
            r#"{"Type":"User","message":"The operation cannot be performed at this time. An update is in progress for resource: arn:aws:lambda:us-east-1:123456789012:function:orders-api"}"#,
        )
    });
    let aws = aws(Rules {
        lambda: vec![&put],
        ..Default::default()
    });

    // WHEN the guard caps the function
    let err = aws.apply(&cap("orders-api", 100)).await.unwrap_err();

    // THEN the error is not Rejected: the same request succeeds once the update is over
    assert_eq!(err.kind, ErrorKind::Unavailable, "{err}");
}
