//! `scale trips`: the sequential AWS round trips of one real remediation. Seeds the classic
//! incident K times, each in a fresh region, remediates it (Insights on, not a dry run), and
//! from the interceptor's timeline finds the longest chain of calls that waited for one another;
//! saves the figures in `.cache/bench/trips-<L>.json` and, against the runs saved there at lower
//! proxy latencies, estimates the same count from wall times.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use cguard_core::config::Policy;
use cguard_core::intake::parse_event;
use cguard_core::report::Outcome;
use cguard_e2e::{ClassicIncident, Lab, event_at};
use cguard_engine::Guard;
use chrono::Utc;
use serde_json::{Value, json};

use crate::calls::{Calls, Span, counted_guard, total};
use crate::timeline::{critical_path, longest_chain};
use crate::{cache_dir, verdict};

/// Target of issue 10: sequential AWS round trips from the event to the last change.
const TRIPS_TARGET: f64 = 8.0;
/// The classic incident's alarm, as delivered through SNS, and the regions its repetitions take
/// (none of `table`'s; a region where the incident was already seeded, by an earlier run against
/// the same stand-in, is skipped).
const TRIPS_EVENT: &str = "sns-account-concurrency.json";
pub const TRIPS_REGIONS: [&str; 12] = [
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
pub const TRIPS_REPS: usize = 7;

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
    /// What the last change waited on: the round trips the event's wall time is made of.
    path: Vec<usize>,
    /// The longest run of calls each starting after the previous ended (≥ `path`).
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
            "critical_path": self.ops(&self.path),
            "chain": self.ops(&self.chain),
        })
    }

    fn ops(&self, chain: &[usize]) -> Vec<String> {
        chain.iter().map(|&i| self.spans[i].op.clone()).collect()
    }

    fn chain_ops(&self, chain: &[usize]) -> String {
        chain
            .iter()
            .map(|&i| short_op(&self.spans[i].op))
            .collect::<Vec<_>>()
            .join(" → ")
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
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
    let path = critical_path(&spans);
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
        path,
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
    /// Each run's critical path and longest chain, in calls.
    paths: Vec<(usize, usize)>,
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
                paths: v["runs"]
                    .as_array()
                    .map(|rs| {
                        rs.iter()
                            .filter_map(|r| {
                                let len = |k: &str| r[k].as_array().map(Vec::len);
                                Some((len("critical_path")?, len("chain")?))
                            })
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
pub async fn trips(latency_ms: f64, reps: usize) -> Result<()> {
    let mut runs: Vec<Trip> = Vec::with_capacity(reps);
    for _ in 0..reps {
        let taken: Vec<_> = runs.iter().map(|t| t.region).collect();
        let t = trip(&taken).await?;
        eprintln!(
            "trips: {} at {latency_ms} ms: {:?} in {:.0} ms, {} calls, critical path {}, chain of {}",
            t.region,
            t.outcome,
            ms(t.wall),
            total(&t.calls),
            t.path.len(),
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

    print_runs(&runs, latency_ms, reps, slowest_call);
    let t = print_timeline(&runs, median_wall)?;
    let earlier = saved_below(latency_ms)?;
    print_estimates(&runs, t, latency_ms, median_wall, min_wall, &earlier);
    Ok(())
}

/// The table of runs, and what in them asks for a look: a run not remediated or not ranked by
/// Insights, a call quicker than the proxy's latency.
fn print_runs(runs: &[Trip], latency_ms: f64, reps: usize, slowest_call: f64) {
    println!(
        "\nOne remediation of the classic incident ({TRIPS_EVENT}; Insights on; not a dry run), \
         event to last change, proxy latency {latency_ms} ms per request, {reps} runs each in a \
         fresh region:\n"
    );
    println!(
        "| run | region | outcome | ranked by | AWS calls | wall | critical path | longest chain |"
    );
    println!("|---:|---|---|---|---:|---:|---:|---:|");
    for (i, t) in runs.iter().enumerate() {
        println!(
            "| {} | {} | {:?} | {} | {} | {:.0} ms | {} | {} |",
            i + 1,
            t.region,
            t.outcome,
            t.ranked_by["path"].as_str().unwrap_or("?"),
            total(&t.calls),
            ms(t.wall),
            t.path.len(),
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
}

/// The timeline of the run with the median wall time, which it returns.
fn print_timeline(runs: &[Trip], median_wall: f64) -> Result<&Trip> {
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
         end, ms after the event; * = on the critical path ({} calls: {}); + = also on the \
         longest chain ({} calls: {}).\n",
        mid + 1,
        t.path.len(),
        t.chain_ops(&t.path),
        t.chain.len(),
        t.chain_ops(&t.chain)
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
            match (t.path.contains(&i), t.chain.contains(&i)) {
                (true, _) => "*",
                (false, true) => "+",
                (false, false) => "",
            }
        );
    }
    Ok(t)
}

/// With latency: the round trips by the timeline (judged against the target), the wall times
/// at every latency saved, and the round trips each lower latency's wall times imply.
fn print_estimates(
    runs: &[Trip],
    t: &Trip,
    latency_ms: f64,
    median_wall: f64,
    min_wall: f64,
    earlier: &[(f64, SavedTrips)],
) {
    if latency_ms > 0.0 && earlier.is_empty() {
        println!(
            "\nNo {} (run `scale trips --latency-ms 0` against a stand-in without latency \
             first): no estimate from the wall times.",
            saved_trips(0.0).display()
        );
    }
    if latency_ms <= 0.0 {
        return;
    }
    let paths: Vec<(usize, usize)> = runs.iter().map(|t| (t.path.len(), t.chain.len())).collect();
    let longest = paths.iter().map(|p| p.0).max().unwrap_or_default();
    let list = |xs: &[(usize, usize)]| {
        xs.iter()
            .map(|(p, c)| {
                if p == c {
                    p.to_string()
                } else {
                    format!("{p} ({c})")
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    println!(
        "\nSequential AWS round trips, event to last change (goal ≤ {TRIPS_TARGET:.0}): the \
         critical path — the calls the last change waited on, each on the one before — in each \
         run, with the longest chain of calls one after another in brackets where it is longer: \
         {} ({}) {}.\n",
        list(&paths),
        t.chain_ops(&t.path),
        verdict(longest as f64 <= TRIPS_TARGET)
    );
    println!(
        "| proxy latency | median wall | fastest wall | critical path (longest chain), each run |"
    );
    println!("|---:|---:|---:|---|");
    for (l, base) in earlier {
        println!(
            "| {l} ms | {:.0} ms | {:.0} ms | {} |",
            base.median_wall,
            base.min_wall,
            list(&base.paths)
        );
    }
    println!(
        "| {latency_ms} ms | {median_wall:.0} ms | {min_wall:.0} ms | {} |",
        list(&paths)
    );
    println!();
    for (l, base) in earlier {
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
