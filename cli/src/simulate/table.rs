//! The outcome table a person reads: one row per policy, then the goals judged on the runs.

use std::fmt::Write;

use cguard_sim::Scenario;
use cguard_sim::goals::Verdict;
use cguard_sim::summary::{Callers, Summary};

/// Seconds relative to an event, signed; `-` when either is missing.
fn relative(s: Option<i64>) -> String {
    s.map_or_else(|| "-".to_owned(), |s| format!("{s:+} s"))
}

fn callers(c: Callers) -> String {
    format!("{}/{}", c.status_500, c.status_429)
}

pub fn render(scenario: &Scenario, runs: &[Summary], verdicts: &[Verdict]) -> String {
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = writeln!(
        out,
        "{} (seed {}, {} s): {}\n",
        scenario.name, scenario.seed, scenario.duration_s, scenario.description
    );
    let _ = writeln!(
        out,
        "{:<12} {:>9} {:>10} {:>10} {:>15} {:>15} {:>13} {:>5} {:>14} {:>7} {:>8} {:>9}",
        "policy",
        "victims",
        "end/alarm",
        "end/action",
        "offender 5/4",
        "…after action",
        "victims 5/4",
        "DLQ",
        "async exp/drop",
        "actions",
        "restores",
        "re-alarms"
    );
    for r in runs {
        let _ = writeln!(
            out,
            "{:<12} {:>9} {:>10} {:>10} {:>15} {:>15} {:>13} {:>5} {:>14} {:>7} {:>8} {:>9}",
            r.policy.name(),
            r.victims_throttled,
            relative(r.victims_end_after_alarm_s),
            relative(r.victims_end_after_action_s),
            callers(r.offender_callers),
            callers(r.offender_callers_after_action),
            callers(r.victim_callers),
            r.messages_to_dlq,
            format!("{}/{}", r.events_expired, r.events_dropped),
            r.actions,
            r.restores,
            r.realarms,
        );
    }
    let _ = writeln!(
        out,
        "\nvictims: the victims' throttled invocations; end/alarm, end/action: their last throttle \
         against the first alarm and the guard's first action; 5/4: callers' 500s/429s from API \
         Gateway; async exp/drop: events expired / lost without a destination{}",
        kill_switched(runs)
    );
    if !verdicts.is_empty() {
        let _ = writeln!(out, "\ngoals:");
        for v in verdicts {
            let mark = if v.met { "met    " } else { "NOT MET" };
            let _ = writeln!(out, "  {mark} {}: {}", v.goal, v.figures);
        }
    }
    out
}

/// Kill-switched events are counted apart; mentioned only where some were.
fn kill_switched(runs: &[Summary]) -> String {
    runs.iter()
        .filter(|r| r.events_kill_switched > 0)
        .map(|r| {
            format!(
                "; {}: {} events met the kill switch",
                r.policy, r.events_kill_switched
            )
        })
        .collect()
}
