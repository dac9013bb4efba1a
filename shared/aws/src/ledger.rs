//! The guard's ledger in DynamoDB: a table only the guard's roles write, so a record cannot be
//! forged by anyone who may tag a function. Every write is conditional — the remediator, the
//! auditor and an operator's `cguard` may run at once, and the conditions are what makes one of
//! them win — and every read a restore obeys is consistent. The semantics are exactly those of
//! `cguard_engine::memory::MemoryLedger`; the item layout is in [`item`].

mod item;
mod table;

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{Delete, Put, TransactWriteItem};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use aws_smithy_types::error::operation::BuildError;
use cguard_core::intake::IncidentId;
use cguard_core::record::{Claim, ClosedRecord, OpenRecord, Record, RecordedAction, SettledAction};
use cguard_engine::ports::{ErrorKind, Ledger, PortError, PortResult};
use chrono::{DateTime, Utc};

use crate::Aws;
use crate::error::{cancellation_kind, classify};
use item::{
    ALARM, HISTORY, INCIDENT, Item, OPEN, OPENED_AT, PENDING, PK, REVISION, SK, Unreadable, json,
    n, open_key, pending_name, s, settled_name, time, time_key,
};

pub use table::{LedgerInit, LedgerTable};

const GET: &str = "dynamodb:GetItem";
const UPDATE: &str = "dynamodb:UpdateItem";
const QUERY: &str = "dynamodb:Query";
const TRANSACT: &str = "dynamodb:TransactWriteItems";

/// The condition of `record`: the record is free or this incident's, and the action's key is
/// neither pending nor settled in it.
const RECORD_CONDITION: &str = "(attribute_not_exists(#incident) OR #incident = :incident) \
     AND attribute_not_exists(#a) AND attribute_not_exists(#s)";

fn conflict(operation: &str, message: impl Into<String>) -> PortError {
    PortError::new(operation, ErrorKind::Conflict, message)
}

fn unbuildable(operation: &str, e: BuildError) -> PortError {
    PortError {
        operation: operation.to_owned(),
        kind: ErrorKind::Rejected,
        message: format!("request not built: {e}"),
        source: Some(Box::new(e)),
    }
}

/// Says what a failed condition means here, keeping AWS's message and the cause.
fn explain_conflict(mut e: PortError, what: impl FnOnce() -> String) -> PortError {
    if e.kind == ErrorKind::Conflict {
        e.message = format!("{} ({})", what(), e.message);
    }
    e
}

