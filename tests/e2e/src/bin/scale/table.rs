//! `scale table`: for each N, in its own region of the stand-in, seeds the account, runs the
//! guard's plan on both ranking paths (each in a fresh `scale rss` process) and the AWS sample's
//! hunt (in this process), then prints the guard-vs-hunt table against the targets of issues 5
//! and 10, the fallbacks, and every call by `service:operation`.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use cguard_core::observation::Window;
use cguard_e2e::{Lab, event_at};
use chrono::Utc;
use serde_json::{Value, json};

use crate::calls::{Calls, breakdown, cloudwatch_calls, counted_cloudwatch, counted_lambda, total};
use crate::hunt::hunt;
use crate::rss::RSS_TARGET_MB;
use crate::seed::{OFFENDER, WINDOW_MINUTES, seed};
use crate::{cache_dir, mb, verdict};

/// The sizes of issue 5, each in its own region of the stand-in.
pub const SIZES: [usize; 4] = [10, 100, 1000, 5000];
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
/// The alarm: account `ConcurrentExecutions`, delivered as a direct alarm action.
const EVENT: &str = "alarm-action.json";
/// Target of issue 5: the hunt's calls over the guard's, at N ≥ 1000.
const RATIO_TARGET: f64 = 20.0;
/// Target of issue 10: CloudWatch calls when Metrics Insights ranks, whatever N (the query, the
/// account's peak, the candidates' details).
const INSIGHTS_CLOUDWATCH_TARGET: u64 = 3;

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

/// The guard on both paths, Insights on then off, each in its own process.
fn both_guards(n: usize) -> Result<[GuardRun; 2]> {
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
    guards
        .try_into()
        .map_err(|_| anyhow::anyhow!("two guard runs"))
}

/// Seeds N functions in `region`, leaves the alarm for `rss`, then runs both algorithms.
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

    let guards = both_guards(n)?;

    let calls = Calls::default();
    let window = Window::before(at, WINDOW_MINUTES as u32);
    let lambda = counted_lambda(&lab.config, &calls);
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

pub async fn table(sizes: &[usize]) -> Result<()> {
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
        print_rows(r, largest);
    }
    print_fallbacks(&rows);
    print_breakdowns(&rows);
    Ok(())
}

/// One N's lines of the table: the guard on each path, then the hunt.
fn print_rows(r: &Row, largest: usize) {
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

/// Where the guard, Insights on, fell back to the batched path, and why.
fn print_fallbacks(rows: &[Row]) {
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
}

/// Every run's calls by `service:operation`, and what the stand-in's figures leave out.
fn print_breakdowns(rows: &[Row]) {
    println!("\nCalls by service:operation (an SDK interceptor on every client counts them):\n");
    for r in rows {
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
}
