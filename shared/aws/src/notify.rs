//! The report topic: a human-readable summary of every run that changed (or tried to change)
//! something, for email or chat subscriptions.

use cguard_engine::ports::PortResult;
use cguard_core::report::{Outcome, Report};

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