impl Aws {
    /// [`classify`], and a missing table named as such: the usual cause is a guard deployed
    /// without its table, which the operator fixes, not the code.
    fn ledger_error<E>(&self, operation: &str, err: SdkError<E, HttpResponse>) -> PortError
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let mut e = classify(operation, err);
        if e.kind == ErrorKind::NotFound {
            e.message = format!(
                "the ledger table `{}` does not exist: deploy the template or run `cguard init` \
                 ({})",
                self.ledger_table, e.message
            );
        }
        e
    }

    fn unreadable(&self, operation: &str, u: Unreadable) -> PortError {
        u.into_port_error(operation, &self.ledger_table)
    }

    /// `function`'s open record item, read consistently: restores obey what it says.
    async fn read_open(&self, function: &str) -> PortResult<Option<Item>> {
        let out = self
            .dynamodb
            .get_item()
            .table_name(&self.ledger_table)
            .set_key(Some(open_key(function)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| self.ledger_error(GET, e))?;
        Ok(out.item)
    }

    /// One conditional UpdateItem that opens the record if need be and adds the action;
    /// `false` when the condition did not hold.
    async fn try_record(
        &self,
        function: &str,
        header: &Record,
        action: &RecordedAction,
    ) -> PortResult<bool> {
        let key = action.key();
        let mut set = vec![
            "#incident = if_not_exists(#incident, :incident)",
            "#opened = if_not_exists(#opened, :opened)",
        ];
        let mut request = self
            .dynamodb
            .update_item()
            .table_name(&self.ledger_table)
            .set_key(Some(open_key(function)))
            .expression_attribute_names("#incident", INCIDENT)
            .expression_attribute_names("#opened", OPENED_AT)
            .expression_attribute_names("#pending", PENDING)
            .expression_attribute_names("#revision", REVISION)
            .expression_attribute_names("#a", pending_name(&key))
            .expression_attribute_names("#s", settled_name(&key))
            .expression_attribute_values(":incident", s(header.incident.as_str()))
            .expression_attribute_values(":opened", time(header.opened_at))
            .expression_attribute_values(":action", json(action))
            .expression_attribute_values(":one", n(1));
        if let Some(alarm) = &header.alarm {
            set.push("#alarm = if_not_exists(#alarm, :alarm)");
            request = request
                .expression_attribute_names("#alarm", ALARM)
                .expression_attribute_values(":alarm", s(alarm));
        }
        set.push("#a = :action");
        let sent = request
            .update_expression(format!(
                "SET {} ADD #pending :one, #revision :one",
                set.join(", ")
            ))
            .condition_expression(RECORD_CONDITION)
            .send()
            .await;
        match sent {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(self.ledger_error(UPDATE, e)),
        }
    }

    /// What a cancelled transaction means: its kind from the reasons (see
    /// [`cancellation_kind`]), and `meaning[i]` for each `i`-th write whose condition failed.
    fn transaction_error(
        &self,
        err: SdkError<TransactWriteItemsError, HttpResponse>,
        meaning: &[String],
    ) -> PortError {
        let mut failed: Vec<&str> = Vec::new();
        let mut kind = None;
        if let Some(TransactWriteItemsError::TransactionCanceledException(t)) =
            err.as_service_error()
        {
            let reasons = t.cancellation_reasons();
            kind = Some(cancellation_kind(reasons.iter().map(|r| r.code())));
            failed = reasons
                .iter()
                .zip(meaning)
                .filter(|(r, _)| r.code() == Some("ConditionalCheckFailed"))
                .map(|(_, m)| m.as_str())
                .collect();
        }
        let mut e = self.ledger_error(TRANSACT, err);
        if let Some(kind) = kind {
            e.kind = kind;
        }
        if !failed.is_empty() {
            e.message = format!("{} ({})", failed.join("; "), e.message);
        }
        e
    }

    /// The writes that turn `function`'s open record into history, each conditional: the
    /// history item must be new, and the open item exactly the one read (same incident, nothing
    /// pending, same revision: nothing recorded or settled since).
    fn closing_writes(
        &self,
        function: &str,
        history: Item,
        incident: &IncidentId,
        revision: Option<i64>,
    ) -> PortResult<[TransactWriteItem; 2]> {
        let put = Put::builder()
            .table_name(&self.ledger_table)
            .set_item(Some(history))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .build()
            .map_err(|e| unbuildable(TRANSACT, e))?;
        let mut delete = Delete::builder()
            .table_name(&self.ledger_table)
            .set_key(Some(open_key(function)))
            .expression_attribute_names("#incident", INCIDENT)
            .expression_attribute_names("#pending", PENDING)
            .expression_attribute_names("#revision", REVISION)
            .expression_attribute_values(":incident", s(incident.as_str()))
            .expression_attribute_values(":zero", n(0));
        let same_revision = match revision {
            Some(r) => {
                delete = delete.expression_attribute_values(":revision", n(r));
                "#revision = :revision"
            }
            None => "attribute_not_exists(#revision)",
        };
        let delete = delete
            .condition_expression(format!(
                "#incident = :incident AND #pending = :zero AND {same_revision}"
            ))
            .build()
            .map_err(|e| unbuildable(TRANSACT, e))?;
        Ok([
            TransactWriteItem::builder().put(put).build(),
            TransactWriteItem::builder().delete(delete).build(),
        ])
    }

    /// Every item of one partition (`open` or `history`), read consistently across pages;
    /// `shape` adds the key condition and the rest of the query.
    async fn query_all(
        &self,
        partition: &str,
        shape: impl Fn(
            aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder,
        ) -> aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder,
    ) -> PortResult<Vec<Item>> {
        let query = self
            .dynamodb
            .query()
            .table_name(&self.ledger_table)
            .expression_attribute_names("#pk", PK)
            .expression_attribute_values(":pk", s(partition))
            .consistent_read(true);
        let pages: Vec<_> = shape(query)
            .into_paginator()
            .send()
            .try_collect()
            .await
            .map_err(|e| self.ledger_error(QUERY, e))?;
        Ok(pages
            .into_iter()
            .flat_map(|p| p.items.unwrap_or_default())
            .collect())
    }
}

impl Ledger for Aws {
    async fn open_record(&self, function: &str) -> PortResult<Option<Record>> {
        let Some(raw) = self.read_open(function).await? else {
            return Ok(None);
        };
        item::open_item(function, &raw)
            .map(|open| Some(open.record))
            .map_err(|u| self.unreadable(GET, u))
    }

    async fn open_records(&self) -> PortResult<Vec<OpenRecord>> {
        // Only what the listing needs: an open item may carry many actions.
        let items = self
            .query_all(OPEN, |q| {
                q.key_condition_expression("#pk = :pk")
                    .projection_expression("#sk, #incident, #opened")
                    .expression_attribute_names("#sk", SK)
                    .expression_attribute_names("#incident", INCIDENT)
                    .expression_attribute_names("#opened", OPENED_AT)
            })
            .await?;
        items
            .iter()
            .map(|i| item::open_listing(i).map_err(|u| self.unreadable(QUERY, u)))
            .collect()
    }

    async fn record(
        &self,
        function: &str,
        header: &Record,
        action: &RecordedAction,
    ) -> PortResult<Claim> {
        // The read follows the refusal: if the record was meanwhile closed, or the action
        // withdrawn, nothing holds the claim any more, and the write is tried once more.
        for _ in 0..2 {
            if self.try_record(function, header, action).await? {
                return Ok(Claim::Recorded);
            }
            let Some(raw) = self.read_open(function).await? else {
                continue;
            };
            let open = item::open_item(function, &raw).map_err(|u| self.unreadable(GET, u))?;
            let key = action.key();
            let held = open.record.incident != header.incident
                || open.record.holds(action)
                || open.settled.iter().any(|s| s.action.key() == key);
            if held {
                return Ok(Claim::Taken(open.record));
            }
        }
        Err(conflict(
            UPDATE,
            format!("{function}: the record was refused twice, then found free: re-read it"),
        ))
    }

