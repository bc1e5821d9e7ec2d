//! The retry policy of every adapter: exponential backoff with full jitter, never past the
//! invocation's deadline.

use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};
use rand::Rng;
use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use tokio::time::Instant;

/// First backoff step.
pub const BASE_DELAY: Duration = Duration::from_millis(25);
/// Largest backoff step.
pub const MAX_DELAY: Duration = Duration::from_secs(2);

/// Delays between attempts: attempt `n` waits a uniformly random time in
/// `0..=min(MAX_DELAY, BASE_DELAY * 2^n)` ("full jitter"), which spreads retries of many
/// concurrent writers instead of synchronising them.
pub struct Backoff {
    steps: backon::ExponentialBackoff,
    deadline: Instant,
}

impl Backoff {
    pub fn until(deadline: Instant) -> Self {
        Self::with_delays(BASE_DELAY, MAX_DELAY, deadline)
    }

    pub fn with_delays(base: Duration, max: Duration, deadline: Instant) -> Self {
        let steps = ExponentialBuilder::default()
            .with_min_delay(base)
            .with_max_delay(max)
            .with_factor(2.0)
            .without_max_times()
            .build();
        Self { steps, deadline }
    }

    /// Sleeps before the next attempt; `false` when that attempt would start past the deadline.
    pub async fn wait(&mut self) -> bool {
        let ceiling = self.steps.next().unwrap_or(MAX_DELAY);
        let delay = rand::rng().random_range(Duration::ZERO..=ceiling);
        if Instant::now() + delay >= self.deadline {
            return false;
        }
        tokio::time::sleep(delay).await;
        true
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

    #[tokio::test]
    async fn waits_stop_before_the_deadline() {
        let start = Instant::now();
        let mut backoff = Backoff::until(start + Duration::from_secs(1));
        let mut attempts = 0;
        while backoff.wait().await {
            attempts += 1;
            assert!(attempts < 1_000, "never gave up");
        }
        // Ceilings 25, 50, 100, 200, 400 ms add up to 775 ms: at least five waits fit.
        assert!(attempts >= 5, "{attempts} attempts in 1 s");
        assert!(Instant::now() < start + Duration::from_secs(1) + Duration::from_millis(200));
    }

    #[test]
    fn throttling_and_server_errors_are_retryable() {
        assert!(is_retryable_code(Some("ProvisionedThroughputExceededException")));
        assert!(is_retryable_code(Some("SlowDown")));
        assert!(!is_retryable_code(Some("ValidationException")));
        assert!(!is_retryable_code(Some("AccessDeniedException")));
        assert!(!is_retryable_code(None));
    }
}
