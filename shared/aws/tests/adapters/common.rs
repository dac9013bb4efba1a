//! Shared fixtures: an [`Aws`] built from `aws-smithy-mocks` clients, real error responses,
//! and a wire recorder that shows what the SDK actually serialised.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_smithy_mocks::{Rule, RuleMode, mock_client};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::config_bag::ConfigBag;
use aws_smithy_types::retry::RetryConfig;
use cguard_aws::{Aws, Clients};

pub const REGION: &str = "us-east-1";
pub const ACCOUNT: &str = "123456789012";
/// The ledger's table in every test (not the default: the name must reach each request).
pub const TABLE: &str = "cguard-test-ledger";

pub fn function_arn(name: &str) -> String {
    format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}")
}

/// The SDK's standard retry (3 attempts, as in production) without the real back-off delays.
pub fn standard_retries() -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(3)
        .with_initial_backoff(Duration::from_millis(1))
        .with_max_backoff(Duration::from_millis(2))
}

/// One attempt: for tests that look at a single response.
pub fn no_retries() -> RetryConfig {
    RetryConfig::standard().with_max_attempts(1)
}

/// Records the method, URI and body of every request as it leaves the SDK.
#[derive(Debug, Clone, Default)]
pub struct Wire(Arc<Mutex<Vec<(String, String, String)>>>);

impl Wire {
    pub fn requests(&self) -> Vec<(String, String, String)> {
        self.0.lock().unwrap().clone()
    }

    /// The bodies of requests whose URI contains `uri_part`, parsed as JSON.
    pub fn json_bodies(&self, uri_part: &str) -> Vec<serde_json::Value> {
        self.requests()
            .into_iter()
            .filter(|(_, uri, _)| uri.contains(uri_part))
            .map(|(_, _, body)| serde_json::from_str(&body).expect("a JSON request body"))
            .collect()
    }
}

impl Intercept for Wire {
    fn name(&self) -> &'static str {
        "Wire"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let request = context.request();
        let body = request
            .body()
            .bytes()
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .unwrap_or_default();
        self.0
            .lock()
            .unwrap()
            .push((request.method().to_owned(), request.uri().to_owned(), body));
        Ok(())
    }
}

/// The rules each service's client answers with. A request no rule matches panics (the
/// mocks' `must_match`), so an unexpected call fails the test.
#[derive(Default)]
pub struct Rules<'a> {
    pub lambda: Vec<&'a Rule>,
    pub apigateway: Vec<&'a Rule>,
    pub apigatewayv2: Vec<&'a Rule>,
    pub cloudwatch: Vec<&'a Rule>,
    pub tagging: Vec<&'a Rule>,
    pub dynamodb: Vec<&'a Rule>,
    /// Defaults to [`standard_retries`].
    pub retry: Option<RetryConfig>,
    pub wire: Option<Wire>,
}

pub fn aws(rules: Rules<'_>) -> Aws {
    let retry = rules.retry.unwrap_or_else(standard_retries);
    let wire = rules.wire.unwrap_or_default();
    Aws::from_clients(Clients {
        lambda: mock_client!(aws_sdk_lambda, RuleMode::MatchAny, rules.lambda, |c| c
            .retry_config(retry.clone())
            .interceptor(wire.clone())),
        apigateway: mock_client!(
            aws_sdk_apigateway,
            RuleMode::MatchAny,
            rules.apigateway,
            |c| c.retry_config(retry.clone()).interceptor(wire.clone())
        ),
        apigatewayv2: mock_client!(
            aws_sdk_apigatewayv2,
            RuleMode::MatchAny,
            rules.apigatewayv2,
            |c| c.retry_config(retry.clone()).interceptor(wire.clone())
        ),
        cloudwatch: mock_client!(
            aws_sdk_cloudwatch,
            RuleMode::MatchAny,
            rules.cloudwatch,
            |c| c.retry_config(retry.clone()).interceptor(wire.clone())
        ),
        tagging: mock_client!(
            aws_sdk_resourcegroupstagging,
            RuleMode::MatchAny,
            rules.tagging,
            |c| c.retry_config(retry.clone()).interceptor(wire.clone())
        ),
        dynamodb: mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, rules.dynamodb, |c| c
            .retry_config(retry.clone())
            .interceptor(wire.clone())),
    })
    .with_ledger_table(TABLE)
}

/// A response as a REST-JSON service (Lambda, API Gateway) sends it: the error type in the
/// `x-amzn-ErrorType` header, the message in the body.
pub fn rest_json(status: u16, error_type: Option<&str>, body: &str) -> HttpResponse {
    let mut response = HttpResponse::new(
        StatusCode::try_from(status).expect("a valid status"),
        SdkBody::from(body.to_owned()),
    );
    response
        .headers_mut()
        .insert("content-type", "application/json");
    response
        .headers_mut()
        .insert("x-amzn-RequestId", "8f2c1d4e-3b5a-4c6d-9e8f-0a1b2c3d4e5f");
    if let Some(t) = error_type {
        response
            .headers_mut()
            .insert("x-amzn-ErrorType", t.to_owned());
    }
    response
}

/// A response as an AWS JSON 1.1 service (Resource Groups Tagging) sends it: `__type` in the body.
pub fn aws_json(status: u16, body: &str) -> HttpResponse {
    let mut response = HttpResponse::new(
        StatusCode::try_from(status).expect("a valid status"),
        SdkBody::from(body.to_owned()),
    );
    response
        .headers_mut()
        .insert("content-type", "application/x-amz-json-1.1");
    response
}

/// A response as DynamoDB (AWS JSON 1.0) sends it: the namespaced `__type` in the body.
pub fn dynamodb_json(status: u16, body: &str) -> HttpResponse {
    let mut response = HttpResponse::new(
        StatusCode::try_from(status).expect("a valid status"),
        SdkBody::from(body.to_owned()),
    );
    response
        .headers_mut()
        .insert("content-type", "application/x-amz-json-1.0");
    response
}

/// DynamoDB's answer to a write whose condition did not hold.
pub fn conditional_check_failed() -> HttpResponse {
    dynamodb_json(
        400,
        r#"{"__type":"com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException","message":"The conditional request failed"}"#,
    )
}

/// `GetAccountSettings`: the account's limit, and how much of it is unreserved.
pub fn account_settings(limit: i32, unreserved: i32) -> Rule {
    aws_smithy_mocks::mock!(aws_sdk_lambda::Client::get_account_settings).then_output(move || {
        aws_sdk_lambda::operation::get_account_settings::GetAccountSettingsOutput::builder()
            .account_limit(
                aws_sdk_lambda::types::AccountLimit::builder()
                    .concurrent_executions(limit)
                    .unreserved_concurrent_executions(unreserved)
                    .build(),
            )
            .build()
    })
}

/// `GetFunctionConcurrency` for a function without a reservation.
pub fn unreserved() -> Rule {
    aws_smithy_mocks::mock!(aws_sdk_lambda::Client::get_function_concurrency).then_output(|| {
        aws_sdk_lambda::operation::get_function_concurrency::GetFunctionConcurrencyOutput::builder()
            .build()
    })
}

/// `GetPolicy` for a function without a resource policy: Lambda answers 404.
pub fn no_policy() -> Rule {
    aws_smithy_mocks::mock!(aws_sdk_lambda::Client::get_policy).then_http_response(|| {
        rest_json(
            404,
            Some("ResourceNotFoundException"),
            r#"{"Type":"User","Message":"The resource you requested does not exist."}"#,
        )
    })
}
