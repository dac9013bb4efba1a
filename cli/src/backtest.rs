//! `cguard backtest`: every transition of the guard's alarms into ALARM over a period, and what
//! the guard would have done at that moment — the remediator's own steps, replayed as a dry
//! run by `cguard_engine::Guard::backtest` over the same adapters as `plan` and `apply`. Reads
//! only; needs `cloudwatch:DescribeAlarmHistory` besides the remediator's reads.

use std::time::Duration;

use anyhow::{Context, Result};
use cguard_core::config::Settings;
use cguard_engine::Guard;

/// Prints the table (or, with `json`, the whole backtest) and returns whether every replay
/// could read what it needed; an error when the alarms or their history cannot be read.
pub async fn run(
    json: bool,
    settings: Settings,
    since: Duration,
    alarm_prefix: &str,
) -> Result<bool> {
    let now = chrono::Utc::now();
    let since = now - chrono::Duration::from_std(since).context("--since is too far back")?;
    let (aws, _) = cguard_aws::connect(&settings).await;
    let backtest = Guard::new(aws, settings.policy)
        .backtest(alarm_prefix, since, now)
        .await
        .context("could not read the alarms' history, nothing was replayed")?;
    if json {
        println!("{}", serde_json::to_string_pretty(&backtest)?);
    } else {
        print!("{backtest}");
    }
    let failed = backtest.failed();
    if failed {
        eprintln!("cguard: some replays could not read what they needed; their lines say which");
    }
    Ok(!failed)
}
