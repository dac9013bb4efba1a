//! Concurrency Guard's AWS adapters: the [`cguard_core::ports`] implemented with the AWS SDK.
//!
//! One [`Aws`] value holds the clients (built once, in `main`) and implements every port.
//! Each module covers one service; [`error`] sorts SDK failures by what the caller does next.

mod apigateway;
mod cloudwatch;
pub mod error;
mod lambda;
pub mod notify;
mod posture;

use aws_config::SdkConfig;
use cguard_core::model::{Change, Current};
use cguard_core::ports::{Actuator, PortResult};

/// How many AWS reads run at once (GetMetricData batches, per-offender reads).
pub const READ_CONCURRENCY: usize = 4;

/// The SDK clients the guard uses.
#[derive(Debug, Clone)]
pub struct Aws {
    pub lambda: aws_sdk_lambda::Client,
    pub apigateway: aws_sdk_apigateway::Client,
    pub apigatewayv2: aws_sdk_apigatewayv2::Client,
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    pub tagging: aws_sdk_resourcegroupstagging::Client,
    /// Rank with one Metrics Insights query before falling back to batched `GetMetricData`.
    pub metrics_insights: bool,
}

impl Aws {
    pub fn new(config: &SdkConfig) -> Self {
        Self {
            lambda: aws_sdk_lambda::Client::new(config),
            apigateway: aws_sdk_apigateway::Client::new(config),
            apigatewayv2: aws_sdk_apigatewayv2::Client::new(config),
            cloudwatch: aws_sdk_cloudwatch::Client::new(config),
            tagging: aws_sdk_resourcegroupstagging::Client::new(config),
            metrics_insights: false,
        }
    }
}

impl Aws {
    /// Rank with Metrics Insights first (`CGUARD_METRICS_INSIGHTS`, on by default in the
    /// functions); the local stand-in cannot answer Insights queries, so tests leave it off.
    pub fn with_metrics_insights(mut self, on: bool) -> Self {
        self.metrics_insights = on;
        self
    }
}

/// `CGUARD_METRICS_INSIGHTS` (default `true`), read once at start-up.
pub fn metrics_insights_from_env() -> Result<bool, cguard_core::config::ConfigError> {
    match std::env::var("CGUARD_METRICS_INSIGHTS")
        .ok()
        .as_deref()
        .map(str::trim)
    {
        None | Some("") | Some("true") => Ok(true),
        Some("false") => Ok(false),
        Some(other) => Err(cguard_core::config::ConfigError {
            name: "CGUARD_METRICS_INSIGHTS",
            value: other.to_owned(),
            problem: "expected true or false",
        }),
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
