//! `scale`: issue 5 — attribution cost does not grow per function — and issue 10: both ranking
//! paths side by side, and the sequential round trips of one remediation.
//!
//! Run it through `scripts/bench`, which starts the local stand-in (moto behind the CBOR proxy).
//!
//! - `scale table [N…]` (default 10 100 1000 5000): each N in its own region of the
//!   stand-in, so they do not mix. Seeds N functions, their `ConcurrentExecutions`,
//!   `Invocations` and `Duration` over the 10 minutes before the alarm (one offender at 600
//!   every minute, the others at 1 in one minute each) and the account's
//!   `ConcurrentExecutions`, and leaves the retimed `events/alarm-action.json` in
//!   `.cache/bench/n<N>.json`. Then (a) runs the guard's dry-run plan for that alarm twice,
//!   each in a fresh process: with Metrics Insights on (the default; the proxy answers the
//!   query) and off (the batched `GetMetricData` fallback) — `rss N --json --insights on|off`,
//!   below — and (b) runs, in this process, the "hunt" of the AWS sample script:
//!   ListFunctions, then one GetMetricData per function. Every SDK client carries an
//!   interceptor that counts calls by service and operation. Prints the table with each target
//!   and PASS/MISS, and which path ranked (and why not Insights, when the guard fell back).
//! - `scale rss [N] [--json] [--insights on|off]` (default 5000, on): a fresh process that does
//!   what the remediator does for one event and nothing else — build the clients from the
//!   default chain, plan (dry run) against the region `table` seeded for N — then reads its own
//!   peak resident set size (`VmHWM` in `/proc/self/status`). The seeding's memory is in another
//!   process and does not count.
//! - `scale trips [--latency-ms L] [--reps K]` (default: `CBOR_PROXY_LATENCY_MS` or 0; 7): the
//!   classic incident (`cguard_e2e::ClassicIncident`) seeded K times, each in a fresh region,
//!   and remediated for real (not a dry run) with Insights on, from
//!   `events/sns-account-concurrency.json`. Times each remediation (event to last change) and
//!   records the interceptor's timeline: each call's start and end, and the longest chain of
//!   calls each starting after the previous one ended — the sequential round trips, judged
//!   against the target. L is the latency the stand-in's proxy adds to every request
//!   (`scripts/bench` restarts it with `CBOR_PROXY_LATENCY_MS`); the figures go to
//!   `.cache/bench/trips-<L>.json` and, for L > 0, (median wall at L − median wall at L′) ÷
//!   (L − L′) for every lower L′ saved there (0 first) estimates the same count from wall times.
//!
//! Nothing here asserts: the figures are printed next to their targets.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use aws_config::SdkConfig;
use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeSerializationInterceptorContextRef, FinalizerInterceptorContextRef,
};
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::DateTime as SmithyTime;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};
use cguard_core::config::Policy;
use cguard_core::intake::parse_event;
use cguard_core::observation::Window;
use cguard_core::report::{Outcome, Report};
use cguard_e2e::{ClassicIncident, Lab, datum, event_at, minutes_before};
use cguard_engine::Guard;
use chrono::{DateTime, Utc};
use futures::{StreamExt, TryStreamExt, stream};
use serde_json::{Value, json};

/// The sizes of issue 5, each in its own region of the stand-in.
const SIZES: [usize; 4] = [10, 100, 1000, 5000];
const REGIONS: [&str; 8] = [
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "eu-west-1",
    "eu-west-2",
    "eu-central-1",
    "ap-southeast-1",
];
const WINDOW_MINUTES: i64 = 10;
const OFFENDER: &str = "spike-offender";
/// The alarm: account `ConcurrentExecutions`, delivered as a direct alarm action.
const EVENT: &str = "alarm-action.json";
/// Targets of issue 5.
const RATIO_TARGET: f64 = 20.0;
const RSS_TARGET_MB: f64 = 40.0;
/// Target of issue 10: CloudWatch calls when Metrics Insights ranks, whatever N (the query, the
/// account's peak, the candidates' details).
const INSIGHTS_CLOUDWATCH_TARGET: u64 = 3;
/// Target of issue 10: sequential AWS round trips from the event to the last change.
const TRIPS_TARGET: f64 = 8.0;
/// `trips`: the classic incident's alarm, as delivered through SNS, and the regions its
/// repetitions take (none of `REGIONS`; a region where the incident was already seeded, by an
/// earlier run against the same stand-in, is skipped).
const TRIPS_EVENT: &str = "sns-account-concurrency.json";
const TRIPS_REGIONS: [&str; 12] = [
    "ca-central-1",
    "eu-north-1",
    "eu-west-3",
    "eu-south-1",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-south-1",
    "ap-southeast-2",
    "sa-east-1",
    "me-south-1",
    "af-south-1",
];
const TRIPS_REPS: usize = 7;

