//! The pure core over many functions: `attribution::candidates` + `attribution::attribute` +
//! `plan::plan`, on synthetic `Peaks` / `FunctionUsage` (no I/O). Issue 5's target: < 5 ms for
//! 10,000 functions.
//!
//! - `production`: what the engine does — candidates from every function's peak, the detailed
//!   usage of those candidates only, attribution, plan;
//! - `every-usage`: a harsher case — attribution ranks the detailed usage of every function.
//!
//! `cargo bench -p cguard-core --bench core` (no AWS SDK is built).

use std::collections::BTreeMap;
use std::hint::black_box;

use cguard_core::attribution::{Scope, attribute, candidates};
use cguard_core::config::Policy;
use cguard_core::intake::IncidentId;
use cguard_core::model::{
    AccountFacts, ApiKind, ApiTarget, Driver, FunctionFacts, Reservation, Route,
};
use cguard_core::observation::{FunctionUsage, Observation, Peaks, Series, Window};
use cguard_core::plan::{PlanInput, plan};
use chrono::Utc;
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};

const OFFENDER: &str = "fn-00000";

fn name(i: usize) -> String {
    format!("fn-{i:05}")
}

/// Ten minutes of one function: the offender at 600 (20 req/s × 30 s), the others small and
/// all different.
fn usage(i: usize, window: &Window) -> FunctionUsage {
    let start = window.start.timestamp();
    let minute = |k: i64| start + 60 * k;
    let (concurrency, per_minute, duration_ms) = if i == 0 {
        (600.0, 1200.0, 30_000.0)
    } else {
        ((i % 50) as f64, (i % 120) as f64, 50.0 + (i % 900) as f64)
    };
    FunctionUsage {
        name: name(i),
        concurrency: (0..10).map(|k| (minute(k), concurrency)).collect(),
        invocations: (0..10).map(|k| (minute(k), per_minute)).collect(),
        duration_ms: (0..10).map(|k| (minute(k), duration_ms)).collect(),
        throttles: Series::default(),
    }
}

struct Fixture {
    scope: Scope,
    policy: Policy,
    incident: IncidentId,
    account: AccountFacts,
    facts: BTreeMap<String, FunctionFacts>,
    /// Peaks of every function; `usage` set per case.
    observation: Observation,
    all_usage: BTreeMap<String, FunctionUsage>,
}

impl Fixture {
    fn new(n: usize) -> Self {
        let window = Window::before(Utc::now(), 10);
        let all_usage: BTreeMap<String, FunctionUsage> =
            (0..n).map(|i| (name(i), usage(i, &window))).collect();
        let peaks = Peaks {
            account: Some(962.0),
            functions: all_usage
                .iter()
                .filter_map(|(n, u)| u.peak_concurrency().map(|p| (n.clone(), p)))
                .collect(),
        };
        let offender = FunctionFacts {
            name: OFFENDER.into(),
            arn: format!("arn:aws:lambda:us-east-1:123456789012:function:{OFFENDER}"),
            reservation: Reservation::Unreserved,
            tags: BTreeMap::new(),
            drivers: vec![Driver::Api {
                target: ApiTarget {
                    kind: ApiKind::Rest,
                    api_id: "a1b2c3".into(),
                    stage: "prod".into(),
                    route: Some(Route {
                        method: "GET".into(),
                        path: "/items".into(),
                    }),
                },
                current: None,
                shared_entry: false,
            }],
        };
        Self {
            scope: Scope::Account,
            policy: Policy::default(),
            incident: IncidentId::from_recorded("bench"),
            account: AccountFacts {
                limit: Some(1000),
                unreserved: Some(1000),
            },
            facts: [(OFFENDER.to_owned(), offender)].into(),
            observation: Observation {
                window,
                peaks,
                usage: Vec::new(),
            },
            all_usage,
        }
    }

    /// Attribution and plan over `self.observation` as it stands; returns the actions planned.
    fn attribute_and_plan(&self) -> usize {
        let attribution = attribute(&self.scope, &self.observation, &self.policy);
        let p = plan(&PlanInput {
            incident: &self.incident,
            attribution: &attribution,
            facts: &self.facts,
            records: &Default::default(),
            account: self.account,
            policy: &self.policy,
            escalate_to: None,
        });
        p.actions.len()
    }
}

fn core(c: &mut Criterion) {
    let mut group = c.benchmark_group("core");
    for n in [1_000, 10_000] {
        let mut f = Fixture::new(n);
        // Sanity: the offender is found and gets its throttle and cap.
        f.observation.usage = vec![f.all_usage[OFFENDER].clone()];
        assert_eq!(f.attribute_and_plan(), 2, "throttle + cap for {OFFENDER}");

        group.bench_with_input(BenchmarkId::new("production", n), &n, |b, _| {
            b.iter(|| {
                let names = candidates(&f.scope, black_box(&f.observation.peaks), &f.policy);
                f.observation.usage = names.iter().map(|n| f.all_usage[n].clone()).collect();
                black_box(f.attribute_and_plan())
            });
        });

        f.observation.usage = f.all_usage.values().cloned().collect();
        group.bench_with_input(BenchmarkId::new("every-usage", n), &n, |b, _| {
            b.iter(|| {
                let names = candidates(&f.scope, black_box(&f.observation.peaks), &f.policy);
                black_box(names);
                black_box(f.attribute_and_plan())
            });
        });
    }
    group.finish();
}

criterion_group!(benches, core);
criterion_main!(benches);
