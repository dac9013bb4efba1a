//! SDK failures sorted by what the caller does next (see [`ErrorKind`]), with the cause kept.

use aws_sdk_lambda::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use cguard_core::error::{ErrorKind, PortError};

/// Converts any SDK operation error into a [`PortError`] naming the operation.
pub fn classify<E>(operation: &str, err: SdkError<E, HttpResponse>) -> PortError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let (kind, message) = match &err {
        SdkError::ServiceError(s) => {
            let status = s.raw().status().as_u16();
            let code = s
                .err()
                .code()
                .filter(|c| !c.is_empty())
                .unwrap_or("unrecognised error");
            let text = s.err().message().unwrap_or("no message");
            // AWS gives the unreserved-minimum refusal no code of its own: it is told apart
            // here, once, by its message, so that nothing past the port reads prose.
            let kind = match kind_of(code, status) {
                ErrorKind::Rejected if text.contains("UnreservedConcurrentExecution") => {
                    ErrorKind::BelowUnreservedMinimum
                }
                kind => kind,
            };
            (kind, format!("{code} (HTTP {status}): {text}"))
        }
        // Timeouts, connection failures, unreadable responses: transient as far as we know.
        _ => (
            ErrorKind::Unavailable,
            DisplayErrorContext(&err).to_string(),
        ),
    };
    PortError {
        operation: operation.to_owned(),
        kind,
        message,
        source: Some(Box::new(err)),
    }
}

fn kind_of(code: &str, status: u16) -> ErrorKind {
    match code {
        "ThrottlingException"
        | "Throttling"
        | "ThrottledException"
        | "TooManyRequestsException"
        | "RequestLimitExceeded"
        | "LimitExceededException"
        | "ProvisionedThroughputExceededException" => ErrorKind::Throttled,
        "AccessDeniedException"
        | "AccessDenied"
        | "UnauthorizedException"
        | "UnrecognizedClientException" => ErrorKind::Denied,
        "ResourceNotFoundException" | "NotFoundException" | "ResourceNotFound" => {
            ErrorKind::NotFound
        }
        "InvalidParameterValueException"
        | "BadRequestException"
        | "ValidationException"
        | "InvalidParameterValue" => ErrorKind::Rejected,
        // "An update is in progress", another transaction on the same item: the same request
        // succeeds a little later.
        "ResourceConflictException" | "ConflictException" | "TransactionConflictException" => {
            ErrorKind::Unavailable
        }
        // A DynamoDB condition did not hold: the item changed since it was read.
        "ConditionalCheckFailedException" => ErrorKind::Conflict,
        _ => match status {
            429 => ErrorKind::Throttled,
            401 | 403 => ErrorKind::Denied,
            404 => ErrorKind::NotFound,
            400..=499 => ErrorKind::Rejected,
            _ => ErrorKind::Unavailable,
        },
    }
}

/// What a cancelled DynamoDB transaction means, from its cancellation reasons (one per item,
/// `None` where that item was fine): a failed condition is a [`Conflict`](ErrorKind::Conflict)
/// — the item changed — whatever else went wrong; otherwise the first reason decides.
pub fn cancellation_kind<'a>(codes: impl IntoIterator<Item = Option<&'a str>>) -> ErrorKind {
    let codes: Vec<&str> = codes
        .into_iter()
        .flatten()
        .filter(|c| *c != "None")
        .collect();
    if codes.contains(&"ConditionalCheckFailed") {
        return ErrorKind::Conflict;
    }
    match codes.first() {
        Some(&"ThrottlingError" | &"ProvisionedThroughputExceeded") => ErrorKind::Throttled,
        Some(&"ValidationError" | &"ItemCollectionSizeLimitExceeded") => ErrorKind::Rejected,
        // TransactionConflict (another transaction on the item), or no reason given.
        _ => ErrorKind::Unavailable,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_win_over_statuses() {
        assert_eq!(kind_of("ThrottlingException", 400), ErrorKind::Throttled);
        assert_eq!(
            kind_of("InvalidParameterValueException", 400),
            ErrorKind::Rejected
        );
        assert_eq!(kind_of("", 404), ErrorKind::NotFound);
        assert_eq!(kind_of("ServiceException", 500), ErrorKind::Unavailable);
        assert_eq!(
            kind_of("ConditionalCheckFailedException", 400),
            ErrorKind::Conflict
        );
    }

    #[test]
    fn a_failed_condition_anywhere_makes_a_cancelled_transaction_a_conflict() {
        let kind = |codes: &[Option<&'static str>]| cancellation_kind(codes.iter().copied());
        assert_eq!(
            kind(&[Some("None"), Some("ConditionalCheckFailed")]),
            ErrorKind::Conflict
        );
        assert_eq!(
            kind(&[Some("TransactionConflict"), Some("ConditionalCheckFailed")]),
            ErrorKind::Conflict
        );
        assert_eq!(
            kind(&[Some("None"), Some("TransactionConflict")]),
            ErrorKind::Unavailable
        );
        assert_eq!(kind(&[Some("ThrottlingError"), None]), ErrorKind::Throttled);
        assert_eq!(kind(&[Some("ValidationError")]), ErrorKind::Rejected);
        assert_eq!(kind(&[]), ErrorKind::Unavailable);
    }
}
