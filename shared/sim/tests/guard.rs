//! The guard's ports over the simulated account: what each answers, checked against the
//! guard's own code (its intake, its confirmation, its belief in a ranking), and a guarded run
//! that leaves the ledger as the guard's promises say.

use std::path::PathBuf;

use cguard_core::attribution::Scope;
use cguard_core::confirm::{Unconfirmed, confirm};
use cguard_core::intake::{AlarmState, Subject};
use cguard_core::model::{Change, Current, Reservation};
use cguard_core::observation::Window;
use cguard_core::ranking::believe;
use cguard_core::record::TAG_INCIDENT;
use cguard_engine::ports::{Actuator, ErrorKind, Inventory, Metrics, Pointers};
use cguard_sim::account::{Delivery, function_arn};
use cguard_sim::guarded::guard_policy;
use cguard_sim::ports::{SimAccount, alarm_arn};
use cguard_sim::scenario::ACCOUNT_ALARM;
use cguard_sim::{Account, Policy, Scenario, clock, notify, run};
use futures::executor::block_on;

fn scenario(name: &str) -> Scenario {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../scenarios")
        .join(format!("{name}.toml"));
    Scenario::load(&path).expect("scenario file loads")
}

/// seed-000 without a guard, run until its first notification into ALARM has arrived; the
/// notifications into ALARM by then.
fn at_first_alarm() -> (Scenario, SimAccount, Vec<Delivery>) {
    let s = scenario("seed-000");
    let mut a = Account::new(&s, "seed-000").expect("builds");
    let mut arrived = Vec::new();
    while !arrived
        .iter()
        .any(|d: &Delivery| d.transition.to == AlarmState::Alarm)
    {
        a.step();
        arrived.extend(a.take_deliveries());
    }
    arrived.retain(|d| d.transition.to == AlarmState::Alarm);
    (s, SimAccount::new(a), arrived)
}

#[test]
fn a_notification_reads_as_the_alarm_it_renders() {
    let (s, sim, arrived) = at_first_alarm();
    let delivery = arrived
        .iter()
        .find(|d| d.transition.to == AlarmState::Alarm)
        .expect("an alarm");
    let defs = s.alarm_defs();
    let def = defs
        .iter()
        .find(|d| d.name == delivery.alarm)
        .expect("defined");
    let requests = notify::requests(def, delivery).expect("the guard's intake reads it");
    let [request] = &requests[..] else {
        panic!("one request per notification")
    };
    let Subject::Alarm(alarm) = &request.subject else {
        panic!("an alarm")
    };
    assert_eq!(alarm.name, delivery.alarm);
    assert_eq!(alarm.arn.as_deref(), Some(alarm_arn(&def.name).as_str()));
    assert_eq!(alarm.changed_at, clock::at(delivery.transition.at));
    assert_eq!(alarm.region.as_deref(), Some("us-east-1"));
    assert_eq!(alarm.previous_state, Some(delivery.transition.from));
    assert_ne!(Scope::of(alarm), Scope::Unrelated { why: String::new() });
    // CloudWatch confirms it: the alarm exists with that ARN, in ALARM since then, its own
    // metric breaching in what is published now.
    let evidence = block_on(sim.alarm_evidence(&alarm.name, alarm.changed_at)).expect("reads");
    assert_eq!(confirm(alarm, evidence.as_ref()), Ok(()));
    assert_eq!(
        Scope::of(alarm) == Scope::Account,
        delivery.alarm == ACCOUNT_ALARM || delivery.alarm.contains("claimed")
    );
}

#[test]
fn a_notification_for_an_alarm_that_recovered_is_not_confirmed() {
    let (s, sim, arrived) = at_first_alarm();
    let delivery = arrived
        .into_iter()
        .find(|d| d.transition.to == AlarmState::Alarm)
        .expect("an alarm");
    let defs = s.alarm_defs();
    let def = defs
        .iter()
        .find(|d| d.name == delivery.alarm)
        .expect("defined");
    let request = notify::requests(def, &delivery).expect("reads").remove(0);
    let Subject::Alarm(alarm) = request.subject else {
        panic!("an alarm")
    };
    // Forty minutes on, the load test is over and the alarm has gone back to OK.
    sim.lock().run_until(2_900);
    let evidence = block_on(sim.alarm_evidence(&alarm.name, alarm.changed_at)).expect("reads");
    assert_eq!(
        confirm(&alarm, evidence.as_ref()),
        Err(Unconfirmed::NotInAlarm {
            state: AlarmState::Ok
        })
    );
}

#[test]
fn metrics_insights_answers_like_the_batched_path_and_is_believed() {
    let (s, sim, arrived) = at_first_alarm();
    let at = clock::at(arrived[0].transition.at);
    let window = Window::before(at, 10);
    let top = block_on(sim.top_peaks(&window, 10))
        .expect("reads")
        .expect("within Insights' three hours");
    let policy = guard_policy(&s, false);
    assert_eq!(believe(&top, &Scope::Account, &policy), Ok(()));
    let busiest = top
        .peaks
        .functions
        .iter()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .expect("some function");
    assert_eq!(busiest.0, "slow-search");
    let names: Vec<String> = top.peaks.functions.keys().cloned().collect();
    let batched = block_on(sim.peaks(&names, &window)).expect("reads");
    assert_eq!(batched, top.peaks, "the same datapoints either way");
    let active = block_on(sim.active_functions(window.start)).expect("reads");
    assert_eq!(active.len(), s.functions.len());
}

