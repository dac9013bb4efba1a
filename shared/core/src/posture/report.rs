//! What the checks read and what they report: [`PostureFacts`] in, [`PostureReport`] out, and
//! the report's one rendering for people. Changes when the report's format changes.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{AlarmInfo, ApiStage, Check, QueueMapping};
use crate::error::Failure;
use crate::model::{AccountFacts, Reservation, TAG_PROTECTED};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// The guard cannot work as intended.
    Critical,
    /// A spike would hurt more than it needs to.
    Warning,
    /// The check could not be made.
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    pub check: Check,
    pub severity: Severity,
    pub detail: String,
    /// What the finding is about, for a machine to act on: a function's name, an SQS mapping's
    /// UUID, or a REST stage as `api-id/stage`. `None` for an account-wide finding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PostureReport {
    pub at: DateTime<Utc>,
    pub findings: Vec<Finding>,
    /// Functions tagged `concurrency-guard:protected=true`, which the guard never limits: not a
    /// finding (protection is a choice), listed so that a protection an offender's owner gave
    /// themselves is seen. `None` when they could not be listed (a finding says why).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protected_by_tag: Option<Vec<String>>,
}

/// A busy function and its reservation (or why it could not be read).
#[derive(Debug, Clone, PartialEq)]
pub struct Busy {
    pub function: String,
    pub peak: f64,
    pub reservation: Result<Reservation, Failure>,
}

/// Everything the checks read; each part may have failed on its own, and keeps how.
#[derive(Debug, Clone, PartialEq)]
pub struct PostureFacts {
    pub account: Result<AccountFacts, Failure>,
    pub busy: Result<Vec<Busy>, Failure>,
    pub queues: Result<Vec<QueueMapping>, Failure>,
    pub stages: Result<Vec<ApiStage>, Failure>,
    /// `None` when no remediator is configured; `Some(Ok(None))` when it does not exist.
    pub remediator: Option<Result<Option<Reservation>, Failure>>,
    pub alarms: Result<Vec<AlarmInfo>, Failure>,
    /// Every function carrying the protection tag, with the tag's value.
    pub protected: Result<Vec<(String, String)>, Failure>,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Critical => "CRITICAL",
            Self::Warning => "WARNING",
            Self::Unknown => "UNKNOWN",
        })
    }
}

/// Through [`terminal_safe`](crate::text::terminal_safe): names and reasons come from outside.
impl fmt::Display for PostureReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        crate::text::write_safe(f, |f| self.render(f))
    }
}

impl PostureReport {
    fn render(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "Concurrency Guard posture at {}: {} finding(s)",
            self.at.format("%Y-%m-%d %H:%M:%S UTC"),
            self.findings.len()
        )?;
        for x in &self.findings {
            writeln!(f, "  {:<8} {}: {}", x.severity, x.check, x.detail)?;
        }
        if let Some(protected) = &self.protected_by_tag {
            let names = if protected.is_empty() {
                "none".to_owned()
            } else {
                protected.join(", ")
            };
            writeln!(f, "  never limited (tagged {TAG_PROTECTED}=true): {names}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> PostureReport {
        let finding = |check, severity, detail: &str| Finding {
            check,
            severity,
            detail: detail.into(),
            resource: None,
        };
        PostureReport {
            at: DateTime::parse_from_rfc3339("2026-11-23T10:15:00Z")
                .unwrap()
                .with_timezone(&Utc),
            findings: vec![
                finding(Check::Headroom, Severity::Unknown, "a"),
                finding(Check::BusyFunctions, Severity::Warning, "b"),
                finding(Check::RemediatorReservation, Severity::Critical, "c"),
            ],
            protected_by_tag: None,
        }
    }

    #[test]
    fn the_json_report_names_checks_and_severities_in_snake_case() {
        let json = serde_json::to_value(report()).unwrap();
        let expected = serde_json::json!({
            "at": "2026-11-23T10:15:00Z",
            "findings": [
                { "check": "unreserved_headroom", "severity": "unknown", "detail": "a" },
                { "check": "busy_without_reservation", "severity": "warning", "detail": "b" },
                { "check": "remediator_reservation", "severity": "critical", "detail": "c" },
            ],
        });
        assert_eq!(json, expected);
        assert_eq!(
            serde_json::from_value::<PostureReport>(json).unwrap(),
            report()
        );
    }

    #[test]
    fn the_text_report_is_a_header_then_one_line_per_finding() {
        let text = report().to_string();
        let expected = [
            "Concurrency Guard posture at 2026-11-23 10:15:00 UTC: 3 finding(s)",
            "  UNKNOWN unreserved_headroom: a",
            "  WARNING busy_without_reservation: b",
            "  CRITICAL remediator_reservation: c",
        ];
        assert_eq!(text.lines().collect::<Vec<_>>(), expected);
    }
}
