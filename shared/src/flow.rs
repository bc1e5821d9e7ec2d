//! The shared batch flow: records → outcomes (the pure core) → every sink, concurrently,
//! within a deadline → which records must be retried. The processor Lambda and local mode
//! run this same code with different sinks.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::time::Instant;

use crate::batch::{Outcome, OutcomeCounts, process_batch};
use crate::record::Record;
use crate::core_config::CoreConfig;
use crate::sink::{AggregateStore, Archive, BadRowStore, BatchKey, EventStore, Indexed, SinkReport};

/// The sinks of one flow.
pub struct Sinks<E, A, B, G> {
    pub events: E,
    pub archive: A,
    pub bad_rows: B,
    pub aggregates: G,
}

/// What happened to one batch.
#[derive(Clone, Debug, Default)]
pub struct BatchReport {
    pub records: usize,
    pub counts: OutcomeCounts,
    pub events: SinkReport,
    pub archive: SinkReport,
    pub bad_rows: SinkReport,
    pub aggregates: SinkReport,
    /// Records any of whose writes failed, sorted, without repeats.
    pub failed_records: Vec<usize>,
    /// The lowest sequence number among `failed_records`: where a retry must start.
    pub retry_from: Option<String>,
    pub core_time: Duration,
    pub total_time: Duration,
}

/// The batch flow over the core's configuration and a set of sinks.
pub struct BatchFlow<E, A, B, G> {
    config: Arc<CoreConfig>,
    sinks: Sinks<E, A, B, G>,
}

impl<E: EventStore, A: Archive, B: BadRowStore, G: AggregateStore> BatchFlow<E, A, B, G> {
    pub fn new(config: Arc<CoreConfig>, sinks: Sinks<E, A, B, G>) -> Self {
        Self { config, sinks }
    }

    pub fn sinks(&self) -> &Sinks<E, A, B, G> {
        &self.sinks
    }

    /// Processes `records` (one shard's batch, in order) and writes every outcome, giving up
    /// on writes at `deadline`. Invalid events become bad rows; they never fail the batch.
    pub async fn run(&self, records: &[Record], deadline: Instant) -> BatchReport {
        let started = Instant::now();
        let Some(first) = records.first() else { return BatchReport::default() };
        let outcomes = process_batch(&self.config, records, Utc::now());
        let core_time = started.elapsed();

        let mut events = Vec::with_capacity(outcomes.len());
        let mut bad_rows = Vec::new();
        for (record, outcome) in outcomes.iter().enumerate() {
            match outcome {
                Outcome::Event(item) => events.push(Indexed { record, item }),
                Outcome::Bad(item) => bad_rows.push(Indexed { record, item }),
            }
        }
        let batch = BatchKey { shard_id: first.shard_id.clone(), first_sequence_number: first.sequence_number.clone() };
        let s = &self.sinks;
        let (events_report, archive_report, bad_report, aggregates_report) = tokio::join!(
            bounded(deadline, &events, s.events.put_events(&events, deadline)),
            bounded(deadline, &events, s.archive.archive(&batch, &events, deadline)),
            bounded(deadline, &bad_rows, s.bad_rows.put_bad_rows(&batch, &bad_rows, deadline)),
            bounded(deadline, &events, s.aggregates.put_partials(&batch, &events, deadline)),
        );

        let mut failed: Vec<usize> = [&events_report, &archive_report, &bad_report, &aggregates_report]
            .iter()
            .flat_map(|r| r.failed.iter().copied())
            .collect();
        failed.sort_unstable();
        failed.dedup();
        let retry_from = failed
            .iter()
            .map(|&i| &records[i].sequence_number)
            .min_by(|a, b| compare_sequence_numbers(a, b))
            .cloned();
        BatchReport {
            records: records.len(),
            counts: OutcomeCounts::of(&outcomes),
            events: events_report,
            archive: archive_report,
            bad_rows: bad_report,
            aggregates: aggregates_report,
            failed_records: failed,
            retry_from,
            core_time,
            total_time: started.elapsed(),
        }
    }
}

/// Runs a sink's write, counting every item as failed if it outlives the deadline (a grace
/// of one second lets an adapter that watches the deadline itself report precisely).
async fn bounded<T>(deadline: Instant, items: &[Indexed<'_, T>], write: impl Future<Output = SinkReport>) -> SinkReport {
    if items.is_empty() {
        return SinkReport::default();
    }
    match tokio::time::timeout_at(deadline + Duration::from_secs(1), write).await {
        Ok(report) => report,
        Err(_) => SinkReport::all_failed(items),
    }
}

/// Kinesis sequence numbers are decimal integers of up to 128 bits, as text.
pub fn compare_sequence_numbers(a: &str, b: &str) -> std::cmp::Ordering {
    let (a, b) = (a.trim_start_matches('0'), b.trim_start_matches('0'));
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}
