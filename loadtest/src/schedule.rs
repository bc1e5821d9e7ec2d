//! The open-loop schedule: when each batch is due, whatever happened to the batches before it.
//!
//! The rate climbs linearly from 0 to `rate` over `ramp`, then holds. Event `n` is due at the
//! time `t` where the events due by `t` (the integral of the rate) reach `n`; batch `k` holds
//! events `k * batch_size ..` and is due when its first event is. Latency is measured from
//! that due time (see [`Timing`]), so a late send (every connection busy, a slow target, a
//! starved CPU) shows up as latency instead of silently lowering the rate ("coordinated
//! omission").

use std::time::{Duration, Instant};

/// The run's shape.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Schedule {
    /// Events per second once ramped up.
    pub rate: f64,
    /// How long batches are due for (`--duration`).
    pub duration: Duration,
    /// Time to climb linearly from 0 to `rate` (0: full rate at once).
    pub ramp: Duration,
    /// Events per request (the last batch may hold fewer).
    pub batch_size: u32,
}

/// One batch's place in the schedule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Slot {
    /// Index of the batch's first event in the run.
    pub first_event: u64,
    /// Events in the batch.
    pub events: u32,
    /// When the batch is due, from the run's start.
    pub due: Duration,
}

impl Schedule {
    fn ramp_s(&self) -> f64 {
        self.ramp.as_secs_f64()
    }

    /// Events due by `t` after the start (a real number: the integral of the rate).
    pub fn events_by(&self, t: Duration) -> f64 {
        let (t, r) = (t.as_secs_f64(), self.ramp_s());
        if r > 0.0 && t < r { self.rate * t * t / (2.0 * r) } else { self.rate * (t - r / 2.0) }
    }

    /// Events in the whole run.
    pub fn total_events(&self) -> u64 {
        self.events_by(self.duration).round().max(0.0) as u64
    }

    /// When event `n` (0-based) is due, from the start: the inverse of [`Self::events_by`].
    pub fn event_due(&self, n: u64) -> Duration {
        let (n, r) = (n as f64, self.ramp_s());
        let t = if r > 0.0 && n < self.rate * r / 2.0 { (2.0 * r * n / self.rate).sqrt() } else { n / self.rate + r / 2.0 };
        Duration::from_secs_f64(t)
    }

    /// Batches in the whole run.
    pub fn batches(&self) -> u64 {
        self.total_events().div_ceil(u64::from(self.batch_size.max(1)))
    }

    /// Batch `k` (0-based).
    pub fn slot(&self, k: u64) -> Slot {
        let size = u64::from(self.batch_size.max(1));
        let first_event = k * size;
        let events = self.total_events().saturating_sub(first_event).min(size) as u32;
        Slot { first_event, events, due: self.event_due(first_event) }
    }
}

/// The times of one batch's delivery.
#[derive(Clone, Copy, Debug)]
pub struct Timing {
    /// When the schedule said to send it.
    pub due: Instant,
    /// When its first attempt actually went out.
    pub started: Instant,
    /// When its last response came back (retries included).
    pub done: Instant,
}

impl Timing {
    /// The latency that is reported: from the *scheduled* time, not from the actual send, so
    /// the time a batch waited for a free connection counts.
    pub fn latency(&self) -> Duration {
        self.done.saturating_duration_since(self.due)
    }

    /// How late the first attempt went out (0 when on time).
    pub fn send_lag(&self) -> Duration {
        self.started.saturating_duration_since(self.due)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(d: Duration) -> f64 {
        d.as_secs_f64() * 1e3
    }

    #[test]
    fn without_ramp_batches_are_evenly_spaced_at_the_target_rate() {
        let s = Schedule { rate: 100_000.0, duration: Duration::from_secs(20), ramp: Duration::ZERO, batch_size: 250 };
        assert_eq!(s.total_events(), 2_000_000);
        assert_eq!(s.batches(), 8_000);
        assert_eq!(s.slot(0), Slot { first_event: 0, events: 250, due: Duration::ZERO });
        // 250 events at 100K/s: one batch every 2.5 ms.
        assert!((ms(s.slot(1).due) - 2.5).abs() < 1e-6);
        assert!((ms(s.slot(400).due) - 1_000.0).abs() < 1e-6);
        let last = s.slot(7_999);
        assert_eq!((last.first_event, last.events), (1_999_750, 250));
        assert!(last.due < s.duration);
    }

    #[test]
    fn the_last_batch_holds_the_remainder() {
        let s = Schedule { rate: 1_000.0, duration: Duration::from_millis(1_050), ramp: Duration::ZERO, batch_size: 100 };
        assert_eq!(s.total_events(), 1_050);
        assert_eq!(s.batches(), 11);
        assert_eq!(s.slot(10).events, 50);
        assert_eq!(s.slot(11).events, 0);
    }

    #[test]
    fn a_ramp_climbs_linearly_then_holds_the_rate() {
        let s = Schedule { rate: 1_000.0, duration: Duration::from_secs(10), ramp: Duration::from_secs(4), batch_size: 10 };
        // Ramp: 1000 * 4 / 2 = 2000 events, then 6 s at 1000/s.
        assert_eq!(s.total_events(), 8_000);
        assert!((s.events_by(Duration::from_secs(2)) - 500.0).abs() < 1e-9);
        assert!((s.event_due(500).as_secs_f64() - 2.0).abs() < 1e-9);
        assert!((s.event_due(2_000).as_secs_f64() - 4.0).abs() < 1e-9);
        assert!((s.event_due(3_000).as_secs_f64() - 5.0).abs() < 1e-9);
        // Gaps shrink during the ramp and are constant after it.
        let gap = |k: u64| s.slot(k + 1).due - s.slot(k).due;
        assert!(gap(1) > gap(50));
        assert!(gap(50) > gap(199));
        assert!((ms(gap(300)) - 10.0).abs() < 1e-6);
        assert!((ms(gap(700)) - 10.0).abs() < 1e-6);
        // Monotonic, and the inverse of events_by.
        let mut last = Duration::ZERO;
        for n in (0..8_000).step_by(37) {
            let due = s.event_due(n);
            assert!(due >= last);
            assert!((s.events_by(due) - n as f64).abs() < 1e-6, "{n}");
            last = due;
        }
    }

    #[test]
    fn a_ramp_longer_than_the_run_never_reaches_the_rate() {
        let s = Schedule { rate: 1_000.0, duration: Duration::from_secs(2), ramp: Duration::from_secs(4), batch_size: 1 };
        assert_eq!(s.total_events(), 500);
        assert!(s.slot(499).due < s.duration);
    }

    #[test]
    fn latency_counts_from_the_scheduled_time_when_the_send_was_late() {
        let due = Instant::now();
        // Sent 30 ms late (no free connection), answered 5 ms after the send.
        let late = Timing { due, started: due + Duration::from_millis(30), done: due + Duration::from_millis(35) };
        assert_eq!(late.latency(), Duration::from_millis(35));
        assert_eq!(late.send_lag(), Duration::from_millis(30));
        let on_time = Timing { due, started: due, done: due + Duration::from_millis(5) };
        assert_eq!(on_time.latency(), Duration::from_millis(5));
        assert_eq!(on_time.send_lag(), Duration::ZERO);
    }
}
