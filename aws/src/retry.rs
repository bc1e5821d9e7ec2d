//! The AWS side of the one retry loop ([`pipeline::retry::until_taken`]): its waits for
//! the adapters ([`BACKOFF`], exponential with full jitter, never past the invocation's
//! deadline), which AWS errors are worth another attempt, and how a failed call answers.

use std::time::Duration;

use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use pipeline::retry::{Answer, Backoff};

/// First backoff step.
pub const BASE_DELAY: Duration = Duration::from_millis(25);
/// Largest backoff step.
pub const MAX_DELAY: Duration = Duration::from_secs(2);
/// The adapters' waits: 25 ms doubling to 2 s, each uniform in `0..=step`.
pub const BACKOFF: Backoff = Backoff { base: BASE_DELAY, max: MAX_DELAY };

/// How a failed call `what` (e.g. "BatchWriteItem on table events") answers the retry
/// loop, logged: again when sending again may succeed, else refused with the reason.
pub fn failed<E: ProvideErrorMetadata + std::error::Error + 'static>(err: &SdkError<E, HttpResponse>, what: &str) -> Answer<String> {
    let reason = describe(err);
    if is_retryable(err) {
        tracing::warn!(error = %reason, "{what} failed; retrying");
        Answer::Again { after: None }
    } else {
        tracing::error!(error = %reason, "{what} refused; not retrying");
        Answer::Refused(reason)
    }
}

/// Whether an AWS error code is worth retrying: throttling, or the service's own failure.
pub fn is_retryable_code(code: Option<&str>) -> bool {
    matches!(
        code,
        Some(
            "ProvisionedThroughputExceededException"
                | "ThrottlingException"
                | "Throttling"
                | "RequestLimitExceeded"
                | "ThrottledException"
                | "SlowDown"
                | "ServiceUnavailable"
                | "ServiceUnavailableException"
                | "InternalServerError"
                | "InternalFailure"
                | "InternalError"
                | "RequestTimeout"
                | "LimitExceededException"
        )
    )
}

/// Whether a failed SDK call is worth retrying: no answer at all (timeouts, connection
/// errors, unparseable replies), a retryable code, or any 5xx. Every AWS SDK crate shares
/// these error types, so this serves DynamoDB, Firehose and S3 alike.
pub fn is_retryable<E: ProvideErrorMetadata>(err: &SdkError<E, HttpResponse>) -> bool {
    match err {
        SdkError::ServiceError(service) => {
            is_retryable_code(service.err().code()) || service.raw().status().is_server_error()
        }
        SdkError::ConstructionFailure(_) => false,
        _ => true,
    }
}

/// A short description of a failed SDK call, for logs.
pub fn describe<E: ProvideErrorMetadata + std::error::Error + 'static>(err: &SdkError<E, HttpResponse>) -> String {
    match err {
        SdkError::ServiceError(service) => format!(
            "{} ({}): {}",
            service.err().code().unwrap_or("unknown error"),
            service.raw().status().as_u16(),
            service.err().message().unwrap_or("")
        ),
        // No answer (a timeout, a refused connection): the chain of causes, on one line.
        other => aws_sdk_dynamodb::error::DisplayErrorContext(other).to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttling_and_server_errors_are_retryable() {
        assert!(is_retryable_code(Some("ProvisionedThroughputExceededException")));
        assert!(is_retryable_code(Some("SlowDown")));
        assert!(!is_retryable_code(Some("ValidationException")));
        assert!(!is_retryable_code(Some("AccessDeniedException")));
        assert!(!is_retryable_code(None));
    }
}