#[tokio::main]
async fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        None | Some("table") => {
            let sizes = if args.len() > 1 {
                args[1..]
                    .iter()
                    .map(|a| a.parse().with_context(|| format!("size {a:?}")))
                    .collect::<Result<Vec<usize>>>()?
            } else {
                SIZES.to_vec()
            };
            table(&sizes).await
        }
        Some("rss") => {
            let mut opts = Opts::new(&args[1..]);
            let json_out = opts.flag("--json");
            let insights = match opts.value("--insights")?.as_deref() {
                None | Some("on") => true,
                Some("off") => false,
                Some(other) => bail!("--insights on|off (got {other:?})"),
            };
            let n = match opts.rest()?.as_slice() {
                [] => 5000,
                [a] => a.parse().with_context(|| format!("size {a:?}"))?,
                more => bail!("one size at most (got {more:?})"),
            };
            rss(n, json_out, insights).await
        }
        Some("trips") => {
            let mut opts = Opts::new(&args[1..]);
            let latency_ms: f64 = match opts.value("--latency-ms")? {
                Some(v) => v.parse().with_context(|| format!("--latency-ms {v:?}"))?,
                None => match std::env::var("CBOR_PROXY_LATENCY_MS") {
                    Ok(v) if !v.is_empty() => v
                        .parse()
                        .with_context(|| format!("CBOR_PROXY_LATENCY_MS {v:?}"))?,
                    _ => 0.0,
                },
            };
            let reps = match opts.value("--reps")? {
                Some(v) => v.parse().with_context(|| format!("--reps {v:?}"))?,
                None => TRIPS_REPS,
            };
            if let [unexpected, ..] = opts.rest()?.as_slice() {
                bail!("trips: unexpected argument {unexpected:?}");
            }
            let latency_ok = latency_ms.is_finite() && latency_ms >= 0.0;
            if !latency_ok || !(1..=TRIPS_REGIONS.len()).contains(&reps) {
                bail!(
                    "trips: --latency-ms must be 0 or more, --reps 1 to {}",
                    TRIPS_REGIONS.len()
                );
            }
            trips(latency_ms, reps).await
        }
        Some(other) => {
            bail!(
                "usage: scale [table [N…] | rss [N] [--json] [--insights on|off] | \
                 trips [--latency-ms L] [--reps K]] (got {other:?})"
            )
        }
    }
}

/// Flags and `--name value` options of a mode, in any order, then the rest.
struct Opts(Vec<String>);

impl Opts {
    fn new(args: &[String]) -> Self {
        Self(args.to_vec())
    }

    fn flag(&mut self, name: &str) -> bool {
        let before = self.0.len();
        self.0.retain(|a| a != name);
        self.0.len() != before
    }

    fn value(&mut self, name: &str) -> Result<Option<String>> {
        let Some(i) = self.0.iter().position(|a| a == name) else {
            return Ok(None);
        };
        if i + 1 >= self.0.len() {
            bail!("{name} needs a value");
        }
        let v = self.0.remove(i + 1);
        self.0.remove(i);
        Ok(Some(v))
    }

    fn rest(self) -> Result<Vec<String>> {
        if let Some(a) = self.0.iter().find(|a| a.starts_with("--")) {
            bail!("unknown option {a:?}");
        }
        Ok(self.0)
    }
}

// ---------------------------------------------------------------------------------------------
// Counting calls

/// Counts SDK operations by `service:operation`, read from the operation's [`Metadata`] in the
/// config bag once per operation, and keeps their timeline. The hook is
/// `read_before_serialization`, not `read_before_execution`: a client-level interceptor's
/// `read_before_execution` runs before the operation's runtime plugin has stored its `Metadata`.
/// Both run once per operation, before the retry loop, so a retried call counts once; each page
/// of a paginator is its own operation and counts. A call's span runs from there to
/// `read_after_execution` (its last attempt answered, or it failed).
#[derive(Debug, Clone, Default)]
struct Calls(Arc<Mutex<CallLog>>);

#[derive(Debug)]
struct CallLog {
    origin: Instant,
    counts: BTreeMap<String, u64>,
    spans: Vec<Span>,
}

impl Default for CallLog {
    fn default() -> Self {
        Self {
            origin: Instant::now(),
            counts: BTreeMap::new(),
            spans: Vec::new(),
        }
    }
}

/// One call: `service:operation`, and when it started and ended, from the log's origin.
#[derive(Debug, Clone)]
struct Span {
    op: String,
    start: Duration,
    end: Option<Duration>,
}

/// Which span an operation is, kept in its own config bag between the two hooks.
#[derive(Debug, Clone, Copy)]
struct SpanIndex(usize);

impl Storable for SpanIndex {
    type Storer = StoreReplace<Self>;
}

impl Calls {
    /// The counts and timeline so far; starts again from zero, the origin now.
    fn take(&self) -> (BTreeMap<String, u64>, Vec<Span>) {
        let log = std::mem::take(&mut *self.0.lock().expect("counter lock"));
        (log.counts, log.spans)
    }
}

impl Intercept for Calls {
    fn name(&self) -> &'static str {
        "scale call counter"
    }

    fn read_before_serialization(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let key = cfg.load::<Metadata>().map_or_else(
            || "unknown:unknown".to_owned(),
            |m| format!("{}:{}", m.service(), m.name()),
        );
        let index = {
            let mut log = self.0.lock().expect("counter lock");
            *log.counts.entry(key.clone()).or_default() += 1;
            let start = log.origin.elapsed();
            log.spans.push(Span {
                op: key,
                start,
                end: None,
            });
            log.spans.len() - 1
        };
        cfg.interceptor_state().store_put(SpanIndex(index));
        Ok(())
    }

    fn read_after_execution(
        &self,
        _context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(SpanIndex(i)) = cfg.load::<SpanIndex>().copied() {
            let mut log = self.0.lock().expect("counter lock");
            let end = log.origin.elapsed();
            // A span from before the last `take` is gone; its index may now be another's.
            if let Some(span) = log
                .spans
                .get_mut(i)
                .filter(|s| s.end.is_none() && s.start <= end)
            {
                span.end = Some(end);
            }
        }
        Ok(())
    }
}

