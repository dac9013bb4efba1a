//! The remediator Lambda: wiring only. Settings and clients are built once, before the first
//! event; no network call happens until an event arrives.

mod handler;

use cguard_core::config::Settings;
use cguard_engine::Guard;
use lambda_runtime::{Error, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    // JSON when the function's log format is JSON; level from AWS_LAMBDA_LOG_LEVEL.
    lambda_runtime::tracing::init_default_subscriber();
    // An invalid setting stops the function here, naming it — never mid-incident.
    let settings = Settings::from_env()?;
    let (aws, report_topic) = cguard_aws::connect(&settings).await;
    let deps = handler::Deps {
        announce: handler::LambdaAnnounce {
            report_topic,
            metrics_namespace: settings.metrics_namespace().to_owned(),
        },
        guard: Guard::new(aws, settings.policy),
    };
    lambda_runtime::run(service_fn(|event| handler::handle(event, &deps))).await
}
