//! One request through observation → attribution → plan → record → change, over the
//! [`ports`](crate::ports). No decision is made here that `cguard_core::plan` could make: this
//! module only sequences reads and writes, and keeps the report honest.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use futures::future::join_all;

use cguard_core::attribution::{self, Attribution, Scope};
use cguard_core::audit::{Reading, Verdict, verify_reading};
use cguard_core::config::Policy;
use cguard_core::confirm::{Unconfirmed, confirm};
use cguard_core::fault::Fault;
use cguard_core::intake::{Alarm, AlarmState, IncidentId, Request, Subject};
use cguard_core::model::{AccountFacts, Action, Change, FunctionFacts, Status};
use cguard_core::observation::{Observation, Window};
use cguard_core::plan::{self, Plan, PlanInput};
use cguard_core::ranking::{self, Fallback, RankedBy};
use cguard_core::record::{Claim, RECORD_LEASE_SECONDS, Record, RecordedAction, TAG_INCIDENT};
use cguard_core::report::{AlarmSummary, Report};

use crate::Guard;
use crate::ports::{ErrorKind, PortError, Ports};

impl<P: Ports> Guard<P> {
    /// Handles one request end to end and reports what happened. Never panics on AWS
    /// failures: they end up in the report, with exactly what was and was not changed.
    pub async fn remediate(&self, request: &Request, now: DateTime<Utc>) -> Report {
        let dry_run = self.policy.dry_run || request.dry_run;
        let mut report = Report::new(request.incident_id(), request.source, dry_run);
        let Some(target) = target(request, now, &mut report) else {
            return report;
        };
        // CloudWatch confirms the alarm while the ranking is read: the two are independent,
        // and nothing changes before both are in.
        let (confirmed, attributed) = futures::join!(
            async {
                match &request.subject {
                    Subject::Alarm(alarm) => self.confirmed(alarm).await,
                    Subject::Function { .. } => Ok(()),
                }
            },
            self.attribute(&target, &mut report)
        );
        if let Err(why) = confirmed {
            report.refuse(why);
            return report;
        }
        let Some((attribution, account)) = attributed else {
            return report;
        };
        self.limit(&target, &attribution, account, now, report)
            .await
    }

    /// Whether CloudWatch itself confirms `alarm` (see `cguard_core::confirm`).
    /// The metric is re-read over the alarm's own evaluation window up to its state change, so
    /// a retried or delayed delivery is judged on what CloudWatch saw then.
    async fn confirmed(&self, alarm: &Alarm) -> Result<(), Unconfirmed> {
        let evidence = self
            .ports
            .alarm_evidence(&alarm.name, alarm.changed_at)
            .await
            .map_err(|e| Unconfirmed::Unreadable(e.into()))?;
        confirm(alarm, evidence.as_ref())
    }

    /// Reads the metrics and the account, and attributes; `None` (the report says why) when
    /// nothing can or need be limited. A victim alarm without an offender goes on: the victim's
    /// own configuration may be what hurts it (`cguard_core::plan`'s victim relief).
    async fn attribute(
        &self,
        target: &Target,
        report: &mut Report,
    ) -> Option<(Attribution, AccountFacts)> {
        let (aws, policy) = (&self.ports, &self.policy);
        let window = Window::before(target.at, policy.window_minutes);
        report.window = Some(window);
        let (account, observation) =
            futures::join!(aws.account(), observe(aws, &target.scope, &window, policy));
        let account = account.unwrap_or_else(|e| {
            report
                .notes
                .push(format!("account settings unavailable ({e})"));
            Default::default()
        });
        report.account = account;
        let observation = match observation {
            Ok((o, ranked_by)) => {
                report.ranked_by = Some(ranked_by);
                o
            }
            Err(e) => {
                report.abort(format!(
                    "could not read CloudWatch metrics, nothing changed: {e}"
                ));
                return None;
            }
        };
        let attribution = attribution::attribute(&target.scope, &observation, policy);
        report.account_peak = attribution.account_peak;
        report.ranking = attribution.ranking.clone();
        report.offenders = attribution
            .offenders
            .iter()
            .map(|o| o.function.clone())
            .collect();
        if attribution.offenders.is_empty() {
            report.notes.push(format!(
                "no offender: no function holds {:.0}% of the account's peak and more than \
                 the target {}",
                policy.offender_share * 100.0,
                policy.target_concurrency
            ));
            if !matches!(target.scope, Scope::Victim { .. }) {
                return None;
            }
        }
        Some((attribution, account))
    }

