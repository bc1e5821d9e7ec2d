//! The local stores in SQLite (`pipeline.db`): the events table (the DynamoDB key model:
//! `pk`, `sk`), bad rows (with `recovered_at` once `pipeline recover` put them back), each
//! shard's checkpoint, and the aggregate tables of
//! [`crate::aggregates`]. A consumer's batch is committed in
//! one transaction with its checkpoint, so a crash never half-applies a batch.
//!
//! The sink adapters here stage what the batch flow hands them; the consumer commits the
//! staged rows (see [`Staged::commit`]).

use std::path::Path;
use std::sync::{Arc, Mutex};

use pipeline::sink::{BadRowStore, BatchKey, EventStore, Indexed, SinkReport};
use pipeline::{BadRow, EnrichedEvent};
use rusqlite::{Connection, OptionalExtension, params};
use tokio::time::Instant;

use crate::aggregates::{StagedPartial, insert_partials};
use crate::archive::StagedFile;

/// Days an event is kept after it arrived (the `ttl` column, as in DynamoDB).
pub const EVENT_TTL_DAYS: i64 = 30;

pub fn open(path: &Path) -> anyhow::Result<Connection> {
    let unusable = |e: rusqlite::Error| {
        anyhow::anyhow!("the database {} is not usable ({e}): move it away to start afresh", path.display())
    };
    let conn = crate::sqlite::open(path, true).map_err(unusable)?;
    conn.execute_batch(SCHEMA).map_err(unusable)?;
    // A database from before events were a rowid table has `(pk, sk)` as its key already.
    let keyed: bool = conn
        .query_row("SELECT sql LIKE '%WITHOUT ROWID%' FROM sqlite_master WHERE type = 'table' AND name = 'events'", [], |r| r.get(0))
        .map_err(unusable)?;
    if !keyed {
        conn.execute_batch("CREATE UNIQUE INDEX IF NOT EXISTS events_by_key ON events (pk, sk);").map_err(unusable)?;
    }
    // A database from before recovery has no `recovered_at` column yet.
    let recoverable: bool = conn
        .query_row("SELECT count(*) > 0 FROM pragma_table_info('bad_rows') WHERE name = 'recovered_at'", [], |r| r.get(0))
        .map_err(unusable)?;
    if !recoverable {
        conn.execute_batch("ALTER TABLE bad_rows ADD COLUMN recovered_at TEXT;").map_err(unusable)?;
    }
    conn.execute_batch(crate::aggregates::SCHEMA).map_err(unusable)?;
    conn.execute_batch(crate::archive::SCHEMA).map_err(unusable)?;
    Ok(conn)
}

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS events (
        pk TEXT NOT NULL,
        sk TEXT NOT NULL,
        event_type TEXT NOT NULL,
        payload TEXT NOT NULL,
        ttl INTEGER NOT NULL
    );
    CREATE TABLE IF NOT EXISTS bad_rows (
        shard_id TEXT NOT NULL,
        sequence_number TEXT NOT NULL,
        sub_sequence_number INTEGER NOT NULL,
        type TEXT NOT NULL,
        failed_at TEXT NOT NULL,
        row TEXT NOT NULL,
        recovered_at TEXT,
        PRIMARY KEY (shard_id, sequence_number, sub_sequence_number)
    ) WITHOUT ROWID;
    CREATE INDEX IF NOT EXISTS bad_rows_by_time ON bad_rows (failed_at, shard_id, sequence_number, sub_sequence_number);
    CREATE TABLE IF NOT EXISTS checkpoints (
        shard_id TEXT PRIMARY KEY,
        sequence_number INTEGER NOT NULL
    );";

/// The last sequence number of `shard_id` whose outcomes are stored (0 for none).
pub fn checkpoint(conn: &Connection, shard_id: &str) -> rusqlite::Result<u64> {
    conn.query_row("SELECT sequence_number FROM checkpoints WHERE shard_id = ?1", [shard_id], |r| r.get(0))
        .optional()
        .map(Option::unwrap_or_default)
}

/// Bad rows one `POST /v1/bad-rows/recovered` may mark.
pub const MAX_MARKED_PER_REQUEST: usize = 10_000;

/// Marks the bad rows `ids` recovered at `at` (RFC 3339), keeping the time of an earlier
/// mark; returns how many of them exist.
pub fn mark_recovered(conn: &mut Connection, ids: &[pipeline::bad_row::BadRowId], at: &str) -> rusqlite::Result<usize> {
    let tx = conn.transaction()?;
    let mut found = 0;
    {
        let mut mark = tx.prepare_cached(
            "UPDATE bad_rows SET recovered_at = coalesce(recovered_at, ?4)
             WHERE shard_id = ?1 AND sequence_number = ?2 AND sub_sequence_number = ?3",
        )?;
        for id in ids {
            found += mark.execute(params![id.shard_id, id.sequence_number, id.sub_sequence_number, at])?;
        }
    }
    tx.commit()?;
    Ok(found)
}

/// A bad row as the batch transaction stores it.
struct StagedBadRow {
    id: pipeline::bad_row::BadRowId,
    kind: &'static str,
    failed_at: String,
    /// The bad row as JSON.
    row: String,
}

