//! API Gateway in front of Lambda (SIM-FACTS §1): its own throttle answers 429; a request it
//! lets through that Lambda throttles answers 500, not retried by API Gateway.

use cguard_core::model::{ApiKind, ApiTarget, Route, Throttle};
use cguard_sim::Setting;

use super::{account, run_to};

fn api(stage_throttle: &str, limit: u32, callers: &str) -> String {
    format!(
        r#"
duration_s = 60
[params.pool]
account_limit = {limit}
[[stages]]
api = "shop"
kind = "rest"
stage = "prod"
{stage_throttle}
[[functions]]
name = "hog"
duration_s = 600
source = {{ kind = "direct" }}
load = [{{ profile = {{ kind = "constant", rate = 100 }} }}]
[[functions]]
name = "orders"
duration_s = 1
source = {{ kind = "api", api = "shop", stage = "prod", method = "POST", path = "/orders"{callers} }}
load = [{{ profile = {{ kind = "constant", rate = 50 }} }}]
"#
    )
}

#[test]
fn a_stage_throttle_answers_429_and_lambda_sees_only_what_passes() {
    // Rate 10, burst 20: the bucket starts full (20), then 10 a second.
    let mut a = account(&api("throttle = { rate = 10, burst = 20 }", 100_000, ""));
    run_to(&mut a, 60);
    let t = *a.function("orders").expect("exists").totals();
    assert_eq!(t.invocations, 20 + 59 * 10);
    assert_eq!(t.callers_429, 60 * 50 - (20 + 59 * 10));
    assert_eq!(t.callers_500, 0);
    assert_eq!(t.throttled(), 0, "a 429 never reaches Lambda");
}

#[test]
fn lambda_throttling_behind_api_gateway_answers_500() {
    // The hog fills an account of 1,000 within seconds (100 new 600 s invocations a second).
    let mut a = account(&api("", 1000, ""));
    run_to(&mut a, 60);
    let t = *a.function("orders").expect("exists").totals();
    assert_eq!(t.callers_429, 0);
    assert!(t.callers_500 > 1000, "{t:?}");
    assert_eq!(t.callers_500, t.throttled_pool);
    assert_eq!(
        t.callers_gave_up, t.callers_500,
        "callers that do not retry give up"
    );
}

#[test]
fn callers_retry_as_told_and_give_up_after_their_last_retry() {
    let mut a = account(&api(
        "",
        1000,
        ", callers = { retry_fraction = 1.0, max_retries = 2, retry_delay_s = 1 }",
    ));
    run_to(&mut a, 60);
    let t = *a.function("orders").expect("exists").totals();
    // Every failure is retried twice, so arrivals exceed the 3,000 fresh requests.
    assert!(t.arrivals > 60 * 50, "{t:?}");
    assert_eq!(t.arrivals, t.invocations + t.callers_500 + t.callers_429);
    // Whatever still failed on its third attempt (or at the end) is lost for good.
    assert!(t.callers_gave_up < t.callers_500);
}

#[test]
fn a_method_throttle_set_later_reads_back_at_once_and_acts_after_the_delay() {
    let mut a = account(&format!(
        "{}\n[params.propagation]\nstage_throttle_s = 10\n",
        api("", 100_000, "")
    ));
    run_to(&mut a, 20);
    let target = ApiTarget {
        kind: ApiKind::Rest,
        api_id: "shop".into(),
        stage: "prod".into(),
        route: Some(Route {
            method: "POST".into(),
            path: "/orders".into(),
        }),
    };
    let throttle = Throttle {
        rate: 5.0,
        burst: 5,
    };
    a.apply(Setting::Throttle {
        target: target.clone(),
        value: Some(throttle),
    })
    .expect("stage exists");
    assert_eq!(a.throttle(&target), Ok(Some(throttle)));
    run_to(&mut a, 30);
    assert_eq!(
        a.function("orders").expect("exists").totals().callers_429,
        0
    );
    run_to(&mut a, 40);
    // From second 30: the bucket starts full (5), then 5 a second: 45 of 500 get through.
    assert_eq!(
        a.function("orders").expect("exists").totals().callers_429,
        500 - 50
    );
    let stage_default = ApiTarget {
        route: None,
        ..target
    };
    assert_eq!(
        a.throttle(&stage_default),
        Ok(None),
        "the stage default is untouched"
    );
}
