//! Runs one scenario file under every policy (or the named ones) and prints each run's summary
//! as a JSON line; `--full` prints the whole outcome instead.
//! `cargo run -p cguard-sim --example run -- scenarios/seed-000.toml [POLICY…] [--full]`

use std::process::ExitCode;

use cguard_sim::summary::Summary;
use cguard_sim::{Policy, Scenario, run};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(path) = args.first() else {
        eprintln!("usage: run SCENARIO.toml [none|static|guard|kill-switch …] [--full]");
        return ExitCode::FAILURE;
    };
    let full = args.iter().any(|a| a == "--full");
    let named: Vec<Policy> = args[1..].iter().filter_map(|a| a.parse().ok()).collect();
    let policies = if named.is_empty() {
        Policy::ALL.to_vec()
    } else {
        named
    };
    let scenario = match Scenario::load(path.as_ref()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    for policy in policies {
        let outcome = match run(&scenario, policy) {
            Ok(o) => o,
            Err(e) => {
                eprintln!("{policy}: {e}");
                continue;
            }
        };
        let json = if full {
            serde_json::to_string_pretty(&outcome)
        } else {
            serde_json::to_string(&Summary::of(&outcome))
        };
        match json {
            Ok(json) => println!("{json}"),
            Err(e) => eprintln!("{e}"),
        }
    }
    ExitCode::SUCCESS
}
