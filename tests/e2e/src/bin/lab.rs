//! The demo's lab: seeds the classic incident in the local stand-in and shows the account's
//! state before and after the guard acts.
//!
//! `lab seed EVENT_OUT` seeds the incident and writes the SNS alarm notification for it;
//! `lab show` prints every function's reservation, record and API throttles.
//! `lab apply EVENT` and `lab audit` run the guard's use-cases as the Lambdas do (the real
//! adapters, default policy) and print their reports as JSON: one process each, so that tests
//! can race several of them against one account.

use anyhow::{Context, Result, bail};
use cguard_core::config::Policy;
use cguard_core::intake::parse_event;
use cguard_e2e::{ClassicIncident, Lab, event_at};
use cguard_engine::run::remediate_all;
use chrono::{Duration, Utc};

#[tokio::main]
async fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let region = std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".into());
    let lab = Lab::new(&region).await?;
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["seed", out] => {
            let incident = ClassicIncident::seed(&lab, Utc::now() - Duration::seconds(30)).await?;
            let event = event_at("sns-account-concurrency.json", incident.at, &region)?;
            std::fs::write(out, serde_json::to_string_pretty(&event)?)
                .with_context(|| out.to_string())?;
            println!(
                "seeded: {} (30 s × 20 req/s behind REST API {} stage prod GET /items), victim {}, protected {}, {} bystanders; account at 962 of 1000",
                incident.offender,
                incident.api_id,
                incident.victim,
                incident.protected,
                incident.bystanders.len()
            );
            Ok(())
        }
        ["show"] => show(&lab).await,
        ["apply", event] => {
            let event: serde_json::Value = serde_json::from_str(
                &std::fs::read_to_string(event).with_context(|| event.to_string())?,
            )?;
            let requests = parse_event(&event)?;
            let guard = lab.guard(Policy::default());
            let batch = remediate_all(&guard, &requests, &(), None).await;
            println!("{}", serde_json::to_string(&batch.reports)?);
            Ok(())
        }
        ["audit"] => {
            let report = lab.guard(Policy::default()).audit(Utc::now()).await;
            println!("{}", serde_json::to_string(&report)?);
            Ok(())
        }
        _ => bail!("usage: lab seed EVENT_OUT | lab show | lab apply EVENT | lab audit"),
    }
}

async fn show(lab: &Lab) -> Result<()> {
    println!("{:<16} {:<12} record", "function", "reserved");
    let functions = lab.lambda.list_functions().send().await?;
    let mut names: Vec<String> = functions
        .functions()
        .iter()
        .filter_map(|f| f.function_name().map(str::to_owned))
        .collect();
    names.sort();
    for name in &names {
        let reserved = lab
            .reservation(name)
            .await?
            .map_or("-".to_string(), |n| n.to_string());
        let record = match lab.record(name).await? {
            None => "-".to_string(),
            Some(r) => format!(
                "incident {}: {}",
                r.incident,
                r.actions
                    .values()
                    .map(|a| a.change.describe())
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
        };
        println!("{name:<16} {reserved:<12} {record}");
    }
    let apis = lab.apigateway.get_rest_apis().send().await?;
    for api in apis.items() {
        let id = api.id().unwrap_or_default();
        let stages = lab.apigateway.get_stages().rest_api_id(id).send().await?;
        for s in stages.item() {
            let stage = s.stage_name().unwrap_or_default();
            let throttles = lab.stage_throttles(id, stage).await?;
            let shown = if throttles.is_empty() {
                "no throttle".to_string()
            } else {
                throttles
                    .iter()
                    .map(|(k, (r, b))| format!("{k}: {r} req/s, burst {b}"))
                    .collect::<Vec<_>>()
                    .join("; ")
            };
            println!(
                "REST API {} ({id}) stage {stage}: {shown}",
                api.name().unwrap_or_default()
            );
        }
    }
    Ok(())
}
