//! The auditor: every open record checked against what is live and what the metrics say now.
//!
//! For each function carrying a record, one pass
//! 1. verifies each recorded action against the live value ([`Verdict`]): still in place,
//!    changed since by a person (their value is reported and left alone), or never made;
//! 2. reads the offender's health and [`decide`]s: hold, escalate one tier, or restore;
//! 3. escalates through the remediator's own [`plan`](crate::plan) and
//!    [`carry_out`](crate::engine::carry_out) (so the new action is recorded first, under the
//!    same incident, with the next index), or undoes the recorded actions newest first and
//!    erases the record tag by tag, so that a pass cut short is finished by the next one.
//!
//! The pure half lives in three modules, each with its own reason to change: `verify` (what
//! counts as in place, drifted or never applied), `decide` (the hold / escalate / restore rule)
//! and `report` (what the operator reads). The passes below run them through the ports.

mod decide;
mod report;
mod verify;

#[cfg(test)]
mod fixtures;

pub use decide::{
    Decision, EscalateReason, Health, HoldReason, RestoreReason, Signal, decide, respect_people,
    since,
};
pub use report::{AuditError, AuditReport, IncidentAudit, Undo, Verified, describe_current};
pub use verify::{Reading, Unread, Verdict, underneath, verify, verify_reading, verify_record};

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;

use chrono::{DateTime, Utc};

use crate::attribution::{Attribution, Ranked, Scope, round2};
use crate::config::Policy;
use crate::engine::carry_out;
use crate::model::{Change, FunctionFacts, ResourceKey, Status, Tier};
use crate::observation::{FunctionUsage, Window};
use crate::plan::{self, PlanInput, Skip};
use crate::ports::{Actuator, Aws, ErrorKind};
use crate::record::{Record, RecordedAction};

/// An offender counts as calm while its peak concurrency stays below this share of the target:
/// a capped offender sits *at* the cap while demand persists, so "below the target" alone would
/// restore in the middle of the spike.
pub const CALM_SHARE: f64 = 0.8;

// The I/O passes, kept as one verbatim block: they move to the async crate as a unit.

/// One audit pass over every function that carries a record, one function at a time.
pub async fn audit<A: Aws>(aws: &A, policy: &Policy, now: DateTime<Utc>) -> AuditReport {
    let mut report = AuditReport::new(now, policy.dry_run);
    let names = match aws.open_records().await {
        Ok(n) => n,
        Err(e) => {
            report.errors.push(AuditError::ListRecords(e.into()));
            return report;
        }
    };
    for name in names {
        report
            .incidents
            .push(audit_function(aws, policy, &name, now).await);
    }
    report
}

/// Restores one function now, whatever its health (an operator's `cguard restore`). Values a
/// person changed since are still left alone.
pub async fn restore_function<A: Aws>(aws: &A, name: &str, now: DateTime<Utc>) -> AuditReport {
    let mut report = AuditReport::new(now, false);
    let mut entry = IncidentAudit::new(name);
    let _serial = crate::engine::CHANGES.lock().await;
    if let Some((facts, record)) = load(aws, &mut entry, false, true).await {
        entry.decision = Some(Decision::Restore {
            why: RestoreReason::Requested,
        });
        undo(aws, &facts, &record, false, &mut entry).await;
    }
    report.incidents.push(entry);
    report
}

async fn audit_function<A: Aws>(
    aws: &A,
    policy: &Policy,
    name: &str,
    now: DateTime<Utc>,
) -> IncidentAudit {
    let mut entry = IncidentAudit::new(name);
    let _serial = crate::engine::CHANGES.lock().await;
    let Some((facts, record)) = load(aws, &mut entry, policy.dry_run, false).await else {
        return entry;
    };

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
    let decision = respect_people(decide(&record, &health, policy, now), &entry.verdicts);
    entry.health = Some(health);
    entry.decision = Some(decision.clone());
    match decision {
        Decision::Hold { .. } => {}
        Decision::Escalate { to, .. } => {
            escalate(aws, policy, &facts, &record, usage, to, now, &mut entry).await;
        }
        Decision::Restore { .. } => undo(aws, &facts, &record, policy.dry_run, &mut entry).await,
    }
    entry
}

