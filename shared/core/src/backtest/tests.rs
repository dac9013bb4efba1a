use chrono::{DateTime, Duration, Utc};

use super::*;
use crate::confirm::Unconfirmed;
use crate::intake::{AlarmState, EventSource, Subject};
use crate::model::{Action, ApiKind, ApiTarget, Change, Reservation, Status, Throttle, Tier};
use crate::plan::{Figures, Skip, Skipped, Why};

const ARN: &str =
    "arn:aws:cloudwatch:us-east-1:123456789012:alarm:concurrency-guard-account-concurrency";

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn metric(name: &str, dimensions: &[(&str, &str)]) -> MetricRef {
    MetricRef {
        namespace: "AWS/Lambda".into(),
        name: name.into(),
        dimensions: dimensions
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    }
}

/// The transition `events/alarm-action.json` notified.
fn account_transition() -> AlarmTransition {
    AlarmTransition {
        alarm: "concurrency-guard-account-concurrency".into(),
        arn: ARN.into(),
        at: at("2026-11-23T09:40:27.123Z"),
        reason: Some("Threshold Crossed: 1 out of the last 1 datapoints [962.0]".into()),
        metrics: vec![metric("ConcurrentExecutions", &[])],
    }
}

fn alarm_of(request: &Request) -> &crate::intake::Alarm {
    match &request.subject {
        Subject::Alarm(a) => a,
        Subject::Function { .. } => panic!("an alarm"),
    }
}

#[test]
fn a_transition_becomes_the_request_the_live_alarm_action_made() {
    // GIVEN the transition the sample alarm action notified, and that notification
    let live = parse_event(
        &serde_json::from_str(include_str!("../../../../events/alarm-action.json")).unwrap(),
    )
    .unwrap();
    let live = alarm_of(&live[0]);

    // WHEN the transition is made a request
    let request = account_transition().request().unwrap();

    // THEN it is the same alarm, at the same time, the same incident — and a dry run
    let replayed = alarm_of(&request);
    assert!(request.dry_run);
    assert_eq!(request.source, EventSource::AlarmAction);
    assert_eq!(replayed.incident_id(), live.incident_id());
    assert_eq!(replayed.name, live.name);
    assert_eq!(replayed.arn, live.arn);
    assert_eq!(replayed.account_id.as_deref(), Some("123456789012"));
    assert_eq!(replayed.region.as_deref(), Some("us-east-1"));
    assert_eq!(replayed.state, AlarmState::Alarm);
    assert_eq!(replayed.changed_at, live.changed_at);
    assert_eq!(replayed.metrics, live.metrics);
}

#[test]
fn intake_canonicalises_and_refuses_as_on_a_live_event() {
    // A function named by its qualified ARN becomes its name, as intake does for any event
    let mut t = account_transition();
    t.metrics = vec![metric(
        "Throttles",
        &[(
            "FunctionName",
            "arn:aws:lambda:us-east-1:123456789012:function:orders-api:live",
        )],
    )];
    let request = t.request().unwrap();
    assert_eq!(
        alarm_of(&request).metrics[0].function_name(),
        Some("orders-api")
    );

    // An ARN that is not this alarm's is refused, with intake's own error
    let mut t = account_transition();
    t.arn = "arn:aws:cloudwatch:us-east-1:123456789012:alarm:another".into();
    let err = t.request().unwrap_err();
    assert!(err.to_string().contains("AlarmArn"), "{err}");
}

#[test]
fn a_math_alarm_keeps_every_metric_it_reads() {
    let mut t = account_transition();
    t.metrics = vec![
        metric("ConcurrentExecutions", &[]),
        metric("UnreservedConcurrentExecutions", &[]),
    ];
    let request = t.request().unwrap();
    assert_eq!(alarm_of(&request).metrics.len(), 2);
}

