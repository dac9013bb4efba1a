//! What the guard must achieve in the simulated account, every threshold in this one file:
//! `tests/goals.rs` enforces them on the scenario files with the real guard, and
//! `cguard simulate` shows them next to the outcomes.

use serde::Serialize;

use crate::policy::Policy;
use crate::summary::Summary;

/// seed-000: the victims' throttles end within this many seconds of the guard's first action.
pub const VICTIMS_RECOVER_WITHIN_S: i64 = 60;
/// seed-000: from the guard's first action on, at least this share of the offender's callers'
/// refusals are API Gateway's 429 (a throttle that says "slow down") rather than 500s.
pub const OFFENDER_429_SHARE: f64 = 0.9;
/// seed-002: messages that reach the DLQ with the guard (the run without it loses some).
pub const DLQ_WITH_GUARD: u64 = 0;
/// seed-003: async events dropped with the guard and without the kill switch.
pub const DROPPED_WITHOUT_KILL_SWITCH: u64 = 0;
/// Every scenario: ALARM transitions after the guard's first restore.
pub const MAX_REALARMS: u32 = 1;
/// Every scenario: applied actions on a protected function.
pub const PROTECTED_ACTIONS: usize = 0;

/// Each threshold is the most a run may show (written as a call: a `<=` against a zero
/// constant reads to clippy as a mistake).
fn at_most(value: u64, most: u64) -> bool {
    value <= most
}

fn seconds(s: Option<i64>) -> String {
    s.map_or_else(|| "none".to_owned(), |s| format!("{s} s"))
}

/// One goal, judged on one scenario's runs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict {
    pub goal: &'static str,
    pub scenario: String,
    pub met: bool,
    /// The figures it was judged on.
    pub figures: String,
}

/// Every goal that applies to `scenario`, judged on its runs (a goal whose runs are missing is
/// not judged).
pub fn judge(scenario: &str, runs: &[Summary]) -> Vec<Verdict> {
    let run = |p: Policy| runs.iter().find(|r| r.policy == p);
    let mut out = match (scenario, run(Policy::Guard)) {
        ("seed-000", Some(g)) => recovery(g),
        ("seed-002", Some(g)) => {
            let lost = run(Policy::NoGuard).map_or(0, |n| n.messages_to_dlq);
            vec![(
                "no message reaches the DLQ with the guard",
                at_most(g.messages_to_dlq, DLQ_WITH_GUARD) && lost > 0,
                format!("DLQ: {} with the guard, {lost} without", g.messages_to_dlq),
            )]
        }
        ("seed-003", Some(g)) => vec![(
            "no async event dropped without the kill switch",
            at_most(g.events_dropped, DROPPED_WITHOUT_KILL_SWITCH),
            format!(
                "dropped: {} with the guard, {} without it",
                g.events_dropped,
                run(Policy::NoGuard).map_or(0, |n| n.events_dropped)
            ),
        )],
        _ => Vec::new(),
    };
    for r in runs.iter().filter(|r| r.policy.guarded()) {
        out.extend(every_guarded_run(r));
    }
    out.into_iter()
        .map(|(goal, met, figures)| Verdict {
            goal,
            scenario: scenario.to_owned(),
            met,
            figures,
        })
        .collect()
}

/// A goal, whether it was met, and the figures it was judged on.
type Judged = (&'static str, bool, String);

/// seed-000: the victims recover soon after the first action, and the offender's callers are
/// told to slow down (429) rather than failed (500).
fn recovery(g: &Summary) -> Vec<Judged> {
    let c = g.offender_callers_after_action;
    let refused = c.status_429 + c.status_500;
    let share = if refused == 0 {
        0.0
    } else {
        c.status_429 as f64 / refused as f64
    };
    vec![
        (
            "victims recover within 60 s of the first action",
            g.victims_end_after_action_s
                .is_some_and(|s| s <= VICTIMS_RECOVER_WITHIN_S),
            format!(
                "last victim throttle {} after the first action (at {})",
                seconds(g.victims_end_after_action_s),
                seconds(g.first_action_s.map(i64::from))
            ),
        ),
        (
            "the offender's callers get 429s, not 500s",
            share >= OFFENDER_429_SHARE,
            format!(
                "after the first action: {} × 429, {} × 500 ({:.1}% 429)",
                c.status_429,
                c.status_500,
                share * 100.0
            ),
        ),
    ]
}

/// Every run with a guard: restores that stick, and protected functions left alone.
fn every_guarded_run(r: &Summary) -> [Judged; 2] {
    [
        (
            "at most one re-alarm after a restore",
            r.realarms <= MAX_REALARMS,
            format!(
                "{}: {} re-alarm(s) after the first restore (at {})",
                r.policy,
                r.realarms,
                seconds(r.first_restore_s.map(i64::from))
            ),
        ),
        (
            "a protected function is never limited",
            at_most(r.protected_actions as u64, PROTECTED_ACTIONS as u64),
            format!(
                "{}: {} action(s) on protected functions",
                r.policy, r.protected_actions
            ),
        ),
    ]
}
