//! Seeding `scale table`'s account: N functions in a region of the stand-in (one offender, the
//! rest quiet), their metrics over the window before the alarm, and the account's
//! `ConcurrentExecutions`.

use anyhow::{Context, Result};
use cguard_e2e::{Lab, datum, minutes_before};
use chrono::{DateTime, Utc};
use futures::{StreamExt, TryStreamExt, stream};

/// The minutes of metrics before the alarm, and the window both algorithms read.
pub const WINDOW_MINUTES: i64 = 10;
/// The one busy function: both algorithms should name it.
pub const OFFENDER: &str = "spike-offender";

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
pub async fn seed(lab: &Lab, n: usize, at: DateTime<Utc>) -> Result<Vec<String>> {
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
