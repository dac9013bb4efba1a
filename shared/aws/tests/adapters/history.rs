//! `Metrics::alarm_transitions` (`cguard backtest`): the alarms listed by prefix across pages,
//! each one's `DescribeAlarmHistory` read across pages, only transitions into ALARM kept — read
//! from `HistoryData` as AWS returns it — each with its alarm's definition; errors classified.
//!
//! moto (the local stand-in) has no `DescribeAlarmHistory`, so these smithy mocks are the only
//! check of the call and its paging short of a real account; the replay itself is tested on the
//! in-memory account (`shared/engine/tests/backtest.rs`).

use aws_sdk_cloudwatch::Client as CloudWatch;
use aws_sdk_cloudwatch::error::ErrorMetadata;
use aws_sdk_cloudwatch::operation::describe_alarm_history::{
    DescribeAlarmHistoryError, DescribeAlarmHistoryOutput,
};
use aws_sdk_cloudwatch::operation::describe_alarms::{DescribeAlarmsError, DescribeAlarmsOutput};
use aws_sdk_cloudwatch::types::{
    AlarmHistoryItem, AlarmType, Dimension, HistoryItemType, Metric, MetricAlarm, MetricDataQuery,
    MetricStat, ScanBy,
};
use aws_smithy_mocks::{Rule, mock};
use aws_smithy_types::DateTime as SmithyTime;
use cguard_core::error::ErrorKind;
use cguard_engine::ports::Metrics;
use chrono::{DateTime, Duration, Utc};

use crate::common::{ACCOUNT, REGION, Rules, aws, no_retries};

const ACCOUNT_ALARM: &str = "concurrency-guard-account-concurrency";
const CLAIMED_ALARM: &str = "concurrency-guard-claimed-concurrency";

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn until() -> DateTime<Utc> {
    at("2026-11-30T12:00:00Z")
}

fn since() -> DateTime<Utc> {
    until() - Duration::days(30)
}

fn arn(name: &str) -> String {
    format!("arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{name}")
}

/// The template's account alarm: one metric, no dimensions.
fn account_alarm() -> MetricAlarm {
    MetricAlarm::builder()
        .alarm_name(ACCOUNT_ALARM)
        .alarm_arn(arn(ACCOUNT_ALARM))
        .namespace("AWS/Lambda")
        .metric_name("ConcurrentExecutions")
        .build()
}

/// A metric-math alarm over a function's throttles: its metric lives in `Metrics[]`.
fn claimed_alarm() -> MetricAlarm {
    let metric = Metric::builder()
        .namespace("AWS/Lambda")
        .metric_name("Throttles")
        .dimensions(
            Dimension::builder()
                .name("FunctionName")
                .value("orders-api")
                .build(),
        )
        .build();
    MetricAlarm::builder()
        .alarm_name(CLAIMED_ALARM)
        .alarm_arn(arn(CLAIMED_ALARM))
        .metrics(
            MetricDataQuery::builder()
                .id("m1")
                .metric_stat(
                    MetricStat::builder()
                        .metric(metric)
                        .period(60)
                        .stat("Sum")
                        .build(),
                )
                .return_data(false)
                .build(),
        )
        .metrics(
            MetricDataQuery::builder()
                .id("e1")
                .expression("m1 * 2")
                .return_data(true)
                .build(),
        )
        .build()
}

