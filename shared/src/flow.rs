//! The shared batch flow: records → outcomes (the pure core) → every sink, concurrently,
//! within a deadline → which records must be retried. The processor Lambda and local mode
//! run this same code with different sinks.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::time::Instant;

use crate::aggregate::{PartialAggregate, batch_partials};
use crate::batch::{Outcome, OutcomeCounts, Processed, process_records};
use crate::enrich::EnrichedEvent;
use crate::record::Record;
use crate::core_config::CoreConfig;
use crate::sink::{AggregateStore, Archive, BadRowStore, BatchKey, EventStore, Indexed, SinkReport};

/// The sinks of one flow.
pub struct Sinks<E, A, B, G> {
    /// Where valid events are stored for queries.
    pub events: E,
    /// Where valid events are archived for analytics.
    pub archive: A,
    /// Where refused events are kept as bad rows.
    pub bad_rows: B,
    /// Where partial aggregates are written.
    pub aggregates: G,
}

/// What happened to one batch.
#[derive(Clone, Debug, Default)]
pub struct BatchReport {
    /// Stream records in the batch.
    pub records: usize,
    /// User records they held (as many as `records` when none was a KPL aggregated record).
    pub user_records: usize,
    /// Outcomes of the user records.
    pub counts: OutcomeCounts,
    /// What the events store took and refused.
    pub events: SinkReport,
    /// What the archive took and refused.
    pub archive: SinkReport,
    /// What the bad-row store took and refused.
    pub bad_rows: SinkReport,
    /// What the aggregates store took and refused.
    pub aggregates: SinkReport,
    /// Stream records (indexes into the batch) any of whose user records' writes failed,
    /// sorted, without repeats: a stream record is retried whole.
    pub failed_records: Vec<usize>,
    /// Where a retry must start: the lowest sequence number among `failed_records`, or the
    /// batch's first when a partial aggregate could not be written.
    pub retry_from: Option<String>,
    /// Time in the core (deaggregate, decode, validate, enrich), before the writes.
    pub core_time: Duration,
    /// Time for the whole batch, writes included.
    pub total_time: Duration,
}

/// The batch flow over the core's configuration and a set of sinks.
pub struct BatchFlow<E, A, B, G> {
    config: Arc<CoreConfig>,
    sinks: Sinks<E, A, B, G>,
}

impl<E: EventStore, A: Archive, B: BadRowStore, G: AggregateStore> BatchFlow<E, A, B, G> {
    /// A flow with `config`'s schemas and enrichments over `sinks`.
    pub fn new(config: Arc<CoreConfig>, sinks: Sinks<E, A, B, G>) -> Self {
        Self { config, sinks }
    }

    /// The sinks it writes to (tests reach them to inject faults).
    pub fn sinks(&self) -> &Sinks<E, A, B, G> {
        &self.sinks
    }

    /// The schemas and enrichments the flow runs with.
    pub fn core(&self) -> &CoreConfig {
        &self.config
    }

