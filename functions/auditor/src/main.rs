//! The auditor Lambda: wiring only. Configuration and clients are built once, before the first
//! event; no network call happens until the schedule fires.

mod handler;

use cguard_aws::Aws;
use cguard_core::config::Policy;
use cguard_core::posture::PostureSettings;
use lambda_runtime::{Error, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    // JSON when the function's log format is JSON; level from AWS_LAMBDA_LOG_LEVEL.
    lambda_runtime::tracing::init_default_subscriber();
    // An invalid setting stops the function here, naming it — never mid-pass.
    let policy = Policy::from_env()?;
    let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let deps = handler::Deps {
        aws: Aws::new(&config).with_metrics_insights(cguard_aws::metrics_insights_from_env()?),
        policy,
        settings: PostureSettings::from_env(),
    };
    lambda_runtime::run(service_fn(|event| handler::handle(event, &deps))).await
}
