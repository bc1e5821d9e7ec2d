//! The local stream: per-shard ordered records in an append-only log of checksummed files
//! (`data/stream/`, see `stream/log.rs`). One writer thread writes the waiting requests together and
//! syncs them to disk once (group commit); a request is answered only after that sync, so an
//! acknowledged record survives `kill -9` and power loss alike.
//!
//! A request's records of one shard are one *frame*, with consecutive sequence numbers. The
//! writer keeps the unprocessed frames of each shard in an index in memory, which consumers
//! read through. Consumers report how far they have processed
//! ([`StreamCounters::processed`]); the writer deletes a file once all its frames are.
//! (The stream was a SQLite table before: its B-tree, overflow pages and checkpoints cost
//! the writer a third of a core at 100,000 records a second, and the tail of every
//! acknowledgement with it.)

mod log;

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use pipeline::Record;
use pipeline::sync::MutexExt as _;
use tokio::sync::oneshot;

use crate::shard::shard_id;
pub use log::LogError;
use log::{AppendFailure, CommitWriter, FrameRef, FrameWriter, LogFile};

/// Append requests that may wait for the writer; beyond this the ingest API answers 503.
pub const QUEUED_REQUESTS: usize = 512;
/// Requests written in one group commit at most.
pub const REQUESTS_PER_COMMIT: usize = 256;
/// Records accepted but not yet processed, beyond which the ingest API answers 429.
pub const MAX_LAG_RECORDS: u64 = 2_000_000;
/// Bytes of record data one read returns at most (at least one record): a backlog of large
/// events must not be read into memory all at once.
pub const MAX_READ_BYTES: usize = 32 * 1024 * 1024;
/// How long the writer waits for appends before it deletes processed files on its own.
pub const IDLE_TRIM: Duration = Duration::from_millis(500);
/// How often, at most, the writer looks for processed frames and files to drop.
pub const TRIM_EVERY: Duration = Duration::from_millis(100);

/// One record to append: its shard, partition key and bytes.
#[derive(Clone, Debug)]
pub struct NewRecord {
    /// The shard, from the partition key (or explicit hash key).
    pub shard: u32,
    /// The producer's partition key.
    pub partition_key: String,
    /// The record's bytes.
    pub data: Vec<u8>,
}

/// Where an appended record went.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Appended {
    /// The shard.
    pub shard: u32,
    /// The record's sequence number in the shard (decimal text, as Kinesis writes it).
    pub sequence_number: String,
}

/// Why an append was refused.
#[derive(Debug, thiserror::Error)]
pub enum AppendError {
    /// More than [`QUEUED_REQUESTS`] appends wait for the writer (the API answers 503).
    #[error("the stream's write queue is full")]
    QueueFull,
    /// Over [`MAX_LAG_RECORDS`] records wait to be processed (the API answers 429).
    #[error("{0} records are waiting to be processed")]
    Lagging(u64),
    /// The writer has stopped.
    #[error("the stream is shutting down")]
    Closed,
    /// The log could not write or sync the records.
    #[error("the stream could not store the records: {0}")]
    Storage(String),
}

struct AppendRequest {
    records: Vec<NewRecord>,
    /// Bytes of the records' keys and data.
    bytes: usize,
    arrival: DateTime<Utc>,
    reply: oneshot::Sender<Result<Vec<Appended>, String>>,
}

/// Sequence numbers as text: zero-padded so text order is numeric order.
pub fn sequence_text(seq: u64) -> String {
    format!("{seq:020}")
}

/// Counters shared by the writer, the consumers and the API: records appended and
/// consumed, and the last sequence number processed, per shard.
#[derive(Debug, Default)]
pub struct StreamCounters {
    appended: Vec<AtomicU64>,
    consumed: Vec<AtomicU64>,
    processed_through: Vec<AtomicU64>,
}

impl StreamCounters {
    /// Counters at zero for `shards` shards.
    pub fn new(shards: u32) -> Self {
        let zeros = || (0..shards).map(|_| AtomicU64::new(0)).collect();
        Self { appended: zeros(), consumed: zeros(), processed_through: zeros() }
    }

    /// Counts `n` records appended to `shard`.
    pub fn add_appended(&self, shard: u32, n: u64) {
        if let Some(c) = self.appended.get(shard as usize) {
            c.fetch_add(n, Ordering::Relaxed);
        }
    }