/// A `HistoryData` string as `DescribeAlarmHistory` returns it for a state update.
const HISTORY_DATA: &str = r#"{"version":"1.0","oldState":{"stateValue":"OK","stateReason":"Threshold Crossed: 1 out of the last 1 datapoints [140.0 (23/11/26 09:30:00)] was not greater than or equal to the threshold (800.0) (minimum 1 datapoint for ALARM -> OK transition).","stateReasonData":{"version":"1.0","queryDate":"2026-11-23T09:31:27.000+0000","startDate":"2026-11-23T09:30:00.000+0000","statistic":"Maximum","period":60,"recentDatapoints":[140.0],"threshold":800.0,"evaluatedDatapoints":[{"timestamp":"2026-11-23T09:30:00.000+0000","sampleCount":1.0,"value":140.0}]}},"newState":{"stateValue":"ALARM","stateReason":"Threshold Crossed: 1 out of the last 1 datapoints [962.0 (23/11/26 09:39:00)] was greater than or equal to the threshold (800.0) (minimum 1 datapoint for OK -> ALARM transition).","stateReasonData":{"version":"1.0","queryDate":"2026-11-23T09:40:27.120+0000","startDate":"2026-11-23T09:39:00.000+0000","statistic":"Maximum","period":60,"recentDatapoints":[962.0],"threshold":800.0,"evaluatedDatapoints":[{"timestamp":"2026-11-23T09:39:00.000+0000","sampleCount":1.0,"value":962.0}]}}}"#;

#[test]
fn history_data_says_which_state_was_left_and_entered() {
    let update = StateUpdate::parse(HISTORY_DATA).unwrap();
    assert_eq!(update.old.as_deref(), Some("OK"));
    assert_eq!(update.new, "ALARM");
    assert!(update.reason.unwrap().starts_with("Threshold Crossed"));

    let entered = |old: Option<&str>, new: &str| {
        StateUpdate {
            old: old.map(str::to_owned),
            new: new.into(),
            reason: None,
        }
        .entered_alarm()
    };
    assert!(entered(Some("OK"), "ALARM"));
    assert!(entered(Some("INSUFFICIENT_DATA"), "ALARM"));
    assert!(entered(None, "ALARM"));
    assert!(!entered(Some("ALARM"), "OK"));
    assert!(!entered(Some("ALARM"), "ALARM"), "no transition: no call");
    assert!(!entered(Some("OK"), "INSUFFICIENT_DATA"));
}

#[test]
fn history_data_without_a_new_state_is_unreadable() {
    for bad in [
        "",
        "not json",
        r#"{"version":"1.0"}"#,
        r#"{"newState":{"stateReason":"x"}}"#,
    ] {
        let err = StateUpdate::parse(bad).unwrap_err();
        assert!(
            err.to_string().starts_with("unreadable HistoryData"),
            "{bad}"
        );
    }
}

#[test]
fn the_newest_are_replayed_the_rest_counted() {
    let t0 = at("2026-11-20T00:00:00Z");
    let transitions: Vec<AlarmTransition> = [3, 1, 4, 2, 0]
        .iter()
        .map(|h| AlarmTransition {
            at: t0 + Duration::hours(*h),
            ..account_transition()
        })
        .collect();
    let (kept, left_out) = newest_first(transitions, 3);
    let hours: Vec<i64> = kept.iter().map(|t| (t.at - t0).num_hours()).collect();
    assert_eq!(hours, [4, 3, 2]);
    assert_eq!(left_out, 2);
    assert_eq!(newest_first(Vec::new(), 3), (Vec::new(), 0));
}

#[test]
fn transitions_older_than_one_minute_data_are_not_replayed() {
    let now = at("2026-11-23T12:00:00Z");
    let days = |d: i64| now - Duration::days(d);
    assert_eq!(expired(days(14), now, 10), None);
    // The window's start counts: 15 days to the minute is already too old for a 10-minute window
    assert_eq!(
        expired(days(15), now, 10),
        Some(NotReplayed::MetricsExpired)
    );
    assert_eq!(
        expired(days(29), now, 10),
        Some(NotReplayed::MetricsExpired)
    );
}

fn report_with(actions: Vec<Action>, skipped: Vec<Skipped>) -> Report {
    let request = account_transition().request().unwrap();
    let mut report = Report::new(request.incident_id(), request.source, true);
    report.actions = actions;
    report.skipped = skipped;
    report.settle();
    report
}

fn action(function: &str, tier: Tier, change: Change, status: Status) -> Action {
    Action {
        function: function.into(),
        tier,
        change,
        rationale: Why::Cap {
            target: 100,
            lowered: None,
            offender: Figures::default(),
        },
        status,
    }
}

