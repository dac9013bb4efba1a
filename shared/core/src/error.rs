//! How a call to AWS failed, as values: [`PortError`] at the port (with its cause), and
//! [`Failure`], the same facts as plain data that reports, records and audits carry.

use std::fmt;

use serde::{Deserialize, Serialize};

/// How a call failed, sorted by what the caller does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// Rate-limited after the SDK's own retries: try again later.
    Throttled,
    /// Missing permission: fix IAM, retrying will not help.
    Denied,
    NotFound,
    /// AWS refused the value: the request itself must change.
    Rejected,
    /// AWS refused a reservation because the account's unreserved concurrency would fall below
    /// its minimum: a smaller cap, or none, is the only way forward.
    BelowUnreservedMinimum,
    /// Service error, timeout, network: transient as far as we know.
    Unavailable,
    /// A conditional write found the store changed since it was read (another process got
    /// there first): re-read before deciding anything.
    Conflict,
}

#[derive(Debug, thiserror::Error)]
#[error("{operation} failed ({kind:?}): {message}")]
pub struct PortError {
    pub operation: String,
    pub kind: ErrorKind,
    pub message: String,
    #[source]
    pub source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl PortError {
    pub fn new(operation: impl Into<String>, kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            operation: operation.into(),
            kind,
            message: message.into(),
            source: None,
        }
    }
}

pub type PortResult<T> = Result<T, PortError>;

/// A failed call as data: which operation, what kind of failure, and AWS's message. Keeps the
/// kind (what to do next) where [`PortError`] cannot go: into reports, which are cloned and
/// serialised.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    pub operation: String,
    pub kind: ErrorKind,
    pub message: String,
}

impl From<&PortError> for Failure {
    fn from(e: &PortError) -> Self {
        Self {
            operation: e.operation.clone(),
            kind: e.kind,
            message: e.message.clone(),
        }
    }
}

impl From<PortError> for Failure {
    fn from(e: PortError) -> Self {
        Self::from(&e)
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} failed ({:?}): {}",
            self.operation, self.kind, self.message
        )
    }
}
