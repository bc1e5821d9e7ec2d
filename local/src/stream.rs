//! The local stream: per-shard ordered records in SQLite (`stream.db`), appended by one
//! writer thread that commits waiting requests together (group commit). A request is
//! answered only after its transaction is committed with `synchronous=FULL`, so an
//! acknowledged record survives `kill -9` and power loss alike.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::thread;

use chrono::{DateTime, TimeZone, Utc};
use pipeline::Record;
use rusqlite::{Connection, OpenFlags, params};
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

/// Counters shared by the writer, the consumers and the API.
#[derive(Debug, Default)]
pub struct StreamCounters {
    pub appended: AtomicU64,
    pub consumed: AtomicU64,
}

impl StreamCounters {
    pub fn lag(&self) -> u64 {
        self.appended.load(Ordering::Relaxed).saturating_sub(self.consumed.load(Ordering::Relaxed))
    }
}

/// The append side of the stream (cheap to clone).
#[derive(Clone)]
pub struct StreamWriter {
    requests: SyncSender<AppendRequest>,
    pub counters: Arc<StreamCounters>,
}

fn open(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE)?;
    crate::sqlite::configure(&conn)?;
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS records (
            shard INTEGER NOT NULL,
            seq INTEGER NOT NULL,
            partition_key TEXT NOT NULL,
            arrival_ms INTEGER NOT NULL,
            data BLOB NOT NULL,
            PRIMARY KEY (shard, seq)
        ) WITHOUT ROWID;",
    )?;
    Ok(conn)
}

/// Opens (or creates) the stream at `path` and starts its writer thread. `processed[i]` is
/// shard i's checkpoint: sequence numbers continue after it even when every record up to it
/// has been trimmed away.
pub fn start(path: &Path, shards: u32, processed: &[u64]) -> anyhow::Result<(StreamWriter, StreamReader)> {
    let conn = open(path).map_err(|e| anyhow::anyhow!("cannot open the stream database {}: {e}", path.display()))?;
    let mut next: Vec<u64> = (0..shards as usize).map(|i| processed.get(i).copied().unwrap_or(0) + 1).collect();
    let mut total = 0u64;
    {
        let mut stmt = conn.prepare("SELECT shard, MAX(seq), COUNT(*) FROM records GROUP BY shard")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, u32>(0)?, r.get::<_, u64>(1)?, r.get::<_, u64>(2)?)))?;
        for row in rows {
            let (shard, max, count) = row?;
            if let Some(n) = next.get_mut(shard as usize) {
                *n = (*n).max(max + 1);
            } else {
                anyhow::bail!(
                    "the stream at {} holds shard {shard}, but --shards is {shards}: start with --shards {} or a new --data-dir",
                    path.display(),
                    shard + 1
                );
            }
            total += count;
        }
    }
    let counters = Arc::new(StreamCounters::default());
    counters.appended.store(total, Ordering::Relaxed);
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
                let n: usize = assigned.iter().map(Vec::len).sum();
                counters.appended.fetch_add(n as u64, Ordering::Relaxed);
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
        let mut insert = tx.prepare_cached("INSERT INTO records (shard, seq, partition_key, arrival_ms, data) VALUES (?1, ?2, ?3, ?4, ?5)")?;
        for request in group {
            let arrival_ms = request.arrival.timestamp_millis();
            let mut out = Vec::with_capacity(request.records.len());
            for record in &request.records {
                let seq = next[record.shard as usize];
                next[record.shard as usize] += 1;
                insert.execute(params![record.shard, seq, record.partition_key, arrival_ms, record.data])?;
                out.push(Appended { shard: record.shard, sequence_number: sequence_text(seq) });
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
        let conn = Connection::open_with_flags(&self.path, OpenFlags::SQLITE_OPEN_READ_WRITE)?;
        crate::sqlite::configure(&conn)?;
        Ok(ShardReader { conn })
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
            "SELECT seq, partition_key, arrival_ms, data FROM records WHERE shard = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
        )?;
        let id = shard_id(shard);
        let rows = stmt.query_map(params![shard, after, limit as i64], |r| {
            let seq: u64 = r.get(0)?;
            let arrival_ms: i64 = r.get(2)?;
            Ok((
                seq,
                Record {
                    data: r.get(3)?,
                    partition_key: r.get(1)?,
                    sequence_number: sequence_text(seq),
                    shard_id: id.clone(),
                    arrival: Utc.timestamp_millis_opt(arrival_ms).single().unwrap_or_default(),
                },
            ))
        })?;
        let mut out = Vec::new();
        let mut bytes = 0;
        for row in rows {
            let row = row?;
            bytes += row.1.data.len();
            out.push(row);
            if bytes >= MAX_READ_BYTES {
                break;
            }
        }
        Ok(out)
    }

    /// Deletes records of `shard` up to `through` (processed, checkpointed elsewhere).
    pub fn trim(&self, shard: u32, through: u64) -> rusqlite::Result<usize> {
        self.conn.execute("DELETE FROM records WHERE shard = ?1 AND seq <= ?2", params![shard, through])
    }
}