    async fn withdraw(&self, function: &str, action: &RecordedAction) -> PortResult<()> {
        self.dynamodb
            .update_item()
            .table_name(&self.ledger_table)
            .set_key(Some(open_key(function)))
            .update_expression("REMOVE #a ADD #pending :minus_one, #revision :one")
            .condition_expression("#a = :action")
            .expression_attribute_names("#a", pending_name(&action.key()))
            .expression_attribute_names("#pending", PENDING)
            .expression_attribute_names("#revision", REVISION)
            .expression_attribute_values(":action", json(action))
            .expression_attribute_values(":minus_one", n(-1))
            .expression_attribute_values(":one", n(1))
            .send()
            .await
            .map(drop)
            .map_err(|e| {
                explain_conflict(self.ledger_error(UPDATE, e), || {
                    format!(
                        "{function}: the recorded action {} is no longer as recorded",
                        action.key()
                    )
                })
            })
    }

    async fn settle(
        &self,
        function: &str,
        action: &RecordedAction,
        outcome: &str,
    ) -> PortResult<()> {
        let key = action.key();
        let settled = SettledAction {
            action: action.clone(),
            outcome: outcome.to_owned(),
        };
        self.dynamodb
            .update_item()
            .table_name(&self.ledger_table)
            .set_key(Some(open_key(function)))
            .update_expression(
                "REMOVE #a SET #s = :settled ADD #pending :minus_one, #revision :one",
            )
            .condition_expression("attribute_exists(#a)")
            .expression_attribute_names("#a", pending_name(&key))
            .expression_attribute_names("#s", settled_name(&key))
            .expression_attribute_names("#pending", PENDING)
            .expression_attribute_names("#revision", REVISION)
            .expression_attribute_values(":settled", json(&settled))
            .expression_attribute_values(":minus_one", n(-1))
            .expression_attribute_values(":one", n(1))
            .send()
            .await
            .map(drop)
            .map_err(|e| {
                explain_conflict(self.ledger_error(UPDATE, e), || {
                    format!("{function}: the action {key} is not pending")
                })
            })
    }

    async fn close(
        &self,
        function: &str,
        incident: &IncidentId,
        closed_at: DateTime<Utc>,
        expires: DateTime<Utc>,
    ) -> PortResult<()> {
        let Some(raw) = self.read_open(function).await? else {
            return Err(conflict(TRANSACT, format!("{function}: no open record")));
        };
        let open = item::open_item(function, &raw).map_err(|u| self.unreadable(GET, u))?;
        if &open.record.incident != incident {
            return Err(conflict(
                TRANSACT,
                format!(
                    "{function}: the open record is incident {}'s, not {incident}'s",
                    open.record.incident
                ),
            ));
        }
        if !open.record.actions.is_empty() || open.pending != 0 {
            return Err(conflict(
                TRANSACT,
                format!(
                    "{function}: {} actions are still pending (the item counts {})",
                    open.record.actions.len(),
                    open.pending
                ),
            ));
        }
        let closed = ClosedRecord {
            function: function.to_owned(),
            incident: incident.clone(),
            opened_at: open.record.opened_at,
            closed_at,
            alarm: open.record.alarm,
            actions: open.settled,
        };
        let history = item::history_item(&closed, expires);
        let writes = self.closing_writes(function, history, incident, open.revision)?;
        self.dynamodb
            .transact_write_items()
            .set_transact_items(Some(writes.into()))
            .send()
            .await
            .map(drop)
            .map_err(|e| {
                self.transaction_error(
                    e,
                    &[
                        format!("{function}: the history already holds this record, closed at {closed_at}"),
                        format!("{function}: the open record changed while it was being closed"),
                    ],
                )
            })
    }

    async fn history(&self, since: DateTime<Utc>) -> PortResult<Vec<ClosedRecord>> {
        // Sort keys start with the closing time to the millisecond: the query may return a
        // record closed within the millisecond before `since`, which the filter drops.
        let items = self
            .query_all(HISTORY, |q| {
                q.key_condition_expression("#pk = :pk AND #sk >= :since")
                    .expression_attribute_names("#sk", SK)
                    .expression_attribute_values(":since", s(time_key(since)))
                    .scan_index_forward(false)
            })
            .await?;
        let mut closed = items
            .iter()
            .map(|i| item::closed_record(i).map_err(|u| self.unreadable(QUERY, u)))
            .collect::<PortResult<Vec<_>>>()?;
        closed.retain(|c| c.closed_at >= since);
        closed.sort_by_key(|c| std::cmp::Reverse(c.closed_at));
        Ok(closed)
    }
}
