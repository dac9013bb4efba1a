//! `cguard`: the remediator and auditor from a terminal. The use-cases are the Lambdas' own
//! (`cguard_engine::run`); `cguard simulate` runs the guard in a simulated account
//! (`simulate`). This file only parses arguments, prints and sets the exit code.
//!
//! AWS configuration comes from the standard chain (`AWS_ENDPOINT_URL`, `AWS_REGION`,
//! profiles); the policy from the same `CGUARD_*` variables the functions read.

mod backtest;
mod simulate;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use cguard_aws::Aws;
use cguard_aws::notify::ReportTopic;
use cguard_core::audit::AuditReport;
use cguard_core::config::Settings;
use cguard_core::intake::{canonical_function_name, parse_event};
use cguard_engine::Guard;
use cguard_engine::ports::Ledger;
use cguard_engine::run::{audit_pass, remediate_all};
use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "cguard",
    version,
    about = "Concurrency Guard: find and limit what eats the Lambda concurrency pool"
)]
struct Cli {
    /// Print the JSON report instead of the human summary.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Dry run: show what the remediator would do for an event. Changes nothing.
    Plan {
        /// An event file: SNS, alarm action, EventBridge or manual payload (see events/).
        #[arg(long)]
        event: PathBuf,
    },
    /// Do what the remediator Lambda does for an event.
    Apply {
        #[arg(long)]
        event: PathBuf,
    },
    /// One auditor pass: verify every open record, escalate or restore it; then the posture
    /// checklist. Honours CGUARD_DRY_RUN.
    Audit {
        /// Do not publish the PostureFindings metric.
        #[arg(long)]
        no_metric: bool,
    },
    /// Restore a function now, whatever its metrics; values a person changed since are left
    /// alone. Honours CGUARD_DRY_RUN. The function may be given by name or ARN.
    Restore {
        #[arg(long)]
        function: String,
    },
    /// Create what the guard needs where the template has not: the ledger table, under the
    /// template's default name (or CGUARD_LEDGER_TABLE). Idempotent; changes nothing else.
    Init,
    /// Every transition of the guard's alarms into ALARM in the period (CloudWatch alarm
    /// history, kept 30 days), and what the guard would have done then from the metrics as they
    /// were: a dry-run replay of each, newest first, at most 100. Changes nothing.
    Backtest {
        /// How far back: "30d", "12h", "7days".
        #[arg(long, default_value = "30d", value_parser = humantime::parse_duration)]
        since: std::time::Duration,
        /// The alarms examined: those whose names start with this (the template names its
        /// alarms "<stack>-…").
        #[arg(long, default_value = "concurrency-guard")]
        alarm_prefix: String,
    },
    /// Closed incidents from the ledger's history, newest first.
    History {
        /// How far back: "30d", "12h", "90days" (history is kept CGUARD_HISTORY_DAYS days).
        #[arg(long, default_value = "90d", value_parser = humantime::parse_duration)]
        since: std::time::Duration,
    },
    /// Run a scenario in the simulated account under each policy (no guard, a static
    /// reservation, the guard, the guard with the kill switch) and show what came of it.
    /// Touches no AWS account.
    Simulate(simulate::SimulateArgs),
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_env("CGUARD_LOG"))
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    // The simulator needs neither AWS settings nor a runtime: its ports answer at once.
    let result = match &cli.command {
        Command::Simulate(args) => simulate::run(args, cli.json).map(|()| true),
        _ => tokio::runtime::Runtime::new()
            .context("cannot start the async runtime")
            .and_then(|rt| rt.block_on(run(&cli))),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("cguard: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Returns whether everything succeeded; errors are bad input or configuration.
async fn run(cli: &Cli) -> Result<bool> {
    let mut settings = Settings::from_env()?;
    let (path, dry_run) = match &cli.command {
        Command::Plan { event } => (event, true),
        Command::Apply { event } => (event, false),
        Command::Audit { no_metric } => return run_audit(cli, settings, !no_metric).await,
        Command::Restore { function } => return run_restore(cli, settings, function).await,
        Command::Init => return run_init(settings).await,
        Command::History { since } => return run_history(cli, settings, *since).await,
        Command::Backtest {
            since,
            alarm_prefix,
        } => return backtest::run(cli.json, settings, *since, alarm_prefix).await,
        Command::Simulate(_) => anyhow::bail!("simulate is run without a runtime, from main"),
    };
    settings.policy.dry_run |= dry_run;
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let event: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))?;
    let requests = parse_event(&event)
        .with_context(|| format!("{}: bad input, nothing changed", path.display()))?;
    let (guard, topic) = connect(settings).await;
    // The same use-case as the remediator Lambda, summaries to the report topic included; the
    // EMF lines are left out: at a terminal nothing turns stdout into metrics.
    let batch = remediate_all(&guard, &requests, &topic, None).await;
    if cli.json {
        let json = serde_json::json!({ "reports": batch.reports });
        println!("{}", serde_json::to_string_pretty(&json)?);
    } else {
        for r in &batch.reports {
            println!("{r}");
        }
    }
    let incomplete = batch.incomplete();
    if !incomplete.is_empty() {
        eprintln!(
            "cguard: actions failed for incident(s) {}",
            incomplete.join(", ")
        );
    }
    Ok(incomplete.is_empty())
}

