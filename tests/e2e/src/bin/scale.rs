//! `scale`: issue 5 — attribution cost does not grow per function.
//!
//! Run it through `scripts/bench`, which starts the local stand-in (moto behind the CBOR proxy).
//!
//! - `scale table [N…]` (default 10 100 1000 5000): each N in its own region of the
//!   stand-in, so they do not mix. Seeds N functions, their `ConcurrentExecutions`,
//!   `Invocations` and `Duration` over the 10 minutes before the alarm (one offender at 600
//!   every minute, the others at 1 in one minute each) and the account's
//!   `ConcurrentExecutions`, and leaves the retimed `events/alarm-action.json` in
//!   `.cache/bench/n<N>.json`. Then (a) runs the guard's dry-run plan for that alarm in a
//!   fresh process (`rss N --json`, below) and (b) runs, in this process, the "hunt" of the
//!   AWS sample script: ListFunctions, then one GetMetricData per function. Every SDK client
//!   carries an interceptor that counts calls by service and operation. Prints the table with
//!   each target and PASS/MISS.
//! - `scale rss [N] [--json]` (default 5000): a fresh process that does what the
//!   remediator does for one event and nothing else — build the clients from the default
//!   chain, plan (dry run) against the region `table` seeded for N — then reads its own peak
//!   resident set size (`VmHWM` in `/proc/self/status`). The seeding's memory is in another
//!   process and does not count.
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
use aws_smithy_runtime_api::client::interceptors::context::BeforeSerializationInterceptorContextRef;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::DateTime as SmithyTime;
use aws_smithy_types::config_bag::ConfigBag;
use cguard_core::config::Policy;
use cguard_core::intake::parse_event;
use cguard_core::observation::Window;
use cguard_core::report::Report;
use cguard_e2e::{Lab, datum, event_at, minutes_before};
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
            let json_out = args.iter().any(|a| a == "--json");
            let n = match args[1..].iter().find(|a| *a != "--json") {
                Some(a) => a.parse().with_context(|| format!("size {a:?}"))?,
                None => 5000,
            };
            rss(n, json_out).await
        }
        Some(other) => {
            bail!("usage: scale [table [N…] | rss [N] [--json]] (got {other:?})")
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Counting calls

/// Counts SDK operations by `service:operation`, read from the operation's [`Metadata`] in the
/// config bag once per operation. The hook is `read_before_serialization`, not
/// `read_before_execution`: a client-level interceptor's `read_before_execution` runs before the
/// operation's runtime plugin has stored its `Metadata`. Both run once per operation, before
/// the retry loop, so a retried call counts once; each page of a paginator is its own operation
/// and counts.
#[derive(Debug, Clone, Default)]
struct Calls(Arc<Mutex<BTreeMap<String, u64>>>);

impl Calls {
    /// The counts so far; starts again from zero.
    fn take(&self) -> BTreeMap<String, u64> {
        std::mem::take(&mut *self.0.lock().expect("counter lock"))
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
        *self.0.lock().expect("counter lock").entry(key).or_default() += 1;
        Ok(())
    }
}

/// The guard's adapters exactly as `cguard_aws::Aws::new` builds them, each client with the
/// counter added. Metrics Insights off: the stand-in cannot answer Insights queries (moto
/// returns one bogus series), so this measures the batched `GetMetricData` path, the one whose
/// cost depends on the number of functions.
fn counted_guard(config: &SdkConfig, calls: &Calls) -> cguard_aws::Aws {
    cguard_aws::Aws::new(config).with_interceptor(calls.clone())
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

fn cloudwatch_calls(calls: &BTreeMap<String, u64>) -> u64 {
    calls
        .iter()
        .filter(|(k, _)| k.to_ascii_lowercase().starts_with("cloudwatch:"))
        .map(|(_, v)| v)
        .sum()
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
    // The account holds the offender's 600 and the quiet functions' busy minutes, within 1000.
    let account = (600 + (n.saturating_sub(1)).div_ceil(10)).min(1000);
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

/// The guard's figures for one N, measured by the `rss` mode in its own process.
#[derive(Debug)]
struct GuardRun {
    calls: BTreeMap<String, u64>,
    wall: Duration,
    offenders: Vec<String>,
    vmhwm_kb: u64,
}

#[derive(Debug)]
struct Row {
    n: usize,
    region: &'static str,
    seeding: Duration,
    guard: GuardRun,
    hunt: BTreeMap<String, u64>,
    hunt_wall: Duration,
    hunt_found: Option<(String, f64)>,
}

impl Row {
    fn bound(&self) -> u64 {
        (3 * self.n as u64).div_ceil(500) + 2
    }

    fn ratio(&self) -> f64 {
        total(&self.hunt) as f64 / total(&self.guard.calls).max(1) as f64
    }
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

/// Runs `scale rss N --json` and reads its one JSON line.
fn guard_in_own_process(n: usize) -> Result<GuardRun> {
    let out = std::process::Command::new(std::env::current_exe()?)
        .args(["rss", &n.to_string(), "--json"])
        .stderr(std::process::Stdio::inherit())
        .output()?;
    if !out.status.success() {
        bail!("scale rss {n} failed ({})", out.status);
    }
    let v: Value = serde_json::from_slice(&out.stdout).context("rss --json output")?;
    Ok(GuardRun {
        calls: serde_json::from_value(v["calls"].clone())?,
        wall: Duration::from_secs_f64(v["wall_s"].as_f64().context("wall_s")?),
        offenders: serde_json::from_value(v["offenders"].clone())?,
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

    let guard = guard_in_own_process(n)?;
    eprintln!(
        "N={n}: guard planned in {:.2} s, offenders {:?}",
        guard.wall.as_secs_f64(),
        guard.offenders
    );

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
        guard,
        hunt: calls.take(),
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
        "\nAttribution cost by number of functions. Guard: dry-run plan of {EVENT} (account ConcurrentExecutions), \
         in its own process; hunt: ListFunctions, then one GetMetricData per function.\n"
    );
    println!(
        "| N | guard AWS calls | guard CloudWatch calls (≤ ⌈3N/500⌉+2) | hunt AWS calls | fewer calls (≥ {RATIO_TARGET:.0}× at N=1000) | guard wall | hunt wall | guard peak RSS (≤ {RSS_TARGET_MB:.0} MB at N={largest}) | offender found by both |"
    );
    println!("|---:|---:|---|---:|---|---:|---:|---|---|");
    for r in &rows {
        let cw = cloudwatch_calls(&r.guard.calls);
        let ratio = r.ratio();
        let ratio_cell = if r.n >= 1000 {
            format!("{ratio:.0}× {}", verdict(ratio >= RATIO_TARGET))
        } else {
            format!("{ratio:.1}×")
        };
        let rss = mb(r.guard.vmhwm_kb);
        let rss_cell = if r.n == largest {
            format!("{rss:.1} MB {}", verdict(rss <= RSS_TARGET_MB))
        } else {
            format!("{rss:.1} MB")
        };
        let found = r.guard.offenders.first().map(String::as_str) == Some(OFFENDER)
            && r.hunt_found.as_ref().map(|(f, _)| f.as_str()) == Some(OFFENDER);
        println!(
            "| {} | {} | {} ≤ {} {} | {} | {} | {:.2} s | {:.2} s | {} | {} |",
            r.n,
            total(&r.guard.calls),
            cw,
            r.bound(),
            verdict(cw <= r.bound()),
            total(&r.hunt),
            ratio_cell,
            r.guard.wall.as_secs_f64(),
            r.hunt_wall.as_secs_f64(),
            rss_cell,
            if found { "yes" } else { "NO" },
        );
    }
    println!("\nCalls by service:operation (an SDK interceptor on every client counts them):\n");
    for r in &rows {
        println!(
            "- N={} ({}, seeded in {:.1} s, not counted):",
            r.n,
            r.region,
            r.seeding.as_secs_f64()
        );
        println!("  - guard: {}", breakdown(&r.guard.calls));
        println!("  - hunt: {}", breakdown(&r.hunt));
    }
    println!(
        "\nOn AWS, ListFunctions returns at most 50 functions a page, so the hunt makes ⌈N/50⌉ \
         ListFunctions calls there; the stand-in answers in one page, which only flatters the hunt. \
         Wall times are the stand-in's (moto scans every stored datapoint for each query), not AWS's."
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
/// `table` left for N, build the clients from the default chain, plan (dry run). Then the peak
/// RSS of the whole process, as Lambda's "Max Memory Used" would count it.
async fn rss(n: usize, json_out: bool) -> Result<()> {
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
    let aws = counted_guard(&config, &calls);
    let t = Instant::now();
    let report = plan(&aws, &event).await?;
    let wall = t.elapsed();
    let hwm = status("VmHWM")?;
    let rss = status("VmRSS")?;
    let calls = calls.take();
    if json_out {
        println!(
            "{}",
            json!({
                "n": n,
                "region": region,
                "calls": calls,
                "wall_s": wall.as_secs_f64(),
                "offenders": report.offenders,
                "ranked": report.ranking.len(),
                "vmhwm_start_kb": at_start,
                "vmhwm_kb": hwm,
                "vmrss_kb": rss,
            })
        );
        return Ok(());
    }
    println!(
        "Guard's plan for N={n} ({region}): {} AWS calls ({}), {:.2} s, offenders {:?}",
        total(&calls),
        breakdown(&calls),
        wall.as_secs_f64(),
        report.offenders
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