/// Rows a batch's sinks handed over, waiting for the consumer's commit.
#[derive(Default)]
pub struct Staged {
    events: Mutex<Vec<(String, String, String, String, i64)>>,
    bad_rows: Mutex<Vec<StagedBadRow>>,
    partials: Mutex<Vec<StagedPartial>>,
    archive_files: Mutex<Vec<StagedFile>>,
}

impl Staged {
    /// Drops what was staged (a batch that will be read again).
    pub fn clear(&self) {
        self.events.lock().unwrap_or_else(|e| e.into_inner()).clear();
        self.bad_rows.lock().unwrap_or_else(|e| e.into_inner()).clear();
        self.partials.lock().unwrap_or_else(|e| e.into_inner()).clear();
        self.archive_files.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }

    pub fn stage_archive_files(&self, files: Vec<StagedFile>) {
        self.archive_files.lock().unwrap_or_else(|e| e.into_inner()).extend(files);
    }

    pub fn stage_partials(&self, partials: Vec<StagedPartial>) {
        self.partials.lock().unwrap_or_else(|e| e.into_inner()).extend(partials);
    }

    /// Stores the staged rows and moves `shard_id`'s checkpoint to `through`, atomically.
    pub fn commit(&self, conn: &mut Connection, shard_id: &str, through: u64) -> rusqlite::Result<(usize, usize)> {
        let mut events = std::mem::take(&mut *self.events.lock().unwrap_or_else(|e| e.into_inner()));
        // In key order, consecutive inserts land on the same index pages.
        // Stable: of two events with one key, the later record is inserted last and kept.
        events.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
        let bad_rows = std::mem::take(&mut *self.bad_rows.lock().unwrap_or_else(|e| e.into_inner()));
        let partials = std::mem::take(&mut *self.partials.lock().unwrap_or_else(|e| e.into_inner()));
        let archive_files = std::mem::take(&mut *self.archive_files.lock().unwrap_or_else(|e| e.into_inner()));
        let tx = conn.transaction()?;
        {
            let mut insert = tx.prepare_cached(
                "INSERT OR REPLACE INTO events (pk, sk, event_type, payload, ttl) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            for (pk, sk, event_type, payload, ttl) in &events {
                insert.execute(params![pk, sk, event_type, payload, ttl])?;
            }
            // A bad row written again keeps its recovery mark.
            let mut insert = tx.prepare_cached(
                "INSERT INTO bad_rows (shard_id, sequence_number, sub_sequence_number, type, failed_at, row)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (shard_id, sequence_number, sub_sequence_number)
                 DO UPDATE SET type = excluded.type, failed_at = excluded.failed_at, row = excluded.row",
            )?;
            for b in &bad_rows {
                insert.execute(params![b.id.shard_id, b.id.sequence_number, b.id.sub_sequence_number, b.kind, b.failed_at, b.row])?;
            }
            insert_partials(&tx, &partials)?;
            let mut file = tx.prepare_cached(
                "INSERT INTO archive_files (shard_id, path, committed_len, opened_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (shard_id, path) DO UPDATE SET committed_len = excluded.committed_len",
            )?;
            for (path, len, opened_at) in &archive_files {
                file.execute(params![shard_id, path, *len as i64, opened_at])?;
            }
            tx.execute(
                "INSERT INTO checkpoints (shard_id, sequence_number) VALUES (?1, ?2)
                 ON CONFLICT (shard_id) DO UPDATE SET sequence_number = excluded.sequence_number",
                params![shard_id, through],
            )?;
        }
        tx.commit()?;
        Ok((events.len(), bad_rows.len()))
    }
}

/// The events store of local mode: stages items for the consumer's transaction.
pub struct LocalEventStore(pub Arc<Staged>);

impl EventStore for LocalEventStore {
    async fn put_events(&self, events: &[Indexed<'_, EnrichedEvent>], _: Instant) -> SinkReport {
        let mut staged = self.0.events.lock().unwrap_or_else(|e| e.into_inner());
        for e in events {
            let event = e.item;
            let ttl = event.arrival.timestamp() + EVENT_TTL_DAYS * 86_400;
            let payload = String::from_utf8_lossy(&event.json).into_owned();
            staged.push((event.partition_key(), event.sort_key.clone(), event.event_type.to_string(), payload, ttl));
        }
        SinkReport { written: events.len(), ..SinkReport::default() }
    }
}

/// The bad-row store of local mode: stages rows for the consumer's transaction.
pub struct LocalBadRowStore(pub Arc<Staged>);

impl BadRowStore for LocalBadRowStore {
    async fn put_bad_rows(&self, _: &BatchKey, rows: &[Indexed<'_, BadRow>], _: Instant) -> SinkReport {
        let mut staged = self.0.bad_rows.lock().unwrap_or_else(|e| e.into_inner());
        let mut report = SinkReport::default();
        for r in rows {
            let row = r.item;
            match serde_json::to_string(row) {
                Ok(json) => {
                    staged.push(StagedBadRow { id: row.id(), kind: row.kind.as_str(), failed_at: row.failed_at.clone(), row: json });
                    report.written += 1;
                }
                Err(_) => report.failed.push(r.record),
            }
        }
        report
    }
}