/// The guard's adapters exactly as `cguard_aws::Aws::new` builds them, Metrics Insights `on`
/// (as deployed; the stand-in's proxy answers the query) or off (the batched `GetMetricData`
/// path, the one whose cost depends on the number of functions), each client with the counter
/// added.
fn counted_guard(config: &SdkConfig, calls: &Calls, insights: bool) -> cguard_aws::Aws {
    cguard_aws::Aws::new(config)
        .with_metrics_insights(insights)
        .with_interceptor(calls.clone())
}

/// The longest chain of calls in `spans` each of which started after the previous one ended:
/// calls that overlap were in flight together and count once. Returns the chain's indices.
/// Among equally long chains, each call's predecessor is the one that ended last before it
/// started — the call it most likely waited for (a read that ran alongside and ended early,
/// like `GetAccountSettings` next to the ranking query, is not shown as the one waited for).
fn longest_chain(spans: &[Span]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..spans.len())
        .filter(|&i| spans[i].end.is_some())
        .collect();
    order.sort_by_key(|&i| spans[i].start);
    // For each span (in `order`): the longest chain ending with it, and its predecessor.
    let mut best: Vec<(usize, Option<usize>)> = Vec::with_capacity(order.len());
    for (k, &i) in order.iter().enumerate() {
        let mut here = (1, None);
        for (j_pos, &j) in order[..k].iter().enumerate() {
            let Some(end) = spans[j].end.filter(|e| *e <= spans[i].start) else {
                continue;
            };
            let later = here
                .1
                .is_none_or(|p: usize| spans[order[p]].end < Some(end));
            let len = best[j_pos].0 + 1;
            if len > here.0 || (len == here.0 && later) {
                here = (len, Some(j_pos));
            }
        }
        best.push(here);
    }
    // The longest chain ending last.
    let Some(mut at) = (0..best.len()).max_by_key(|&k| (best[k].0, spans[order[k]].end)) else {
        return Vec::new();
    };
    let mut chain = vec![order[at]];
    while let Some(prev) = best[at].1 {
        chain.push(order[prev]);
        at = prev;
    }
    chain.reverse();
    chain
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn counted_cloudwatch(config: &SdkConfig, calls: &Calls) -> aws_sdk_cloudwatch::Client {
    aws_sdk_cloudwatch::Client::from_conf(
        aws_sdk_cloudwatch::config::Builder::from(config)
            .interceptor(calls.clone())
            .build(),
    )
}

fn total(calls: &BTreeMap<String, u64>) -> u64 {
    calls.values().sum()
}

/// CloudWatch calls spent ranking: every CloudWatch call but the confirmation's, which are one
/// `DescribeAlarms` and one `GetMetricData` per alarm (`cguard_core::confirm`) whatever N.
fn cloudwatch_calls(calls: &BTreeMap<String, u64>) -> u64 {
    let all: u64 = calls
        .iter()
        .filter(|(k, _)| k.to_ascii_lowercase().starts_with("cloudwatch:"))
        .map(|(_, v)| v)
        .sum();
    let confirmations = calls
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("cloudwatch:DescribeAlarms"))
        .map(|(_, v)| v)
        .sum::<u64>();
    all - 2 * confirmations
}

