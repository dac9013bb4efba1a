//! The auditor's pass over every open record in the guard's ledger: read,
//! [`verify`](cguard_core::audit::verify_record), [`decide`](cguard_core::audit::decide()), then
//! escalate through the remediator's own planner and [`carry_out`] (so the new action is
//! recorded first, under the same incident), or undo the recorded actions newest first, settling
//! each in the ledger so that a pass cut short is finished by the next one. Only the ledger is
//! obeyed; the functions' tags are compared with it to report tampering, nothing more.

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;

use cguard_core::attribution::Attribution;
use cguard_core::audit::{
    AuditError, AuditReport, Decision, Health, HoldReason, IncidentAudit, MAX_RECORDS_PER_PASS,
    Reading, RestoreReason, Undo, Undoing, Verdict, Verified, decide, in_flight, respect_people,
    restore_refusal, schedule, since, tampering, underneath, undoing, verify_reading,
    verify_record,
};
use cguard_core::config::Policy;
use cguard_core::fault::Fault;
use cguard_core::model::{Change, FunctionFacts, ResourceKey, Status, Tier};
use cguard_core::observation::{FunctionUsage, Window};
use cguard_core::plan::{self, PlanInput, Skip};
use cguard_core::record::{Record, RecordedAction};
use chrono::{DateTime, Utc};

use crate::Guard;
use crate::ports::{Actuator, ErrorKind, Ports};
use crate::remediate::carry_out;

/// A function and its readable record, both verified against the live values.
struct Loaded {
    facts: FunctionFacts,
    record: Record,
}

async fn read<A: Actuator>(aws: &A, change: &Change) -> Reading {
    match aws.current(change).await {
        Ok(c) => Reading::Value(c),
        Err(e) if e.kind == ErrorKind::NotFound => Reading::Gone,
        Err(e) => Reading::Unreadable(e.into()),
    }
}

/// Reads each resource of a record once (through its newest action).
async fn read_live<A: Actuator>(aws: &A, record: &Record) -> BTreeMap<ResourceKey, Reading> {
    let mut live = BTreeMap::new();
    for action in record.actions.values().rev() {
        let key = action.change.resource();
        if let Entry::Vacant(slot) = live.entry(key) {
            slot.insert(read(aws, &action.change).await);
        }
    }
    live
}

impl<P: Ports> Guard<P> {
    /// One audit pass over the functions that carry a record — at most
    /// [`MAX_RECORDS_PER_PASS`], oldest first, one at a time.
    pub async fn audit(&self, now: DateTime<Utc>) -> AuditReport {
        let (aws, policy) = (&self.ports, &self.policy);
        let mut report = AuditReport::new(now, policy.dry_run);
        let records = match aws.open_records().await {
            Ok(r) => r,
            Err(e) => {
                report.errors.push(AuditError::ListRecords(e.into()));
                return report;
            }
        };
        match aws.pointers().await {
            Ok(pointers) => report.errors.extend(tampering(&records, &pointers)),
            Err(e) => report.errors.push(AuditError::ListPointers(e.into())),
        }
        let due = schedule(records, now, MAX_RECORDS_PER_PASS);
        for (function, opened) in due.future {
            report
                .errors
                .push(AuditError::FutureRecord { function, opened });
        }
        report.deferred = due.deferred;
        for name in due.due {
            report.incidents.push(self.audit_function(&name, now).await);
        }
        report
    }

    /// Restores one function now, whatever its health (an operator's `cguard restore`). Values a
    /// person changed since are still left alone; with `CGUARD_DRY_RUN` nothing is restored
    /// and the report says what would be.
    pub async fn restore_function(&self, name: &str, now: DateTime<Utc>) -> AuditReport {
        let (aws, policy) = (&self.ports, &self.policy);
        let mut report = AuditReport::new(now, policy.dry_run);
        let mut entry = IncidentAudit::new(name);
        let _serial = self.changes.hold().await;
        if let Some(loaded) = load(aws, policy, &mut entry, now, true).await {
            if let Some(why) = in_flight(&entry.verdicts, now) {
                entry.decision = Some(Decision::Hold { why });
            } else {
                entry.decision = Some(Decision::Restore {
                    why: RestoreReason::Requested,
                });
                undo(aws, policy, &loaded, now, Exactly::Yes, &mut entry).await;
            }
        }
        report.incidents.push(entry);
        report
    }

