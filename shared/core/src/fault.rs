//! Why an action was not, or not fully, carried out: what the guard was doing and the call
//! that failed, as a value. Rendered once (`Display`, the sentence the reports have always
//! carried); callers and tests match on the variant and read the kind from its [`Failure`].

use std::fmt;

use serde::{Serialize, Serializer};

use crate::audit::Unread;
use crate::error::Failure;
use crate::plan::Skip;

#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// The previous value could not be recorded first, so nothing was changed.
    NotRecorded(Failure),
    /// The change failed; nothing was changed.
    NotChanged(Failure),
    /// AWS refused a reservation because of the account's unreserved minimum.
    BelowUnreservedMinimum(Failure),
    /// Undoing the action failed; its record is kept for the next pass.
    NotRestored(Failure),
    /// The live value could not be read, so the action was not undone.
    Unread(Unread),
    /// The action is settled — undone (`skipped: None`) or left as it was — but the ledger
    /// could not be told; the next pass settles it.
    NotSettled {
        skipped: Option<Skip>,
        error: Failure,
    },
}

impl Fault {
    /// The call that failed, where one did.
    pub fn failure(&self) -> Option<&Failure> {
        match self {
            Self::NotRecorded(e)
            | Self::NotChanged(e)
            | Self::BelowUnreservedMinimum(e)
            | Self::NotRestored(e)
            | Self::NotSettled { error: e, .. }
            | Self::Unread(Unread::Failed(e)) => Some(e),
            Self::Unread(Unread::NotRead) => None,
        }
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const KEPT: &str = "the record is kept for the next pass";
        match self {
            Self::NotRecorded(e) => {
                write!(
                    f,
                    "not changed: could not record the previous value first: {e}"
                )
            }
            Self::NotChanged(e) => write!(f, "not changed: {e}"),
            Self::BelowUnreservedMinimum(e) => write!(
                f,
                "not changed: AWS rejected the reservation because of the account's unreserved minimum: {e}"
            ),
            Self::NotRestored(e) => write!(f, "not restored: {e}; {KEPT}"),
            Self::Unread(why) => {
                write!(
                    f,
                    "not restored: could not read the current value ({why}); {KEPT}"
                )
            }
            Self::NotSettled { skipped, error } => {
                match skipped {
                    None => f.write_str("restored")?,
                    Some(why) => write!(f, "{why}")?,
                }
                write!(
                    f,
                    ", but the ledger could not record it as settled ({error}); the next pass settles it"
                )
            }
        }
    }
}

/// Reports carry the sentence a person reads, as they always have.
impl Serialize for Fault {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    fn failure() -> Failure {
        Failure {
            operation: "lambda:PutFunctionConcurrency".into(),
            kind: ErrorKind::Throttled,
            message: "Rate exceeded".into(),
        }
    }

    #[test]
    fn each_fault_keeps_its_wording() {
        let e = "lambda:PutFunctionConcurrency failed (Throttled): Rate exceeded";
        let cases = [
            (
                Fault::NotRecorded(failure()),
                format!("not changed: could not record the previous value first: {e}"),
            ),
            (Fault::NotChanged(failure()), format!("not changed: {e}")),
            (
                Fault::NotRestored(failure()),
                format!("not restored: {e}; the record is kept for the next pass"),
            ),
            (
                Fault::NotSettled {
                    skipped: None,
                    error: failure(),
                },
                format!(
                    "restored, but the ledger could not record it as settled ({e}); the next pass settles it"
                ),
            ),
        ];
        for (fault, text) in cases {
            assert_eq!(fault.to_string(), text);
            assert_eq!(serde_json::to_value(&fault).unwrap(), text);
        }
    }
}