fn breakdown(calls: &BTreeMap<String, u64>) -> String {
    calls
        .iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

// ---------------------------------------------------------------------------------------------
// Seeding

/// The minutes of the window in which a function ran, and its figures in each.
///
/// The offender ran every minute; a quiet function in one minute of the ten (Lambda emits no
/// datapoint for a minute without invocations, so the other nine have none, as in a real
/// account where most of thousands of functions are idle at any moment). Both algorithms still
/// read every function: CloudWatch lists it (recently active) and the hunt lists it in Lambda.
fn load(name: &str, index: usize, k: usize) -> Option<[(&'static str, f64); 3]> {
    if name == OFFENDER {
        // 20 req/s × 30 s = 600 concurrent executions, every minute.
        Some([
            ("ConcurrentExecutions", 600.0),
            ("Invocations", 20.0 * 60.0),
            ("Duration", 30_000.0),
        ])
    } else if k == index % WINDOW_MINUTES as usize {
        // 0.1 req/s of 200 ms: one execution at a time.
        Some([
            ("ConcurrentExecutions", 1.0),
            ("Invocations", 6.0),
            ("Duration", 200.0),
        ])
    } else {
        None
    }
}

/// Seeds `n` functions (the offender and `n - 1` quiet ones), their metrics for the
/// `WINDOW_MINUTES` minutes up to `at`, and the account's `ConcurrentExecutions`. The metric
/// loop is leaner than `Lab::function_metrics`: three metrics, 500 datums per PutMetricData
/// whatever function they belong to, four calls in flight.
async fn seed(lab: &Lab, n: usize, at: DateTime<Utc>) -> Result<Vec<String>> {
    let names: Vec<String> = std::iter::once(OFFENDER.to_owned())
        .chain((1..n).map(|i| format!("quiet-{i:05}")))
        .collect();
    stream::iter(names.iter())
        .map(|name| lab.function(name, &[]))
        .buffer_unordered(8)
        .try_collect::<Vec<_>>()
        .await?;

    let minutes = minutes_before(at, WINDOW_MINUTES);
    let mut data = Vec::with_capacity(3 * (n + minutes.len()));
    for (i, name) in names.iter().enumerate() {
        for (k, t) in minutes.iter().enumerate() {
            for (metric, value) in load(name, i, k).into_iter().flatten() {
                data.push(datum(metric, &[("FunctionName", name)], *t, value));
            }
        }
    }
    stream::iter(data.chunks(500))
        .map(|chunk| {
            lab.cloudwatch
                .put_metric_data()
                .namespace("AWS/Lambda")
                .set_metric_data(Some(chunk.to_vec()))
                .send()
        })
        .buffer_unordered(4)
        .try_collect::<Vec<_>>()
        .await
        .context("PutMetricData")?;
    // The account holds the offender's 600, the quiet functions' busy minutes and the rest of
    // the account's load: at least 962 (the alarm's threshold is 800, and the guard acts only
    // on an alarm whose own metric breaches), within 1000.
    let account = (600 + (n.saturating_sub(1)).div_ceil(10)).clamp(962, 1000);
    lab.account_metrics(&minutes, account as f64).await?;
    Ok(names)
}

// ---------------------------------------------------------------------------------------------
// The two algorithms

/// The guard, as the remediator runs it for this alarm, in a dry run.
async fn plan(aws: &cguard_aws::Aws, event: &Value) -> Result<Report> {
    let request = parse_event(event)?
        .into_iter()
        .next()
        .context("the alarm yields a request")?;
    let policy = Policy {
        dry_run: true,
        ..Default::default()
    };
    Ok(Guard::new(aws, policy)
        .remediate(&request, Utc::now())
        .await)
}

/// The AWS sample script's hunt: list every function (50 a page, as AWS pages them), then ask
/// CloudWatch for each one's `ConcurrentExecutions` Maximum over the window, one call each.
async fn hunt(
    lambda: &aws_sdk_lambda::Client,
    cloudwatch: &aws_sdk_cloudwatch::Client,
    window: &Window,
) -> Result<Option<(String, f64)>> {
    let pages: Vec<_> = lambda
        .list_functions()
        .max_items(50)
        .into_paginator()
        .send()
        .try_collect()
        .await
        .context("ListFunctions")?;
    let names: Vec<String> = pages
        .iter()
        .flat_map(|p| p.functions())
        .filter_map(|f| f.function_name().map(str::to_owned))
        .collect();
    let mut busiest: Option<(String, f64)> = None;
    for name in names {
        let out = cloudwatch
            .get_metric_data()
            .metric_data_queries(
                MetricDataQuery::builder()
                    .id("m1")
                    .metric_stat(
                        MetricStat::builder()
                            .metric(
                                Metric::builder()
                                    .namespace("AWS/Lambda")
                                    .metric_name("ConcurrentExecutions")
                                    .dimensions(
                                        Dimension::builder()
                                            .name("FunctionName")
                                            .value(&name)
                                            .build(),
                                    )
                                    .build(),
                            )
                            .period(Window::PERIOD_SECONDS)
                            .stat("Maximum")
                            .build(),
                    )
                    .build(),
            )
            .start_time(SmithyTime::from_secs(window.start.timestamp()))
            .end_time(SmithyTime::from_secs(window.end.timestamp()))
            .send()
            .await
            .with_context(|| format!("GetMetricData {name}"))?;
        let peak = out
            .metric_data_results()
            .iter()
            .flat_map(|r| r.values())
            .copied()
            .reduce(f64::max);
        if let Some(p) = peak
            && busiest.as_ref().is_none_or(|(_, b)| p > *b)
        {
            busiest = Some((name, p));
        }
    }
    Ok(busiest)
}

// ---------------------------------------------------------------------------------------------
// Table mode

/// The guard's figures for one N and one path, measured by the `rss` mode in its own process.
#[derive(Debug)]
struct GuardRun {
    insights: bool,
    calls: BTreeMap<String, u64>,
    wall: Duration,
    offenders: Vec<String>,
    /// The report's `ranked_by`: `{"path": "insights"}` or `{"path": "batched", "because": …}`.
    ranked_by: Value,
    vmhwm_kb: u64,
}

impl GuardRun {
    fn label(&self) -> &'static str {
        if self.insights {
            "guard, Insights on"
        } else {
            "guard, Insights off"
        }
    }

    fn ranked_by_insights(&self) -> bool {
        self.ranked_by["path"] == "insights"
    }

    /// Why the batched path ranked, when it did.
    fn fell_back_because(&self) -> Option<&str> {
        (!self.ranked_by_insights()).then(|| self.ranked_by["because"].as_str().unwrap_or("?"))
    }

    /// The CloudWatch calls this path may make for `n` functions.
    fn cloudwatch_target(&self, n: usize) -> u64 {
        if self.insights {
            INSIGHTS_CLOUDWATCH_TARGET
        } else {
            (3 * n as u64).div_ceil(500) + 2
        }
    }

    fn found(&self) -> bool {
        self.offenders.first().map(String::as_str) == Some(OFFENDER)
    }
}

#[derive(Debug)]
struct Row {
    n: usize,
    region: &'static str,
    seeding: Duration,
    /// Insights on (the default), then off (the fallback).
    guards: [GuardRun; 2],
    hunt: BTreeMap<String, u64>,
    hunt_wall: Duration,
    hunt_found: Option<(String, f64)>,
}

fn verdict(pass: bool) -> &'static str {
    if pass { "PASS" } else { "MISS" }
}

fn mb(kb: u64) -> f64 {
    kb as f64 / 1024.0
}

fn cache_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../.cache/bench"))
}

