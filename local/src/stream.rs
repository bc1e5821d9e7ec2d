//! The local stream: per-shard ordered records in SQLite (`stream.db`), appended by one
//! writer thread that commits waiting requests together (group commit). A request is
//! answered only after its transaction is committed with `synchronous=FULL`, so an
//! acknowledged record survives `kill -9` and power loss alike.
//!
//! Records are stored as *segments*: one row per request and shard holding that request's
//! records of the shard, in order, with consecutive sequence numbers `first_seq..=last_seq`
//! (a row per record cost the writer most of its time at 100,000 records a second). A
//! segment's blob is, per record: partition key length (u32 LE), key, data length (u32 LE),
//! data.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::thread;

use chrono::{DateTime, TimeZone, Utc};
use pipeline::Record;
use rusqlite::{Connection, params};
use tokio::sync::oneshot;

use crate::shard::shard_id;

/// Append requests that may wait for the writer; beyond this the ingest API answers 503.
pub const QUEUED_REQUESTS: usize = 512;
/// Requests committed in one transaction at most.
pub const REQUESTS_PER_COMMIT: usize = 256;
/// Records accepted but not yet processed, beyond which the ingest API answers 429.
pub const MAX_LAG_RECORDS: u64 = 2_000_000;
/// Bytes of record data one read returns at most (at least one record): a backlog of large
/// events must not be read into memory all at once.
pub const MAX_READ_BYTES: usize = 32 * 1024 * 1024;

/// One record to append: its shard, partition key and bytes.
#[derive(Clone, Debug)]
pub struct NewRecord {
    pub shard: u32,
    pub partition_key: String,
    pub data: Vec<u8>,
}

/// Where an appended record went.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Appended {
    pub shard: u32,
    pub sequence_number: String,
}

/// Why an append was refused.
#[derive(Debug, thiserror::Error)]
pub enum AppendError {
    #[error("the stream's write queue is full")]
    QueueFull,
    #[error("{0} records are waiting to be processed")]
    Lagging(u64),
    #[error("the stream is shutting down")]
    Closed,
    #[error("the stream could not store the records: {0}")]
    Storage(String),
}

struct AppendRequest {
    records: Vec<NewRecord>,
    arrival: DateTime<Utc>,
    reply: oneshot::Sender<Result<Vec<Appended>, String>>,
}

/// Sequence numbers as text: zero-padded so text order is numeric order.
pub fn sequence_text(seq: u64) -> String {
    format!("{seq:020}")
}

/// Counters shared by the writer, the consumers and the API: records appended and
/// consumed, per shard.
#[derive(Debug, Default)]
pub struct StreamCounters {
    appended: Vec<AtomicU64>,
    consumed: Vec<AtomicU64>,
}

impl StreamCounters {
    pub fn new(shards: u32) -> Self {
        Self { appended: (0..shards).map(|_| AtomicU64::new(0)).collect(), consumed: (0..shards).map(|_| AtomicU64::new(0)).collect() }
    }

    pub fn add_appended(&self, shard: u32, n: u64) {
        if let Some(c) = self.appended.get(shard as usize) {
            c.fetch_add(n, Ordering::Relaxed);
        }
    }

    pub fn add_consumed(&self, shard: u32, n: u64) {
        if let Some(c) = self.consumed.get(shard as usize) {
            c.fetch_add(n, Ordering::Relaxed);
        }
    }

    /// Records of `shard` accepted but not yet processed.
    pub fn shard_lag(&self, shard: u32) -> u64 {
        let get = |v: &Vec<AtomicU64>| v.get(shard as usize).map_or(0, |c| c.load(Ordering::Relaxed));
        get(&self.appended).saturating_sub(get(&self.consumed))
    }

    /// Records accepted but not yet processed, all shards.
    pub fn lag(&self) -> u64 {
        (0..self.appended.len() as u32).map(|s| self.shard_lag(s)).sum()
    }

    pub fn shards(&self) -> u32 {
        self.appended.len() as u32
    }
}

/// The append side of the stream (cheap to clone).
#[derive(Clone)]
pub struct StreamWriter {
    requests: SyncSender<AppendRequest>,
    pub counters: Arc<StreamCounters>,
}

fn open(path: &Path) -> rusqlite::Result<Connection> {
    let conn = crate::sqlite::open(path, true)?;
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS segments (
            shard INTEGER NOT NULL,
            first_seq INTEGER NOT NULL,
            last_seq INTEGER NOT NULL,
            arrival_ms INTEGER NOT NULL,
            records BLOB NOT NULL,
            PRIMARY KEY (shard, first_seq)
        ) WITHOUT ROWID;",
    )?;
    Ok(conn)
}

/// Appends one record to a segment's blob.
fn encode_record(out: &mut Vec<u8>, partition_key: &str, data: &[u8]) {
    out.extend_from_slice(&(partition_key.len() as u32).to_le_bytes());
    out.extend_from_slice(partition_key.as_bytes());
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out.extend_from_slice(data);
}

