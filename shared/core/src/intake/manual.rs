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
    EventSource, IntakeError, Problem, Request, Subject, canonical_function_name, json_kind,
    parse_event,
};

pub(super) fn parse_manual(obj: &Map<String, Value>) -> Result<Vec<Request>, IntakeError> {
    // A hand-made invocation is a dry run unless the operator says otherwise, explicitly.
    let dry_run = match obj.get("dryRun") {
        None => true,
        Some(Value::Bool(b)) => *b,
        Some(other) => {
            return Err(IntakeError::invalid(
                "dryRun",
                Problem::NotABoolean(json_kind(other)),
            ));
        }
    };
    let known = ["dryRun", "functionName", "alarm"];
    if let Some(k) = obj.keys().find(|k| !known.contains(&k.as_str())) {
        return Err(IntakeError::invalid(k.clone(), Problem::UnknownManualField));
    }
    match (obj.get("functionName"), obj.get("alarm")) {
        (Some(_), Some(_)) => Err(IntakeError::invalid(
            "manual payload",
            Problem::FunctionAndAlarm,
        )),
        (Some(name), None) => {
            let name = name
                .as_str()
                .and_then(canonical_function_name)
                .ok_or_else(|| IntakeError::invalid("functionName", Problem::NotAFunctionName))?;
            Ok(vec![Request {
                subject: Subject::Function {
                    name,
                    requested_at: Utc::now(),
                },
                dry_run,
                source: EventSource::Manual,
            }])
        }
        (None, Some(alarm)) => {
            let inner = parse_event(alarm)?;
            if inner.iter().any(|r| r.source == EventSource::Manual) {
                return Err(IntakeError::invalid("alarm", Problem::WrapsManual));
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
            Problem::NeitherFunctionNorAlarm,
        )),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::intake::fixtures::event;
    use crate::intake::{AlarmState, EventSource, IntakeError, Problem, Subject, parse_event};

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
                "dryRun",
                Problem::NotABoolean("a string"),
            ),
            (
                json!({"functionName": "arn:aws:lambda:x"}),
                "functionName",
                Problem::NotAFunctionName,
            ),
            (
                json!({"functionName": "f", "force": true}),
                "force",
                Problem::UnknownManualField,
            ),
            (
                json!({"dryRun": true}),
                "manual payload",
                Problem::NeitherFunctionNorAlarm,
            ),
        ];
        for (input, field, problem) in cases {
            let err = parse_event(&input).unwrap_err();
            let expected = IntakeError::Invalid {
                field: field.into(),
                problem,
            };
            assert_eq!(err, expected, "{input}");
        }
    }
}
