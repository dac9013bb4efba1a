//! The backtest as a person reads it: one line per transition — when, which alarm, and what the
//! guard would have done ("cap hog at 100; throttle REST API a1b2c3 stage prod (all methods) to
//! 3.33 req/s for hog; skipped payments (protected by …)") or why nothing. Everything passes
//! through [`write_safe`](crate::text::write_safe): alarm names, reasons and function names
//! come from the account.

use std::fmt;

use crate::model::{Action, Change, Reservation, Status};
use crate::report::Report;

use super::{Backtest, MAX_REPLAYS};

/// One line for a replay's report: its actions and skips, or why there are none.
pub fn summary(report: &Report) -> String {
    if let Some(why) = &report.unconfirmed {
        return format!("nothing: not confirmed by CloudWatch ({why})");
    }
    let mut parts: Vec<String> = report.actions.iter().map(phrase).collect();
    parts.extend(
        report
            .skipped
            .iter()
            .map(|s| format!("skipped {} ({})", s.function, s.reason)),
    );
    if parts.is_empty() {
        let why = if report.notes.is_empty() {
            "no action".to_owned()
        } else {
            report.notes.join("; ")
        };
        return format!("nothing: {why}");
    }
    parts.join("; ")
}

/// One action, in the fewest words that still name the resource and the value.
fn phrase(action: &Action) -> String {
    let f = &action.function;
    let what = match &action.change {
        Change::Reservation {
            new: Reservation::Reserved(0),
            ..
        } => format!("throttle {f} to 0 (reserved 0)"),
        Change::Reservation {
            new: Reservation::Reserved(n),
            ..
        } => format!("cap {f} at {n}"),
        Change::Reservation {
            new: Reservation::Unreserved,
            ..
        } => format!("remove {f}'s reservation"),
        Change::Throttle {
            target,
            new: Some(t),
            ..
        } => format!("throttle {target} to {:.2} req/s for {f}", t.rate),
        Change::Throttle {
            target, new: None, ..
        } => format!("unthrottle {target}"),
        Change::QueueConcurrency {
            uuid, new: Some(n), ..
        } => format!("limit SQS mapping {uuid} of {f} to {n}"),
        Change::QueueConcurrency {
            uuid, new: None, ..
        } => {
            format!("unlimit SQS mapping {uuid}")
        }
    };
    match &action.status {
        Status::Planned | Status::Applied => what,
        Status::Skipped(why) => format!("not {what} ({why})"),
        Status::Failed(why) => format!("{what} failed ({why})"),
    }
}

impl fmt::Display for Backtest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        crate::text::write_safe(f, |f| self.render(f))
    }
}

impl Backtest {
    fn render(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let period = format!(
            "{} → {}",
            self.since.format("%Y-%m-%d %H:%M"),
            self.until.format("%Y-%m-%d %H:%M UTC")
        );
        if self.transitions == 0 {
            return writeln!(
                f,
                "no transition into ALARM of the alarms named {}* in {period}",
                self.alarm_prefix
            );
        }
        writeln!(
            f,
            "{} transition(s) into ALARM of the alarms named {}* in {period}, replayed as a \
             dry run: nothing was or could be changed",
            self.transitions, self.alarm_prefix
        )?;
        let width = self
            .rows
            .iter()
            .map(|r| r.alarm.chars().count())
            .max()
            .unwrap_or(0)
            .max("alarm".len());
        writeln!(
            f,
            "\n{:<16}  {:<width$}  what the guard would have done",
            "when (UTC)", "alarm"
        )?;
        for r in &self.rows {
            writeln!(
                f,
                "{:<16}  {:<width$}  {}",
                r.at.format("%Y-%m-%d %H:%M"),
                r.alarm,
                r.summary
            )?;
        }
        if self.not_examined > 0 {
            writeln!(
                f,
                "\n{} older transition(s) not examined: at most {MAX_REPLAYS} are replayed, \
                 newest first",
                self.not_examined
            )?;
        }
        writeln!(
            f,
            "\nThe metrics are read as they were; the alarms' definitions, the functions' \
             configuration and tags, and the guard's records as they are now."
        )
    }
}