    /// A consumer has stored the outcomes of `n` more records of `shard`, through sequence
    /// number `through` (its checkpoint): the writer may drop them.
    pub fn processed(&self, shard: u32, through: u64, n: u64) {
        if let Some(c) = self.consumed.get(shard as usize) {
            c.fetch_add(n, Ordering::Relaxed);
        }
        if let Some(p) = self.processed_through.get(shard as usize) {
            p.fetch_max(through, Ordering::Relaxed);
        }
    }

    /// The last sequence number of `shard` whose outcome is stored.
    fn processed_through(&self, shard: u32) -> u64 {
        self.processed_through.get(shard as usize).map_or(0, |p| p.load(Ordering::Relaxed))
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

    /// Shards counted.
    pub fn shards(&self) -> u32 {
        self.appended.len() as u32
    }
}

/// The append side of the stream (cheap to clone).
#[derive(Clone)]
pub struct StreamWriter {
    requests: SyncSender<AppendRequest>,
    /// The counters the writer updates.
    pub counters: Arc<StreamCounters>,
}

/// The unprocessed frames of each shard, in sequence order.
#[derive(Debug)]
struct FrameIndex {
    shards: Vec<Mutex<VecDeque<FrameRef>>>,
}

impl FrameIndex {
    fn shard(&self, shard: u32) -> Option<std::sync::MutexGuard<'_, VecDeque<FrameRef>>> {
        self.shards.get(shard as usize).map(|m| m.lock_ignoring_poison())
    }
}

/// A log file and the last sequence number of each shard in it: it can go once every
/// shard is processed that far.
struct LogFileExtent {
    file: Arc<LogFile>,
    last_seq: Vec<u64>,
}

/// Opens (or creates) the stream in `data_dir` and starts its writer thread. `processed[i]`
/// is shard i's checkpoint: sequence numbers continue after it even when every record up to
/// it has been dropped.
pub fn start(data_dir: &Path, shards: u32, processed: &[u64]) -> anyhow::Result<(StreamWriter, StreamReader)> {
    retire_sqlite_stream(data_dir, processed)?;
    let dir = data_dir.join("stream");
    let recovered = log::recover(&dir)?;
    let done = |shard: u32| processed.get(shard as usize).copied().unwrap_or(0);
    let counters = Arc::new(StreamCounters::new(shards));
    for shard in 0..shards {
        counters.processed(shard, done(shard), 0);
    }
    let mut next: Vec<u64> = (0..shards).map(|s| done(s) + 1).collect();
    let mut index = FrameIndex { shards: (0..shards).map(|_| Mutex::new(VecDeque::new())).collect() };
    let mut files: VecDeque<LogFileExtent> =
        recovered.files.iter().map(|f| LogFileExtent { file: Arc::clone(f), last_seq: vec![0; shards as usize] }).collect();
    let mut at = 0;
    for found in recovered.frames {
        let (shard, last) = (found.header.shard, found.header.last_seq());
        let Some(n) = next.get_mut(shard as usize) else {
            anyhow::bail!(
                "the stream in {} holds shard {shard}, but --shards is {shards}: start with --shards {} or a new --data-dir",
                dir.display(),
                shard + 1
            );
        };
        *n = (*n).max(last + 1);
        while files[at].file.number != found.file.number {
            at += 1;
        }
        files[at].last_seq[shard as usize] = files[at].last_seq[shard as usize].max(last);
        // Only what is past the shard's checkpoint still waits to be processed.
        if last > done(shard) {
            counters.add_appended(shard, last + 1 - found.header.first_seq.max(done(shard) + 1));
            index.shards[shard as usize].get_mut_ignoring_poison().push_back(found);
        }
    }
    let index = Arc::new(index);
    let (tx, rx) = mpsc::sync_channel(QUEUED_REQUESTS);
    let mut writer = LogWriter {
        dir,
        files,
        len: 0,
        next,
        index: Arc::clone(&index),
        counters: Arc::clone(&counters),
        broken: None,
        buf: Vec::new(),
        trimmed_at: Instant::now(),
    };
    // Appends go to a new file: the old ones are only read, then deleted once processed.
    writer.roll()?;
    thread::Builder::new().name("stream-writer".into()).spawn(move || writer.run(rx))?;
    Ok((StreamWriter { requests: tx, counters }, StreamReader { index }))
}