    /// Plans for the offenders and, unless in a dry run, records and changes — one sequence
    /// at a time in this process.
    async fn limit(
        &self,
        target: &Target,
        attribution: &Attribution,
        account: AccountFacts,
        now: DateTime<Utc>,
        mut report: Report,
    ) -> Report {
        let _serial = self.changes.hold().await;
        // A victim alarm's victim is read with the offenders: the planner decides whether its
        // own configuration needs relief.
        let mut names = report.offenders.clone();
        if let Scope::Victim { function } = &target.scope
            && !names.contains(function)
        {
            names.push(function.clone());
        }
        let Offenders { facts, records } = match gather_facts(&self.ports, &names).await {
            Ok(o) => o,
            Err(e) => {
                return report.aborted(format!(
                    "could not read the offenders' configuration or records, nothing changed: {e}"
                ));
            }
        };
        report.drivers = facts
            .iter()
            .map(|(n, f)| (n.clone(), f.drivers.clone()))
            .collect();
        let mut plan = plan::plan(&PlanInput {
            incident: &report.incident,
            attribution,
            facts: &facts,
            records: &records,
            account,
            policy: &self.policy,
            escalate_to: None,
        });
        if !report.dry_run {
            let header = Record::new(
                report.incident.clone(),
                target.opened_at,
                target.alarm_name.clone(),
            );
            carry_out(&self.ports, &mut plan, &facts, &header, now).await;
        }
        report.actions = plan.actions;
        report.skipped = plan.skipped;
        report.notes.extend(plan.notes);
        report.settle();
        report
    }
}

/// What a request is about, and from when.
struct Target {
    scope: Scope,
    /// The end of the metrics window: the alarm's state change, or now.
    at: DateTime<Utc>,
    alarm_name: Option<String>,
    /// When the incident opened, for its record.
    opened_at: DateTime<Utc>,
}

/// The request's target; `None` (the report says why) when there is nothing to do.
fn target(request: &Request, now: DateTime<Utc>, report: &mut Report) -> Option<Target> {
    let target = match &request.subject {
        Subject::Alarm(alarm) => {
            report.alarm = Some(AlarmSummary::from(alarm));
            if alarm.state != AlarmState::Alarm {
                report.notes.push(format!(
                    "alarm state is {}: nothing to do (the auditor restores once metrics stay \
                     healthy)",
                    alarm.state
                ));
                return None;
            }
            Target {
                scope: Scope::of(alarm),
                at: alarm.changed_at,
                alarm_name: Some(alarm.name.clone()),
                opened_at: alarm.changed_at,
            }
        }
        Subject::Function { name, requested_at } => {
            report.function = Some(name.clone());
            Target {
                scope: Scope::Function {
                    function: name.clone(),
                },
                at: now,
                alarm_name: None,
                opened_at: *requested_at,
            }
        }
    };
    report.scope = Some(target.scope.clone());
    if let Scope::Unrelated { why } = &target.scope {
        report.notes.push(format!("{why}: nothing to do"));
        return None;
    }
    Some(target)
}

/// Ranks every function — by one Metrics Insights query when its answer can be believed,
/// else by every active function's peak in batched calls — then reads details for the few
/// candidates.
async fn observe<P: Ports>(
    aws: &P,
    scope: &Scope,
    window: &Window,
    policy: &Policy,
) -> Result<(Observation, RankedBy), PortError> {
    let limit = attribution::RANKING_SIZE.max(policy.max_offenders + 1);
    let doubt = match aws.top_peaks(window, limit).await {
        Ok(Some(top)) => match ranking::believe(&top, scope, policy) {
            Ok(()) => Ok(top.peaks),
            Err(doubt) => Err(doubt),
        },
        Ok(None) => Err(Fallback::Unavailable),
        Err(e) => Err(Fallback::Failed(e.into())),
    };
    let (peaks, ranked_by) = match doubt {
        Ok(peaks) => (peaks, RankedBy::Insights),
        Err(why) => {
            tracing::info!(because = %why, "ranking every active function instead");
            let active = aws.active_functions(window.start).await?;
            (aws.peaks(&active, window).await?, RankedBy::Batched(why))
        }
    };
    let candidates = attribution::candidates(scope, &peaks, policy);
    let usage = aws.usage(&candidates, window).await?;
    let observation = Observation {
        window: *window,
        peaks,
        usage,
    };
    Ok((observation, ranked_by))
}

/// The offenders' configuration and their open records in the ledger.
pub(crate) struct Offenders {
    pub facts: BTreeMap<String, FunctionFacts>,
    pub records: BTreeMap<String, Record>,
}

