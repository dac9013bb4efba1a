//! The one report per alarm: the function's response, one structured log line, and (rendered
//! with `Display`) what the CLI and the report topic show a person.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::attribution::{Ranked, Scope};
use crate::confirm::Unconfirmed;
use crate::intake::{Alarm, AlarmState, EventSource, IncidentId};
use crate::model::{AccountFacts, Action, Driver, Status};
use crate::observation::Window;
use crate::plan::Skipped;
use crate::ranking::RankedBy;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Nothing to do (state OK, unrelated alarm, no offender, everything already limited).
    NoAction,
    /// Actions planned, none taken: a dry run.
    DryRun,
    /// Every planned action was applied.
    Remediated,
    /// Some actions applied, some failed.
    Partial,
    /// Actions were planned and none could be applied, or the inputs could not be read.
    Failed,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlarmSummary {
    pub name: String,
    pub arn: Option<String>,
    pub state: AlarmState,
    pub changed_at: DateTime<Utc>,
    pub reason: Option<String>,
}

impl From<&Alarm> for AlarmSummary {
    fn from(a: &Alarm) -> Self {
        Self {
            name: a.name.clone(),
            arn: a.arn.clone(),
            state: a.state,
            changed_at: a.changed_at,
            reason: a.reason.clone(),
        }
    }
}

/// Only ever written (the function's response, the log line, the report topic), never read back.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub incident: IncidentId,
    pub source: EventSource,
    pub dry_run: bool,
    pub outcome: Outcome,
    pub alarm: Option<AlarmSummary>,
    /// The function an operator named, for manual requests.
    pub function: Option<String>,
    pub scope: Option<Scope>,
    pub window: Option<Window>,
    pub account: AccountFacts,
    pub account_peak: Option<f64>,
    /// Why CloudWatch did not confirm the alarm, when it did not: nothing was done.
    pub unconfirmed: Option<Unconfirmed>,
    /// Which path ranked the functions, and why not Insights when it did not.
    pub ranked_by: Option<RankedBy>,
    pub ranking: Vec<Ranked>,
    pub offenders: Vec<String>,
    pub drivers: BTreeMap<String, Vec<Driver>>,
    pub actions: Vec<Action>,
    pub skipped: Vec<Skipped>,
    pub notes: Vec<String>,
}

impl Report {
    pub fn new(incident: IncidentId, source: EventSource, dry_run: bool) -> Self {
        Self {
            incident,
            source,
            dry_run,
            outcome: Outcome::NoAction,
            alarm: None,
            function: None,
            scope: None,
            window: None,
            account: AccountFacts::default(),
            account_peak: None,
            ranked_by: None,
            unconfirmed: None,
            ranking: Vec::new(),
            offenders: Vec::new(),
            drivers: BTreeMap::new(),
            actions: Vec::new(),
            skipped: Vec::new(),
            notes: Vec::new(),
        }
    }

    /// Derives the outcome from the actions' statuses.
    pub fn settle(&mut self) {
        let count = |f: fn(&Status) -> bool| self.actions.iter().filter(|a| f(&a.status)).count();
        let applied = count(|s| matches!(s, Status::Applied));
        let failed = count(|s| matches!(s, Status::Failed(_)));
        let planned = count(|s| matches!(s, Status::Planned));
        self.outcome = match (applied, failed, planned) {
            (0, 0, 0) => Outcome::NoAction,
            (_, 0, p) if p > 0 => Outcome::DryRun,
            (a, 0, _) if a > 0 => Outcome::Remediated,
            (0, _, _) => Outcome::Failed,
            _ => Outcome::Partial,
        };
    }

    /// Whether a caller should treat this run as failed (non-zero exit, Lambda error metric).
    pub fn failed(&self) -> bool {
        matches!(self.outcome, Outcome::Failed | Outcome::Partial)
    }

    /// A report for input that could not be processed at all; nothing was changed.
    pub fn aborted(mut self, why: String) -> Self {
        self.abort(why);
        self
    }

