//! Bad input never panics and always gets a clear error: arbitrary JSON, and every real payload
//! in `events/` mutated at random (values replaced, keys removed, strings garbled).
//! A parse error means the engine never runs, so no AWS write can follow (the remediator's
//! handler test shows the rejection happens before any call).

use cguard_core::intake::{
    MAX_REQUESTS_PER_EVENT, Subject, canonical_function_name, parse_event, valid_alarm_arn,
};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

const EVENTS: [&str; 9] = [
    include_str!("../../../events/sns-account-concurrency.json"),
    include_str!("../../../events/sns-victim-throttles.json"),
    include_str!("../../../events/sns-metric-math.json"),
    include_str!("../../../events/sns-ok.json"),
    include_str!("../../../events/alarm-action.json"),
    include_str!("../../../events/eventbridge-state-change.json"),
    include_str!("../../../events/manual-dry-run.json"),
    include_str!("../../../events/manual-alarm-dry-run.json"),
    include_str!("../../../events/auditor-schedule.json"),
];

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        ".{0,12}".prop_map(Value::String),
        prop_oneof![
            Just("ALARM"),
            Just("OK"),
            Just("Records"),
            Just("aws.cloudwatch"),
            Just("{\"AlarmName\":1}")
        ]
        .prop_map(|s| Value::String(s.into())),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    ".{0,8}".boxed(),
                    prop_oneof![
                        Just("Records"),
                        Just("alarmData"),
                        Just("detail-type"),
                        Just("dryRun"),
                        Just("functionName"),
                        Just("alarm"),
                        Just("Sns"),
                        Just("Message")
                    ]
                    .prop_map(String::from)
                    .boxed()
                ],
                inner,
                0..6
            )
            .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// Replaces, removes or garbles the node at a pseudo-random position (`pick`) of the tree,
/// descending into SNS messages (JSON inside a string) too.
fn mutate(v: &mut Value, pick: &mut u64, replacement: &Value) -> bool {
    let here = (*pick).is_multiple_of(7);
    *pick /= 3;
    if here || *pick == 0 {
        *v = replacement.clone();
        return true;
    }
    match v {
        Value::Object(m) => {
            let keys: Vec<String> = m.keys().cloned().collect();
            if keys.is_empty() {
                return false;
            }
            let k = &keys[(*pick as usize) % keys.len()];
            if *pick % 5 == 1 {
                m.remove(k);
                return true;
            }
            let child = m.get_mut(k).expect("key exists");
            if let Value::String(s) = child
                && let Ok(mut inner) = serde_json::from_str::<Value>(s)
            {
                let done = mutate(&mut inner, pick, replacement);
                *s = inner.to_string();
                return done;
            }
            mutate(child, pick, replacement)
        }
        Value::Array(a) if !a.is_empty() => {
            let i = (*pick as usize) % a.len();
            mutate(&mut a[i], pick, replacement)
        }
        _ => {
            *v = replacement.clone();
            true
        }
    }
}

/// Cases per property: 3,000 in `cargo test`; `scripts/fuzz-intake N` sets
/// `CGUARD_FUZZ_CASES` (34,000 by default: over 100,000 payloads across the three).
fn cases() -> u32 {
    std::env::var("CGUARD_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3000)
}

/// Whatever came in: an error that says something, or requests that every later check can
/// trust — few enough, alarm names without control characters, a well-formed alarm ARN of
/// that alarm, and every function a metric names in its canonical form.
fn check(v: &Value) {
    match parse_event(v) {
        Err(e) => assert!(!e.to_string().trim().is_empty()),
        Ok(requests) => {
            assert!(!requests.is_empty() && requests.len() <= MAX_REQUESTS_PER_EVENT);
            for r in requests {
                match r.subject {
                    Subject::Alarm(a) => {
                        assert!(!a.name.trim().is_empty());
                        assert!(!a.name.chars().any(char::is_control), "{:?}", a.name);
                        if let Some(arn) = &a.arn {
                            assert!(valid_alarm_arn(arn, &a.name, a.account_id.as_deref()));
                        }
                        for f in a.metrics.iter().filter_map(|m| m.function_name()) {
                            assert_eq!(canonical_function_name(f).as_deref(), Some(f));
                        }
                    }
                    Subject::Function { name, .. } => {
                        assert_eq!(canonical_function_name(&name), Some(name));
                    }
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_json_never_panics(v in json_value()) {
        check(&v);
    }

    #[test]
    fn mutated_real_payloads_never_panic(which in 0..EVENTS.len(), pick in any::<u64>(), replacement in json_value()) {
        let mut v: Value = serde_json::from_str(EVENTS[which]).unwrap();
        mutate(&mut v, &mut pick.clone(), &replacement);
        check(&v);
    }

    #[test]
    fn garbled_text_never_panics(which in 0..EVENTS.len(), at in any::<prop::sample::Index>(), junk in ".{0,4}") {
        let text = EVENTS[which];
        let i = at.index(text.len());
        if text.is_char_boundary(i)
            && let Ok(v) = serde_json::from_str::<Value>(&format!("{}{junk}{}", &text[..i], &text[i..])) {
                check(&v);
            }
    }
}
