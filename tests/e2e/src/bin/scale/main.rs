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
//!
//! Modules, one reason to change each:
//!
//! - `main` (this file): the command line — each mode's arguments, then dispatch — and the
//!   few helpers every mode prints with (PASS/MISS, kB to MB, `.cache/bench`).
//! - [`calls`]: the SDK interceptor that counts calls and keeps their timeline, the counted
//!   clients, and the call totals and breakdowns.
//! - [`seed`]: seeding N functions and their metrics in a region of the stand-in.
//! - [`hunt`]: the AWS sample script's algorithm, one `GetMetricData` per function.
//! - [`table`]: `scale table` — measuring each N (seed, both guard paths, the hunt) and
//!   printing the guard-vs-hunt table.
//! - [`rss`]: `scale rss` — the guard's plan in a fresh process, and its peak RSS (`VmHWM`).
//! - [`trips`]: `scale trips` — the classic incident remediated for real, the timeline's
//!   longest chain of calls, and the round trips estimated from wall times.

mod calls;
mod hunt;
mod rss;
mod seed;
mod table;
mod timeline;
mod trips;

use std::path::PathBuf;

use anyhow::{Context, Result, bail};

#[tokio::main]
async fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        None | Some("table") => table::table(&table_sizes(&args)?).await,
        Some("rss") => {
            let (n, json_out, insights) = rss_args(&args[1..])?;
            rss::rss(n, json_out, insights).await
        }
        Some("trips") => {
            let (latency_ms, reps) = trips_args(&args[1..])?;
            trips::trips(latency_ms, reps).await
        }
        Some(other) => {
            bail!(
                "usage: scale [table [N…] | rss [N] [--json] [--insights on|off] | \
                 trips [--latency-ms L] [--reps K]] (got {other:?})"
            )
        }
    }
}

/// `table [N…]`: the sizes, `table::SIZES` when none is given.
fn table_sizes(args: &[String]) -> Result<Vec<usize>> {
    if args.len() > 1 {
        args[1..]
            .iter()
            .map(|a| a.parse().with_context(|| format!("size {a:?}")))
            .collect::<Result<Vec<usize>>>()
    } else {
        Ok(table::SIZES.to_vec())
    }
}

/// `rss [N] [--json] [--insights on|off]`: N, whether to print JSON, and whether Insights is on.
fn rss_args(args: &[String]) -> Result<(usize, bool, bool)> {
    let mut opts = Opts::new(args);
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
    Ok((n, json_out, insights))
}

/// `trips [--latency-ms L] [--reps K]`: L (`CBOR_PROXY_LATENCY_MS` or 0 when not given) and K.
fn trips_args(args: &[String]) -> Result<(f64, usize)> {
    let mut opts = Opts::new(args);
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
        None => trips::TRIPS_REPS,
    };
    if let [unexpected, ..] = opts.rest()?.as_slice() {
        bail!("trips: unexpected argument {unexpected:?}");
    }
    let latency_ok = latency_ms.is_finite() && latency_ms >= 0.0;
    if !latency_ok || !(1..=trips::TRIPS_REGIONS.len()).contains(&reps) {
        bail!(
            "trips: --latency-ms must be 0 or more, --reps 1 to {}",
            trips::TRIPS_REGIONS.len()
        );
    }
    Ok((latency_ms, reps))
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

fn verdict(pass: bool) -> &'static str {
    if pass { "PASS" } else { "MISS" }
}

fn mb(kb: u64) -> f64 {
    kb as f64 / 1024.0
}

/// Where `table` leaves each N's alarm for `rss`, and `trips` its figures.
fn cache_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../.cache/bench"))
}
