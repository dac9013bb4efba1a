//! Times a generated 1,000-function, 1-hour scenario with the guard running in it (or under
//! another policy): the simulator's speed budget is under 10 s on 2 cores.
//! `cargo run --release -p cguard-sim --example scale [FUNCTIONS] [SECONDS] [POLICY]`

use std::process::ExitCode;
use std::time::Instant;

use cguard_core::model::ApiKind;
use cguard_sim::api::Callers;
use cguard_sim::load::{Load, Profile};
use cguard_sim::scenario::{
    AlarmTemplate, Baseline, FunctionSpec, QueueSpec, SourceSpec, StageSpec,
};
use cguard_sim::{Params, Policy, Role, Scenario, run};
use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let functions = args.next().and_then(|a| a.parse().ok()).unwrap_or(1_000);
    let seconds = args.next().and_then(|a| a.parse().ok()).unwrap_or(3_600);
    let policy: Policy = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(Policy::Guard);
    let scenario = generated(functions, seconds, 42);
    let started = Instant::now();
    let outcome = match run(&scenario, policy) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let elapsed = started.elapsed();
    let simulated = u64::from(functions) * u64::from(seconds);
    let guard = outcome.guard.as_ref();
    println!(
        "{functions} functions × {seconds} s, policy {policy}, simulated in {:.2} s ({:.1} M \
         function-seconds/s); invocations {}, victims throttled {}, first alarm at {:?} s, \
         first action at {:?} s; the guard handled {} notifications and ran {} audit passes",
        elapsed.as_secs_f64(),
        simulated as f64 / elapsed.as_secs_f64() / 1e6,
        outcome.roles.values().map(|c| c.invocations).sum::<u64>(),
        outcome.victims.throttled,
        outcome.first_alarm_s,
        outcome.first_change_s,
        guard.map_or(0, |g| g.notifications),
        guard.map_or(0, |g| g.audit_passes),
    );
    ExitCode::SUCCESS
}

/// A busy account: every source kind, durations from 0.1 to 30 s, about 700 concurrent in
/// the background, and one offender that eats the pool from minute 10 to minute 40.
fn generated(functions: u32, seconds: u32, seed: u64) -> Scenario {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let stages = (0..10)
        .map(|i| StageSpec {
            api: format!("api-{i}"),
            kind: if i % 2 == 0 {
                ApiKind::Rest
            } else {
                ApiKind::Http
            },
            stage: "prod".to_owned(),
            throttle: None,
        })
        .collect();
    let mut queues = Vec::new();
    let mut specs = vec![offender()];
    for i in 1..functions {
        let name = format!("fn-{i:04}");
        let duration_s: f64 = rng.random_range(0.1..30.0);
        // Little's law: about 0.7 concurrent each on average.
        let rate = rng.random_range(0.2..1.2) / duration_s;
        let source = source(i, &name, &mut queues);
        specs.push(FunctionSpec {
            name,
            role: if i % 50 == 0 {
                Role::Victim
            } else {
                Role::Bystander
            },
            duration_s,
            reservation: None,
            tags: Default::default(),
            source,
            load: vec![Load {
                from_s: 0,
                until_s: None,
                profile: Profile::Constant { rate },
                jitter: 0.3,
            }],
            emits: None,
        });
    }
    Scenario {
        name: "generated".to_owned(),
        description: format!("{functions} generated functions"),
        seed,
        duration_s: seconds,
        params: Params::default(),
        template: AlarmTemplate::default(),
        alarms: Vec::new(),
        baseline: Baseline::default(),
        stages,
        queues,
        functions: specs,
    }
}

/// Function `i`'s trigger, in turn: two in five behind an API, one an SQS consumer (its queue
/// added to `queues`), one invoked asynchronously, one directly.
fn source(i: u32, name: &str, queues: &mut Vec<QueueSpec>) -> SourceSpec {
    match i % 5 {
        0 | 1 => SourceSpec::Api {
            api: format!("api-{}", i % 10),
            stage: "prod".to_owned(),
            method: "GET".to_owned(),
            path: format!("/{name}"),
            throttle: None,
            callers: Callers {
                retry_fraction: 0.5,
                max_retries: 2,
                retry_delay_s: 1,
            },
        },
        2 => {
            queues.push(QueueSpec {
                name: format!("q-{name}"),
                visibility_timeout_s: 180,
                max_receive_count: Some(5),
            });
            SourceSpec::Queue {
                queue: format!("q-{name}"),
                batch_size: 10,
                maximum_concurrency: None,
                uuid: None,
            }
        }
        3 => SourceSpec::Async {
            max_event_age_s: None,
            destination: true,
        },
        _ => SourceSpec::Direct {
            callers: Callers::default(),
        },
    }
}

fn offender() -> FunctionSpec {
    FunctionSpec {
        name: "offender".to_owned(),
        role: Role::Offender,
        duration_s: 30.0,
        reservation: None,
        tags: Default::default(),
        source: SourceSpec::Direct {
            callers: Callers::default(),
        },
        load: vec![Load {
            from_s: 600,
            until_s: Some(2_400),
            profile: Profile::Constant { rate: 20.0 },
            jitter: 0.1,
        }],
        emits: None,
    }
}