/// `HistoryData` as DescribeAlarmHistory returns it for a state update (a JSON string).
fn history_data(old: &str, new: &str) -> String {
    format!(
        r#"{{"version":"1.0","oldState":{{"stateValue":"{old}","stateReason":"Threshold Crossed: 1 out of the last 1 datapoints [140.0 (23/11/26 09:30:00)] was not greater than or equal to the threshold (800.0) (minimum 1 datapoint for ALARM -> OK transition).","stateReasonData":{{"version":"1.0","queryDate":"2026-11-23T09:31:27.000+0000","startDate":"2026-11-23T09:30:00.000+0000","statistic":"Maximum","period":60,"recentDatapoints":[140.0],"threshold":800.0,"evaluatedDatapoints":[{{"timestamp":"2026-11-23T09:30:00.000+0000","sampleCount":1.0,"value":140.0}}]}}}},"newState":{{"stateValue":"{new}","stateReason":"Threshold Crossed: 1 out of the last 1 datapoints [962.0 (23/11/26 09:39:00)] was greater than or equal to the threshold (800.0) (minimum 1 datapoint for OK -> ALARM transition).","stateReasonData":{{"version":"1.0","queryDate":"2026-11-23T09:40:27.120+0000","startDate":"2026-11-23T09:39:00.000+0000","statistic":"Maximum","period":60,"recentDatapoints":[962.0],"threshold":800.0,"evaluatedDatapoints":[{{"timestamp":"2026-11-23T09:39:00.000+0000","sampleCount":1.0,"value":962.0}}]}}}}}}"#
    )
}

fn item(alarm: &str, when: &str, old: &str, new: &str) -> AlarmHistoryItem {
    let t = at(when);
    AlarmHistoryItem::builder()
        .alarm_name(alarm)
        .alarm_type(AlarmType::MetricAlarm)
        .timestamp(SmithyTime::from_millis(t.timestamp_millis()))
        .history_item_type(HistoryItemType::StateUpdate)
        .history_summary(format!("Alarm updated from {old} to {new}"))
        .history_data(history_data(old, new))
        .build()
}

/// Asserts what every history request asks for: one alarm's metric-alarm state updates in the
/// period, newest first.
fn assert_history_request(
    r: &aws_sdk_cloudwatch::operation::describe_alarm_history::DescribeAlarmHistoryInput,
) {
    assert_eq!(r.history_item_type(), Some(&HistoryItemType::StateUpdate));
    assert_eq!(r.alarm_types(), [AlarmType::MetricAlarm]);
    assert_eq!(
        r.start_date(),
        Some(&SmithyTime::from_secs(since().timestamp()))
    );
    assert_eq!(
        r.end_date(),
        Some(&SmithyTime::from_secs(until().timestamp()))
    );
    assert_eq!(r.scan_by(), Some(&ScanBy::TimestampDescending));
}

/// Two alarms named concurrency-guard…, listed on two pages.
fn listing() -> [Rule; 2] {
    let first = mock!(CloudWatch::describe_alarms)
        .match_requests(|r| r.next_token().is_none())
        .then_compute_output(|r| {
            assert_eq!(r.alarm_name_prefix(), Some("concurrency-guard"));
            assert_eq!(r.alarm_types(), [AlarmType::MetricAlarm]);
            DescribeAlarmsOutput::builder()
                .metric_alarms(account_alarm())
                .next_token("alarms-2")
                .build()
        });
    let second = mock!(CloudWatch::describe_alarms)
        .match_requests(|r| r.next_token() == Some("alarms-2"))
        .then_output(|| {
            DescribeAlarmsOutput::builder()
                .metric_alarms(claimed_alarm())
                .build()
        });
    [first, second]
}

