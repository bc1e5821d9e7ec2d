//! A unit of work's events and bad rows packed into value blocks before anything is
//! written: the events sink and the bad-row sink pack straight from the batch flow's
//! outcomes (no copy of each event), the commit then only writes the bytes and the index.
//! Events go in `(pk, sk)` order (the later of two with one key wins), bad rows in
//! `(failed_at, shard_id, sequence_number, sub_sequence_number)` order.

use std::sync::Arc;

use pipeline::bad_row::BadRowId;
use pipeline::{BadRow, EnrichedEvent};

use super::values::{Packed, Packer};

/// An event's index entry, its value packed.
#[derive(Clone, Debug)]
pub struct PackedEvent {
    /// `USER#<user_id>`.
    pub pk: String,
    /// `<event time>#<event_id>`.
    pub sk: String,
    /// The event's type, for the per-type index.
    pub event_type: Arc<str>,
    /// Unix seconds of the record's arrival.
    pub arrival: i64,
    /// Where its value went.
    pub at: Packed,
}

/// A bad row's index entry, its value packed.
#[derive(Clone, Debug)]
pub struct PackedBadRow {
    /// The bad row's identity: its key.
    pub id: BadRowId,
    /// Its type (`schema_violation`, ...).
    pub kind: &'static str,
    /// When it was refused (RFC 3339): the bad-row queries' time.
    pub failed_at: String,
    /// Unix seconds of the record's arrival: retention counts from it.
    pub arrival: i64,
    /// Where its value went.
    pub at: Packed,
}

/// An event to pack, borrowed from the batch flow's outcome.
#[derive(Clone, Debug)]
pub struct EventInput<'a> {
    /// `USER#<user_id>`.
    pub pk: String,
    /// `<event time>#<event_id>`.
    pub sk: &'a str,
    /// The event's type.
    pub event_type: &'a Arc<str>,
    /// Unix seconds of the record's arrival.
    pub arrival: i64,
    /// The enriched event's JSON, the stored value.
    pub json: &'a [u8],
}

/// What one unit of work stores: value records to append (positions in [`Self::bytes`])
/// and the entries of its index file.
#[derive(Debug, Default)]
pub struct PackedUnit {
    /// The value records, in order.
    pub bytes: Vec<u8>,
    /// The events' index entries.
    pub events: Vec<PackedEvent>,
    /// The bad rows' index entries.
    pub bad_rows: Vec<PackedBadRow>,
}

impl PackedUnit {
    /// Whether the unit stores nothing.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty() && self.bad_rows.is_empty()
    }

    /// Packs the batch flow's enriched events.
    pub fn pack_events<'a>(&mut self, packer: &mut Packer, events: impl Iterator<Item = &'a EnrichedEvent>) -> std::io::Result<()> {
        let inputs = events.map(|e| EventInput { pk: e.partition_key(), sk: &e.sort_key, event_type: &e.event_type, arrival: e.arrival.timestamp(), json: &e.json });
        self.pack_event_inputs(packer, inputs.collect())
    }

    /// Packs events (in key order; of two with one key, the later).
    pub fn pack_event_inputs(&mut self, packer: &mut Packer, mut events: Vec<EventInput<'_>>) -> std::io::Result<()> {
        // Stable: of two events with one key the later record stays last, and is kept.
        events.sort_by(|a, b| (&a.pk, a.sk).cmp(&(&b.pk, b.sk)));
        events.reverse();
        events.dedup_by(|a, b| a.pk == b.pk && a.sk == b.sk);
        events.reverse();
        let placed = packer.pack(&mut self.bytes, events.iter().map(|e| e.json))?;
        self.events.extend(events.into_iter().zip(placed).map(|(e, at)| PackedEvent {
            pk: e.pk,
            sk: e.sk.to_owned(),
            event_type: Arc::clone(e.event_type),
            arrival: e.arrival,
            at,
        }));
        Ok(())
    }

    /// Packs `rows`, each serialised once straight into its block. Returns the rows that
    /// did not serialise (none in practice).
    pub fn pack_bad_rows<'a>(&mut self, packer: &mut Packer, rows: impl Iterator<Item = (usize, &'a BadRow)>) -> std::io::Result<Vec<usize>> {
        let mut rows: Vec<(usize, &BadRow)> = rows.collect();
        rows.sort_by(|a, b| (&a.1.failed_at, a.1.id()).cmp(&(&b.1.failed_at, b.1.id())));
        rows.dedup_by(|a, b| a.1.id() == b.1.id());
        let (mut waiting, mut placed, mut failed, mut kept) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for (record, row) in rows {
            match packer.push_json(row) {
                Some(item) => {
                    waiting.push(item);
                    kept.push(row);
                }
                None => failed.push(record),
            }
            if packer.is_full() {
                packer.cut_into(&mut self.bytes, &mut waiting, &mut placed)?;
            }
        }
        packer.cut_into(&mut self.bytes, &mut waiting, &mut placed)?;
        self.bad_rows.extend(kept.into_iter().zip(placed).map(|(row, at)| PackedBadRow {
            id: row.id(),
            kind: row.kind.as_str(),
            failed_at: row.failed_at.clone(),
            arrival: arrival_of(row),
            at,
        }));
        Ok(failed)
    }
}

/// A bad row's arrival (Unix seconds): its `ingested_at`, else when it failed.
fn arrival_of(row: &BadRow) -> i64 {
    let parse = pipeline::time_format::parse_rfc3339;
    parse(&row.ingested_at).or_else(|| parse(&row.failed_at)).map_or(0, |t| t.timestamp())
}
