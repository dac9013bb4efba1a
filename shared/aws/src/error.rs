//! SDK failures sorted by what the caller does next (see [`ErrorKind`]), with the cause kept.

use aws_sdk_lambda::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use cguard_core::ports::{ErrorKind, PortError};

/// Converts any SDK operation error into a [`PortError`] naming the operation.
pub fn classify<E>(operation: &str, err: SdkError<E, HttpResponse>) -> PortError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let kind = match &err {
        SdkError::ServiceError(s) => kind_of(
            s.err().code().unwrap_or_default(),
            s.raw().status().as_u16(),
        ),
        // Timeouts, connection failures, unreadable responses: transient as far as we know.
        _ => ErrorKind::Unavailable,
    };
    PortError {
        operation: operation.to_owned(),
        kind,
        message: DisplayErrorContext(&err).to_string(),
        source: Some(Box::new(err)),
    }
}

fn kind_of(code: &str, status: u16) -> ErrorKind {
    match code {
        "ThrottlingException"
        | "Throttling"
        | "TooManyRequestsException"
        | "RequestLimitExceeded" => ErrorKind::Throttled,
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
        | "InvalidParameterValue"
        | "ResourceConflictException"
        | "ConflictException" => ErrorKind::Rejected,
        _ => match status {
            429 => ErrorKind::Throttled,
            401 | 403 => ErrorKind::Denied,
            404 => ErrorKind::NotFound,
            400..=499 => ErrorKind::Rejected,
            _ => ErrorKind::Unavailable,
        },
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
    }
}