#[test]
fn usage_carries_every_series_the_guard_sizes_with() {
    let (_, sim, arrived) = at_first_alarm();
    let window = Window::before(clock::at(arrived[0].transition.at), 10);
    let usage = block_on(sim.usage(&["slow-search".to_owned()], &window)).expect("reads");
    let u = &usage[0];
    assert_eq!(u.avg_duration_ms(), Some(30_000.0));
    assert!(u.peak_concurrency().is_some_and(|p| p > 500.0), "{u:?}");
    // Little's law from the same datapoints agrees with the measured concurrency.
    let little = u.little_estimate().expect("invocations and duration");
    assert!(little > 400.0, "{little}");
}

#[test]
fn the_actuator_changes_what_the_inventory_reads_and_refuses_as_aws_does() {
    let (_, sim, _) = at_first_alarm();
    let cap = Change::Reservation {
        function: "slow-search".into(),
        previous: Reservation::Unreserved,
        new: Reservation::Reserved(100),
    };
    block_on(sim.apply(&cap)).expect("allowed");
    assert_eq!(
        block_on(sim.current(&cap)).expect("reads"),
        Current::Reservation(Reservation::Reserved(100))
    );
    let facts = block_on(sim.function(&function_arn("slow-search")))
        .expect("reads")
        .expect("by ARN too");
    assert_eq!(facts.reservation, Reservation::Reserved(100));
    let too_much = Change::Reservation {
        function: "orders-api".into(),
        previous: Reservation::Unreserved,
        new: Reservation::Reserved(850),
    };
    let refused = block_on(sim.apply(&too_much)).expect_err("below the minimum");
    assert_eq!(refused.kind, ErrorKind::BelowUnreservedMinimum);
    let missing = Change::Reservation {
        function: "nobody".into(),
        previous: Reservation::Unreserved,
        new: Reservation::Reserved(1),
    };
    assert_eq!(
        block_on(sim.apply(&missing))
            .expect_err("no such function")
            .kind,
        ErrorKind::NotFound
    );
    assert_eq!(block_on(sim.function("nobody")).expect("reads"), None);
}

#[test]
fn the_pointer_is_a_tag_on_the_function() {
    let (_, sim, _) = at_first_alarm();
    let arn = function_arn("slow-search");
    let incident = cguard_core::intake::IncidentId::from_recorded("4f1c2b9a7d3e");
    block_on(sim.point(&arn, &incident)).expect("tags");
    assert_eq!(
        block_on(sim.pointers()).expect("lists"),
        [("slow-search".to_owned(), incident.to_string())]
    );
    let facts = block_on(sim.function("slow-search"))
        .expect("reads")
        .expect("exists");
    assert_eq!(facts.tags.get(TAG_INCIDENT), Some(&incident.to_string()));
    block_on(sim.unpoint(&arn)).expect("untags");
    assert!(block_on(sim.pointers()).expect("lists").is_empty());
}

#[test]
fn a_guarded_run_acts_once_per_incident_and_closes_what_it_restores() {
    let o = run(&scenario("persisting-offender"), Policy::Guard).expect("runs");
    let log = o.guard.as_ref().expect("the guard ran");
    assert!(log.intake_errors.is_empty(), "{:?}", log.intake_errors);
    assert!(log.unconfirmed.is_empty(), "{:?}", log.unconfirmed);
    let applied: Vec<_> = log.actions.iter().filter(|s| s.applied).collect();
    assert_eq!(applied.len(), 2, "a throttle and a cap: {applied:#?}");
    assert!(applied.iter().all(|s| s.function == "slow-search"));
    let restored: Vec<_> = log.restores.iter().filter(|s| s.applied).collect();
    assert_eq!(restored.len(), 2, "{:#?}", log.restores);
    let (bot_leaves, cooldown) = (9_300, 30 * 60);
    assert!(restored[0].at >= bot_leaves + cooldown, "{restored:#?}");
    assert_eq!(o.realarms, 0);
}

#[test]
fn the_alarm_history_lists_each_transition_into_alarm_as_the_backtest_reads_it() {
    let (_, sim, arrived) = at_first_alarm();
    let now = clock::at(sim.lock().now());
    let history =
        block_on(sim.alarm_transitions("", clock::epoch(), now)).expect("reads the history");
    assert_eq!(history.len(), arrived.len(), "{history:#?}");
    let account = history
        .iter()
        .find(|t| t.alarm == ACCOUNT_ALARM)
        .expect("the account alarm fired");
    assert_eq!(account.metrics[0].name, "ConcurrentExecutions");
    assert!(account.metrics[0].dimensions.is_empty());
    let requests = cguard_core::intake::parse_event(&account.event()).expect("intake reads it");
    assert_eq!(requests.len(), 1);
    assert!(
        block_on(sim.alarm_transitions("nothing-", clock::epoch(), now))
            .expect("reads")
            .is_empty()
    );
}
