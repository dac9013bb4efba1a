//! The fixture most suites start from: one offender, `hog`, driven by one REST API stage and
//! one SQS mapping, owned by a team that tagged it, beside a quiet function.

use std::collections::BTreeMap;

use cguard_core::model::{ApiKind, ApiTarget, Current, Reservation, ResourceKey};
use std::ops::RangeInclusive;

use cguard_core::observation::FunctionUsage;
use chrono::{DateTime, Duration, Utc};

use crate::{FakeAccount, FakeFunction};

pub const FUNCTION: &str = "hog";
pub const QUEUE: &str = "8f2b1c3d-0000-4000-8000-000000000001";
pub const QUEUE_ARN: &str = "arn:aws:sqs:us-east-1:123456789012:orders";

pub fn api_target() -> ApiTarget {
    ApiTarget {
        kind: ApiKind::Rest,
        api_id: "a1b2c3".into(),
        stage: "prod".into(),
        route: None,
    }
}

pub fn api() -> ResourceKey {
    ResourceKey::Api(api_target())
}

pub fn queue() -> ResourceKey {
    ResourceKey::Queue(QUEUE.into())
}

pub fn function() -> ResourceKey {
    ResourceKey::Function(FUNCTION.into())
}

/// The state every test starts from (and every restore must return to).
pub fn original() -> BTreeMap<ResourceKey, Current> {
    BTreeMap::from([
        (api(), Current::Throttle(None)),
        (queue(), Current::QueueConcurrency(None)),
        (function(), Current::Reservation(Reservation::Unreserved)),
        (
            ResourceKey::Function("quiet".into()),
            Current::Reservation(Reservation::Unreserved),
        ),
    ])
}

pub fn owner_tags() -> BTreeMap<String, String> {
    BTreeMap::from([("team".into(), "payments".into())])
}

/// The account-concurrency alarm of `events/alarm-action.json`, as intake reads it.
pub fn account_alarm() -> cguard_core::intake::Alarm {
    let event: serde_json::Value =
        serde_json::from_str(include_str!("../../../events/alarm-action.json"))
            .expect("the sample event is JSON");
    match cguard_core::intake::parse_event(&event)
        .expect("the sample event parses")
        .remove(0)
        .subject
    {
        cguard_core::intake::Subject::Alarm(a) => a,
        cguard_core::intake::Subject::Function { .. } => unreachable!("an alarm event"),
    }
}

/// The classic offender's load: 700 concurrent, 1,400 invocations a minute of 30 s each, in
/// each whole minute of `minutes` around `at`.
pub fn pressing(at: DateTime<Utc>, minutes: RangeInclusive<i64>) -> FunctionUsage {
    let minutes = minutes.map(|m| (at + Duration::minutes(m)).timestamp() / 60 * 60);
    let series = |v: f64| minutes.clone().map(|t| (t, v)).collect();
    FunctionUsage {
        name: FUNCTION.into(),
        concurrency: series(700.0),
        invocations: series(1400.0),
        duration_ms: series(30_000.0),
        throttles: Default::default(),
    }
}

/// `hog` with the given usage, a quiet function at 40, the account at 980 of 1000, the alarm
/// still in ALARM.
pub fn account(usage: FunctionUsage) -> FakeAccount {
    FakeAccount::empty()
        .with_function(
            FakeFunction::new(FUNCTION)
                .tags(owner_tags())
                .api(api_target())
                .queue(QUEUE, QUEUE_ARN)
                .usage(usage),
        )
        .with_function(FakeFunction::new("quiet").peak(40.0))
        .with_account_peak(980.0)
        .with_alarm_state(Some(cguard_core::intake::AlarmState::Alarm))
        .with_confirmed_alarm(&account_alarm(), 980.0, 800.0)
}
