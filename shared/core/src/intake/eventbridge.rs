//! The EventBridge "CloudWatch Alarm State Change" event.
//!
//! Edit this file when the envelope changes. The `detail` is the alarm-action's [`AlarmData`]
//! (read in `alarm_action.rs`) but carries no ARN: the alarm's ARN is the entry of `resources`
//! that names an alarm, and the account and region come from the envelope.

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use serde_json::Value;

use super::alarm_action::AlarmData;
use super::{EventSource, IntakeError, Problem, Request, Subject};

pub(super) fn parse_eventbridge(event: &Value, dry_run: bool) -> Result<Request, IntakeError> {
    let e: EventBridgeEvent<AlarmData> = serde_json::from_value(event.clone()).map_err(|e| {
        IntakeError::invalid("EventBridge event", Problem::Malformed(e.to_string()))
    })?;
    if e.source != "aws.cloudwatch" {
        return Err(IntakeError::invalid(
            "source",
            Problem::NotFromCloudWatch(e.source),
        ));
    }
    let arn = e
        .resources
        .and_then(|r| r.into_iter().find(|a| a.contains(":alarm:")));
    let alarm = e.detail.into_alarm(arn, e.account, e.region)?;
    Ok(Request {
        subject: Subject::Alarm(alarm),
        dry_run,
        source: EventSource::EventBridge,
    })
}

#[cfg(test)]
mod tests {
    use crate::intake::fixtures::{event, only_alarm};
    use crate::intake::{AlarmState, EventSource, parse_event};

    #[test]
    fn eventbridge_state_change_takes_the_arn_from_resources() {
        let reqs = parse_event(&event("eventbridge-state-change.json")).unwrap();
        assert_eq!(reqs[0].source, EventSource::EventBridge);
        let alarm = only_alarm(reqs);
        assert_eq!(
            alarm.arn.as_deref(),
            Some(
                "arn:aws:cloudwatch:us-east-1:123456789012:alarm:concurrency-guard-account-concurrency"
            )
        );
        assert_eq!(alarm.state, AlarmState::Alarm);
    }
}
