//! The remediator Lambda: wiring only. Configuration and clients are built once, before the
//! first event; no network call happens until an event arrives.

mod handler;

use cguard_aws::Aws;
use cguard_aws::notify::ReportTopic;
use cguard_core::config::Policy;
use lambda_runtime::{Error, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    // JSON when the function's log format is JSON; level from AWS_LAMBDA_LOG_LEVEL.
    lambda_runtime::tracing::init_default_subscriber();
    // An invalid setting stops the function here, naming it — never mid-incident.
    let policy = Policy::from_env()?;
    let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let deps = handler::Deps {
        aws: Aws::new(&config).with_metrics_insights(cguard_aws::metrics_insights_from_env()?),
        report_topic: std::env::var("CGUARD_REPORT_TOPIC_ARN")
            .ok()
            .filter(|a| !a.is_empty())
            .map(|arn| ReportTopic::new(&config, arn)),
        policy,
        metrics_namespace: std::env::var("CGUARD_METRICS_NAMESPACE")
            .unwrap_or_else(|_| "ConcurrencyGuard".into()),
    };
    lambda_runtime::run(service_fn(|event| handler::handle(event, &deps))).await
}
