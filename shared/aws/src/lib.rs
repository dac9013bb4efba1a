//! Concurrency Guard's AWS adapters: the `cguard_engine::ports` implemented with the AWS SDK.
//!
//! One [`Aws`] value holds the clients (built once, at start-up, by [`connect`]) and implements
//! every port. Each module covers one service; the ledger is the guard's own DynamoDB table
//! (created by [`Aws::init_ledger`]); [`error`] sorts SDK failures by what the caller does next.

mod alarms;
mod apigateway;
mod cloudwatch;
pub mod error;
mod history;
mod lambda;
mod ledger;
pub mod notify;
mod posture;

use aws_config::SdkConfig;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use cguard_core::config::{DEFAULT_LEDGER_TABLE, Settings};
use cguard_core::model::{Change, Current};
use cguard_engine::ports::{Actuator, PortResult};

pub use crate::ledger::{LedgerInit, LedgerTable};
use crate::notify::ReportTopic;

/// How many AWS reads run at once (GetMetricData batches, per-offender reads).
pub const READ_CONCURRENCY: usize = 4;

/// The SDK clients the guard uses, one per service.
#[derive(Debug, Clone)]
pub struct Clients {
    pub lambda: aws_sdk_lambda::Client,
    pub apigateway: aws_sdk_apigateway::Client,
    pub apigatewayv2: aws_sdk_apigatewayv2::Client,
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    pub tagging: aws_sdk_resourcegroupstagging::Client,
    pub dynamodb: aws_sdk_dynamodb::Client,
}

/// The adapter: the clients, the ledger's table, and whether to rank with Metrics Insights.
#[derive(Debug, Clone)]
pub struct Aws {
    lambda: aws_sdk_lambda::Client,
    apigateway: aws_sdk_apigateway::Client,
    apigatewayv2: aws_sdk_apigatewayv2::Client,
    cloudwatch: aws_sdk_cloudwatch::Client,
    tagging: aws_sdk_resourcegroupstagging::Client,
    dynamodb: aws_sdk_dynamodb::Client,
    /// The guard's ledger: a DynamoDB table only the guard's roles write.
    ledger_table: String,
    /// Rank with one Metrics Insights query before falling back to batched `GetMetricData`.
    metrics_insights: bool,
}

/// Builds what the functions and the CLI need from the standard AWS configuration chain
/// (`AWS_REGION`, `AWS_ENDPOINT_URL`, profiles, the Lambda role): the adapter and, when
/// `CGUARD_REPORT_TOPIC_ARN` is set, the report topic. Credentials are resolved lazily, on the
/// first call: nothing is fetched before the first event.
pub async fn connect(settings: &Settings) -> (Aws, Option<ReportTopic>) {
    let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let aws = Aws::new(&config)
        .with_metrics_insights(settings.metrics_insights)
        .with_ledger_table(settings.ledger_table.clone());
    let topic = settings
        .report_topic_arn
        .as_ref()
        .map(|arn| ReportTopic::new(&config, arn.clone()));
    (aws, topic)
}

impl Aws {
    pub fn new(config: &SdkConfig) -> Self {
        Self::from_clients(Clients {
            lambda: aws_sdk_lambda::Client::new(config),
            apigateway: aws_sdk_apigateway::Client::new(config),
            apigatewayv2: aws_sdk_apigatewayv2::Client::new(config),
            cloudwatch: aws_sdk_cloudwatch::Client::new(config),
            tagging: aws_sdk_resourcegroupstagging::Client::new(config),
            dynamodb: aws_sdk_dynamodb::Client::new(config),
        })
    }

    /// Clients built elsewhere (smithy mocks in tests), Metrics Insights off, the ledger in
    /// [`DEFAULT_LEDGER_TABLE`].
    pub fn from_clients(clients: Clients) -> Self {
        Self {
            lambda: clients.lambda,
            apigateway: clients.apigateway,
            apigatewayv2: clients.apigatewayv2,
            cloudwatch: clients.cloudwatch,
            tagging: clients.tagging,
            dynamodb: clients.dynamodb,
            ledger_table: DEFAULT_LEDGER_TABLE.to_owned(),
            metrics_insights: false,
        }
    }

    /// Rank with Metrics Insights first (`CGUARD_METRICS_INSIGHTS`).
    pub fn with_metrics_insights(mut self, on: bool) -> Self {
        self.metrics_insights = on;
        self
    }

    /// The ledger's table (`CGUARD_LEDGER_TABLE`).
    pub fn with_ledger_table(mut self, table: impl Into<String>) -> Self {
        self.ledger_table = table.into();
        self
    }

    pub fn ledger_table(&self) -> &str {
        &self.ledger_table
    }

    /// Every client with `interceptor` added (e.g. to count calls), otherwise unchanged.
    pub fn with_interceptor(mut self, interceptor: impl Intercept + Clone + 'static) -> Self {
        let i = interceptor;
        self.lambda = aws_sdk_lambda::Client::from_conf(
            self.lambda
                .config()
                .to_builder()
                .interceptor(i.clone())
                .build(),
        );
        self.apigateway = aws_sdk_apigateway::Client::from_conf(
            self.apigateway
                .config()
                .to_builder()
                .interceptor(i.clone())
                .build(),
        );
        self.apigatewayv2 = aws_sdk_apigatewayv2::Client::from_conf(
            self.apigatewayv2
                .config()
                .to_builder()
                .interceptor(i.clone())
                .build(),
        );
        self.cloudwatch = aws_sdk_cloudwatch::Client::from_conf(
            self.cloudwatch
                .config()
                .to_builder()
                .interceptor(i.clone())
                .build(),
        );
        self.tagging = aws_sdk_resourcegroupstagging::Client::from_conf(
            self.tagging
                .config()
                .to_builder()
                .interceptor(i.clone())
                .build(),
        );
        self.dynamodb = aws_sdk_dynamodb::Client::from_conf(
            self.dynamodb.config().to_builder().interceptor(i).build(),
        );
        self
    }
}

impl Actuator for Aws {
    async fn apply(&self, change: &Change) -> PortResult<()> {
        match change {
            Change::Throttle { target, new, .. } => self.set_throttle(target, *new).await,
            Change::QueueConcurrency { uuid, new, .. } => {
                self.set_queue_concurrency(uuid, *new).await
            }
            Change::Reservation { function, new, .. } => self.set_reservation(function, *new).await,
        }
    }

    async fn current(&self, change: &Change) -> PortResult<Current> {
        Ok(match change {
            Change::Throttle { target, .. } => Current::Throttle(self.throttle(target).await?),
            Change::QueueConcurrency { uuid, .. } => {
                Current::QueueConcurrency(self.queue_concurrency(uuid).await?)
            }
            Change::Reservation { function, .. } => {
                Current::Reservation(self.reservation(function).await?)
            }
        })
    }
}
