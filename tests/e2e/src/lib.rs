//! A lab account in the local stand-in (moto behind the CBOR proxy): functions, APIs, queues
//! and CloudWatch metrics shaped like a real incident. Used by the end-to-end tests and the demo.
//!
//! Each test works in its own region, so tests share one stand-in without seeing each other.
//! [`Lab`] holds the clients and reads the lab back; `incident` (re-exported here) seeds it.

use std::collections::{BTreeMap, HashMap};

use anyhow::{Context, Result, bail};
use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StateValue};
use cguard_core::config::Policy;
use cguard_core::record::{ClosedRecord, Record};
use cguard_engine::Guard;
use cguard_engine::ports::Ledger;
use chrono::{DateTime, Utc};

mod incident;

pub use incident::*;

pub const ACCOUNT: &str = "123456789012";
const ROLE: &str = "cguard-lab-function";

/// Clients for one region of the stand-in.
#[derive(Debug, Clone)]
pub struct Lab {
    pub region: String,
    pub config: aws_config::SdkConfig,
    pub lambda: aws_sdk_lambda::Client,
    pub apigateway: aws_sdk_apigateway::Client,
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    pub sqs: aws_sdk_sqs::Client,
    role_arn: String,
}

impl Lab {
    /// Connects to the stand-in started by `scripts/test` or `scripts/demo` (which export
    /// `AWS_ENDPOINT_URL` and `CGUARD_STANDIN=1`). Refuses to run against anything else.
    pub async fn new(region: &str) -> Result<Self> {
        if std::env::var("CGUARD_STANDIN").as_deref() != Ok("1") {
            bail!(
                "no local AWS stand-in: run these through scripts/test (it starts moto on loopback)"
            );
        }
        let endpoint = std::env::var("AWS_ENDPOINT_URL").context("AWS_ENDPOINT_URL")?;
        if !endpoint.starts_with("http://127.0.0.1:") {
            bail!("refusing a non-loopback endpoint {endpoint}");
        }
        let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new(region.to_owned()))
            .load()
            .await;
        let iam = aws_sdk_iam::Client::new(&config);
        let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
        let role_arn = match iam
            .create_role()
            .role_name(ROLE)
            .assume_role_policy_document(policy)
            .send()
            .await
        {
            Ok(out) => out.role().map(|r| r.arn().to_owned()).context("role ARN")?,
            // IAM is global: another test created it first.
            Err(_) => format!("arn:aws:iam::{ACCOUNT}:role/{ROLE}"),
        };
        // The guard's ledger in this region, as `cguard init` creates it (moto keeps DynamoDB
        // per region, like AWS).
        cguard_aws::Aws::new(&config)
            .init_ledger()
            .await
            .context("creating the ledger table")?;
        Ok(Self {
            region: region.to_owned(),
            lambda: aws_sdk_lambda::Client::new(&config),
            apigateway: aws_sdk_apigateway::Client::new(&config),
            cloudwatch: aws_sdk_cloudwatch::Client::new(&config),
            sqs: aws_sdk_sqs::Client::new(&config),
            config,
            role_arn,
        })
    }

    /// The guard for this region: the real adapters as deployed (Metrics Insights first, which
    /// the stand-in's proxy answers), with `policy`.
    pub fn guard(&self, policy: Policy) -> Guard<cguard_aws::Aws> {
        let aws = cguard_aws::Aws::new(&self.config).with_metrics_insights(true);
        Guard::new(aws, policy)
    }

    /// `function`'s open record in the guard's ledger.
    pub async fn record(&self, function: &str) -> Result<Option<Record>> {
        let aws = cguard_aws::Aws::new(&self.config);
        Ok(aws.open_record(function).await?)
    }

    /// The ledger's closed records.
    pub async fn history(&self) -> Result<Vec<ClosedRecord>> {
        let aws = cguard_aws::Aws::new(&self.config);
        Ok(aws.history(DateTime::UNIX_EPOCH).await?)
    }

    /// A function with a placeholder package: the stand-in never runs it and does not unpack it.
    pub async fn function(&self, name: &str, tags: &[(&str, &str)]) -> Result<String> {
        let out = self
            .lambda
            .create_function()
            .function_name(name)
            .runtime(aws_sdk_lambda::types::Runtime::Providedal2023)
            .role(&self.role_arn)
            .handler("bootstrap")
            .code(
                aws_sdk_lambda::types::FunctionCode::builder()
                    .zip_file(b"placeholder".to_vec().into())
                    .build(),
            )
            .set_tags(Some(
                tags.iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect::<HashMap<_, _>>(),
            ))
            .send()
            .await
            .with_context(|| format!("create function {name}"))?;
        Ok(out.function_arn().context("function ARN")?.to_owned())
    }

    /// A REST API with `METHOD path` proxied to the function, deployed to `stage`, and the
    /// resource-policy statement API Gateway gets (`SourceArn` with a wildcard stage).
    pub async fn rest_api(
        &self,
        function: &str,
        function_arn: &str,
        stage: &str,
        method: &str,
        path: &str,
    ) -> Result<String> {
        let api = self
            .apigateway
            .create_rest_api()
            .name(format!("{function}-api"))
            .send()
            .await?;
        let api_id = api.id().context("api id")?.to_owned();
        let resources = self
            .apigateway
            .get_resources()
            .rest_api_id(&api_id)
            .send()
            .await?;
        let root = resources
            .items()
            .iter()
            .find(|r| r.path() == Some("/"))
            .and_then(|r| r.id())
            .context("root")?;
        let resource = self
            .apigateway
            .create_resource()
            .rest_api_id(&api_id)
            .parent_id(root)
            .path_part(path.trim_start_matches('/'))
            .send()
            .await?;
        let resource_id = resource.id().context("resource id")?;
        self.apigateway
            .put_method()
            .rest_api_id(&api_id)
            .resource_id(resource_id)
            .http_method(method)
            .authorization_type("NONE")
            .send()
            .await?;
        self.apigateway
            .put_integration()
            .rest_api_id(&api_id)
            .resource_id(resource_id)
            .http_method(method)
            .r#type(aws_sdk_apigateway::types::IntegrationType::AwsProxy)
            .integration_http_method("POST")
            .uri(format!(
                "arn:aws:apigateway:{}:lambda:path/2015-03-31/functions/{function_arn}/invocations",
                self.region
            ))
            .send()
            .await?;
        self.apigateway
            .create_deployment()
            .rest_api_id(&api_id)
            .stage_name(stage)
            .send()
            .await?;
        self.lambda
            .add_permission()
            .function_name(function)
            .statement_id("apigateway-invoke")
            .action("lambda:InvokeFunction")
            .principal("apigateway.amazonaws.com")
            .source_arn(format!(
                "arn:aws:execute-api:{}:{ACCOUNT}:{api_id}/*/{method}{path}",
                self.region
            ))
            .send()
            .await?;
        Ok(api_id)
    }

    /// An SQS queue feeding the function through an event source mapping.
    pub async fn queue_mapping(&self, function: &str) -> Result<String> {
        let queue = self
            .sqs
            .create_queue()
            .queue_name(format!("{function}-queue"))
            .send()
            .await?;
        let url = queue.queue_url().context("queue url")?;
        let attrs = self
            .sqs
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
            .send()
            .await?;
        let arn = attrs
            .attributes()
            .and_then(|a| a.get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn))
            .context("queue arn")?;
        let mapping = self
            .lambda
            .create_event_source_mapping()
            .function_name(function)
            .event_source_arn(arn)
            .batch_size(10)
            .send()
            .await?;
        Ok(mapping.uuid().context("uuid")?.to_owned())
    }

    /// Seeds one function's Lambda metrics for each minute in `minutes`.
    pub async fn function_metrics(
        &self,
        function: &str,
        minutes: &[DateTime<Utc>],
        load: Load,
    ) -> Result<()> {
        let dims = [("FunctionName", function)];
        let mut data = Vec::new();
        for t in minutes {
            data.push(datum("ConcurrentExecutions", &dims, *t, load.concurrency));
            data.push(datum("Invocations", &dims, *t, load.per_second * 60.0));
            data.push(datum("Duration", &dims, *t, load.duration_ms));
            data.push(datum("Throttles", &dims, *t, load.throttles));
        }
        self.put(data).await
    }

    /// Seeds the account-level `ConcurrentExecutions`.
    /// The account's `ConcurrentExecutions`; at 800 or more the stack's account alarm fires,
    /// as CloudWatch would make it (the stand-in evaluates no alarm itself).
    pub async fn account_metrics(&self, minutes: &[DateTime<Utc>], concurrency: f64) -> Result<()> {
        self.put(
            minutes
                .iter()
                .map(|t| datum("ConcurrentExecutions", &[], *t, concurrency))
                .collect(),
        )
        .await?;
        if concurrency >= 800.0 {
            self.alarm_fires(&ACCOUNT_ALARM).await?;
        }
        Ok(())
    }

    /// The alarm goes back to OK, as CloudWatch sets it once its metric recovers.
    pub async fn alarm_recovers(&self, alarm: &AlarmDefinition) -> Result<()> {
        self.cloudwatch
            .set_alarm_state()
            .alarm_name(alarm.name)
            .state_value(StateValue::Ok)
            .state_reason("Threshold no longer crossed (seeded by the lab)")
            .send()
            .await
            .context("SetAlarmState")?;
        Ok(())
    }

    /// Defines `alarm` as the template does and puts it in ALARM now: what CloudWatch does
    /// when its metric breaches, and what the guard then confirms before acting.
    pub async fn alarm_fires(&self, alarm: &AlarmDefinition) -> Result<()> {
        self.cloudwatch
            .put_metric_alarm()
            .alarm_name(alarm.name)
            .namespace("AWS/Lambda")
            .metric_name(alarm.metric)
            .set_dimensions(
                alarm
                    .function
                    .map(|f| vec![Dimension::builder().name("FunctionName").value(f).build()]),
            )
            .statistic(alarm.statistic.clone())
            .period(60)
            .evaluation_periods(alarm.periods)
            .datapoints_to_alarm(1)
            .threshold(alarm.threshold)
            .comparison_operator(alarm.comparison.clone())
            .send()
            .await
            .context("PutMetricAlarm")?;
        self.cloudwatch
            .set_alarm_state()
            .alarm_name(alarm.name)
            .state_value(StateValue::Alarm)
            .state_reason("Threshold Crossed (seeded by the lab)")
            .send()
            .await
            .context("SetAlarmState")?;
        Ok(())
    }

    async fn put(&self, data: Vec<MetricDatum>) -> Result<()> {
        for chunk in data.chunks(500) {
            self.cloudwatch
                .put_metric_data()
                .namespace("AWS/Lambda")
                .set_metric_data(Some(chunk.to_vec()))
                .send()
                .await
                .context("PutMetricData")?;
        }
        Ok(())
    }

    /// What the guard could change on a function: its reservation and tags.
    pub async fn reservation(&self, function: &str) -> Result<Option<i32>> {
        let out = self
            .lambda
            .get_function_concurrency()
            .function_name(function)
            .send()
            .await?;
        Ok(out.reserved_concurrent_executions())
    }

    pub async fn tags(&self, function: &str) -> Result<BTreeMap<String, String>> {
        let out = self
            .lambda
            .get_function()
            .function_name(function)
            .send()
            .await?;
        Ok(out
            .tags()
            .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default())
    }

    /// `methodSettings` of a REST stage as `key → (rate, burst)`.
    pub async fn stage_throttles(
        &self,
        api_id: &str,
        stage: &str,
    ) -> Result<BTreeMap<String, (f64, i32)>> {
        let out = self
            .apigateway
            .get_stage()
            .rest_api_id(api_id)
            .stage_name(stage)
            .send()
            .await?;
        Ok(out
            .method_settings()
            .map(|m| {
                m.iter()
                    .map(|(k, s)| {
                        (
                            k.clone(),
                            (s.throttling_rate_limit(), s.throttling_burst_limit()),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default())
    }

    pub async fn maximum_concurrency(&self, uuid: &str) -> Result<Option<i32>> {
        let out = self
            .lambda
            .get_event_source_mapping()
            .uuid(uuid)
            .send()
            .await?;
        Ok(out.scaling_config().and_then(|s| s.maximum_concurrency()))
    }
}