/// A data directory from a version that kept the stream in SQLite (`stream.db`): once
/// everything in it is processed it is removed; records still waiting in it are kept and
/// refused, since this version cannot read them. It stays because earlier versions were
/// released with that stream: starting over a data dir that still holds acknowledged
/// records in it would lose them without a word.
fn retire_sqlite_stream(data_dir: &Path, processed: &[u64]) -> anyhow::Result<()> {
    let path = data_dir.join("stream.db");
    if !path.exists() {
        return Ok(());
    }
    let conn = rusqlite::Connection::open(&path)?;
    let table = |name: &str| -> rusqlite::Result<bool> {
        conn.query_row("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?1", [name], |r| r.get::<_, i64>(0))
            .map(|n| n > 0)
    };
    let mut waiting = 0u64;
    if table("records")? {
        waiting += conn.query_row("SELECT COUNT(*) FROM records", [], |r| r.get::<_, u64>(0))?;
    }
    if table("segments")? {
        let mut stmt = conn.prepare("SELECT shard, MAX(last_seq) FROM segments GROUP BY shard")?;
        for row in stmt.query_map([], |r| Ok((r.get::<_, usize>(0)?, r.get::<_, u64>(1)?)))? {
            let (shard, last) = row?;
            waiting += last.saturating_sub(processed.get(shard).copied().unwrap_or(0));
        }
    }
    if waiting > 0 {
        anyhow::bail!(
            "{} holds {waiting} unprocessed records in an older format: process them with the version that \
             wrote them, or start with a new --data-dir",
            path.display()
        );
    }
    drop(conn);
    for suffix in ["", "-wal", "-shm"] {
        let file = PathBuf::from(format!("{}{suffix}", path.display()));
        if let Err(e) = std::fs::remove_file(&file)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            anyhow::bail!("cannot remove the old stream file {}: {e}", file.display());
        }
    }
    Ok(())
}

/// The writer thread's state: the log files, the next sequence number of each shard.
struct LogWriter {
    dir: PathBuf,
    /// Oldest first; the last is the one appended to.
    files: VecDeque<LogFileExtent>,
    /// Bytes in the last file.
    len: u64,
    next: Vec<u64>,
    index: Arc<FrameIndex>,
    counters: Arc<StreamCounters>,
    /// Why appends failed after a failed sync: the next commit first cuts the file back
    /// and moves on to a new one.
    broken: Option<String>,
    buf: Vec<u8>,
    trimmed_at: Instant,
}

impl LogWriter {
    fn run(mut self, requests: Receiver<AppendRequest>) {
        loop {
            let first = match requests.recv_timeout(IDLE_TRIM) {
                Ok(request) => request,
                Err(RecvTimeoutError::Timeout) => {
                    self.trim();
                    continue;
                }
                Err(RecvTimeoutError::Disconnected) => return,
            };
            let mut bytes = first.bytes;
            let mut group = vec![first];
            while group.len() < REQUESTS_PER_COMMIT && bytes < log::MAX_COMMIT_BYTES {
                match requests.try_recv() {
                    Ok(request) => {
                        bytes += request.bytes;
                        group.push(request);
                    }
                    Err(_) => break,
                }
            }
            match self.commit(&group) {
                Ok(assigned) => {
                    for (request, appended) in group.into_iter().zip(assigned) {
                        let _ = request.reply.send(Ok(appended));
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, "stream commit failed");
                    for request in group {
                        let _ = request.reply.send(Err(e.clone()));
                    }
                }
            }
            if self.trimmed_at.elapsed() >= TRIM_EVERY {
                self.trim();
            }
        }
    }

