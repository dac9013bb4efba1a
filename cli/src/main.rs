//! `cguard`: the remediator and auditor from a terminal, sharing all their code.
//!
//! AWS configuration comes from the standard chain (`AWS_ENDPOINT_URL`, `AWS_REGION`,
//! profiles); the policy from the same `CGUARD_*` variables the functions read.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use cguard_aws::Aws;
use cguard_core::alarm::{parse_event, valid_function_name};
use cguard_core::audit::{AuditReport, audit, restore_function};
use cguard_core::config::Policy;
use cguard_core::engine::remediate;
use cguard_core::posture::{PostureReport, PostureSettings, posture, publish};
use cguard_core::report::Report;
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
    /// alone.
    Restore {
        #[arg(long)]
        function: String,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_env("CGUARD_LOG"))
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match run(&cli).await {
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
    let mut policy = Policy::from_env()?;
    let (path, dry_run) = match &cli.command {
        Command::Plan { event } => (event, true),
        Command::Apply { event } => (event, false),
        Command::Audit { no_metric } => return run_audit(cli, &policy, !no_metric).await,
        Command::Restore { function } => return run_restore(cli, function).await,
    };
    policy.dry_run |= dry_run;
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let event: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))?;
    let requests = parse_event(&event)
        .with_context(|| format!("{}: bad input, nothing changed", path.display()))?;
    let aws = aws().await?;
    let mut reports: Vec<Report> = Vec::new();
    for request in &requests {
        reports.push(remediate(&aws, request, &policy, chrono::Utc::now()).await);
    }
    print(cli, &reports)?;
    let failed: Vec<_> = reports
        .iter()
        .filter(|r| r.failed())
        .map(|r| r.incident.to_string())
        .collect();
    if !failed.is_empty() {
        eprintln!(
            "cguard: actions failed for incident(s) {}",
            failed.join(", ")
        );
    }
    Ok(failed.is_empty())
}

fn print(cli: &Cli, reports: &[Report]) -> Result<()> {
    if cli.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({ "reports": reports }))?
        );
    } else {
        for r in reports {
            println!("{r}");
        }
    }
    Ok(())
}

async fn aws() -> Result<Aws> {
    let insights = cguard_aws::metrics_insights_from_env()?;
    let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    Ok(Aws::new(&config).with_metrics_insights(insights))
}

async fn run_audit(cli: &Cli, policy: &Policy, metric: bool) -> Result<bool> {
    let settings = PostureSettings::from_env();
    let aws = aws().await?;
    let now = chrono::Utc::now();
    let (audit, posture): (AuditReport, PostureReport) = tokio::join!(
        audit(&aws, policy, now),
        posture(&aws, policy, &settings, now)
    );
    if metric && let Err(e) = publish(&aws, &settings, &posture).await {
        eprintln!("cguard: could not publish the PostureFindings metric: {e}");
    }
    if cli.json {
        println!(
            "{}",
            serde_json::to_string_pretty(
                &serde_json::json!({ "audit": audit, "posture": posture })
            )?
        );
    } else {
        println!("{audit}\n{posture}");
    }
    Ok(finish(&audit))
}

async fn run_restore(cli: &Cli, function: &str) -> Result<bool> {
    anyhow::ensure!(
        valid_function_name(function),
        "{function:?} is not a Lambda function name, nothing changed"
    );
    let report = restore_function(&aws().await?, function, chrono::Utc::now()).await;
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
