//! The sink ports: where a batch's outcomes go. AWS adapters (crate `pipeline-aws`) and
//! local adapters implement them; the batch flow ([`crate::flow`]) only knows these traits.

use std::future::Future;

use tokio::time::Instant;

use crate::aggregate::PartialAggregate;
use crate::bad_row::BadRow;
use crate::enrich::EnrichedEvent;

/// A batch's identity: its shard and first sequence number. Keys derived from it (bad-row
/// objects, archive files) are the same when the same batch is retried, so a retry
/// overwrites its own earlier writes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BatchKey {
    /// The shard the batch came from.
    pub shard_id: String,
    /// The sequence number of the batch's first record.
    pub first_sequence_number: String,
}

/// An outcome with the index of its user record in the batch (the flow traces it back to
/// its stream record), so failures can be traced back.
#[derive(Clone, Copy, Debug)]
pub struct Indexed<'a, T> {
    /// The user record's index in the batch.
    pub record: usize,
    /// The outcome.
    pub item: &'a T,
}

/// What a sink did with its share of a batch.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SinkReport {
    /// Items stored (for an archive: events archived).
    pub written: usize,
    /// Requests sent again after a throttle, a partial failure or a server error.
    pub retries: usize,
    /// User records whose write still failed when the sink gave up (their [`Indexed::record`]).
    pub failed: Vec<usize>,
}

impl SinkReport {
    /// Every record of `items` failed (e.g. the deadline passed before the sink finished).
    pub fn all_failed<T>(items: &[Indexed<'_, T>]) -> Self {
        Self { written: 0, retries: 0, failed: items.iter().map(|i| i.record).collect() }
    }
}

/// Adds up the reports of a sink's requests.
impl FromIterator<SinkReport> for SinkReport {
    fn from_iter<I: IntoIterator<Item = SinkReport>>(reports: I) -> Self {
        reports.into_iter().fold(SinkReport::default(), |mut total, r| {
            total.written += r.written;
            total.retries += r.retries;
            total.failed.extend(r.failed);
            total
        })
    }
}

/// The events store (DynamoDB's events table, or the local database).
pub trait EventStore: Send + Sync {
    /// Stores every event, retrying within `deadline`; writing the same event twice writes
    /// the same item.
    fn put_events(&self, events: &[Indexed<'_, EnrichedEvent>], deadline: Instant) -> impl Future<Output = SinkReport> + Send;
}

/// The archive (Firehose to S3, or local files).
pub trait Archive: Send + Sync {
    /// Archives every event of `batch`, retrying within `deadline`.
    fn archive(
        &self,
        batch: &BatchKey,
        events: &[Indexed<'_, EnrichedEvent>],
        deadline: Instant,
    ) -> impl Future<Output = SinkReport> + Send;
}

/// Where bad rows are kept (S3, or the local database).
pub trait BadRowStore: Send + Sync {
    /// Keeps every bad row of `batch`, retrying within `deadline`, under keys derived from `batch` so that a retry overwrites its earlier writes.
    fn put_bad_rows(
        &self,
        batch: &BatchKey,
        rows: &[Indexed<'_, BadRow>],
        deadline: Instant,
    ) -> impl Future<Output = SinkReport> + Send;
}

/// Partial aggregates (the aggregates table). Each partial is stored under its window and
/// key, replacing what that key held (see [`crate::aggregate::batch_partials`]), and its
/// minute is marked touched for the merge.
pub trait AggregateStore: Send + Sync {
    /// Stores every partial, retrying within `deadline`.
    fn put_partials(&self, partials: &[PartialAggregate], deadline: Instant) -> impl Future<Output = SinkReport> + Send;
}

/// An [`AggregateStore`] that stores nothing.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoAggregates;

impl AggregateStore for NoAggregates {
    async fn put_partials(&self, _: &[PartialAggregate], _: Instant) -> SinkReport {
        SinkReport::default()
    }
}
