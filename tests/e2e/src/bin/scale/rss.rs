//! `scale rss`: the guard's dry-run plan for the alarm `scale table` left for N, alone in a
//! fresh process as the remediator would run it, with Metrics Insights on or off; then the
//! process's peak resident set size (`VmHWM`). Prints a line of JSON for `table`, or a summary.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use cguard_core::config::Policy;
use cguard_core::intake::parse_event;
use cguard_core::report::Report;
use cguard_engine::Guard;
use chrono::Utc;
use serde_json::{Value, json};

use crate::calls::{Calls, breakdown, counted_guard, total};
use crate::{cache_dir, mb, verdict};

/// Target of issue 5: the guard's peak RSS at the largest N.
pub const RSS_TARGET_MB: f64 = 40.0;

/// A field of `/proc/self/status` in kB (`VmHWM`: peak resident set size; `VmRSS`: current).
fn status(field: &str) -> Result<u64> {
    let text = std::fs::read_to_string("/proc/self/status")?;
    text.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().strip_suffix("kB"))
        .and_then(|v| v.trim().parse().ok())
        .with_context(|| format!("{field} in /proc/self/status"))
}

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

/// Refuses to run anywhere but against the local stand-in `scripts/bench` starts.
fn require_standin() -> Result<()> {
    if std::env::var("CGUARD_STANDIN").as_deref() != Ok("1")
        || !std::env::var("AWS_ENDPOINT_URL")
            .unwrap_or_default()
            .starts_with("http://127.0.0.1:")
    {
        bail!("no local AWS stand-in: run this through scripts/bench");
    }
    Ok(())
}

/// The region `table` seeded for N, and the alarm it left there.
fn saved_alarm(n: usize) -> Result<(String, Value)> {
    let path = cache_dir().join(format!("n{n}.json"));
    let saved: Value = serde_json::from_str(
        &std::fs::read_to_string(&path)
            .with_context(|| format!("{} (run `scale table` first)", path.display()))?,
    )?;
    let region = saved["region"].as_str().context("region")?.to_owned();
    let event = saved["event"].clone();
    Ok((region, event))
}

/// What the remediator does for one event, and nothing else, in this process: read the alarm
/// `table` left for N, build the clients from the default chain, plan (dry run), with Metrics
/// Insights on or off. Then the peak RSS of the whole process, as Lambda's "Max Memory Used"
/// would count it.
pub async fn rss(n: usize, json_out: bool, insights: bool) -> Result<()> {
    require_standin()?;
    let (region, event) = saved_alarm(n)?;
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
    let planned = Planned {
        n,
        region,
        insights,
        calls,
        wall,
        report,
        at_start,
        hwm,
        rss,
    };
    if json_out {
        println!("{}", planned.json());
    } else {
        planned.print();
    }
    Ok(())
}

/// One plan's figures: its calls, wall time and report, and the process's memory (kB).
struct Planned {
    n: usize,
    region: String,
    insights: bool,
    calls: BTreeMap<String, u64>,
    wall: Duration,
    report: Report,
    at_start: u64,
    hwm: u64,
    rss: u64,
}

impl Planned {
    /// The line `table` reads (`guard_in_own_process`).
    fn json(&self) -> Value {
        json!({
            "n": self.n,
            "region": self.region,
            "insights": self.insights,
            "calls": self.calls,
            "wall_s": self.wall.as_secs_f64(),
            "offenders": self.report.offenders,
            "ranked_by": self.report.ranked_by,
            "ranked": self.report.ranking.len(),
            "vmhwm_start_kb": self.at_start,
            "vmhwm_kb": self.hwm,
            "vmrss_kb": self.rss,
        })
    }

    fn print(&self) {
        let Self { n, region, .. } = self;
        println!(
            "Guard's plan for N={n} ({region}, Insights {}): {} AWS calls ({}), {:.2} s, offenders {:?}, ranked by {}",
            if self.insights { "on" } else { "off" },
            total(&self.calls),
            breakdown(&self.calls),
            self.wall.as_secs_f64(),
            self.report.offenders,
            self.report
                .ranked_by
                .as_ref()
                .map_or_else(|| "nothing".to_owned(), ToString::to_string),
        );
        println!(
            "| VmHWM at start | VmHWM after the plan (≤ {RSS_TARGET_MB:.0} MB) | VmRSS after |\n|---:|---|---:|\n| {:.1} MB | {:.1} MB {} | {:.1} MB |",
            mb(self.at_start),
            mb(self.hwm),
            verdict(mb(self.hwm) <= RSS_TARGET_MB),
            mb(self.rss),
        );
    }
}
