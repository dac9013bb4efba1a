//! Runs one scenario file under the baselines and prints each outcome as JSON lines.
//! `cargo run -p cguard-sim --example run -- scenarios/seed-000.toml`

use std::process::ExitCode;

use cguard_sim::{Policy, Scenario, run};

fn main() -> ExitCode {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: run SCENARIO.toml [--full]");
        return ExitCode::FAILURE;
    };
    let full = std::env::args().any(|a| a == "--full");
    let scenario = match Scenario::load(path.as_ref()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    for policy in Policy::BASELINES {
        match run(&scenario, policy) {
            Ok(mut outcome) => {
                if !full {
                    outcome.minutes.clear();
                    outcome.functions.clear();
                }
                match serde_json::to_string_pretty(&outcome) {
                    Ok(json) => println!("{json}"),
                    Err(e) => eprintln!("{e}"),
                }
            }
            Err(e) => eprintln!("{policy:?}: {e}"),
        }
    }
    ExitCode::SUCCESS
}
