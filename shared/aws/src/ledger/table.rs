//! The ledger's table: created by [`Aws::init_ledger`] (for `cguard init`, the demo and tests)
//! with what protects it, or — when it already exists — only read, so that `cguard init` can
//! never weaken a table the template or an operator set up.

use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, PointInTimeRecoverySpecification,
    PointInTimeRecoveryStatus, ScalarAttributeType, TableDescription, TableStatus,
    TimeToLiveSpecification, TimeToLiveStatus,
};
use cguard_engine::ports::{ErrorKind, PortError, PortResult};

use super::item::{EXPIRES_AT, PK, SK};
use super::unbuildable;
use crate::Aws;
use crate::error::classify;

/// How long a new table may stay `CREATING` (on-demand tables take seconds).
const WAIT_FOR_ACTIVE: Duration = Duration::from_secs(120);
const POLL: Duration = Duration::from_secs(1);
/// Point-in-time recovery is refused for a short while after a table is created.
const PITR_ATTEMPTS: u32 = 30;

/// What [`Aws::init_ledger`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LedgerInit {
    /// Created now, with TTL on `expires_at`, point-in-time recovery and deletion protection.
    Created(LedgerTable),
    /// It was there: nothing was changed; what protects it, as found.
    Existed(LedgerTable),
}

impl LedgerInit {
    pub fn table(&self) -> &LedgerTable {
        match self {
            Self::Created(t) | Self::Existed(t) => t,
        }
    }
}

/// What `cguard init` prints: what was done, then one `warning:` line per safeguard that is off.
impl std::fmt::Display for LedgerInit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let table = self.table();
        match self {
            Self::Created(_) => write!(
                f,
                "created the ledger table `{}`: on demand, TTL on `{EXPIRES_AT}`, point-in-time \
                 recovery, deletion protection",
                table.name
            )?,
            Self::Existed(_) => write!(
                f,
                "the ledger table `{}` exists: nothing was changed",
                table.name
            )?,
        }
        for warning in table.warnings() {
            write!(f, "\nwarning: {warning}")?;
        }
        Ok(())
    }
}

/// The ledger's table and what protects it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerTable {
    pub name: String,
    /// The attribute DynamoDB's TTL is on (enabled or being enabled), if any. Closed records
    /// expire only if it is `expires_at`.
    pub ttl_attribute: Option<String>,
    pub point_in_time_recovery: bool,
    pub deletion_protection: bool,
}

impl LedgerTable {
    /// What is off that the template turns on, one sentence each, for the operator.
    pub fn warnings(&self) -> Vec<String> {
        let name = &self.name;
        let mut warnings = Vec::new();
        match self.ttl_attribute.as_deref() {
            Some(EXPIRES_AT) => {}
            Some(other) => warnings.push(format!(
                "the ledger table `{name}` has TTL on `{other}`, not `{EXPIRES_AT}`: closed \
                 records never expire"
            )),
            None => warnings.push(format!(
                "the ledger table `{name}` has no TTL: closed records never expire (enable it \
                 on `{EXPIRES_AT}`)"
            )),
        }
        if !self.point_in_time_recovery {
            warnings.push(format!(
                "the ledger table `{name}` has no point-in-time recovery: a lost or overwritten \
                 record cannot be recovered"
            ));
        }
        if !self.deletion_protection {
            warnings.push(format!(
                "the ledger table `{name}` has no deletion protection: deleting it loses every \
                 previous value the guard would restore"
            ));
        }
        warnings
    }
}

fn failed(operation: &str, kind: ErrorKind, message: impl Into<String>) -> PortError {
    PortError::new(operation, kind, message)
}

impl Aws {
    /// Makes sure the ledger's table exists: creates it (pk/sk strings, on demand, deletion
    /// protection, TTL on `expires_at`, point-in-time recovery) if it does not; if it does,
    /// changes nothing, checks its keys and reports what protects it. Safe to run twice, or
    /// twice at once.
    pub async fn init_ledger(&self) -> Result<LedgerInit, PortError> {
        if self.describe_ledger().await?.is_some() || !self.create_ledger().await? {
            return Ok(LedgerInit::Existed(self.inspect_ledger().await?));
        }
        self.await_active().await?;
        self.protect_ledger().await?;
        Ok(LedgerInit::Created(LedgerTable {
            name: self.ledger_table.clone(),
            ttl_attribute: Some(EXPIRES_AT.to_owned()),
            point_in_time_recovery: true,
            deletion_protection: true,
        }))
    }

    async fn describe_ledger(&self) -> PortResult<Option<TableDescription>> {
        match self
            .dynamodb
            .describe_table()
            .table_name(&self.ledger_table)
            .send()
            .await
        {
            Ok(out) => Ok(out.table),
            Err(e) => match classify("dynamodb:DescribeTable", e) {
                e if e.kind == ErrorKind::NotFound => Ok(None),
                e => Err(e),
            },
        }
    }