    /// Writes the group's records as frames, syncs them, and indexes them.
    fn commit(&mut self, group: &[AppendRequest]) -> Result<Vec<Vec<Appended>>, String> {
        if let Some(why) = self.broken.clone() {
            self.recover_broken().map_err(|e| format!("{why}; still: {e}"))?;
            tracing::info!("the stream is written again, to a new file");
        }
        CommitWriter::begin(&mut self.buf);
        let mut next = self.next.clone();
        let mut frames = Vec::new();
        let mut assigned = Vec::with_capacity(group.len());
        for request in group {
            let arrival_ms = request.arrival.timestamp_millis();
            // One frame per shard, its records in request order (the sort is stable).
            let mut order: Vec<usize> = (0..request.records.len()).collect();
            order.sort_by_key(|&i| request.records[i].shard);
            let mut out = vec![None; request.records.len()];
            for run in order.chunk_by(|&a, &b| request.records[a].shard == request.records[b].shard) {
                let shard = request.records[run[0]].shard;
                let first = next[shard as usize];
                let mut frame = FrameWriter::begin(&mut self.buf);
                for (k, &i) in run.iter().enumerate() {
                    let record = &request.records[i];
                    frame.record(&record.partition_key, &record.data);
                    out[i] = Some(Appended { shard, sequence_number: sequence_text(first + k as u64) });
                }
                frames.push(frame.finish(shard, first, arrival_ms));
                next[shard as usize] += run.len() as u64;
            }
            assigned.push(out.into_iter().flatten().collect());
        }
        CommitWriter::seal(&mut self.buf);
        if self.len > 0 && self.len + self.buf.len() as u64 > log::ROLL_BYTES {
            self.roll().map_err(|e| e.to_string())?;
        }
        let extent = self.files.back_mut().expect("the writer always has a file");
        match extent.file.append(self.len, &self.buf) {
            Ok(()) => {}
            Err(AppendFailure::Write(e)) => return Err(e.to_string()),
            Err(AppendFailure::Broken(e)) => {
                let why = format!("{e}; appends go to a new file once this one can be cut back");
                self.broken = Some(why.clone());
                return Err(why);
            }
        }
        let mut per_shard = vec![0u64; self.next.len()];
        for (header, at) in frames {
            let shard = header.shard as usize;
            extent.last_seq[shard] = header.last_seq();
            per_shard[shard] += u64::from(header.count);
            if let Some(mut frames) = self.index.shard(header.shard) {
                frames.push_back(FrameRef { header, file: Arc::clone(&extent.file), offset: self.len + at as u64 });
            }
        }
        self.len += self.buf.len() as u64;
        self.next = next;
        // Counted at commit, whether or not the client is still waiting for the answer.
        for (shard, n) in per_shard.into_iter().enumerate() {
            if n > 0 {
                self.counters.add_appended(shard as u32, n);
            }
        }
        Ok(assigned)
    }

    /// After a failed sync: cuts the file back to its last good commit (every commit before
    /// it was synced before it was acknowledged) and starts a new file, so that nothing
    /// written after the failure is read or appended to.
    fn recover_broken(&mut self) -> Result<(), LogError> {
        if let Some(extent) = self.files.back() {
            extent.file.cut_back(self.len)?;
        }
        self.roll()?;
        self.broken = None;
        Ok(())
    }

    /// Starts the next file; appends go to it from now on.
    fn roll(&mut self) -> Result<(), LogError> {
        let number = self.files.back().map_or(0, |f| f.file.number) + 1;
        let file = Arc::new(LogFile::create(&self.dir, number)?);
        self.files.push_back(LogFileExtent { file, last_seq: vec![0; self.next.len()] });
        self.len = 0;
        Ok(())
    }

    /// Drops processed frames from the index and deletes the files that hold only those.
    fn trim(&mut self) {
        self.trimmed_at = Instant::now();
        let through: Vec<u64> = (0..self.next.len() as u32).map(|s| self.counters.processed_through(s)).collect();
        for (shard, &through) in through.iter().enumerate() {
            if let Some(mut frames) = self.index.shard(shard as u32) {
                while frames.front().is_some_and(|f| f.header.last_seq() <= through) {
                    frames.pop_front();
                }
            }
        }
        let current = self.files.len() - 1;
        let mut i = 0;
        self.files.retain(|extent| {
            let keep = i == current || extent.last_seq.iter().zip(&through).any(|(last, done)| last > done) || {
                match std::fs::remove_file(&extent.file.path) {
                    Ok(()) => false,
                    Err(e) => {
                        tracing::warn!(file = %extent.file.path.display(), error = %e, "cannot delete a processed stream file; trying again later");
                        true
                    }
                }
            };
            i += 1;
            keep
        });
    }
}