    /// Processes `records` (one shard's batch, in order; KPL aggregated records are
    /// deaggregated, and the sinks see user records) and writes every outcome, giving up on
    /// writes at `deadline`. Invalid events become bad rows; they never fail the batch.
    ///
    /// Partial aggregates count only the records a retry will not send again (see
    /// [`crate::aggregate::batch_partials`] for why that makes them exact): they are written
    /// with the other sinks, for every record; when another sink fails from record `x` on,
    /// the partials of the windows counted before `x` are written again over the records
    /// before `x` only; when a partial cannot be written, the whole batch is retried.
    pub async fn run(&self, records: &[Record], deadline: Instant) -> BatchReport {
        let started = Instant::now();
        let Some(first) = records.first() else { return BatchReport::default() };
        let Processed { user_records, outcomes } = process_records(&self.config, records, Utc::now());
        let users = user_records.records();
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
        let partials = partials_before(users, &events, None);
        let s = &self.sinks;
        let (events_report, archive_report, bad_report, mut aggregates_report) = tokio::join!(
            bounded(deadline, failed_all(&events), s.events.put_events(&events, deadline)),
            bounded(deadline, failed_all(&events), s.archive.archive(&batch, &events, deadline)),
            bounded(deadline, failed_all(&bad_rows), s.bad_rows.put_bad_rows(&batch, &bad_rows, deadline)),
            self.put_partials(&partials, deadline),
        );

        // User records carry their Kinesis record's sequence number: a retry starts at it.
        let mut retry_from = lowest_sequence_number(users, [&events_report, &archive_report, &bad_report]);
        if aggregates_report.failed.is_empty() {
            if let Some(from) = retry_from.as_deref().filter(|from| *from != first.sequence_number) {
                // The partials counted records that will be sent again: count them without.
                let again = self.put_partials(&partials_before(users, &events, Some(from)), deadline).await;
                aggregates_report = [aggregates_report, again].into_iter().collect();
            }
        }
        if !aggregates_report.failed.is_empty() {
            // Another batch boundary would need other partials: retry from the start, and
            // the retry's partials replace these.
            retry_from = Some(first.sequence_number.clone());
        }

        let mut failed: Vec<usize> = [&events_report, &archive_report, &bad_report, &aggregates_report]
            .iter()
            .flat_map(|r| r.failed.iter().map(|&i| user_records.origin(i)))
            .collect();
        failed.sort_unstable();
        failed.dedup();
        BatchReport {
            records: records.len(),
            user_records: user_records.len(),
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

    async fn put_partials(&self, partials: &[PartialAggregate], deadline: Instant) -> SinkReport {
        if partials.is_empty() {
            return SinkReport::default();
        }
        let all = SinkReport { failed: partials.iter().flat_map(|p| p.records.iter().copied()).collect(), ..SinkReport::default() };
        bounded(deadline, all, self.sinks.aggregates.put_partials(partials, deadline)).await
    }
}

/// The partials of the events whose records come before sequence number `before` (all of
/// them for `None`).
fn partials_before(records: &[Record], events: &[Indexed<'_, EnrichedEvent>], before: Option<&str>) -> Vec<PartialAggregate> {
    let counted = events
        .iter()
        .map(|e| (e.record, &records[e.record], e.item))
        .filter(|(_, record, _)| before.is_none_or(|b| compare_sequence_numbers(&record.sequence_number, b).is_lt()));
    batch_partials(counted)
}

/// The lowest sequence number among the records the reports failed.
fn lowest_sequence_number<'a>(records: &[Record], reports: impl IntoIterator<Item = &'a SinkReport>) -> Option<String> {
    reports
        .into_iter()
        .flat_map(|r| r.failed.iter())
        .map(|&i| &records[i].sequence_number)
        .min_by(|a, b| compare_sequence_numbers(a, b))
        .cloned()
}

fn failed_all<T>(items: &[Indexed<'_, T>]) -> SinkReport {
    SinkReport::all_failed(items)
}

/// Runs a sink's write, reporting `timed_out` (every item failed) if it outlives the
/// deadline (a grace of one second lets an adapter that watches the deadline itself report
/// precisely). Nothing to write is nothing to fail.
async fn bounded(deadline: Instant, timed_out: SinkReport, write: impl Future<Output = SinkReport>) -> SinkReport {
    if timed_out.failed.is_empty() {
        return SinkReport::default();
    }
    match tokio::time::timeout_at(deadline + Duration::from_secs(1), write).await {
        Ok(report) => report,
        Err(_) => timed_out,
    }
}

/// Kinesis sequence numbers are decimal integers of up to 128 bits, as text.
pub fn compare_sequence_numbers(a: &str, b: &str) -> std::cmp::Ordering {
    let (a, b) = (a.trim_start_matches('0'), b.trim_start_matches('0'));
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}
