//! The dashboard's memory: one sample of the pipeline's totals a second, the last ten
//! minutes of them, so a page opened late still shows the last minutes. The sampler
//! (`stats::spawn_sampler`) fills it; `GET /v1/stats` reads it.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::Ordering;
use std::time::Duration;

use chrono::{DateTime, Utc};
use pipeline::sync::MutexExt as _;
use serde::Serialize;

use crate::consumer::ConsumerStats;
use crate::stream::StreamCounters;

/// Samples kept: ten minutes at one a second.
pub const HISTORY_SAMPLES: usize = 600;
/// Time between samples.
pub const SAMPLE_EVERY: Duration = Duration::from_secs(1);

/// One second of the pipeline, as totals at that time (rates are differences).
#[derive(Clone, Debug, Serialize)]
pub struct Sample {
    /// When the sample was taken.
    pub t: DateTime<Utc>,
    /// Events the ingest API acknowledged.
    pub accepted: u64,
    /// Stream records the consumers processed.
    pub processed: u64,
    /// Valid events stored.
    pub events_stored: u64,
    /// Per type, in [`pipeline::BadRowType::ALL`] order.
    pub bad_rows: [u64; pipeline::BadRowType::COUNT],
    /// Records accepted and not yet processed, over all shards.
    pub lag: u64,
    /// Batches committed.
    pub batches: u64,
    /// Seconds the committed batches took.
    pub batch_seconds: f64,
}

/// The sampled history, shared by the sampler and the route.
#[derive(Debug, Default)]
pub struct StatsHistory {
    samples: Mutex<VecDeque<Sample>>,
}

impl StatsHistory {
    /// Adds the newest sample, dropping the oldest beyond the history's length.
    pub fn push(&self, sample: Sample) {
        let mut samples = self.samples.lock_ignoring_poison();
        if samples.len() == HISTORY_SAMPLES {
            samples.pop_front();
        }
        samples.push_back(sample);
    }

    /// The newest `n` samples, oldest first.
    pub fn last(&self, n: usize) -> Vec<Sample> {
        let samples = self.samples.lock_ignoring_poison();
        samples.iter().skip(samples.len().saturating_sub(n)).cloned().collect()
    }
}

/// The totals now.
pub fn sample(accepted: u64, stats: &ConsumerStats, stream: &StreamCounters) -> Sample {
    let mut bad_rows = [0u64; pipeline::BadRowType::COUNT];
    for (slot, n) in bad_rows.iter_mut().zip(&stats.bad_rows) {
        *slot = n.load(Ordering::Relaxed);
    }
    Sample {
        t: Utc::now(),
        accepted,
        processed: stats.processed.load(Ordering::Relaxed),
        events_stored: stats.events.load(Ordering::Relaxed),
        bad_rows,
        lag: stream.lag(),
        batches: stats.batches.load(Ordering::Relaxed),
        batch_seconds: stats.batch_micros.load(Ordering::Relaxed) as f64 / 1e6,
    }
}