/// The records of a segment's blob, in order: (partition key, data).
fn decode_records(mut blob: &[u8]) -> Option<Vec<(String, Vec<u8>)>> {
    let mut out = Vec::new();
    let take = |blob: &mut &[u8]| -> Option<Vec<u8>> {
        let len = u32::from_le_bytes(blob.get(..4)?.try_into().ok()?) as usize;
        let bytes = blob.get(4..4 + len)?.to_vec();
        *blob = &blob[4 + len..];
        Some(bytes)
    };
    while !blob.is_empty() {
        let key = String::from_utf8(take(&mut blob)?).ok()?;
        let data = take(&mut blob)?;
        out.push((key, data));
    }
    Some(out)
}

/// Opens (or creates) the stream at `path` and starts its writer thread. `processed[i]` is
/// shard i's checkpoint: sequence numbers continue after it even when every record up to it
/// has been trimmed away.
pub fn start(path: &Path, shards: u32, processed: &[u64]) -> anyhow::Result<(StreamWriter, StreamReader)> {
    let conn = open(path).map_err(|e| anyhow::anyhow!("cannot open the stream database {}: {e}", path.display()))?;
    let old_records: i64 = conn
        .query_row("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'records'", [], |r| r.get(0))
        .and_then(|n: i64| if n > 0 { conn.query_row("SELECT COUNT(*) FROM records", [], |r| r.get(0)) } else { Ok(0) })?;
    if old_records > 0 {
        anyhow::bail!(
            "the stream at {} holds {old_records} unprocessed records in an older format: process them with the \
             version that wrote them, or start with a new --data-dir",
            path.display()
        );
    }
    let mut next: Vec<u64> = (0..shards as usize).map(|i| processed.get(i).copied().unwrap_or(0) + 1).collect();
    let counters = Arc::new(StreamCounters::new(shards));
    {
        let mut stmt = conn.prepare("SELECT shard, first_seq, last_seq FROM segments")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, u32>(0)?, r.get::<_, u64>(1)?, r.get::<_, u64>(2)?)))?;
        for row in rows {
            let (shard, first, last) = row?;
            let Some(n) = next.get_mut(shard as usize) else {
                anyhow::bail!(
                    "the stream at {} holds shard {shard}, but --shards is {shards}: start with --shards {} or a new --data-dir",
                    path.display(),
                    shard + 1
                );
            };
            *n = (*n).max(last + 1);
            // Only what is past the shard's checkpoint still waits to be processed.
            let done = processed.get(shard as usize).copied().unwrap_or(0);
            counters.add_appended(shard, (last + 1).saturating_sub(first.max(done + 1)));
        }
    }
    let (tx, rx) = mpsc::sync_channel(QUEUED_REQUESTS);
    let written = Arc::clone(&counters);
    // Acknowledgements wait for the writer's commits: checkpoints run beside it instead.
    crate::sqlite::without_autocheckpoint(&conn)?;
    let stopped = Arc::new(std::sync::atomic::AtomicBool::new(false));
    crate::sqlite::spawn_checkpointer(path, Arc::clone(&stopped))?;
    thread::Builder::new().name("stream-writer".into()).spawn(move || {
        write_loop(conn, rx, next, &written);
        stopped.store(true, Ordering::Relaxed);
    })?;
    let reader = StreamReader { path: path.to_path_buf() };
    Ok((StreamWriter { requests: tx, counters }, reader))
}

fn write_loop(mut conn: Connection, requests: Receiver<AppendRequest>, mut next: Vec<u64>, counters: &StreamCounters) {
    while let Ok(first) = requests.recv() {
        let mut group = vec![first];
        while group.len() < REQUESTS_PER_COMMIT {
            match requests.try_recv() {
                Ok(request) => group.push(request),
                Err(_) => break,
            }
        }
        let saved = next.clone();
        let result = commit(&mut conn, &group, &mut next);
        match result {
            Ok(assigned) => {
                // Counted at commit, whether or not the client is still waiting for the answer.
                let mut per_shard = vec![0u64; next.len()];
                for appended in assigned.iter().flatten() {
                    per_shard[appended.shard as usize] += 1;
                }
                for (shard, n) in per_shard.into_iter().enumerate() {
                    counters.add_appended(shard as u32, n);
                }
                for (request, appended) in group.into_iter().zip(assigned) {
                    let _ = request.reply.send(Ok(appended));
                }
            }
            Err(e) => {
                next = saved;
                tracing::error!(error = %e, "stream commit failed");
                for request in group {
                    let _ = request.reply.send(Err(e.to_string()));
                }
            }
        }
    }
}