/// Reads the offenders and their records concurrently (there are at most `max_offenders`).
pub(crate) async fn gather_facts<P: Ports>(
    aws: &P,
    names: &[String],
) -> Result<Offenders, PortError> {
    let found = join_all(
        names
            .iter()
            .map(|n| async move { futures::try_join!(aws.function(n), aws.open_record(n)) }),
    )
    .await;
    let mut offenders = Offenders {
        facts: BTreeMap::new(),
        records: BTreeMap::new(),
    };
    for (name, found) in names.iter().zip(found) {
        let (facts, record) = found?;
        if let Some(f) = facts {
            offenders.facts.insert(f.name.clone(), f);
        }
        if let Some(r) = record {
            offenders.records.insert(name.clone(), r);
        }
    }
    Ok(offenders)
}

/// Records, then changes, each planned action in order, pointing each function's tags at the
/// incident (for people) alongside its first change. A change is made only if the ledger recorded it first —
/// and the ledger records each change once, so of several processes racing on one alarm one
/// makes it. A change that fails has its record withdrawn (or, if that fails too, left as a
/// record of a change that was not made, which a restore treats as never applied).
pub async fn carry_out<P: Ports>(
    aws: &P,
    plan: &mut Plan,
    facts: &BTreeMap<String, FunctionFacts>,
    header: &Record,
    now: DateTime<Utc>,
) {
    let mut pointed: BTreeSet<&str> = BTreeSet::new();
    for action in plan
        .actions
        .iter_mut()
        .filter(|a| a.status == Status::Planned)
    {
        let Some(f) = facts.get(&action.function) else {
            continue;
        };
        let recorded = RecordedAction {
            tier: action.tier,
            change: action.change.clone(),
            at: now,
        };
        match aws.record(&f.name, header, &recorded).await {
            Ok(Claim::Recorded) => {}
            Ok(Claim::Taken(record))
                if !unmade(aws, &record, &header.incident, action, now).await =>
            {
                action.status = Status::Skipped(plan::taken(&record, &header.incident, &recorded));
                continue;
            }
            // This incident recorded this very change before and it was never made (its apply
            // and the withdrawal both failed): the record already covers it.
            Ok(Claim::Taken(_)) => {}
            Err(e) => {
                action.status = Status::Failed(Fault::NotRecorded(e.into()));
                continue;
            }
        }
        // The function's first change carries its pointer tag alongside: the record is open
        // under this incident from here on (a withdrawn change leaves it open, empty, for the
        // auditor to close), so the pointer is always backed, and costs no round trip.
        let (applied, pointer) = if pointed.insert(f.name.as_str()) {
            futures::join!(aws.apply(&action.change), async {
                Some(aws.point(&f.arn, &header.incident).await)
            })
        } else {
            (aws.apply(&action.change).await, None)
        };
        if let Some(Err(e)) = pointer {
            plan.notes.push(format!(
                "{}: the {TAG_INCIDENT} tag (a pointer for people) was not written: {e}",
                f.name
            ));
        }
        match applied {
            Ok(()) => action.status = Status::Applied,
            Err(e) => {
                action.status = Status::Failed(failure(e, action));
                if let Err(e2) = aws.withdraw(&f.name, &recorded).await {
                    plan.notes.push(format!(
                        "{}: the record of a change that was not made remains ({e2}); restoring it is a no-op",
                        f.name
                    ));
                }
            }
        }
    }
}

/// Whether `record` holds exactly `action`'s change for this incident, recorded longer ago than
/// the [lease](RECORD_LEASE_SECONDS), and the resource still holds the value it replaced — a
/// change recorded but never made, which no other process is about to make.
async fn unmade<P: Ports>(
    aws: &P,
    record: &Record,
    incident: &IncidentId,
    action: &Action,
    now: DateTime<Utc>,
) -> bool {
    let lease = chrono::Duration::seconds(RECORD_LEASE_SECONDS);
    let same = &record.incident == incident
        && record
            .find(&action.change.resource())
            .is_some_and(|(_, a)| {
                a.tier == action.tier && a.change == action.change && a.at + lease <= now
            });
    if !same {
        return false;
    }
    match aws.current(&action.change).await {
        Ok(current) => {
            verify_reading(&action.change, &Reading::Value(current)) == Verdict::NotApplied
        }
        Err(_) => false,
    }
}

fn failure(e: PortError, action: &Action) -> Fault {
    match (e.kind, &action.change) {
        (ErrorKind::BelowUnreservedMinimum, Change::Reservation { .. }) => {
            Fault::BelowUnreservedMinimum(e.into())
        }
        _ => Fault::NotChanged(e.into()),
    }
}