#[test]
fn a_summary_names_every_action_and_skip_in_a_line() {
    let throttle = Change::Throttle {
        target: ApiTarget {
            kind: ApiKind::Rest,
            api_id: "a1b2c3".into(),
            stage: "prod".into(),
            route: None,
        },
        previous: None,
        new: Some(Throttle {
            rate: 3.333,
            burst: 3,
        }),
    };
    let cap = Change::Reservation {
        function: "slow-search".into(),
        previous: Reservation::Unreserved,
        new: Reservation::Reserved(100),
    };
    let queue = Change::QueueConcurrency {
        uuid: "8f2b".into(),
        previous: Some(20),
        new: Some(50),
    };
    let report = report_with(
        vec![
            action("slow-search", Tier::Source, throttle, Status::Planned),
            action("slow-search", Tier::Reservation, cap, Status::Planned),
            action(
                "slow-search",
                Tier::Source,
                queue,
                Status::Skipped(Skip::QueueLimitedBelow(20)),
            ),
        ],
        vec![Skipped {
            function: "payments".into(),
            reason: Skip::ProtectedByList,
        }],
    );
    assert_eq!(
        summary(&report),
        "throttle REST API a1b2c3 stage prod (all methods) to 3.33 req/s for slow-search; \
         cap slow-search at 100; \
         not limit SQS mapping 8f2b of slow-search to 50 (already limited to MaximumConcurrency 20); \
         skipped payments (protected by CGUARD_PROTECTED_FUNCTIONS)"
    );
}

#[test]
fn a_summary_without_actions_says_why() {
    let mut calm = report_with(Vec::new(), Vec::new());
    calm.notes.push("no offender: nobody holds 20%".into());
    assert_eq!(summary(&calm), "nothing: no offender: nobody holds 20%");

    let mut refused = report_with(Vec::new(), Vec::new());
    refused.refuse(Unconfirmed::Calm {
        breaching: 0,
        needed: 1,
        latest: Some(150.0),
        threshold: 800.0,
    });
    assert!(
        summary(&refused)
            .starts_with("nothing: not confirmed by CloudWatch (its metric breaches in 0"),
        "{}",
        summary(&refused)
    );
}

fn backtest(rows: Vec<Replayed>, not_examined: usize) -> Backtest {
    Backtest {
        alarm_prefix: "concurrency-guard".into(),
        since: at("2026-10-24T12:00:00Z"),
        until: at("2026-11-23T12:00:00Z"),
        transitions: rows.len() + not_examined,
        rows,
        not_examined,
    }
}

#[test]
fn the_table_has_one_line_per_transition_and_escapes_what_it_quotes() {
    let mut hostile = account_transition();
    hostile.alarm = "concurrency-guard-x\u{1b}[2K".into();
    hostile.at = at("2026-11-01T08:00:00Z");
    let rows = vec![
        Replayed::new(
            &account_transition(),
            Verdict::Replayed(Box::new(report_with(Vec::new(), Vec::new()))),
        ),
        Replayed::new(&hostile, Verdict::NotReplayed(NotReplayed::MetricsExpired)),
    ];
    let text = backtest(rows, 7).to_string();
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with("9 transition(s) into ALARM of the alarms named concurrency-guard*")
    );
    assert!(lines[3].starts_with(
        "2026-11-23 09:40  concurrency-guard-account-concurrency  nothing: no action"
    ));
    assert!(
        lines[4].starts_with("2026-11-01 08:00  concurrency-guard-x\\u{1b}[2K"),
        "{text}"
    );
    assert!(lines[4].contains("not replayed: CloudWatch keeps one-minute metrics 15 days"));
    assert!(text.contains("7 older transition(s) not examined: at most 100 are replayed"));
    assert!(!text.contains('\u{1b}'));
}

#[test]
fn an_empty_period_says_so_and_json_carries_every_replay() {
    let empty = backtest(Vec::new(), 0);
    assert_eq!(
        empty.to_string(),
        "no transition into ALARM of the alarms named concurrency-guard* in \
         2026-10-24 12:00 → 2026-11-23 12:00 UTC\n"
    );
    let row = Replayed::new(
        &account_transition(),
        Verdict::NotReplayed(NotReplayed::Refused("bad".into())),
    );
    let json = serde_json::to_value(backtest(vec![row], 0)).unwrap();
    assert_eq!(
        json["rows"][0]["alarm"],
        "concurrency-guard-account-concurrency"
    );
    assert_eq!(
        json["rows"][0]["verdict"]["not_replayed"],
        "not replayed: intake refuses this alarm: bad"
    );
    assert_eq!(json["transitions"], 1);
}
