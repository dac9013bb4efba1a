//! Issue 10: a ranking that cannot silently miss. The in-memory account answers Metrics
//! Insights as it is told to — right, ungrouped (what the local stand-in used to answer),
//! partial, or missing the offender — and the remediation must still find the offender,
//! saying which path ranked and why.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use futures::executor::block_on;

use cguard_core::config::Policy;
use cguard_core::intake::{Request, parse_event};
use cguard_core::observation::{FunctionUsage, Peaks};
use cguard_core::ranking::{Fallback, RankedBy, TopPeaks};
use cguard_core::report::Report;
use cguard_engine::Guard;
use cguard_testkit::FakeAccount;
use cguard_testkit::hog::{FUNCTION, account, pressing};

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-23T09:40:30Z")
        .unwrap()
        .with_timezone(&Utc)
}

fn request() -> Request {
    let event: serde_json::Value =
        serde_json::from_str(include_str!("../../../events/alarm-action.json")).unwrap();
    parse_event(&event).unwrap().remove(0)
}

/// `hog` at 700 through the alarm's window.
fn usage() -> FunctionUsage {
    pressing(now(), -9..=0)
}

fn answer(functions: &[(&str, f64)]) -> TopPeaks {
    TopPeaks {
        peaks: Peaks {
            account: Some(980.0),
            functions: functions
                .iter()
                .map(|(n, p)| (n.to_string(), *p))
                .collect::<BTreeMap<_, _>>(),
        },
        limit: 10,
        complete: true,
        messages: Vec::new(),
        query_id: "insights".into(),
    }
}

fn plan(aws: &FakeAccount) -> Report {
    let policy = Policy {
        dry_run: true,
        ..Policy::default()
    };
    block_on(Guard::new(aws, policy).remediate(&request(), now()))
}

#[test]
fn a_believable_insights_answer_ranks_alone() {
    let aws = account(usage()).with_insights(answer(&[(FUNCTION, 700.0), ("quiet", 280.0)]));
    let report = plan(&aws);
    assert_eq!(report.ranked_by, Some(RankedBy::Insights), "{report}");
    assert_eq!(report.offenders, [FUNCTION]);
}

#[test]
fn the_stand_in_s_ungrouped_answer_falls_back_and_still_finds_the_offender() {
    let aws = account(usage()).with_insights(answer(&[("insights", 980.0)]));
    let report = plan(&aws);
    assert_eq!(
        report.ranked_by,
        Some(RankedBy::Batched(Fallback::Ungrouped {
            label: "insights".into()
        })),
        "{report}"
    );
    assert_eq!(report.offenders, [FUNCTION]);
}

#[test]
fn an_answer_that_misses_the_offender_is_confirmed_by_every_function_s_peak() {
    // Insights (partially, silently) answers with the quiet function only.
    let mut missing = answer(&[("quiet", 40.0)]);
    missing.limit = 1;
    let aws = account(usage()).with_insights(missing);
    let report = plan(&aws);
    assert!(
        matches!(
            report.ranked_by,
            Some(RankedBy::Batched(Fallback::NoOffender { .. }))
        ),
        "{report}"
    );
    assert_eq!(report.offenders, [FUNCTION]);
}

#[test]
fn a_partial_answer_falls_back_and_the_report_says_why() {
    let mut partial = answer(&[(FUNCTION, 700.0)]);
    partial.complete = false;
    partial.messages = vec!["MaxMetricsExceeded: more than 10000 metrics matched".into()];
    let aws = account(usage()).with_insights(partial);
    let report = plan(&aws);
    assert!(
        matches!(&report.ranked_by, Some(RankedBy::Batched(Fallback::Partial { messages })) if messages.len() == 1),
        "{report}"
    );
    assert!(
        report
            .to_string()
            .contains("ranked by: every active function's peak")
    );
    assert_eq!(report.offenders, [FUNCTION]);
}

#[test]
fn without_insights_the_batched_path_ranks_and_says_so() {
    let report = plan(&account(usage()));
    assert_eq!(
        report.ranked_by,
        Some(RankedBy::Batched(Fallback::Unavailable))
    );
    assert_eq!(report.offenders, [FUNCTION]);
}