/// Runs `scale rss N --json --insights on|off` and reads its one JSON line.
fn guard_in_own_process(n: usize, insights: bool) -> Result<GuardRun> {
    let path = if insights { "on" } else { "off" };
    let out = std::process::Command::new(std::env::current_exe()?)
        .args(["rss", &n.to_string(), "--json", "--insights", path])
        .stderr(std::process::Stdio::inherit())
        .output()?;
    if !out.status.success() {
        bail!("scale rss {n} --insights {path} failed ({})", out.status);
    }
    let v: Value = serde_json::from_slice(&out.stdout).context("rss --json output")?;
    Ok(GuardRun {
        insights,
        calls: serde_json::from_value(v["calls"].clone())?,
        wall: Duration::from_secs_f64(v["wall_s"].as_f64().context("wall_s")?),
        offenders: serde_json::from_value(v["offenders"].clone())?,
        ranked_by: v["ranked_by"].clone(),
        vmhwm_kb: v["vmhwm_kb"].as_u64().context("vmhwm_kb")?,
    })
}

async fn measure(n: usize, region: &'static str) -> Result<Row> {
    let lab = Lab::new(region).await?;
    // The alarm fired half a minute ago; its window is the 10 minutes up to it.
    let at = Utc::now() - chrono::Duration::seconds(30);
    eprintln!("N={n}: seeding {region}…");
    let t = Instant::now();
    let names = seed(&lab, n, at).await?;
    let seeding = t.elapsed();
    eprintln!(
        "N={n}: seeded {} functions in {:.1} s",
        names.len(),
        seeding.as_secs_f64()
    );

    let event = event_at(EVENT, at, region)?;
    std::fs::create_dir_all(cache_dir())?;
    std::fs::write(
        cache_dir().join(format!("n{n}.json")),
        serde_json::to_string_pretty(&json!({ "region": region, "event": event }))?,
    )?;

    let mut guards = Vec::with_capacity(2);
    for insights in [true, false] {
        let g = guard_in_own_process(n, insights)?;
        eprintln!(
            "N={n}: {} planned in {:.2} s, offenders {:?}, ranked by {}",
            g.label(),
            g.wall.as_secs_f64(),
            g.offenders,
            g.ranked_by
        );
        guards.push(g);
    }
    let guards: [GuardRun; 2] = guards
        .try_into()
        .map_err(|_| anyhow::anyhow!("two guard runs"))?;

    let calls = Calls::default();
    let window = Window::before(at, WINDOW_MINUTES as u32);
    let lambda = aws_sdk_lambda::Client::from_conf(
        aws_sdk_lambda::config::Builder::from(&lab.config)
            .interceptor(calls.clone())
            .build(),
    );
    let cloudwatch = counted_cloudwatch(&lab.config, &calls);
    let t = Instant::now();
    let found = hunt(&lambda, &cloudwatch, &window).await?;
    let hunt_wall = t.elapsed();
    eprintln!(
        "N={n}: hunt found {found:?} in {:.2} s",
        hunt_wall.as_secs_f64()
    );

    Ok(Row {
        n,
        region,
        seeding,
        guards,
        hunt: calls.take().0,
        hunt_wall,
        hunt_found: found,
    })
}

