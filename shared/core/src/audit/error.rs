//! What went wrong for a function or a pass, as values rendered once: the sentence the text
//! report prints is the one its JSON carries.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Serialize, Serializer};

use crate::error::Failure;
use crate::intake::IncidentId;
use crate::record::TAG_INCIDENT;

/// What went wrong for a function or a pass: a read that failed (nothing was concluded from
/// it) or an erase that did not happen (the next pass retries it).
#[derive(Debug, Clone, PartialEq)]
pub enum AuditError {
    /// The pass examined nothing.
    ListRecords(Failure),
    /// The pointer tags could not be listed: tampering could not be looked for this pass.
    ListPointers(Failure),
    /// An operator asked to restore a function that does not exist.
    NoSuchFunction,
    ReadFunction(Failure),
    /// The ledger could not be read for this function: nothing was concluded.
    ReadRecord(Failure),
    /// The decision is to hold.
    ReadHealth(Failure),
    /// Every action is settled; the record stays open for the next pass to close.
    CloseRecord(Failure),
    /// A record dated in the future: tampering or a wrong clock, reported and not obeyed.
    FutureRecord {
        function: String,
        opened: DateTime<Utc>,
    },
    /// A function's pointer tag disagrees with the ledger: someone wrote or copied it.
    /// Reported; tags are never obeyed.
    Tampered {
        function: String,
        pointer: String,
        ledger: Option<IncidentId>,
    },
}

impl fmt::Display for AuditError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ListRecords(e) => write!(f, "could not list the open records: {e}"),
            Self::ListPointers(e) => write!(
                f,
                "could not list the functions' {TAG_INCIDENT} tags to look for tampering: {e}"
            ),
            Self::NoSuchFunction => f.write_str("no such function: nothing restored"),
            Self::ReadFunction(e) => write!(f, "could not read the function: {e}"),
            Self::ReadRecord(e) => write!(f, "could not read the ledger: {e}"),
            Self::ReadHealth(e) => write!(f, "could not read health: {e}"),
            Self::CloseRecord(e) => write!(
                f,
                "every action is settled but the record could not be closed ({e}); the next pass closes it"
            ),
            Self::FutureRecord { function, opened } => write!(
                f,
                "{function}: its ledger record says it opened at {opened}, in the future: \
                 tampering or a wrong clock; not obeyed, a person must look"
            ),
            Self::Tampered {
                function,
                pointer,
                ledger,
            } => {
                write!(
                    f,
                    "{function}: its tag {TAG_INCIDENT}={pointer} but the ledger "
                )?;
                match ledger {
                    Some(incident) => write!(f, "records incident {incident}")?,
                    None => f.write_str("has no open record for it")?,
                }
                f.write_str(": tampering reported; tags are never obeyed")
            }
        }
    }
}

/// The report's JSON carries the sentence, as the text report does.
impl Serialize for AuditError {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}