    /// Refuses an alarm CloudWatch does not confirm: nothing is done, and nobody is named an
    /// offender (the ranking read meanwhile stays, for information). A failed read is a
    /// failure (Lambda retries); every other answer is final.
    pub fn refuse(&mut self, why: Unconfirmed) {
        self.offenders.clear();
        self.notes.push(format!(
            "not confirmed by CloudWatch, nothing changed: {why}"
        ));
        if why.transient() {
            self.outcome = Outcome::Failed;
        }
        self.unconfirmed = Some(why);
    }

    /// Marks the run failed before anything changed, saying why.
    pub fn abort(&mut self, why: String) {
        self.notes.push(why);
        self.outcome = Outcome::Failed;
    }
}

impl Report {
    /// The ranking as a table, offenders marked.
    fn write_ranking(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.ranking.is_empty() {
            return Ok(());
        }
        writeln!(
            f,
            "\n{:<40} {:>8} {:>8} {:>8} {:>10} {:>6}",
            "function", "peak", "little", "req/s", "avg ms", "share"
        )?;
        for r in &self.ranking {
            let n = |v: Option<f64>, p: usize| v.map_or("-".to_string(), |x| format!("{x:.p$}"));
            let mark = if self.offenders.contains(&r.function) {
                " ◀ offender"
            } else {
                ""
            };
            writeln!(
                f,
                "{:<40} {:>8} {:>8} {:>8} {:>10} {:>6}{mark}",
                r.function,
                n(r.peak_concurrency, 0),
                n(r.little_estimate, 0),
                n(r.invocations_per_second, 2),
                n(r.avg_duration_ms, 0),
                r.share
                    .map_or("-".to_string(), |s| format!("{:.0}%", s * 100.0)),
            )?;
        }
        Ok(())
    }
}

/// Through [`terminal_safe`](crate::text::terminal_safe): names and reasons come from outside.
impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        crate::text::write_safe(f, |f| self.render(f))
    }
}

impl Report {
    fn render(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let subject = match (&self.alarm, &self.function) {
            (Some(a), _) => format!(
                "alarm {} → {} at {}",
                a.name,
                a.state,
                a.changed_at.format("%Y-%m-%d %H:%M:%S UTC")
            ),
            (None, Some(f)) => format!("function {f} named by an operator"),
            (None, None) => "unknown subject".into(),
        };
        writeln!(
            f,
            "Concurrency Guard — incident {} ({subject})",
            self.incident
        )?;
        writeln!(
            f,
            "outcome: {:?}{}",
            self.outcome,
            if self.dry_run {
                " — dry run, nothing changed"
            } else {
                ""
            }
        )?;
        if let Some(w) = &self.window {
            write!(
                f,
                "window: {} → {}",
                w.start.format("%H:%M"),
                w.end.format("%H:%M UTC")
            )?;
            if let Some(p) = self.account_peak {
                write!(f, "; account peak {p:.0}")?;
            }
            if let Some(l) = self.account.limit {
                write!(f, " of limit {l}")?;
            }
            writeln!(f)?;
        }
        if let Some(by) = &self.ranked_by {
            writeln!(f, "ranked by: {by}")?;
        }
        self.write_ranking(f)?;
        if !self.actions.is_empty() {
            writeln!(f, "\nactions:")?;
            for a in &self.actions {
                let status = match &a.status {
                    Status::Planned if self.dry_run => "PLANNED (dry run)".to_string(),
                    s => s.to_string(),
                };
                writeln!(f, "  [{}] {} — {status}", a.tier, a.change.describe())?;
                writeln!(f, "           why: {}", a.rationale)?;
            }
        }
        for s in &self.skipped {
            writeln!(f, "  skipped {}: {}", s.function, s.reason)?;
        }
        for n in &self.notes {
            writeln!(f, "note: {n}")?;
        }
        Ok(())
    }
}