impl StreamWriter {
    /// Appends `records` durably; each gets its shard's next sequence number, in order.
    pub async fn append(&self, records: Vec<NewRecord>) -> Result<Vec<Appended>, AppendError> {
        let lag = self.counters.lag();
        if lag > MAX_LAG_RECORDS {
            return Err(AppendError::Lagging(lag));
        }
        let (reply, answer) = oneshot::channel();
        let bytes = records.iter().map(|r| r.partition_key.len() + r.data.len()).sum();
        let request = AppendRequest { records, bytes, arrival: Utc::now(), reply };
        match self.requests.try_send(request) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => return Err(AppendError::QueueFull),
            Err(TrySendError::Disconnected(_)) => return Err(AppendError::Closed),
        }
        answer.await.map_err(|_| AppendError::Closed)?.map_err(AppendError::Storage)
    }
}

/// The read side, shared by the consumers.
#[derive(Clone, Debug)]
pub struct StreamReader {
    index: Arc<FrameIndex>,
}

impl StreamReader {
    /// Up to `limit` records of `shard` after sequence number `after`, in order.
    pub fn read(&self, shard: u32, after: u64, limit: usize) -> Result<Vec<(u64, Record)>, LogError> {
        let frames: Vec<FrameRef> = {
            let Some(frames) = self.index.shard(shard) else { return Ok(Vec::new()) };
            let from = frames.partition_point(|f| f.header.last_seq() <= after);
            let (mut records, mut bytes) = (0usize, 0usize);
            frames
                .range(from..)
                .take_while(|f| {
                    let more = records < limit && bytes < MAX_READ_BYTES;
                    records += (f.header.last_seq() - f.header.first_seq.max(after + 1) + 1) as usize;
                    bytes += f.header.payload_len as usize;
                    more
                })
                .cloned()
                .collect()
        };
        let id = shard_id(shard);
        let mut out = Vec::new();
        let mut bytes = 0;
        for frame in frames {
            let read = frame.file.read_frame(frame.offset, frame.header.payload_len)?;
            let records = read.records().ok_or_else(|| LogError::Corrupt {
                path: frame.file.path.clone(),
                offset: frame.offset,
                why: "its records do not match its header",
            })?;
            let arrival = Utc.timestamp_millis_opt(frame.header.arrival_ms).single().unwrap_or_default();
            for (i, (partition_key, data)) in records.into_iter().enumerate() {
                let seq = frame.header.first_seq + i as u64;
                if seq <= after {
                    continue;
                }
                bytes += data.len();
                out.push((seq, Record { data, partition_key, sequence_number: sequence_text(seq), sub_sequence_number: 0, shard_id: id.clone(), arrival }));
                if out.len() >= limit || bytes >= MAX_READ_BYTES {
                    return Ok(out);
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn record(shard: u32, key: &str) -> NewRecord {
        NewRecord { shard, partition_key: key.into(), data: format!("{{\"k\":\"{key}\"}}").into_bytes() }
    }

    fn keys(records: &[(u64, Record)]) -> Vec<(u64, String)> {
        records.iter().map(|(seq, r)| (*seq, r.partition_key.clone())).collect()
    }

    #[tokio::test]
    async fn records_come_back_in_order_after_a_restart_and_processed_files_go() {
        let dir = tempfile::tempdir().unwrap();
        let (writer, reader) = start(dir.path(), 2, &[]).unwrap();
        let first = writer.append(vec![record(1, "a"), record(0, "b"), record(1, "c")]).await.unwrap();
        let shards: Vec<(u32, &str)> = first.iter().map(|a| (a.shard, a.sequence_number.as_str())).collect();
        assert_eq!(shards, [(1, "00000000000000000001"), (0, "00000000000000000001"), (1, "00000000000000000002")]);
        writer.append(vec![record(1, "d")]).await.unwrap();
        assert_eq!(keys(&reader.read(1, 0, 10).unwrap()), [(1, "a".into()), (2, "c".into()), (3, "d".into())]);
        assert_eq!(keys(&reader.read(1, 1, 2).unwrap()), [(2, "c".into()), (3, "d".into())]);
        assert_eq!(writer.counters.lag(), 4);
        drop((writer, reader));

        // Shard 1 was processed through 2 before the restart: 3 is all that waits, and
        // numbering goes on after what the log holds.
        let (writer, reader) = start(dir.path(), 2, &[0, 2]).unwrap();
        assert_eq!(writer.counters.lag(), 2);
        assert_eq!(keys(&reader.read(1, 2, 10).unwrap()), [(3, "d".into())]);
        let next = writer.append(vec![record(1, "e")]).await.unwrap();
        assert_eq!(next[0].sequence_number, sequence_text(4));

        // Everything processed: the writer deletes the first run's file, not the one it
        // appends to.
        let files = || std::fs::read_dir(dir.path().join("stream")).unwrap().count();
        assert_eq!(files(), 2);
        writer.counters.processed(0, 1, 1);
        writer.counters.processed(1, 4, 2);
        assert_eq!(writer.counters.lag(), 0);
        let waited = Instant::now();
        while files() > 1 && waited.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(files(), 1, "the processed file is deleted");
        assert!(reader.read(1, 4, 10).unwrap().is_empty());
    }

    #[test]
    fn an_old_sqlite_stream_is_refused_while_it_holds_records_and_removed_once_processed() {
        let dir = tempfile::tempdir().unwrap();
        let old = dir.path().join("stream.db");
        rusqlite::Connection::open(&old)
            .unwrap()
            .execute_batch(
                "CREATE TABLE segments (shard INTEGER, first_seq INTEGER, last_seq INTEGER, arrival_ms INTEGER, records BLOB);
                 INSERT INTO segments VALUES (1, 1, 5, 0, x'');",
            )
            .unwrap();
        let err = start(dir.path(), 2, &[0, 3]).err().unwrap().to_string();
        assert!(err.contains("holds 2 unprocessed records") && err.contains("new --data-dir"), "{err}");
        assert!(old.exists(), "records still waiting are kept");
        let (writer, _) = start(dir.path(), 2, &[0, 5]).unwrap();
        assert!(!old.exists());
        assert_eq!(writer.counters.lag(), 0);
    }

    #[test]
    fn after_a_failed_sync_the_writer_cuts_its_file_back_and_goes_on_in_a_new_one() {
        let dir = tempfile::tempdir().unwrap();
        let stream = dir.path().join("stream");
        std::fs::create_dir_all(&stream).unwrap();
        let mut writer = LogWriter {
            dir: stream.clone(),
            files: VecDeque::new(),
            len: 0,
            next: vec![1],
            index: Arc::new(FrameIndex { shards: vec![Mutex::new(VecDeque::new())] }),
            counters: Arc::new(StreamCounters::new(1)),
            broken: None,
            buf: Vec::new(),
            trimmed_at: Instant::now(),
        };
        writer.roll().unwrap();
        let request = |key: &str| {
            let (reply, _) = oneshot::channel();
            AppendRequest { records: vec![record(0, key)], bytes: 8, arrival: Utc::now(), reply }
        };
        writer.commit(&[request("a")]).unwrap();
        // A sync failed after bytes reached the file: they are behind the last good commit.
        let first = Arc::clone(&writer.files.back().unwrap().file);
        let good = writer.len;
        std::fs::OpenOptions::new().append(true).open(&first.path).unwrap().write_all(b"half a commit").unwrap();
        writer.broken = Some("sync failed".into());
        let next = writer.commit(&[request("b")]).unwrap();
        assert_eq!(next[0][0].sequence_number, sequence_text(2));
        assert!(writer.broken.is_none());
        assert_eq!(std::fs::metadata(&first.path).unwrap().len(), good, "what the failure left is cut off");
        assert_eq!(writer.files.len(), 2, "a new file after the broken one");
        // Both commits read back at start-up; the cut file ends with a whole commit.
        let recovered = log::recover(&stream).unwrap();
        let seqs: Vec<u64> = recovered.frames.iter().map(|f| f.header.first_seq).collect();
        assert_eq!(seqs, [1, 2]);
    }

    #[test]
    fn a_shard_beyond_shards_is_refused_with_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let (writer, _) = start(dir.path(), 4, &[]).unwrap();
        rt.block_on(writer.append(vec![record(3, "a")])).unwrap();
        drop(writer);
        let err = start(dir.path(), 2, &[]).err().unwrap().to_string();
        assert!(err.contains("--shards 4"), "{err}");
    }
}