    async fn audit_function(&self, name: &str, now: DateTime<Utc>) -> IncidentAudit {
        let (aws, policy) = (&self.ports, &self.policy);
        let mut entry = IncidentAudit::new(name);
        let _serial = self.changes.hold().await;
        let Some(loaded) = load(aws, policy, &mut entry, now, false).await else {
            return entry;
        };
        let (facts, record) = (&loaded.facts, &loaded.record);
        if let Some(why) = in_flight(&entry.verdicts, now) {
            entry.decision = Some(Decision::Hold { why });
            return entry;
        }

        let minutes = policy.grace_minutes.max(policy.cooldown_minutes);
        let window = Window::before(now, minutes);
        let (alarm, usage) = futures::join!(
            async {
                match &record.alarm {
                    Some(a) => aws.alarm_state(a).await,
                    None => Ok(None),
                }
            },
            aws.usage(std::slice::from_ref(&facts.name), &window)
        );
        let (alarm, usage) = match (alarm, usage) {
            (Ok(a), Ok(u)) => (a, u),
            (Err(e), _) | (_, Err(e)) => {
                entry.errors.push(AuditError::ReadHealth(e.into()));
                entry.decision = Some(Decision::Hold {
                    why: HoldReason::HealthUnknown,
                });
                return entry;
            }
        };
        if let (Some(name), None) = (&record.alarm, alarm) {
            entry.notes.push(format!(
                "alarm {name} no longer exists: judged on metrics alone"
            ));
        }
        let usage = usage.into_iter().find(|u| u.name == facts.name);
        let health = Health::from_usage(alarm, usage.as_ref(), policy, now);
        let decision = respect_people(decide(record, &health, policy, now), &entry.verdicts);
        entry.health = Some(health);
        entry.decision = Some(decision.clone());
        match decision {
            Decision::Hold { .. } => {}
            Decision::Escalate { to, .. } => {
                escalate(aws, policy, &loaded, usage, to, now, &mut entry).await;
            }
            Decision::Restore { .. } => {
                undo(aws, policy, &loaded, now, Exactly::No, &mut entry).await;
            }
        }
        entry
    }
}

/// Reads the function and its record in the ledger, and verifies every action. `None` when there
/// is nothing more to do (no function, no record, or a record without actions — which is closed
/// here). A function an operator `requested` that does not exist is an error.
async fn load<P: Ports>(
    aws: &P,
    policy: &Policy,
    entry: &mut IncidentAudit,
    now: DateTime<Utc>,
    requested: bool,
) -> Option<Loaded> {
    let (facts, record) = futures::join!(
        aws.function(&entry.function),
        aws.open_record(&entry.function)
    );
    let facts = match facts {
        Ok(Some(f)) => f,
        Ok(None) if requested => {
            entry.errors.push(AuditError::NoSuchFunction);
            return None;
        }
        Ok(None) => {
            entry.notes.push("the function no longer exists".into());
            return None;
        }
        Err(e) => {
            entry.errors.push(AuditError::ReadFunction(e.into()));
            return None;
        }
    };
    let record = match record {
        Ok(Some(r)) => r,
        Ok(None) => {
            entry
                .notes
                .push("no open record in the ledger (restored meanwhile)".into());
            return None;
        }
        Err(e) => {
            entry.errors.push(AuditError::ReadRecord(e.into()));
            return None;
        }
    };
    entry.incident = Some(record.incident.clone());
    entry.opened_at = Some(record.opened_at);
    entry.alarm.clone_from(&record.alarm);

    if record.actions.is_empty() {
        entry.decision = Some(Decision::Restore {
            why: RestoreReason::EmptyRecord,
        });
        close(aws, policy, &Loaded { facts, record }, now, entry).await;
        return None;
    }
    let live = read_live(aws, &record).await;
    let verdicts = verify_record(&record, &live);
    entry.verdicts = record
        .actions
        .iter()
        .map(|(i, a)| Verified {
            index: *i,
            tier: a.tier,
            change: a.change.clone(),
            at: a.at,
            verdict: verdicts[i].clone(),
        })
        .collect();
    for v in &entry.verdicts {
        if let Verdict::Drifted { current } = &v.verdict {
            entry.notes.push(format!(
                "action #{} ({}) was changed since by a person: now {}; their value is left alone",
                v.index,
                v.change.describe(),
                current
            ));
        }
    }
    Some(Loaded { facts, record })
}

/// One more tier, planned and recorded exactly as the remediator does it.
async fn escalate<P: Ports>(
    aws: &P,
    policy: &Policy,
    Loaded { facts, record }: &Loaded,
    usage: Option<FunctionUsage>,
    to: Tier,
    now: DateTime<Utc>,
    entry: &mut IncidentAudit,
) {
    let recent = Window::before(now, policy.grace_minutes);
    let usage = usage.map_or_else(
        || FunctionUsage {
            name: facts.name.clone(),
            ..Default::default()
        },
        |u| since(&u, recent.start),
    );
    let (account, peaks) = futures::join!(aws.account(), aws.peaks(&[], &recent));
    let account = account.unwrap_or_else(|e| {
        entry
            .notes
            .push(format!("account settings unavailable ({e})"));
        Default::default()
    });
    let account_peak = peaks.map(|p| p.account).unwrap_or_else(|e| {
        entry.notes.push(format!(
            "account peak unavailable ({e}): no emergency can be established"
        ));
        None
    });
    let attribution = Attribution::single(&usage, account_peak);
    let all_facts = BTreeMap::from([(facts.name.clone(), facts.clone())]);
    let mut plan = plan::plan(&PlanInput {
        incident: &record.incident,
        attribution: &attribution,
        facts: &all_facts,
        records: &BTreeMap::from([(facts.name.clone(), record.clone())]),
        account,
        policy,
        escalate_to: Some(to),
    });
    if !policy.dry_run {
        carry_out(aws, &mut plan, &all_facts, record, now).await;
    }
    entry.escalation = plan.actions;
    entry.notes.extend(plan.notes);
    entry.notes.extend(
        plan.skipped
            .into_iter()
            .map(|s| format!("{}: {}", s.function, s.reason)),
    );
}

