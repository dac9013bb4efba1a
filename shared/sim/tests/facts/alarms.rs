//! CloudWatch (SIM-FACTS §4): 1-minute datapoints published after a delay, alarms evaluated
//! every minute, M of N, and the delivery to the remediator.

use cguard_core::intake::AlarmState;
use cguard_sim::scenario::ACCOUNT_ALARM;

use super::{account, run_to};

/// 900 concurrent from second 300 to 420 (minutes 5 and 6), 10 otherwise.
fn spike(delay: u32, periods: u32, datapoints: u32) -> String {
    format!(
        r#"
duration_s = 900
[params.cloudwatch]
publish_delay_s = {delay}
delivery_latency_s = 7
[template]
evaluation_periods = {periods}
datapoints_to_alarm = {datapoints}
[[functions]]
name = "spiky"
duration_s = 1
source = {{ kind = "direct" }}
[[functions.load]]
profile = {{ kind = "constant", rate = 10 }}
[[functions.load]]
from_s = 300
until_s = 420
profile = {{ kind = "constant", rate = 890 }}
"#
    )
}

fn transitions(delay: u32, periods: u32, datapoints: u32) -> Vec<(u32, AlarmState)> {
    let mut a = account(&spike(delay, periods, datapoints));
    run_to(&mut a, 900);
    a.alarm(ACCOUNT_ALARM)
        .expect("the template's alarm")
        .transitions
        .iter()
        .map(|t| (t.at, t.to))
        .collect()
}

#[test]
fn one_of_one_alarms_when_the_first_breaching_minute_is_published() {
    // Minute 5 ends at 360 and is published 60 s later; the evaluation at 420 sees it.
    assert_eq!(
        transitions(60, 1, 1),
        [
            (120, AlarmState::Ok),
            (420, AlarmState::Alarm),
            (540, AlarmState::Ok)
        ]
    );
}

#[test]
fn the_publish_delay_postpones_the_alarm() {
    assert_eq!(transitions(150, 1, 1)[1], (540, AlarmState::Alarm));
    assert_eq!(transitions(0, 1, 1)[1], (360, AlarmState::Alarm));
}

#[test]
fn two_of_three_needs_the_second_breaching_minute_and_outlasts_it() {
    // Minute 6 is published at 480: 2 of minutes 4–6 breach. At 600 minutes 6–8 hold one.
    assert_eq!(
        transitions(60, 3, 2),
        [
            (120, AlarmState::Ok),
            (480, AlarmState::Alarm),
            (600, AlarmState::Ok)
        ]
    );
    // Three of three never alarms on a two-minute spike.
    assert!(
        transitions(60, 3, 3)
            .iter()
            .all(|(_, s)| *s != AlarmState::Alarm)
    );
}

#[test]
fn a_state_change_reaches_the_remediator_after_the_delivery_latency() {
    let mut a = account(&spike(60, 1, 1));
    run_to(&mut a, 426);
    assert!(
        a.take_deliveries()
            .iter()
            .all(|d| d.transition.to != AlarmState::Alarm),
        "not yet"
    );
    run_to(&mut a, 427);
    let arrived = a.take_deliveries();
    assert_eq!(arrived.len(), 2, "both account alarms: {arrived:?}");
    assert!(arrived.iter().all(|d| d.deliver_at == 427));
    assert!(a.take_deliveries().is_empty(), "each delivered once");
}

#[test]
fn peaks_are_read_from_published_minutes_only() {
    let mut a = account(&spike(60, 1, 1));
    run_to(&mut a, 400);
    // Minute 5 (the spike) has closed but is not published until 420.
    assert_eq!(a.account_peak(0..10), Some(10));
    assert_eq!(a.peak("spiky", 0..10), Some(10));
    run_to(&mut a, 420);
    assert_eq!(a.account_peak(0..10), Some(900));
    assert_eq!(a.peak("spiky", 5..6), Some(900));
    assert_eq!(a.peak("spiky", 0..5), Some(10));
    // What a guard re-reads to confirm the alarm: the alarm's own datapoints.
    let published = a.published_minutes();
    assert_eq!(published, 6);
    assert_eq!(
        a.alarm_datapoints(ACCOUNT_ALARM, published),
        Some(vec![Some(900.0)])
    );
    assert_eq!(a.alarm_datapoints(ACCOUNT_ALARM, 5), Some(vec![Some(10.0)]));
}

#[test]
fn a_function_alarm_treats_missing_data_as_the_definition_says() {
    let mut a = account(
        r#"
duration_s = 300
[[alarms]]
name = "quiet-throttles"
metric = { scope = "function", function = "quiet", name = "Throttles" }
evaluation_periods = 1
threshold = 0
comparison = "GreaterThanThreshold"
treat_missing_data = "missing"
[[functions]]
name = "quiet"
duration_s = 1
source = { kind = "direct" }
"#,
    );
    run_to(&mut a, 300);
    let alarm = a.alarm("quiet-throttles").expect("defined");
    assert_eq!(alarm.state, AlarmState::InsufficientData);
    assert!(alarm.transitions.is_empty());
}
