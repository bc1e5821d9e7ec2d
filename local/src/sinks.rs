//! The batch flow's sinks in local mode: each turns its share of a batch's outcomes into
//! typed rows and stages them in the consumer's [`UnitOfWork`]; nothing is written until
//! the consumer commits the unit. Events and bad rows are packed into compressed value
//! blocks and the archive's gzip members compressed here, so the commit only writes bytes.

use std::collections::BTreeMap;
use std::sync::Arc;

use pipeline::aggregate::PartialAggregate;
use pipeline::gzip::{Compression, gzip};
use pipeline::sink::{AggregateStore, Archive, BadRowStore, BatchKey, EventStore, Indexed, SinkReport};
use pipeline::time_format::format_seconds;
use pipeline::{BadRow, EnrichedEvent};
use tokio::time::Instant;

use crate::aggregates::StagedPartial;
use crate::archive::{ArchiveMember, partition};
use crate::unit::UnitOfWork;

/// The events store: packs the events, with their DynamoDB-style keys, into the unit's
/// value blocks.
pub struct LocalEventStore(pub Arc<UnitOfWork>);

impl EventStore for LocalEventStore {
    async fn put_events(&self, events: &[Indexed<'_, EnrichedEvent>], _: Instant) -> SinkReport {
        match self.0.stage_events(events.iter().map(|e| e.item)) {
            Ok(()) => SinkReport { written: events.len(), ..SinkReport::default() },
            Err(e) => {
                tracing::error!(error = %e, "cannot pack the batch's events");
                SinkReport::all_failed(events)
            }
        }
    }
}

/// The bad-row store: packs each row as JSON, with its identity, into the unit.
pub struct LocalBadRowStore(pub Arc<UnitOfWork>);

impl BadRowStore for LocalBadRowStore {
    async fn put_bad_rows(&self, _: &BatchKey, rows: &[Indexed<'_, BadRow>], _: Instant) -> SinkReport {
        match self.0.stage_bad_rows(rows.iter().map(|r| (r.record, r.item))) {
            Ok(failed) => SinkReport { written: rows.len() - failed.len(), retries: 0, failed },
            Err(e) => {
                tracing::error!(error = %e, "cannot pack the batch's bad rows");
                SinkReport::all_failed(rows)
            }
        }
    }
}

/// The archive: one gzip member per partition (`event_type`, `dt`, `hr`) of the batch.
pub struct LocalArchive(pub Arc<UnitOfWork>);

impl Archive for LocalArchive {
    async fn archive(&self, batch: &BatchKey, events: &[Indexed<'_, EnrichedEvent>], _: Instant) -> SinkReport {
        // Each partition's text is sized first: growing it copied every event again.
        let mut sizes: BTreeMap<(&str, String, String), usize> = BTreeMap::new();
        let keys: Vec<(&str, String, String)> = events.iter().map(|e| (&*e.item.event_type, e.item.dt(), e.item.hr())).collect();
        for (key, e) in keys.iter().zip(events) {
            *sizes.entry(key.clone()).or_default() += e.item.json.len() + 1;
        }
        let mut partitions: BTreeMap<(&str, String, String), Vec<u8>> = sizes.into_iter().map(|(k, n)| (k, Vec::with_capacity(n))).collect();
        for (key, e) in keys.iter().zip(events) {
            let text = partitions.get_mut(key).expect("sized above");
            text.extend_from_slice(&e.item.json);
            text.push(b'\n');
        }
        let members = partitions.into_iter().map(|((event_type, dt, hr), text)| ArchiveMember {
            partition: partition(event_type, &dt, &hr),
            first_sequence: batch.first_sequence_number.clone(),
            gzip: gzip(&text, Compression::fast()),
        });
        self.0.stage_archive(members.collect::<Vec<_>>());
        SinkReport { written: events.len(), ..SinkReport::default() }
    }
}

/// The aggregates: the batch flow's partials (one per event type and minute).
pub struct LocalAggregateStore(pub Arc<UnitOfWork>);

impl AggregateStore for LocalAggregateStore {
    async fn put_partials(&self, partials: &[PartialAggregate], _: Instant) -> SinkReport {
        let staged: Vec<StagedPartial> = partials
            .iter()
            .map(|p| StagedPartial {
                event_type: p.window.event_type.to_string(),
                minute: format_seconds(p.window.minute),
                key: p.key.clone(),
                partial: p.aggregate.encode(),
            })
            .collect();
        let written = staged.len();
        self.0.stage_partials(staged);
        SinkReport { written, ..SinkReport::default() }
    }
}
