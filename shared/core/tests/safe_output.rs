//! Issue 9, unescaped output: names and reasons from outside reach the terminal and the report
//! email through the reports' `Display`; a control character in one must be shown, never
//! obeyed. Before the fix the escape sequence below erased the line above it on a terminal.

use chrono::{TimeZone, Utc};

use cguard_core::intake::{EventSource, IncidentId};
use cguard_core::posture::{Check, Finding, PostureReport, Severity};
use cguard_core::report::Report;

/// Cursor up, erase the line: hides whatever the previous line said.
const HIDE: &str = "\u{1b}[1A\u{1b}[2K";

#[test]
fn a_posture_finding_naming_a_hostile_api_is_shown_escaped() {
    let report = PostureReport {
        at: Utc.with_ymd_and_hms(2026, 11, 23, 9, 40, 0).unwrap(),
        findings: vec![Finding {
            check: Check::ApiStages,
            severity: Severity::Warning,
            detail: format!("stage prod of API shop{HIDE} invokes Lambda without a throttle"),
            resource: None,
        }],
        protected_by_tag: Some(vec![format!("self-exempt{HIDE}")]),
    };
    let text = report.to_string();
    assert!(!text.contains('\u{1b}'), "{text:?}");
    assert!(text.contains("shop\\u{1b}[1A\\u{1b}[2K"), "{text:?}");
}

#[test]
fn a_report_note_carrying_an_escape_sequence_cannot_hide_a_line() {
    let mut report = Report::new(
        IncidentId::from_recorded("inc1"),
        EventSource::Manual,
        false,
    );
    report.notes.push(format!("reserved 0 — APPLIED{HIDE}"));
    let text = report.to_string();
    assert!(
        !text.chars().any(|c| c.is_control() && c != '\n'),
        "{text:?}"
    );
    assert!(text.contains("reserved 0 — APPLIED\\u{1b}"), "{text:?}");
}
