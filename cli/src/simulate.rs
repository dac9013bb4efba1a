//! `cguard simulate`: a scenario file run in the simulated account (`cguard-sim`) under each
//! policy — no guard, a static reservation, the guard itself, the guard with the kill switch —
//! and what came of it: a table (`table`), JSON with `--json`, one picture per run with `--svg`
//! (`svg`), and the goals (`cguard_sim::goals`) judged on the runs.

mod svg;
mod table;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use cguard_sim::goals::{self, Verdict};
use cguard_sim::guarded::GuardLog;
use cguard_sim::summary::Summary;
use cguard_sim::{Outcome, Policy, Scenario};
use clap::{Args, ValueEnum};
use serde::Serialize;

#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// A scenario file, or the name of one in scenarios/ (seed-000, protected-surge, …).
    scenario: String,
    /// Which policy to run the scenario under.
    #[arg(long, value_enum, default_value = "all")]
    policy: Which,
    /// Write one SVG per run into this directory (created if missing).
    #[arg(long, value_name = "DIR")]
    svg: Option<PathBuf>,
    /// Run with this seed instead of the scenario's own.
    #[arg(long)]
    seed: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Which {
    All,
    None,
    Static,
    Guard,
    KillSwitch,
}

impl Which {
    fn policies(self) -> Vec<Policy> {
        match self {
            Self::All => Policy::ALL.to_vec(),
            Self::None => vec![Policy::NoGuard],
            Self::Static => vec![Policy::StaticReservation],
            Self::Guard => vec![Policy::Guard],
            Self::KillSwitch => vec![Policy::KillSwitch],
        }
    }
}

/// What `--json` prints.
#[derive(Debug, Serialize)]
struct Simulation<'a> {
    scenario: &'a str,
    seed: u64,
    runs: Vec<Run<'a>>,
    goals: Vec<Verdict>,
}

#[derive(Debug, Serialize)]
struct Run<'a> {
    summary: &'a Summary,
    guard: Option<&'a GuardLog>,
}

/// Runs the simulation; errors are a scenario that cannot be read or run, or an SVG that
/// cannot be written.
pub fn run(args: &SimulateArgs, json: bool) -> Result<()> {
    let mut scenario = load(&args.scenario)?;
    if let Some(seed) = args.seed {
        scenario.seed = seed;
    }
    let mut outcomes: Vec<Outcome> = Vec::new();
    for policy in args.policy.policies() {
        let outcome = cguard_sim::run(&scenario, policy)
            .with_context(|| format!("{} under {policy}", scenario.name))?;
        outcomes.push(outcome);
    }
    let summaries: Vec<Summary> = outcomes.iter().map(Summary::of).collect();
    let verdicts = goals::judge(&scenario.name, &summaries);
    if let Some(dir) = &args.svg {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        for outcome in &outcomes {
            let path = dir.join(format!("{}-{}.svg", scenario.name, outcome.policy));
            svg::draw(&scenario, outcome, &path)
                .with_context(|| format!("cannot draw {}", path.display()))?;
            if !json {
                println!("wrote {}", path.display());
            }
        }
    }
    if json {
        let runs = summaries
            .iter()
            .zip(&outcomes)
            .map(|(summary, o)| Run {
                summary,
                guard: o.guard.as_ref(),
            })
            .collect();
        let simulation = Simulation {
            scenario: &scenario.name,
            seed: scenario.seed,
            runs,
            goals: verdicts,
        };
        println!("{}", serde_json::to_string_pretty(&simulation)?);
    } else {
        print!("{}", table::render(&scenario, &summaries, &verdicts));
    }
    Ok(())
}

/// A scenario by path, or by name from `scenarios/`.
fn load(reference: &str) -> Result<Scenario> {
    let given = Path::new(reference);
    let path = if given.exists() || given.extension().is_some() {
        given.to_path_buf()
    } else {
        Path::new("scenarios").join(format!("{reference}.toml"))
    };
    Ok(Scenario::load(&path)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(svg: Option<PathBuf>) -> SimulateArgs {
        SimulateArgs {
            scenario: "../scenarios/seed-000.toml".into(),
            policy: Which::Guard,
            svg,
            seed: Some(1),
        }
    }

    #[test]
    fn a_run_draws_one_picture_per_policy() {
        let dir = std::env::temp_dir().join(format!("cguard-simulate-{}", std::process::id()));
        run(&args(Some(dir.clone())), true).expect("runs");
        let svg = std::fs::read_to_string(dir.join("seed-000-guard.svg")).expect("written");
        assert!(svg.starts_with("<svg"), "{}", &svg[..40.min(svg.len())]);
        for label in [
            "account limit",
            "guard action",
            "offender",
            "an alarm in ALARM",
        ] {
            assert!(svg.contains(label), "the legend names {label}");
        }
        std::fs::remove_dir_all(dir).expect("cleaned up");
    }

    #[test]
    fn the_table_has_a_row_per_policy_and_the_goals() {
        let scenario = load("../scenarios/seed-000.toml").expect("loads");
        let runs: Vec<Summary> = Policy::ALL
            .into_iter()
            .map(|p| Summary::of(&cguard_sim::run(&scenario, p).expect("runs")))
            .collect();
        let text = table::render(&scenario, &runs, &goals::judge(&scenario.name, &runs));
        for policy in ["none", "static", "guard", "kill-switch"] {
            assert!(
                text.lines().any(|l| l.starts_with(policy)),
                "a row for {policy}:\n{text}"
            );
        }
        assert!(
            text.contains("goals:") && !text.contains("NOT MET"),
            "{text}"
        );
        assert!(load("no-such-scenario").is_err());
    }
}
