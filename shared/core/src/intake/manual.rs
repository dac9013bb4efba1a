//! The operator's manual payload: `{"dryRun"?: bool, "functionName": "…"}` or
//! `{"dryRun"?: bool, "alarm": <any other event shape>}`.
//!
//! Edit this file when what an operator may ask for by hand changes. A manual payload is a dry
//! run unless it says `"dryRun": false`; unknown fields are rejected rather than ignored, so a
//! misspelt `dryRun` is an error, not a silent dry run; and it may wrap any other shape, but not
//! itself.

use chrono::Utc;
use serde_json::{Map, Value};

use super::{
    EventSource, IntakeError, Request, Subject, json_kind, parse_event, valid_function_name,
};

pub(super) fn parse_manual(obj: &Map<String, Value>) -> Result<Vec<Request>, IntakeError> {
    // A hand-made invocation is a dry run unless the operator says otherwise, explicitly.
    let dry_run = match obj.get("dryRun") {
        None => true,
        Some(Value::Bool(b)) => *b,
        Some(other) => {
            return Err(IntakeError::invalid(
                "dryRun",
                format!("expected true or false, got {}", json_kind(other)),
            ));
        }
    };
    let known = ["dryRun", "functionName", "alarm"];
    if let Some(k) = obj.keys().find(|k| !known.contains(&k.as_str())) {
        return Err(IntakeError::invalid(
            k.clone(),
            "unknown field in manual payload (expected dryRun, and functionName or alarm)",
        ));
    }
    match (obj.get("functionName"), obj.get("alarm")) {
        (Some(_), Some(_)) => Err(IntakeError::invalid(
            "manual payload",
            "give either functionName or alarm, not both",
        )),
        (Some(name), None) => {
            let name = name
                .as_str()
                .filter(|s| valid_function_name(s))
                .ok_or_else(|| {
                    IntakeError::invalid(
                        "functionName",
                        "expected a Lambda function name (1-64 of A-Z a-z 0-9 - _)",
                    )
                })?;
            Ok(vec![Request {
                subject: Subject::Function {
                    name: name.to_owned(),
                    requested_at: Utc::now(),
                },
                dry_run,
                source: EventSource::Manual,
            }])
        }
        (None, Some(alarm)) => {
            let inner = parse_event(alarm)?;
            if inner.iter().any(|r| r.source == EventSource::Manual) {
                return Err(IntakeError::invalid(
                    "alarm",
                    "a manual payload cannot wrap another",
                ));
            }
            Ok(inner
                .into_iter()
                .map(|r| Request {
                    dry_run,
                    source: EventSource::Manual,
                    ..r
                })
                .collect())
        }
        (None, None) => Err(IntakeError::invalid(
            "manual payload",
            "give functionName (a function to treat as the offender) or alarm (an alarm event)",
        )),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::intake::fixtures::event;
    use crate::intake::{AlarmState, EventSource, Subject, parse_event};

    #[test]
    fn manual_payload_defaults_to_dry_run_and_names_a_function() {
        let reqs = parse_event(&event("manual-dry-run.json")).unwrap();
        assert!(reqs[0].dry_run);
        assert!(
            matches!(&reqs[0].subject, Subject::Function { name, .. } if name == "checkout-worker")
        );
        let wrapped = parse_event(&json!({"alarm": event("alarm-action.json")})).unwrap();
        assert!(wrapped[0].dry_run);
        assert_eq!(wrapped[0].source, EventSource::Manual);
        let wrapped = parse_event(&event("manual-alarm-dry-run.json")).unwrap();
        assert!(wrapped[0].dry_run);
        assert!(matches!(&wrapped[0].subject, Subject::Alarm(a) if a.state == AlarmState::Alarm));
        let apply = parse_event(&json!({"dryRun": false, "functionName": "f"})).unwrap();
        assert!(!apply[0].dry_run);
    }

    #[test]
    fn malformed_manual_payloads_get_errors_that_name_the_problem() {
        let cases = [
            (
                json!({"dryRun": "yes", "functionName": "f"}),
                "invalid dryRun",
            ),
            (
                json!({"functionName": "arn:aws:lambda:x"}),
                "invalid functionName",
            ),
            (json!({"functionName": "f", "force": true}), "invalid force"),
            (json!({"dryRun": true}), "give functionName"),
        ];
        for (input, expected) in cases {
            let err = parse_event(&input).unwrap_err().to_string();
            assert!(
                err.contains(expected),
                "{input}: {err:?} should contain {expected:?}"
            );
        }
    }
}