async fn connect(settings: Settings) -> (Guard<Aws>, Option<ReportTopic>) {
    let (aws, topic) = cguard_aws::connect(&settings).await;
    (Guard::new(aws, settings.policy), topic)
}

async fn run_audit(cli: &Cli, settings: Settings, metric: bool) -> Result<bool> {
    let posture = settings.posture.clone();
    let (guard, _) = connect(settings).await;
    let pass = audit_pass(&guard, &posture, metric, chrono::Utc::now()).await;
    if pass.metric_published == Some(false) {
        eprintln!("cguard: could not publish the PostureFindings metric");
    }
    if cli.json {
        println!("{}", serde_json::to_string_pretty(&pass)?);
    } else {
        println!("{}\n{}", pass.audit, pass.posture);
    }
    Ok(finish(&pass.audit))
}

async fn run_restore(cli: &Cli, settings: Settings, function: &str) -> Result<bool> {
    let Some(function) = canonical_function_name(function) else {
        anyhow::bail!("{function:?} names no Lambda function, nothing changed");
    };
    let (guard, _) = connect(settings).await;
    let report = guard.restore_function(&function, chrono::Utc::now()).await;
    if cli.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("{report}");
    }
    Ok(finish(&report))
}

/// Whether the pass succeeded; says so on stderr when it did not.
fn finish(report: &AuditReport) -> bool {
    let failed = report.failed();
    if failed {
        eprintln!("cguard: some reads or changes failed; the records they concern are kept");
    }
    !failed
}

async fn run_init(settings: Settings) -> Result<bool> {
    let (aws, _) = cguard_aws::connect(&settings).await;
    let init = aws.init_ledger().await.with_context(|| {
        format!(
            "could not create the ledger table {}",
            settings.ledger_table
        )
    })?;
    println!("{init}");
    Ok(true)
}

async fn run_history(cli: &Cli, settings: Settings, since: std::time::Duration) -> Result<bool> {
    let since = chrono::Utc::now()
        - chrono::Duration::from_std(since).context("--since is too far back")?;
    let (aws, _) = cguard_aws::connect(&settings).await;
    let closed = aws
        .history(since)
        .await
        .context("could not read the ledger's history")?;
    if cli.json {
        println!("{}", serde_json::to_string_pretty(&closed)?);
    } else if closed.is_empty() {
        println!(
            "no incident closed since {}",
            since.format("%Y-%m-%d %H:%M UTC")
        );
    } else {
        for record in &closed {
            print!("{record}");
        }
    }
    Ok(true)
}
