//! How long one Lambda invocation may work: the time left to its context's deadline, or a
//! stated budget where the runtime sends no deadline still ahead.

use std::time::{Duration, SystemTime};

/// The working time of an invocation whose deadline is not in the future when it starts.
/// Lambda always sends one ahead; runtime emulators need not (cargo-lambda's sends a fixed
/// 600,000 ms, a moment in 1970). Reading that as "no time left" gave every write one
/// attempt and at most a second, so a batch failed whenever its writes were slow; a
/// minute is the order of the processor's own timeout in the Terraform defaults.
pub const UNKNOWN_DEADLINE_BUDGET: Duration = Duration::from_secs(60);

/// The time from `now` to `deadline` (the Lambda context's), or [`UNKNOWN_DEADLINE_BUDGET`]
/// when the deadline is not after `now`.
pub fn time_left(deadline: SystemTime, now: SystemTime) -> Duration {
    match deadline.duration_since(now) {
        Ok(left) if !left.is_zero() => left,
        _ => UNKNOWN_DEADLINE_BUDGET,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deadline_ahead_is_the_time_left() {
        let now = SystemTime::now();
        assert_eq!(time_left(now + Duration::from_millis(2_500), now), Duration::from_millis(2_500));
    }

    #[test]
    fn a_deadline_not_ahead_is_the_stated_budget() {
        let now = SystemTime::now();
        let emulators = SystemTime::UNIX_EPOCH + Duration::from_millis(600_000);
        assert_eq!(time_left(emulators, now), UNKNOWN_DEADLINE_BUDGET);
        assert_eq!(time_left(now, now), UNKNOWN_DEADLINE_BUDGET);
    }
}
