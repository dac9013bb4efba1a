//! The auditor Lambda: wiring only. Settings and clients are built once, before the first
//! event; no network call happens until the schedule fires.

// The audit pass's future (ledger, pointers, escalation through the remediator's planner, all
// over the SDK's futures) is deeper than rustc's default layout query limit of 128.
#![recursion_limit = "256"]

mod handler;

use cguard_core::config::Settings;
use cguard_engine::Guard;
use lambda_runtime::{Error, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    // JSON when the function's log format is JSON; level from AWS_LAMBDA_LOG_LEVEL.
    lambda_runtime::tracing::init_default_subscriber();
    // An invalid setting stops the function here, naming it — never mid-pass.
    let settings = Settings::from_env()?;
    let (aws, _) = cguard_aws::connect(&settings).await;
    let deps = handler::Deps {
        guard: Guard::new(aws, settings.policy.clone()),
        settings,
    };
    lambda_runtime::run(service_fn(|event| handler::handle(event, &deps))).await
}