/// The account alarm's history on two pages, newest first: into ALARM, back to OK (an hour
/// after an earlier ALARM), into ALARM from INSUFFICIENT_DATA; the claimed alarm's on one page:
/// back to OK, into ALARM.
fn histories() -> [Rule; 3] {
    let account_1 = mock!(CloudWatch::describe_alarm_history)
        .match_requests(|r| r.alarm_name() == Some(ACCOUNT_ALARM) && r.next_token().is_none())
        .then_compute_output(|r| {
            assert_history_request(r);
            DescribeAlarmHistoryOutput::builder()
                .alarm_history_items(item(
                    ACCOUNT_ALARM,
                    "2026-11-23T09:40:27.123Z",
                    "OK",
                    "ALARM",
                ))
                .alarm_history_items(item(ACCOUNT_ALARM, "2026-11-20T10:00:00Z", "ALARM", "OK"))
                .next_token("history-2")
                .build()
        });
    let account_2 = mock!(CloudWatch::describe_alarm_history)
        .match_requests(|r| {
            r.alarm_name() == Some(ACCOUNT_ALARM) && r.next_token() == Some("history-2")
        })
        .then_compute_output(|r| {
            assert_history_request(r);
            DescribeAlarmHistoryOutput::builder()
                .alarm_history_items(item(
                    ACCOUNT_ALARM,
                    "2026-11-20T09:00:00Z",
                    "INSUFFICIENT_DATA",
                    "ALARM",
                ))
                .build()
        });
    let claimed = mock!(CloudWatch::describe_alarm_history)
        .match_requests(|r| r.alarm_name() == Some(CLAIMED_ALARM))
        .then_compute_output(|r| {
            assert_history_request(r);
            DescribeAlarmHistoryOutput::builder()
                .alarm_history_items(item(CLAIMED_ALARM, "2026-11-25T08:00:00Z", "ALARM", "OK"))
                .alarm_history_items(item(CLAIMED_ALARM, "2026-11-25T07:00:00Z", "OK", "ALARM"))
                .build()
        });
    [account_1, account_2, claimed]
}

#[tokio::test]
async fn transitions_into_alarm_are_read_across_pages_with_each_alarm_s_definition() {
    // GIVEN two alarms listed on two pages, and their histories (one on two pages)
    let (listing, histories) = (listing(), histories());
    let aws = aws(Rules {
        cloudwatch: listing.iter().chain(&histories).collect(),
        ..Default::default()
    });

    // WHEN the transitions are read
    let mut found = aws
        .alarm_transitions("concurrency-guard", since(), until())
        .await
        .unwrap();
    found.sort_by_key(|t| t.at);

    // THEN every page was read once, and only the three transitions into ALARM are kept
    for rule in listing.iter().chain(&histories) {
        assert_eq!(rule.num_calls(), 1);
    }
    let seen: Vec<(&str, DateTime<Utc>)> = found.iter().map(|t| (t.alarm.as_str(), t.at)).collect();
    assert_eq!(
        seen,
        [
            (ACCOUNT_ALARM, at("2026-11-20T09:00:00Z")),
            (ACCOUNT_ALARM, at("2026-11-23T09:40:27.123Z")),
            (CLAIMED_ALARM, at("2026-11-25T07:00:00Z")),
        ]
    );
    // AND each carries its alarm's ARN, CloudWatch's reason and the alarm's metrics
    let account = &found[1];
    assert_eq!(account.arn, arn(ACCOUNT_ALARM));
    assert!(account.reason.as_deref().unwrap().contains("[962.0"));
    assert_eq!(account.metrics.len(), 1);
    assert_eq!(account.metrics[0].name, "ConcurrentExecutions");
    assert!(account.metrics[0].dimensions.is_empty());
    let math = &found[2].metrics;
    assert_eq!(math.len(), 1, "the expression names no metric");
    assert_eq!(math[0].name, "Throttles");
    assert_eq!(math[0].function_name(), Some("orders-api"));
    // AND each makes the request intake would make of its alarm action
    let request = account.request().unwrap();
    assert!(request.dry_run);
}

#[tokio::test]
async fn no_alarm_of_that_prefix_reads_no_history() {
    let list =
        mock!(CloudWatch::describe_alarms).then_output(|| DescribeAlarmsOutput::builder().build());
    let aws = aws(Rules {
        cloudwatch: vec![&list],
        ..Default::default()
    });
    let found = aws
        .alarm_transitions("no-such-stack", since(), until())
        .await
        .unwrap();
    assert!(found.is_empty());
}