async fn table(sizes: &[usize]) -> Result<()> {
    if sizes.len() > REGIONS.len() {
        bail!("at most {} sizes, one region each", REGIONS.len());
    }
    let mut rows = Vec::new();
    for (n, region) in sizes.iter().zip(REGIONS) {
        rows.push(measure(*n, region).await?);
    }
    let largest = sizes.iter().copied().max().unwrap_or_default();

    println!(
        "\nAttribution cost by number of functions. Guard: dry-run plan of {EVENT} (account \
         ConcurrentExecutions), each path in its own process: Insights on (one Metrics Insights \
         query, believed only when it explains the alarm) and Insights off (every active \
         function's peak in batched GetMetricData calls); hunt: ListFunctions, then one \
         GetMetricData per function.\n"
    );
    println!(
        "| N | run | ranked by | AWS calls | CloudWatch calls (Insights: ≤ {INSIGHTS_CLOUDWATCH_TARGET}; off: ≤ ⌈3N/500⌉+2) | fewer calls than the hunt (≥ {RATIO_TARGET:.0}× at N ≥ 1000) | wall | peak RSS (≤ {RSS_TARGET_MB:.0} MB at N={largest}) | offender found |"
    );
    println!("|---:|---|---|---:|---|---|---:|---|---|");
    for r in &rows {
        let hunt_total = total(&r.hunt);
        for g in &r.guards {
            let cw = cloudwatch_calls(&g.calls);
            let target = g.cloudwatch_target(r.n);
            let ratio = hunt_total as f64 / total(&g.calls).max(1) as f64;
            let ratio_cell = if r.n >= 1000 {
                format!("{ratio:.0}× {}", verdict(ratio >= RATIO_TARGET))
            } else {
                format!("{ratio:.1}×")
            };
            let ranked_cell = match (g.insights, g.ranked_by_insights()) {
                (true, true) => "Insights PASS".to_owned(),
                (true, false) => "batched (fell back) MISS".to_owned(),
                (false, false) => "batched".to_owned(),
                (false, true) => "Insights (while off?)".to_owned(),
            };
            let rss = mb(g.vmhwm_kb);
            let rss_cell = if r.n == largest {
                format!("{rss:.1} MB {}", verdict(rss <= RSS_TARGET_MB))
            } else {
                format!("{rss:.1} MB")
            };
            println!(
                "| {} | {} | {} | {} | {} ≤ {} {} | {} | {:.2} s | {} | {} |",
                r.n,
                g.label(),
                ranked_cell,
                total(&g.calls),
                cw,
                target,
                verdict(cw <= target),
                ratio_cell,
                g.wall.as_secs_f64(),
                rss_cell,
                if g.found() { "yes" } else { "NO" },
            );
        }
        let hunt_found = r.hunt_found.as_ref().map(|(f, _)| f.as_str()) == Some(OFFENDER);
        println!(
            "| {} | hunt | — | {} | {} | — | {:.2} s | — | {} |",
            r.n,
            hunt_total,
            cloudwatch_calls(&r.hunt),
            r.hunt_wall.as_secs_f64(),
            if hunt_found { "yes" } else { "NO" },
        );
    }

    let fallbacks: Vec<_> = rows
        .iter()
        .flat_map(|r| r.guards.iter().map(move |g| (r.n, g)))
        .filter(|(_, g)| g.insights)
        .filter_map(|(n, g)| Some((n, g.fell_back_because()?)))
        .collect();
    if fallbacks.is_empty() {
        println!(
            "\nWith Insights on, Metrics Insights ranked at every N (the guard never fell back)."
        );
    } else {
        println!("\nWith Insights on, the guard fell back to the batched path (a finding):\n");
        for (n, why) in fallbacks {
            println!("- N={n}: {why}");
        }
    }
    if let Some(why) = rows
        .first()
        .and_then(|r| r.guards.iter().find(|g| !g.insights))
        .and_then(GuardRun::fell_back_because)
    {
        println!("With Insights off, the report's ranked_by says: batched because \"{why}\".");
    }

    println!("\nCalls by service:operation (an SDK interceptor on every client counts them):\n");
    for r in &rows {
        println!(
            "- N={} ({}, seeded in {:.1} s, not counted):",
            r.n,
            r.region,
            r.seeding.as_secs_f64()
        );
        for g in &r.guards {
            println!("  - {}: {}", g.label(), breakdown(&g.calls));
        }
        println!("  - hunt: {}", breakdown(&r.hunt));
    }
    println!(
        "\nOn AWS, ListFunctions returns at most 50 functions a page, so the hunt makes ⌈N/50⌉ \
         ListFunctions calls there; the stand-in answers in one page, which only flatters the hunt. \
         Wall times are the stand-in's (moto scans every stored datapoint for each query, and the \
         proxy evaluates Insights over moto's datapoints), not AWS's."
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// RSS mode

/// A field of `/proc/self/status` in kB (`VmHWM`: peak resident set size; `VmRSS`: current).
fn status(field: &str) -> Result<u64> {
    let text = std::fs::read_to_string("/proc/self/status")?;
    text.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().strip_suffix("kB"))
        .and_then(|v| v.trim().parse().ok())
        .with_context(|| format!("{field} in /proc/self/status"))
}

/// What the remediator does for one event, and nothing else, in this process: read the alarm
/// `table` left for N, build the clients from the default chain, plan (dry run), with Metrics
/// Insights on or off. Then the peak RSS of the whole process, as Lambda's "Max Memory Used"
/// would count it.
async fn rss(n: usize, json_out: bool, insights: bool) -> Result<()> {
    if std::env::var("CGUARD_STANDIN").as_deref() != Ok("1")
        || !std::env::var("AWS_ENDPOINT_URL")
            .unwrap_or_default()
            .starts_with("http://127.0.0.1:")
    {
        bail!("no local AWS stand-in: run this through scripts/bench");
    }
    let path = cache_dir().join(format!("n{n}.json"));
    let saved: Value = serde_json::from_str(
        &std::fs::read_to_string(&path)
            .with_context(|| format!("{} (run `scale table` first)", path.display()))?,
    )?;
    let region = saved["region"].as_str().context("region")?.to_owned();
    let event = saved["event"].clone();
    let at_start = status("VmHWM")?;

    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(region.clone()))
        .load()
        .await;
    let calls = Calls::default();
    let aws = counted_guard(&config, &calls, insights);
    let t = Instant::now();
    let report = plan(&aws, &event).await?;
    let wall = t.elapsed();
    let hwm = status("VmHWM")?;
    let rss = status("VmRSS")?;
    let (calls, _) = calls.take();
    if json_out {
        println!(
            "{}",
            json!({
                "n": n,
                "region": region,
                "insights": insights,
                "calls": calls,
                "wall_s": wall.as_secs_f64(),
                "offenders": report.offenders,
                "ranked_by": report.ranked_by,
                "ranked": report.ranking.len(),
                "vmhwm_start_kb": at_start,
                "vmhwm_kb": hwm,
                "vmrss_kb": rss,
            })
        );
        return Ok(());
    }
    println!(
        "Guard's plan for N={n} ({region}, Insights {}): {} AWS calls ({}), {:.2} s, offenders {:?}, ranked by {}",
        if insights { "on" } else { "off" },
        total(&calls),
        breakdown(&calls),
        wall.as_secs_f64(),
        report.offenders,
        report
            .ranked_by
            .as_ref()
            .map_or_else(|| "nothing".to_owned(), ToString::to_string),
    );
    println!(
        "| VmHWM at start | VmHWM after the plan (≤ {RSS_TARGET_MB:.0} MB) | VmRSS after |\n|---:|---|---:|\n| {:.1} MB | {:.1} MB {} | {:.1} MB |",
        mb(at_start),
        mb(hwm),
        verdict(mb(hwm) <= RSS_TARGET_MB),
        mb(rss),
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Round-trips mode

/// One remediation of the classic incident, timed.
#[derive(Debug)]
struct Trip {
    region: &'static str,
    wall: Duration,
    outcome: Outcome,
    ranked_by: Value,
    offenders: Vec<String>,
    calls: BTreeMap<String, u64>,
    spans: Vec<Span>,
    chain: Vec<usize>,
}

impl Trip {
    fn json(&self) -> Value {
        json!({
            "region": self.region,
            "wall_ms": ms(self.wall),
            "outcome": self.outcome,
            "ranked_by": self.ranked_by,
            "offenders": self.offenders,
            "calls": self.calls,
            "timeline": self.spans.iter().map(|s| json!({
                "op": s.op,
                "start_ms": ms(s.start),
                "end_ms": s.end.map(ms),
            })).collect::<Vec<_>>(),
            "chain": self.chain.iter().map(|&i| self.spans[i].op.clone()).collect::<Vec<_>>(),
        })
    }

    fn chain_ops(&self) -> String {
        self.chain
            .iter()
            .map(|&i| short_op(&self.spans[i].op))
            .collect::<Vec<_>>()
            .join(" → ")
    }
}

/// `lambda:TagResource` → `TagResource`.
fn short_op(op: &str) -> &str {
    op.rsplit_once(':').map_or(op, |(_, o)| o)
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    match xs.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => xs[n / 2],
        n => (xs[n / 2 - 1] + xs[n / 2]) / 2.0,
    }
}

/// A region of `TRIPS_REGIONS` where the classic incident has not been seeded yet.
async fn fresh_region(taken: &[&'static str]) -> Result<(&'static str, Lab)> {
    for region in TRIPS_REGIONS.iter().copied().filter(|r| !taken.contains(r)) {
        let lab = Lab::new(region).await?;
        let existing = lab
            .lambda
            .list_functions()
            .max_items(1)
            .send()
            .await
            .context("ListFunctions")?;
        if existing.functions().is_empty() {
            return Ok((region, lab));
        }
    }
    bail!("no region left for another classic incident: restart the stand-in")
}

/// Seeds the classic incident in a fresh region and remediates it for real, Insights on.
async fn trip(taken: &[&'static str]) -> Result<Trip> {
    let (region, lab) = fresh_region(taken).await?;
    let at = Utc::now() - chrono::Duration::seconds(30);
    let incident = ClassicIncident::seed(&lab, at).await?;
    let event = event_at(TRIPS_EVENT, at, region)?;
    let request = parse_event(&event)?
        .into_iter()
        .next()
        .context("the alarm yields a request")?;
    // The remediator's adapters as deployed: Metrics Insights on; not a dry run.
    let calls = Calls::default();
    let guard = Guard::new(counted_guard(&lab.config, &calls, true), Policy::default());
    calls.take();
    let t = Instant::now();
    let report = guard.remediate(&request, Utc::now()).await;
    let wall = t.elapsed();
    let (calls, spans) = calls.take();
    let chain = longest_chain(&spans);
    if report.offenders.first().map(String::as_str) != Some(incident.offender) {
        eprintln!(
            "trips: {region}: offenders {:?}, expected {} first",
            report.offenders, incident.offender
        );
    }
    Ok(Trip {
        region,
        wall,
        outcome: report.outcome,
        ranked_by: serde_json::to_value(&report.ranked_by)?,
        offenders: report.offenders,
        calls,
        spans,
        chain,
    })
}

/// The figures one `trips` run left for `latency_ms`.
fn saved_trips(latency_ms: f64) -> PathBuf {
    cache_dir().join(format!("trips-{latency_ms}.json"))
}

/// What an earlier `trips` run left.
struct SavedTrips {
    median_wall: f64,
    min_wall: f64,
    chains: Vec<usize>,
}

/// The saved `trips` runs at latencies below `latency_ms`, lowest first.
fn saved_below(latency_ms: f64) -> Result<Vec<(f64, SavedTrips)>> {
    let mut found = Vec::new();
    let Ok(dir) = std::fs::read_dir(cache_dir()) else {
        return Ok(found);
    };
    for entry in dir {
        let path = entry?.path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if !(name.starts_with("trips-") && name.ends_with(".json")) {
            continue;
        }
        let v: Value = serde_json::from_str(&std::fs::read_to_string(&path)?)
            .with_context(|| path.display().to_string())?;
        let Some(l) = v["latency_ms"].as_f64().filter(|l| *l < latency_ms) else {
            continue;
        };
        found.push((
            l,
            SavedTrips {
                median_wall: v["median_wall_ms"].as_f64().context("median_wall_ms")?,
                min_wall: v["min_wall_ms"].as_f64().context("min_wall_ms")?,
                chains: v["runs"]
                    .as_array()
                    .map(|rs| {
                        rs.iter()
                            .filter_map(|r| r["chain"].as_array().map(Vec::len))
                            .collect()
                    })
                    .unwrap_or_default(),
            },
        ));
    }
    found.sort_by(|a, b| a.0.total_cmp(&b.0));
    Ok(found)
}

/// `reps` remediations of the classic incident against a proxy that adds `latency_ms` to every
/// request; then, when a run at 0 ms is on disk, the round trips that the difference implies.
async fn trips(latency_ms: f64, reps: usize) -> Result<()> {
    let mut runs: Vec<Trip> = Vec::with_capacity(reps);
    for _ in 0..reps {
        let taken: Vec<_> = runs.iter().map(|t| t.region).collect();
        let t = trip(&taken).await?;
        eprintln!(
            "trips: {} at {latency_ms} ms: {:?} in {:.0} ms, {} calls, chain of {}",
            t.region,
            t.outcome,
            ms(t.wall),
            total(&t.calls),
            t.chain.len()
        );
        runs.push(t);
    }
    let walls: Vec<f64> = runs.iter().map(|t| ms(t.wall)).collect();
    let median_wall = median(walls.clone());
    let min_wall = walls.iter().copied().fold(f64::INFINITY, f64::min);
    let slowest_call = runs
        .iter()
        .flat_map(|t| &t.spans)
        .filter_map(|s| Some(ms(s.end? - s.start)))
        .fold(f64::INFINITY, f64::min);
    std::fs::create_dir_all(cache_dir())?;
    std::fs::write(
        saved_trips(latency_ms),
        serde_json::to_string_pretty(&json!({
            "latency_ms": latency_ms,
            "event": TRIPS_EVENT,
            "median_wall_ms": median_wall,
            "min_wall_ms": min_wall,
            "runs": runs.iter().map(Trip::json).collect::<Vec<_>>(),
        }))?,
    )?;

    println!(
        "\nOne remediation of the classic incident ({TRIPS_EVENT}; Insights on; not a dry run), \
         event to last change, proxy latency {latency_ms} ms per request, {reps} runs each in a \
         fresh region:\n"
    );
    println!(
        "| run | region | outcome | ranked by | AWS calls | wall | longest chain of calls (timeline) |"
    );
    println!("|---:|---|---|---|---:|---:|---:|");
    for (i, t) in runs.iter().enumerate() {
        println!(
            "| {} | {} | {:?} | {} | {} | {:.0} ms | {} |",
            i + 1,
            t.region,
            t.outcome,
            t.ranked_by["path"].as_str().unwrap_or("?"),
            total(&t.calls),
            ms(t.wall),
            t.chain.len()
        );
    }
    if runs
        .iter()
        .any(|t| t.outcome != Outcome::Remediated || t.ranked_by["path"] != "insights")
    {
        println!(
            "\nMISS: a run was not remediated, or not ranked by Insights: see .cache/bench/trips-{latency_ms}.json"
        );
    }
    if latency_ms > 0.0 && slowest_call < latency_ms {
        println!(
            "\nWARNING: a call took {slowest_call:.1} ms, less than the {latency_ms} ms latency: is \
             the proxy running with CBOR_PROXY_LATENCY_MS={latency_ms}?"
        );
    }

    // The run with the median wall time: its timeline.
    let mid = (0..runs.len())
        .min_by(|&a, &b| {
            (ms(runs[a].wall) - median_wall)
                .abs()
                .total_cmp(&(ms(runs[b].wall) - median_wall).abs())
        })
        .context("at least one run")?;
    let t = &runs[mid];
    println!(
        "\nTimeline of run {} (median wall {median_wall:.0} ms): each call from its start to its \
         end, ms after the event; * = on the longest chain ({} calls: {}).\n",
        mid + 1,
        t.chain.len(),
        t.chain_ops()
    );
    println!("| call | start | end | |\n|---|---:|---:|---|");
    let mut order: Vec<usize> = (0..t.spans.len()).collect();
    order.sort_by_key(|&i| t.spans[i].start);
    for i in order {
        let s = &t.spans[i];
        println!(
            "| {} | {:.1} | {} | {} |",
            s.op,
            ms(s.start),
            s.end
                .map_or_else(|| "—".to_owned(), |e| format!("{:.1}", ms(e))),
            if t.chain.contains(&i) { "*" } else { "" }
        );
    }

    let earlier = saved_below(latency_ms)?;
    if latency_ms > 0.0 && earlier.is_empty() {
        println!(
            "\nNo {} (run `scale trips --latency-ms 0` against a stand-in without latency \
             first): no estimate from the wall times.",
            saved_trips(0.0).display()
        );
    }
    if latency_ms > 0.0 {
        let chains: Vec<usize> = runs.iter().map(|t| t.chain.len()).collect();
        let longest = chains.iter().copied().max().unwrap_or_default();
        let list = |xs: &[usize]| {
            xs.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        };
        println!(
            "\nSequential AWS round trips, event to last change (goal ≤ {TRIPS_TARGET:.0}): the \
             timeline's longest chain of calls that waited for one another, {} ({}) {}.\n",
            list(&chains),
            t.chain_ops(),
            verdict(longest as f64 <= TRIPS_TARGET)
        );
        println!(
            "| proxy latency | median wall | fastest wall | longest chain of calls, each run |"
        );
        println!("|---:|---:|---:|---|");
        for (l, base) in &earlier {
            println!(
                "| {l} ms | {:.0} ms | {:.0} ms | {} |",
                base.median_wall,
                base.min_wall,
                list(&base.chains)
            );
        }
        println!(
            "| {latency_ms} ms | {median_wall:.0} ms | {min_wall:.0} ms | {} |",
            list(&chains)
        );
        println!();
        for (l, base) in &earlier {
            let by_median = (median_wall - base.median_wall) / (latency_ms - l);
            let by_min = (min_wall - base.min_wall) / (latency_ms - l);
            println!(
                "- from the wall times at {l} and {latency_ms} ms: ({median_wall:.0} − {:.0}) ÷ \
                 {} = {by_median:.1} round trips (fastest runs: ({min_wall:.0} − {:.0}) ÷ {} = \
                 {by_min:.1})",
                base.median_wall,
                latency_ms - l,
                base.min_wall,
                latency_ms - l,
            );
        }
        if !earlier.is_empty() {
            println!(
                "\nThe wall-time estimates tend to undercount the chain: part of the stand-in's \
                 own work (moto and the proxy in Python, on the same cores as the guard) runs \
                 while a request waits out its latency, so it no longer adds to the wall time, \
                 and the lower latency's runs carry more of it. The timeline counts the calls \
                 themselves."
            );
        }
    }
    Ok(())
}
