//! The report topic: a human-readable summary of every run that changed (or tried to change)
//! something, for email or chat subscriptions.

use cguard_core::report::{Outcome, Report};
use cguard_engine::ports::{Failure, PortResult};
use cguard_engine::run::Announce;

use crate::error::classify;

#[derive(Debug, Clone)]
pub struct ReportTopic {
    client: aws_sdk_sns::Client,
    arn: String,
}

impl ReportTopic {
    pub fn new(config: &aws_config::SdkConfig, arn: String) -> Self {
        Self {
            client: aws_sdk_sns::Client::new(config),
            arn,
        }
    }

    /// Publishes the summary unless nothing was done or planned.
    pub async fn publish(&self, report: &Report) -> PortResult<()> {
        if report.outcome == Outcome::NoAction {
            return Ok(());
        }
        let subject = format!(
            "Concurrency Guard: {:?} — incident {}",
            report.outcome, report.incident
        );
        self.client
            .publish()
            .topic_arn(&self.arn)
            // SNS subjects are limited to 100 characters.
            .subject(subject.chars().take(100).collect::<String>())
            .message(report.to_string())
            .send()
            .await
            .map(drop)
            .map_err(|e| classify("sns:Publish", e))
    }
}

/// The report topic as a destination of the use-case's reports: a failure to publish is
/// logged, never fatal (the report itself is already in the response and the log).
impl Announce for ReportTopic {
    async fn announce(&self, report: &Report) {
        if let Err(e) = self.publish(report).await {
            tracing::warn!(error = %Failure::from(e), "could not publish the report summary");
        }
    }
}