#[tokio::test]
async fn unreadable_history_data_fails_the_read_rather_than_hide_a_transition() {
    let list = mock!(CloudWatch::describe_alarms).then_output(|| {
        DescribeAlarmsOutput::builder()
            .metric_alarms(account_alarm())
            .build()
    });
    let history = mock!(CloudWatch::describe_alarm_history).then_output(|| {
        DescribeAlarmHistoryOutput::builder()
            .alarm_history_items(
                AlarmHistoryItem::builder()
                    .alarm_name(ACCOUNT_ALARM)
                    .timestamp(SmithyTime::from_secs(until().timestamp() - 60))
                    .history_item_type(HistoryItemType::StateUpdate)
                    .history_data("Alarm updated from OK to ALARM")
                    .build(),
            )
            .build()
    });
    let aws = aws(Rules {
        cloudwatch: vec![&list, &history],
        ..Default::default()
    });
    let err = aws
        .alarm_transitions("concurrency-guard", since(), until())
        .await
        .unwrap_err();
    assert_eq!(err.operation, "cloudwatch:DescribeAlarmHistory");
    assert_eq!(err.kind, ErrorKind::Unavailable);
    assert!(err.message.starts_with(ACCOUNT_ALARM), "{err}");
    assert!(err.message.contains("unreadable HistoryData"), "{err}");
}

#[tokio::test]
async fn a_throttled_history_read_is_throttled_after_the_sdk_retries() {
    let list = mock!(CloudWatch::describe_alarms).then_output(|| {
        DescribeAlarmsOutput::builder()
            .metric_alarms(account_alarm())
            .build()
    });
    let history = mock!(CloudWatch::describe_alarm_history).then_error(|| {
        DescribeAlarmHistoryError::generic(
            ErrorMetadata::builder()
                .code("Throttling")
                .message("Rate exceeded")
                .build(),
        )
    });
    let aws = aws(Rules {
        cloudwatch: vec![&list, &history],
        ..Default::default()
    });
    let err = aws
        .alarm_transitions("concurrency-guard", since(), until())
        .await
        .unwrap_err();
    assert_eq!(err.operation, "cloudwatch:DescribeAlarmHistory");
    assert_eq!(err.kind, ErrorKind::Throttled);
    assert_eq!(history.num_calls(), 3, "the SDK's standard retries");
}

#[tokio::test]
async fn a_denied_history_read_is_denied_and_names_its_call() {
    // The operator's credentials lack cloudwatch:DescribeAlarmHistory (no function role has it)
    let list = mock!(CloudWatch::describe_alarms).then_output(|| {
        DescribeAlarmsOutput::builder()
            .metric_alarms(account_alarm())
            .build()
    });
    let history = mock!(CloudWatch::describe_alarm_history).then_error(|| {
        DescribeAlarmHistoryError::generic(
            ErrorMetadata::builder()
                .code("AccessDenied")
                .message("User is not authorized to perform: cloudwatch:DescribeAlarmHistory")
                .build(),
        )
    });
    let aws = aws(Rules {
        cloudwatch: vec![&list, &history],
        retry: Some(no_retries()),
        ..Default::default()
    });
    let err = aws
        .alarm_transitions("concurrency-guard", since(), until())
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Denied);
    assert!(err.message.contains("DescribeAlarmHistory"), "{err}");

    // AND a denied listing names DescribeAlarms, and reads no history
    let list = mock!(CloudWatch::describe_alarms).then_error(|| {
        DescribeAlarmsError::generic(ErrorMetadata::builder().code("AccessDenied").build())
    });
    let aws = crate::common::aws(Rules {
        cloudwatch: vec![&list],
        retry: Some(no_retries()),
        ..Default::default()
    });
    let err = aws
        .alarm_transitions("concurrency-guard", since(), until())
        .await
        .unwrap_err();
    assert_eq!(err.operation, "cloudwatch:DescribeAlarms");
    assert_eq!(err.kind, ErrorKind::Denied);
}