/// Whether a restore puts back exactly what was there: an operator's does; the auditor's
/// keeps a victim's relief — its mapping's `MaximumConcurrency` within its own reservation —
/// while that reservation stands (`cguard_core::audit::undoing`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Exactly {
    Yes,
    No,
}

/// Undoes the recorded actions newest first, settling each in the ledger once it is done (or
/// deliberately left); stops at the first failure and keeps what remains for the next pass.
/// Nothing is written to a function [`restore_refusal`] rules out, whatever the record says.
/// Closes the record when all its actions are settled.
async fn undo<P: Ports>(
    aws: &P,
    policy: &Policy,
    loaded: &Loaded,
    now: DateTime<Utc>,
    exactly: Exactly,
    entry: &mut IncidentAudit,
) {
    let (Loaded { facts, record }, dry_run) = (loaded, policy.dry_run);
    let mut live: BTreeMap<ResourceKey, Reading> = BTreeMap::new();
    for (index, action) in record.actions.iter().rev() {
        let RecordedAction { tier, change, .. } = action;
        let how = match exactly {
            Exactly::Yes => Undoing::Exact,
            Exactly::No => undoing(record, facts, change),
        };
        let mut step = Undo {
            index: *index,
            tier: *tier,
            change: change.inverse(),
            status: Status::Planned,
        };
        if let Some(refused) = restore_refusal(facts, change, policy) {
            step.status = Status::Skipped(refused);
        } else if let Undoing::Kept(why) = &how {
            step.status = Status::Skipped(why.clone());
        } else {
            let key = change.resource();
            let reading = match live.remove(&key) {
                Some(r) => r,
                None => read(aws, change).await,
            };
            let verdict = verify_reading(change, &reading);
            step.status = restore_one(aws, &step.change, &verdict, dry_run).await;
            live.insert(key, underneath(change, &verdict, reading));
        }
        if matches!(step.status, Status::Failed(_)) {
            entry.restore.push(step);
            return;
        }
        if !dry_run
            && let Err(e) = aws
                .settle(&facts.name, action, &settled(&step.status))
                .await
        {
            let skipped = match &step.status {
                Status::Skipped(why) => Some(why.clone()),
                _ => None,
            };
            step.status = Status::Failed(Fault::NotSettled {
                skipped,
                error: e.into(),
            });
            entry.restore.push(step);
            return;
        }
        entry.restore.push(step);
    }
    close(aws, policy, loaded, now, entry).await;
}

/// How a settled action reads in the ledger's history.
fn settled(status: &Status) -> String {
    match status {
        Status::Applied => "restored".to_owned(),
        Status::Skipped(why) => format!("not restored: {why}"),
        other => other.to_string(),
    }
}

/// Writes one undo if the live value is still the guard's.
async fn restore_one<A: Actuator>(
    aws: &A,
    change: &Change,
    verdict: &Verdict,
    dry_run: bool,
) -> Status {
    match verdict {
        Verdict::InPlace if dry_run => Status::Planned,
        Verdict::InPlace => match aws.apply(change).await {
            Ok(()) => Status::Applied,
            Err(e) => Status::Failed(Fault::NotRestored(e.into())),
        },
        Verdict::NotApplied => Status::Skipped(Skip::NeverApplied),
        Verdict::Drifted { current } => Status::Skipped(Skip::PersonsValue(current.clone())),
        Verdict::Gone => Status::Skipped(Skip::Gone),
        Verdict::Unreadable { why } => Status::Failed(Fault::Unread(why.clone())),
    }
}

/// Moves the record into the ledger's history once no action is left, and takes the pointer
/// tag off the function.
async fn close<P: Ports>(
    aws: &P,
    policy: &Policy,
    loaded: &Loaded,
    now: DateTime<Utc>,
    entry: &mut IncidentAudit,
) {
    let Loaded { facts, record } = loaded;
    if policy.dry_run {
        entry
            .notes
            .push("dry run: nothing restored, the record is kept".into());
        return;
    }
    // The pointer goes first: a pointer left behind a closed record would read as tampering,
    // while a record left open with nothing pending is simply closed by the next pass.
    let expires = now + chrono::Duration::days(i64::from(policy.history_days));
    let closed = match aws.unpoint(&facts.arn).await {
        Ok(()) => aws.close(&facts.name, &record.incident, now, expires).await,
        Err(e) => Err(e),
    };
    match closed {
        Ok(()) => entry.closed = true,
        Err(e) => entry.errors.push(AuditError::CloseRecord(e.into())),
    }
}
