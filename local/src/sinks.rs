//! The batch flow's sinks in local mode: each turns its share of a batch's outcomes into
//! typed rows and stages them in the consumer's [`UnitOfWork`]; nothing is written until
//! the consumer commits the unit. The archive's gzip members are compressed here, so the
//! commit only writes bytes.

use std::collections::BTreeMap;
use std::sync::Arc;

use pipeline::aggregate::partials;
use pipeline::gzip::{Compression, gzip};
use pipeline::sink::{AggregateStore, Archive, BadRowStore, BatchKey, EventStore, Indexed, SinkReport};
use pipeline::time_format::{format_seconds, parse_rfc3339};
use pipeline::{BadRow, EnrichedEvent};
use tokio::time::Instant;

use crate::aggregates::StagedPartial;
use crate::archive::{ArchiveMember, partition};
use crate::store::{NewBadRow, NewEvent};
use crate::unit::UnitOfWork;

/// The events store: stages each event with its DynamoDB-style key.
pub struct LocalEventStore(pub Arc<UnitOfWork>);

impl EventStore for LocalEventStore {
    async fn put_events(&self, events: &[Indexed<'_, EnrichedEvent>], _: Instant) -> SinkReport {
        self.0.stage_events(events.iter().map(|e| NewEvent {
            pk: e.item.partition_key(),
            sk: e.item.sort_key.clone(),
            event_type: Arc::clone(&e.item.event_type),
            arrival: e.item.arrival.timestamp(),
            json: e.item.json.clone(),
        }));
        SinkReport { written: events.len(), ..SinkReport::default() }
    }
}

/// The bad-row store: stages each row as JSON with its identity.
pub struct LocalBadRowStore(pub Arc<UnitOfWork>);

impl BadRowStore for LocalBadRowStore {
    async fn put_bad_rows(&self, _: &BatchKey, rows: &[Indexed<'_, BadRow>], _: Instant) -> SinkReport {
        let mut report = SinkReport::default();
        let mut staged = Vec::with_capacity(rows.len());
        for r in rows {
            let row = r.item;
            match serde_json::to_vec(row) {
                Ok(json) => {
                    let arrival = parse_rfc3339(&row.ingested_at).or_else(|| parse_rfc3339(&row.failed_at)).map_or(0, |t| t.timestamp());
                    staged.push(NewBadRow { id: row.id(), kind: row.kind.as_str(), failed_at: row.failed_at.clone(), arrival, json });
                    report.written += 1;
                }
                Err(_) => report.failed.push(r.record),
            }
        }
        self.0.stage_bad_rows(staged);
        report
    }
}

/// The archive: one gzip member per partition (`event_type`, `dt`, `hr`) of the batch.
pub struct LocalArchive(pub Arc<UnitOfWork>);

impl Archive for LocalArchive {
    async fn archive(&self, batch: &BatchKey, events: &[Indexed<'_, EnrichedEvent>], _: Instant) -> SinkReport {
        let mut partitions: BTreeMap<(&str, String, String), Vec<u8>> = BTreeMap::new();
        for e in events {
            let text = partitions.entry((&e.item.event_type, e.item.dt(), e.item.hr())).or_default();
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

/// The aggregates: one partial per event type and minute of the batch.
pub struct LocalAggregateStore(pub Arc<UnitOfWork>);

impl AggregateStore for LocalAggregateStore {
    async fn put_partials(&self, batch: &BatchKey, events: &[Indexed<'_, EnrichedEvent>], _: Instant) -> SinkReport {
        let batch_id = batch.id();
        let staged: Vec<StagedPartial> = partials(events.iter().map(|e| e.item))
            .into_iter()
            .map(|(key, partial)| StagedPartial {
                event_type: key.event_type.to_string(),
                minute: format_seconds(key.minute),
                batch: batch_id.clone(),
                partial: partial.encode(),
            })
            .collect();
        let written = staged.len();
        self.0.stage_partials(staged);
        SinkReport { written, ..SinkReport::default() }
    }
}
