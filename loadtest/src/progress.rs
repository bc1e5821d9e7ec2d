//! The run's live counters and the progress line (indicatif on a terminal, a plain line every
//! few seconds otherwise, nothing with `--quiet`).

use std::io::IsTerminal;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use pipeline::sync::MutexExt as _;

use crate::report::Latencies;

/// Counters the senders update and the progress line and report read.
#[derive(Default)]
pub struct Counters {
    /// Events sent at least once (see [`crate::Report::sent`]).
    pub sent: AtomicU64,
    /// Events acknowledged.
    pub accepted: AtomicU64,
    /// Throttle answers seen, in events.
    pub throttled: AtomicU64,
    /// Events given up on.
    pub failed: AtomicU64,
    /// Failed attempts that were retried (timeouts, connection errors, `5xx`).
    pub errors: AtomicU64,
    /// Requests sent, retries included.
    pub requests: AtomicU64,
    /// Batches that were due before the generator had made them.
    pub generator_stalls: AtomicU64,
    /// The longest such wait, in microseconds.
    pub generator_stall_max_us: AtomicU64,
    /// Each batch's latency from its due time to the answer that settled it.
    pub latency: Mutex<Latencies>,
    /// How late each batch was sent after its due time (the sender's own lag).
    pub send_lag: Mutex<Latencies>,
}

impl Counters {
    /// The counter's value now.
    pub fn get(c: &AtomicU64) -> u64 {
        c.load(Ordering::Relaxed)
    }

    /// Adds `n` to the counter.
    pub fn add(c: &AtomicU64, n: u64) {
        c.fetch_add(n, Ordering::Relaxed);
    }

    /// The latency at quantile `q` so far, in milliseconds.
    pub fn latency_ms(&self, q: f64) -> f64 {
        self.latency.lock_ignoring_poison().quantile_ms(q)
    }
}

/// Where progress goes.
pub struct Progress {
    bar: Option<ProgressBar>,
    plain_every: Option<Duration>,
    last_plain: Mutex<Instant>,
}

impl Progress {
    /// Progress on stderr: a redrawn line on a terminal, a plain line every 5 s elsewhere, nothing when `quiet`.
    pub fn new(quiet: bool) -> Self {
        let terminal = std::io::stderr().is_terminal();
        let bar = (!quiet && terminal).then(|| {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr_with_hz(4));
            bar.set_style(ProgressStyle::with_template("{spinner} {msg}").unwrap_or_else(|_| ProgressStyle::default_spinner()));
            bar
        });
        let plain_every = (!quiet && !terminal).then_some(Duration::from_secs(5));
        Self { bar, plain_every, last_plain: Mutex::new(Instant::now()) }
    }

    /// Shows `line` (a terminal redraws it; elsewhere every few seconds).
    pub fn show(&self, line: String) {
        if let Some(bar) = &self.bar {
            bar.set_message(line);
            bar.tick();
        } else if let Some(every) = self.plain_every {
            let mut last = self.last_plain.lock_ignoring_poison();
            if last.elapsed() >= every {
                *last = Instant::now();
                eprintln!("{line}");
            }
        }
    }

    /// Prints a line that stays (above the progress line on a terminal).
    pub fn println(&self, line: &str) {
        match &self.bar {
            Some(bar) => bar.println(line),
            None => eprintln!("{line}"),
        }
    }

    /// Clears the progress line (the summary follows).
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// The sending phase's line: elapsed, achieved vs target rate, counts, latency so far.
pub fn sending_line(c: &Counters, elapsed: Duration, target: f64, recent_rate: f64) -> String {
    format!(
        "{:>5.1}s | {:.0}/{:.0} events/s | accepted {} | errors {} throttled {} failed {} | p50 {:.1} p99 {:.1} ms",
        elapsed.as_secs_f64(),
        recent_rate,
        target,
        Counters::get(&c.accepted),
        Counters::get(&c.errors),
        Counters::get(&c.throttled),
        Counters::get(&c.failed),
        c.latency_ms(0.5),
        c.latency_ms(0.99),
    )
}