fn commit(conn: &mut Connection, group: &[AppendRequest], next: &mut [u64]) -> rusqlite::Result<Vec<Vec<Appended>>> {
    let tx = conn.transaction()?;
    let mut assigned = Vec::with_capacity(group.len());
    {
        let mut insert =
            tx.prepare_cached("INSERT INTO segments (shard, first_seq, last_seq, arrival_ms, records) VALUES (?1, ?2, ?3, ?4, ?5)")?;
        let mut blobs: Vec<Vec<u8>> = vec![Vec::new(); next.len()];
        let mut firsts: Vec<u64> = vec![0; next.len()];
        for request in group {
            let arrival_ms = request.arrival.timestamp_millis();
            let mut out = Vec::with_capacity(request.records.len());
            for record in &request.records {
                let shard = record.shard as usize;
                let seq = next[shard];
                next[shard] += 1;
                if blobs[shard].is_empty() {
                    firsts[shard] = seq;
                }
                encode_record(&mut blobs[shard], &record.partition_key, &record.data);
                out.push(Appended { shard: record.shard, sequence_number: sequence_text(seq) });
            }
            for (shard, blob) in blobs.iter_mut().enumerate() {
                if !blob.is_empty() {
                    insert.execute(params![shard as u32, firsts[shard], next[shard] - 1, arrival_ms, &blob[..]])?;
                    blob.clear();
                }
            }
            assigned.push(out);
        }
    }
    tx.commit()?;
    Ok(assigned)
}

impl StreamWriter {
    /// Appends `records` durably; each gets its shard's next sequence number, in order.
    pub async fn append(&self, records: Vec<NewRecord>) -> Result<Vec<Appended>, AppendError> {
        let lag = self.counters.lag();
        if lag > MAX_LAG_RECORDS {
            return Err(AppendError::Lagging(lag));
        }
        let (reply, answer) = oneshot::channel();
        let request = AppendRequest { records, arrival: Utc::now(), reply };
        match self.requests.try_send(request) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => return Err(AppendError::QueueFull),
            Err(TrySendError::Disconnected(_)) => return Err(AppendError::Closed),
        }
        answer.await.map_err(|_| AppendError::Closed)?.map_err(AppendError::Storage)
    }
}

/// The read side: each consumer opens its own connection.
#[derive(Clone, Debug)]
pub struct StreamReader {
    path: std::path::PathBuf,
}

impl StreamReader {
    pub fn connect(&self) -> rusqlite::Result<ShardReader> {
        Ok(ShardReader { conn: crate::sqlite::open(&self.path, false)? })
    }
}

/// Reads records of shards in order.
pub struct ShardReader {
    conn: Connection,
}

impl ShardReader {
    /// Up to `limit` records of `shard` after sequence number `after`, in order.
    pub fn read(&self, shard: u32, after: u64, limit: usize) -> rusqlite::Result<Vec<(u64, Record)>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT first_seq, arrival_ms, records FROM segments WHERE shard = ?1 AND last_seq > ?2 ORDER BY first_seq",
        )?;
        let id = shard_id(shard);
        let mut rows = stmt.query(params![shard, after])?;
        let mut out = Vec::new();
        let mut bytes = 0;
        while let Some(row) = rows.next()? {
            let first: u64 = row.get(0)?;
            let arrival = Utc.timestamp_millis_opt(row.get::<_, i64>(1)?).single().unwrap_or_default();
            let blob = row.get_ref(2)?.as_blob()?;
            let records = decode_records(blob).ok_or_else(|| {
                rusqlite::Error::InvalidColumnType(2, format!("segment {id}/{first} is corrupt"), rusqlite::types::Type::Blob)
            })?;
            for (i, (partition_key, data)) in records.into_iter().enumerate() {
                let seq = first + i as u64;
                if seq <= after {
                    continue;
                }
                bytes += data.len();
                out.push((seq, Record { data, partition_key, sequence_number: sequence_text(seq), shard_id: id.clone(), arrival }));
                if out.len() >= limit || bytes >= MAX_READ_BYTES {
                    return Ok(out);
                }
            }
        }
        Ok(out)
    }

    /// Deletes the segments of `shard` whose records are all at or before `through`
    /// (processed, checkpointed elsewhere).
    pub fn trim(&self, shard: u32, through: u64) -> rusqlite::Result<usize> {
        self.conn.execute("DELETE FROM segments WHERE shard = ?1 AND last_seq <= ?2", params![shard, through])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_keep_records_in_order_and_refuse_corruption() {
        let mut blob = Vec::new();
        encode_record(&mut blob, "user-1", b"{\"a\":1}");
        encode_record(&mut blob, "", b"");
        encode_record(&mut blob, "k", &[0xff, 0x00]);
        let records = decode_records(&blob).unwrap();
        assert_eq!(records, [("user-1".into(), b"{\"a\":1}".to_vec()), (String::new(), Vec::new()), ("k".into(), vec![0xff, 0x00])]);
        assert!(decode_records(&blob[..blob.len() - 1]).is_none());
    }
}