    /// `false` when another process created the table first.
    async fn create_ledger(&self) -> PortResult<bool> {
        const OP: &str = "dynamodb:CreateTable";
        let string = |name: &str| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(|e| unbuildable(OP, e))
        };
        let key = |name: &str, kind: KeyType| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(kind)
                .build()
                .map_err(|e| unbuildable(OP, e))
        };
        let created = self
            .dynamodb
            .create_table()
            .table_name(&self.ledger_table)
            .attribute_definitions(string(PK)?)
            .attribute_definitions(string(SK)?)
            .key_schema(key(PK, KeyType::Hash)?)
            .key_schema(key(SK, KeyType::Range)?)
            .billing_mode(BillingMode::PayPerRequest)
            .deletion_protection_enabled(true)
            .send()
            .await;
        match created {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_resource_in_use_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(classify(OP, e)),
        }
    }

    /// The table once it is no longer `CREATING`, waiting two minutes at most.
    async fn await_active(&self) -> PortResult<TableDescription> {
        const OP: &str = "dynamodb:DescribeTable";
        let deadline = Instant::now() + WAIT_FOR_ACTIVE;
        loop {
            let table = self.describe_ledger().await?.ok_or_else(|| {
                failed(
                    OP,
                    ErrorKind::NotFound,
                    format!("the ledger table `{}` vanished", self.ledger_table),
                )
            })?;
            match table.table_status() {
                Some(TableStatus::Creating) if Instant::now() < deadline => {}
                Some(TableStatus::Creating) => {
                    return Err(failed(
                        OP,
                        ErrorKind::Unavailable,
                        format!(
                            "the ledger table `{}` is still CREATING after {} s",
                            self.ledger_table,
                            WAIT_FOR_ACTIVE.as_secs()
                        ),
                    ));
                }
                Some(TableStatus::Deleting) => {
                    return Err(failed(
                        OP,
                        ErrorKind::Unavailable,
                        format!("the ledger table `{}` is being deleted", self.ledger_table),
                    ));
                }
                _ => return Ok(table),
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// TTL on `expires_at` (history expires), then point-in-time recovery, on a new table.
    async fn protect_ledger(&self) -> PortResult<()> {
        let ttl = TimeToLiveSpecification::builder()
            .enabled(true)
            .attribute_name(EXPIRES_AT)
            .build()
            .map_err(|e| unbuildable("dynamodb:UpdateTimeToLive", e))?;
        self.dynamodb
            .update_time_to_live()
            .table_name(&self.ledger_table)
            .time_to_live_specification(ttl)
            .send()
            .await
            .map_err(|e| classify("dynamodb:UpdateTimeToLive", e))?;
        let pitr = PointInTimeRecoverySpecification::builder()
            .point_in_time_recovery_enabled(true)
            .build()
            .map_err(|e| unbuildable("dynamodb:UpdateContinuousBackups", e))?;
        for attempt in 1..=PITR_ATTEMPTS {
            let sent = self
                .dynamodb
                .update_continuous_backups()
                .table_name(&self.ledger_table)
                .point_in_time_recovery_specification(pitr.clone())
                .send()
                .await;
            match sent {
                Ok(_) => return Ok(()),
                Err(e)
                    if attempt < PITR_ATTEMPTS
                        && e.as_service_error()
                            .is_some_and(|e| e.is_continuous_backups_unavailable_exception()) =>
                {
                    tokio::time::sleep(POLL).await;
                }
                Err(e) => return Err(classify("dynamodb:UpdateContinuousBackups", e)),
            }
        }
        unreachable!("the last attempt returns")
    }

    /// An existing table, read only: its keys must be the ledger's; what protects it is
    /// reported.
    async fn inspect_ledger(&self) -> PortResult<LedgerTable> {
        let table = self.await_active().await?;
        check_keys(&self.ledger_table, &table)?;
        let (ttl, backups) = futures::try_join!(
            async {
                self.dynamodb
                    .describe_time_to_live()
                    .table_name(&self.ledger_table)
                    .send()
                    .await
                    .map_err(|e| classify("dynamodb:DescribeTimeToLive", e))
            },
            async {
                self.dynamodb
                    .describe_continuous_backups()
                    .table_name(&self.ledger_table)
                    .send()
                    .await
                    .map_err(|e| classify("dynamodb:DescribeContinuousBackups", e))
            }
        )?;
        let ttl_attribute = ttl
            .time_to_live_description()
            .filter(|d| {
                matches!(
                    d.time_to_live_status(),
                    Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling)
                )
            })
            .and_then(|d| d.attribute_name())
            .map(str::to_owned);
        let point_in_time_recovery = backups
            .continuous_backups_description()
            .and_then(|d| d.point_in_time_recovery_description())
            .and_then(|d| d.point_in_time_recovery_status())
            == Some(&PointInTimeRecoveryStatus::Enabled);
        Ok(LedgerTable {
            name: self.ledger_table.clone(),
            ttl_attribute,
            point_in_time_recovery,
            deletion_protection: table.deletion_protection_enabled() == Some(true),
        })
    }
}

/// The ledger's keys: `pk` (string, hash) and `sk` (string, range). Any other table of that
/// name is someone else's, and the guard must not write into it.
fn check_keys(name: &str, table: &TableDescription) -> PortResult<()> {
    let keys: Vec<(&str, &KeyType)> = table
        .key_schema()
        .iter()
        .map(|k| (k.attribute_name(), k.key_type()))
        .collect();
    let is_string = |attribute: &str| {
        table.attribute_definitions().iter().any(|d| {
            d.attribute_name() == attribute && d.attribute_type() == &ScalarAttributeType::S
        })
    };
    let expected = [(PK, &KeyType::Hash), (SK, &KeyType::Range)];
    if keys == expected && is_string(PK) && is_string(SK) {
        return Ok(());
    }
    let found: Vec<String> = table
        .key_schema()
        .iter()
        .map(|k| {
            let kind = table
                .attribute_definitions()
                .iter()
                .find(|d| d.attribute_name() == k.attribute_name())
                .map_or("?", |d| d.attribute_type().as_str());
            format!("{} ({kind}, {})", k.attribute_name(), k.key_type().as_str())
        })
        .collect();
    Err(failed(
        "dynamodb:DescribeTable",
        ErrorKind::Rejected,
        format!(
            "the table `{name}` exists with the keys [{}], but the ledger needs pk (S, HASH) and \
             sk (S, RANGE): it is not the guard's ledger; set CGUARD_LEDGER_TABLE to another name",
            found.join(", ")
        ),
    ))
}