/// Reads the function and its record, and verifies every action. `None` when there is nothing
/// more to do (no function, no or unreadable record, or a record without actions — whose header
/// is erased here). A function an operator `requested` that does not exist is an error.
async fn load<A: Aws>(
    aws: &A,
    entry: &mut IncidentAudit,
    dry_run: bool,
    requested: bool,
) -> Option<(FunctionFacts, Record)> {
    let facts = match aws.function(&entry.function).await {
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
    let record = match Record::from_tags(&facts.tags) {
        Ok(Some(r)) => r,
        Ok(None) => {
            entry.notes.push("no record (restored meanwhile)".into());
            return None;
        }
        Err(e) => {
            entry.errors.push(AuditError::UnreadableRecord(e));
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
        close(aws, &facts, &record, dry_run, entry).await;
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
                describe_current(current)
            ));
        }
    }
    Some((facts, record))
}

/// One more tier, planned and recorded exactly as the remediator does it.
#[allow(clippy::too_many_arguments)]
async fn escalate<A: Aws>(
    aws: &A,
    policy: &Policy,
    facts: &FunctionFacts,
    record: &Record,
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
    let offender = Ranked {
        function: facts.name.clone(),
        peak_concurrency: usage.peak_concurrency(),
        little_estimate: usage.little_estimate().map(round2),
        invocations_per_second: usage.peak_rate().map(round2),
        avg_duration_ms: usage.avg_duration_ms().map(round2),
        throttles: usage.throttles.sum(),
        share: None,
    };
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
    let attribution = Attribution {
        scope: Scope::Function {
            function: facts.name.clone(),
        },
        account_peak,
        ranking: vec![offender.clone()],
        offenders: vec![offender],
    };
    let all_facts = BTreeMap::from([(facts.name.clone(), facts.clone())]);
    let mut plan = plan::plan(&PlanInput {
        incident: &record.incident,
        attribution: &attribution,
        facts: &all_facts,
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

/// Undoes the recorded actions newest first, erasing each one's tags once it is settled; stops
/// at the first failure and keeps what remains for the next pass. Closes the record when all
/// its actions are settled.
async fn undo<A: Aws>(
    aws: &A,
    facts: &FunctionFacts,
    record: &Record,
    dry_run: bool,
    entry: &mut IncidentAudit,
) {
    let mut live: BTreeMap<ResourceKey, Reading> = BTreeMap::new();
    for (index, action) in record.actions.iter().rev() {
        let RecordedAction { tier, change, .. } = action;
        let key = change.resource();
        let reading = match live.remove(&key) {
            Some(r) => r,
            None => read(aws, change).await,
        };
        let verdict = verify_reading(change, &reading);
        let mut step = Undo {
            index: *index,
            tier: *tier,
            change: change.inverse(),
            status: Status::Planned,
        };
        step.status = match &verdict {
            Verdict::InPlace if dry_run => Status::Planned,
            Verdict::InPlace => match aws.apply(&step.change).await {
                Ok(()) => Status::Applied,
                Err(e) => Status::Failed(format!(
                    "not restored: {e}; the record is kept for the next pass"
                )),
            },
            Verdict::NotApplied => Status::Skipped(Skip::NeverApplied),
            Verdict::Drifted { current } => Status::Skipped(Skip::PersonsValue(current.clone())),
            Verdict::Gone => Status::Skipped(Skip::Gone),
            Verdict::Unreadable { why } => Status::Failed(format!(
                "not restored: could not read the current value ({why}); the record is kept for the next pass"
            )),
        };
        if matches!(step.status, Status::Failed(_)) {
            entry.restore.push(step);
            return;
        }
        if !dry_run && let Err(e) = aws.erase(&facts.arn, &Record::action_keys(*index)).await {
            step.status = Status::Failed(format!(
                "{}, but its record could not be erased ({e}); the next pass erases it",
                match &step.status {
                    Status::Applied => "restored".to_owned(),
                    Status::Skipped(why) => why.to_string(),
                    _ => String::new(),
                }
            ));
            entry.restore.push(step);
            return;
        }
        live.insert(key, underneath(change, &verdict, reading));
        entry.restore.push(step);
    }
    close(aws, facts, record, dry_run, entry).await;
}

/// Erases the record's header once no action tags remain.
async fn close<A: Aws>(
    aws: &A,
    facts: &FunctionFacts,
    record: &Record,
    dry_run: bool,
    entry: &mut IncidentAudit,
) {
    if dry_run {
        entry
            .notes
            .push("dry run: nothing restored, the record is kept".into());
        return;
    }
    let header = Record {
        actions: BTreeMap::new(),
        ..record.clone()
    };
    match aws.erase(&facts.arn, &header.all_keys()).await {
        Ok(()) => entry.closed = true,
        Err(e) => entry.errors.push(AuditError::EraseHeader(e.into())),
    }
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

/// The passes end to end against an in-memory account: what is restored, in which order, what
/// is left alone, and what stays recorded when a step fails.
#[cfg(test)]
mod passes {
    use std::sync::Mutex;

    use super::*;
    use crate::intake::{AlarmState, IncidentId};
    use crate::model::{AccountFacts, ApiKind, ApiTarget, Current, Reservation, Throttle};
    use crate::observation::Peaks;
    use crate::ports::{Inventory, Ledger, Metrics, PortError, PortResult};
    use chrono::Duration;
    use futures::executor::block_on;

    const ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:slow";

    /// One function, its tags, and the live value of every resource.
    #[derive(Debug)]
    struct Account {
        tags: Mutex<BTreeMap<String, String>>,
        live: Mutex<BTreeMap<ResourceKey, Current>>,
        alarm: Option<AlarmState>,
        usage: FunctionUsage,
        account_peak: Option<f64>,
        fail_apply_on: Mutex<Option<ResourceKey>>,
    }

    impl Account {
        fn live(&self, key: &ResourceKey) -> Option<Current> {
            self.live.lock().unwrap().get(key).cloned()
        }
        fn tags(&self) -> BTreeMap<String, String> {
            self.tags.lock().unwrap().clone()
        }
    }

    impl Metrics for Account {
        async fn active_functions(&self) -> PortResult<Vec<String>> {
            Ok(vec!["slow".into()])
        }
        async fn peaks(&self, _: &[String], _: &Window) -> PortResult<Peaks> {
            Ok(Peaks {
                account: self.account_peak,
                functions: BTreeMap::new(),
            })
        }
        async fn usage(&self, _: &[String], _: &Window) -> PortResult<Vec<FunctionUsage>> {
            Ok(vec![self.usage.clone()])
        }
        async fn alarm_state(&self, _: &str) -> PortResult<Option<AlarmState>> {
            Ok(self.alarm)
        }
    }

    impl Inventory for Account {
        async fn account(&self) -> PortResult<AccountFacts> {
            Ok(AccountFacts {
                limit: Some(1000),
                unreserved: Some(900),
            })
        }
        async fn function(&self, name: &str) -> PortResult<Option<FunctionFacts>> {
            let reservation = match self.live(&ResourceKey::Function(name.into())) {
                Some(Current::Reservation(r)) => r,
                _ => Reservation::Unreserved,
            };
            Ok(Some(FunctionFacts {
                name: name.into(),
                arn: ARN.into(),
                reservation,
                tags: self.tags(),
                drivers: Vec::new(),
            }))
        }
    }

    impl Actuator for Account {
        async fn apply(&self, change: &Change) -> PortResult<()> {
            if self.fail_apply_on.lock().unwrap().as_ref() == Some(&change.resource()) {
                return Err(PortError::new("apply", ErrorKind::Unavailable, "boom"));
            }
            self.live
                .lock()
                .unwrap()
                .insert(change.resource(), change.applied_value());
            Ok(())
        }
        async fn current(&self, change: &Change) -> PortResult<Current> {
            self.live(&change.resource())
                .ok_or_else(|| PortError::new("current", ErrorKind::NotFound, "gone"))
        }
    }

    impl Ledger for Account {
        async fn write(&self, _: &str, tags: &BTreeMap<String, String>) -> PortResult<()> {
            self.tags.lock().unwrap().extend(tags.clone());
            Ok(())
        }
        async fn erase(&self, _: &str, keys: &[String]) -> PortResult<()> {
            let mut tags = self.tags.lock().unwrap();
            for k in keys {
                tags.remove(k);
            }
            Ok(())
        }
        async fn open_records(&self) -> PortResult<Vec<String>> {
            Ok(if self.tags().contains_key(crate::record::TAG_INCIDENT) {
                vec!["slow".into()]
            } else {
                Vec::new()
            })
        }
    }

    fn t0() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-23T09:40:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn api() -> ResourceKey {
        throttle().resource()
    }

    fn function() -> ResourceKey {
        ResourceKey::Function("slow".into())
    }

    fn throttle() -> Change {
        Change::Throttle {
            target: ApiTarget {
                kind: ApiKind::Rest,
                api_id: "a1".into(),
                stage: "prod".into(),
                route: None,
            },
            previous: None,
            new: Some(Throttle {
                rate: 3.33,
                burst: 4,
            }),
        }
    }

    fn cap() -> Change {
        Change::Reservation {
            function: "slow".into(),
            previous: Reservation::Unreserved,
            new: Reservation::Reserved(100),
        }
    }

    /// The remediator's first response, recorded and in place: a throttle (#0) and a cap (#1).
    fn remediated(alarm: AlarmState, peak: Option<f64>) -> Account {
        let mut record = Record::new(IncidentId::from_recorded("inc1"), t0(), Some("acct".into()));
        let mut tags = record.header_tags();
        tags.insert("team".into(), "payments".into());
        let mut live = BTreeMap::new();
        for (i, (tier, change)) in [(Tier::Source, throttle()), (Tier::Reservation, cap())]
            .into_iter()
            .enumerate()
        {
            let action = RecordedAction {
                tier,
                change,
                at: t0(),
            };
            tags.extend(Record::action_tags(i as u32, &action).unwrap());
            live.insert(action.change.resource(), action.change.applied_value());
            record.actions.insert(i as u32, action);
        }
        Account {
            tags: Mutex::new(tags),
            live: Mutex::new(live),
            alarm: Some(alarm),
            usage: FunctionUsage {
                name: "slow".into(),
                concurrency: peak
                    .map(|p| ((t0() + Duration::minutes(50)).timestamp(), p))
                    .into_iter()
                    .collect(),
                duration_ms: [((t0() + Duration::minutes(50)).timestamp(), 30_000.0)]
                    .into_iter()
                    .collect(),
                invocations: [((t0() + Duration::minutes(50)).timestamp(), 200.0)]
                    .into_iter()
                    .collect(),
                ..Default::default()
            },
            account_peak: Some(980.0),
            fail_apply_on: Mutex::new(None),
        }
    }

    fn later(minutes: i64) -> DateTime<Utc> {
        t0() + Duration::minutes(minutes)
    }

    fn only_owner_tags(a: &Account) -> bool {
        a.tags().keys().all(|k| k == "team")
    }

    #[test]
    fn a_calm_offender_is_restored_newest_first_and_its_record_closed() {
        let aws = remediated(AlarmState::Ok, Some(12.0));
        let report = block_on(audit(&aws, &Policy::default(), later(60)));
        let i = &report.incidents[0];
        assert!(
            matches!(i.decision, Some(Decision::Restore { .. })),
            "{report}"
        );
        assert!(i.verdicts.iter().all(|v| v.verdict == Verdict::InPlace));
        assert_eq!(
            i.restore.iter().map(|u| u.index).collect::<Vec<_>>(),
            [1, 0]
        );
        assert!(i.restore.iter().all(|u| u.status == Status::Applied));
        assert!(i.closed && !report.failed(), "{report}");
        assert_eq!(aws.live(&api()), Some(Current::Throttle(None)));
        assert_eq!(
            aws.live(&function()),
            Some(Current::Reservation(Reservation::Unreserved))
        );
        assert!(only_owner_tags(&aws), "{:?}", aws.tags());
        let again = block_on(audit(&aws, &Policy::default(), later(61)));
        assert!(again.incidents.is_empty());
    }

    #[test]
    fn a_person_s_value_is_reported_and_left_alone() {
        let aws = remediated(AlarmState::Ok, None);
        aws.live
            .lock()
            .unwrap()
            .insert(function(), Current::Reservation(Reservation::Reserved(300)));
        let report = block_on(audit(&aws, &Policy::default(), later(60)));
        let i = &report.incidents[0];
        assert!(matches!(i.verdicts[1].verdict, Verdict::Drifted { .. }));
        assert!(
            i.restore[0].status
                == Status::Skipped(crate::plan::Skip::PersonsValue(Current::Reservation(
                    Reservation::Reserved(300)
                ))),
            "{report}"
        );
        assert_eq!(
            aws.live(&function()),
            Some(Current::Reservation(Reservation::Reserved(300)))
        );
        assert_eq!(aws.live(&api()), Some(Current::Throttle(None)));
        assert!(i.closed && only_owner_tags(&aws), "{report}");
    }

    #[test]
    fn a_failed_step_keeps_the_rest_recorded_for_the_next_pass() {
        let aws = remediated(AlarmState::Ok, None);
        *aws.fail_apply_on.lock().unwrap() = Some(api());
        let report = block_on(audit(&aws, &Policy::default(), later(60)));
        assert!(report.failed(), "{report}");
        let i = &report.incidents[0];
        assert_eq!(i.restore[0].status, Status::Applied, "#1, the cap, first");
        assert!(matches!(i.restore[1].status, Status::Failed(_)));
        assert!(!i.closed);
        let record = Record::from_tags(&aws.tags()).unwrap().unwrap();
        assert_eq!(record.actions.keys().copied().collect::<Vec<_>>(), [0]);

        *aws.fail_apply_on.lock().unwrap() = None;
        let report = block_on(audit(&aws, &Policy::default(), later(75)));
        assert!(report.incidents[0].closed, "{report}");
        assert!(only_owner_tags(&aws));
        assert_eq!(aws.live(&api()), Some(Current::Throttle(None)));
    }

    #[test]
    fn a_persisting_spike_escalates_one_recorded_tier() {
        let aws = remediated(AlarmState::Alarm, Some(100.0));
        let policy = Policy {
            kill_switch_allowed: true,
            ..Policy::default()
        };
        let report = block_on(audit(&aws, &policy, later(20)));
        let i = &report.incidents[0];
        assert!(
            matches!(
                i.decision,
                Some(Decision::Escalate {
                    to: Tier::KillSwitch,
                    ..
                })
            ),
            "{report}"
        );
        assert_eq!(i.escalation.len(), 1, "{report}");
        assert_eq!(i.escalation[0].status, Status::Applied, "{report}");
        assert_eq!(
            aws.live(&function()),
            Some(Current::Reservation(Reservation::Reserved(0)))
        );
        let record = Record::from_tags(&aws.tags()).unwrap().unwrap();
        assert_eq!(record.incident.as_str(), "inc1");
        assert_eq!(record.actions[&2].tier, Tier::KillSwitch);
        assert_eq!(
            record.actions[&2].change,
            Change::Reservation {
                function: "slow".into(),
                previous: Reservation::Reserved(100),
                new: Reservation::Reserved(0)
            }
        );

        // Restoring walks back through the kill switch and the cap to no reservation.
        let report = block_on(restore_function(&aws, "slow", later(21)));
        assert!(report.incidents[0].closed, "{report}");
        assert_eq!(
            aws.live(&function()),
            Some(Current::Reservation(Reservation::Unreserved))
        );
    }

    #[test]
    fn a_dry_run_changes_nothing() {
        let aws = remediated(AlarmState::Alarm, Some(100.0));
        let policy = Policy {
            kill_switch_allowed: true,
            dry_run: true,
            ..Policy::default()
        };
        let before = aws.tags();
        let report = block_on(audit(&aws, &policy, later(20)));
        assert_eq!(report.incidents[0].escalation[0].status, Status::Planned);
        let calm = remediated(AlarmState::Ok, None);
        let report2 = block_on(audit(&calm, &policy, later(60)));
        assert!(
            report2.incidents[0]
                .restore
                .iter()
                .all(|u| u.status == Status::Planned)
        );
        assert_eq!(aws.tags(), before);
        assert_eq!(
            calm.live(&function()),
            Some(Current::Reservation(Reservation::Reserved(100)))
        );
        assert!(!report2.incidents[0].closed);
    }

    #[test]
    fn restore_on_request_ignores_health_and_a_bare_header_is_erased() {
        let aws = remediated(AlarmState::Alarm, Some(100.0));
        let report = block_on(restore_function(&aws, "slow", later(1)));
        assert!(
            report.incidents[0].closed && only_owner_tags(&aws),
            "{report}"
        );

        let bare = remediated(AlarmState::Ok, None);
        bare.tags
            .lock()
            .unwrap()
            .retain(|k, _| !k.starts_with(crate::record::ACTION_PREFIX));
        let report = block_on(audit(&bare, &Policy::default(), later(5)));
        assert!(
            report.incidents[0].closed && only_owner_tags(&bare),
            "{report}"
        );
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["incidents"][0]["decision"]["decision"], "restore");
    }
}
