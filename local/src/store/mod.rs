//! The events and bad-row store of local mode (`data/store/`), built for a pipeline that
//! runs for days at 100,000 events a second: its cost per event does not grow with what it
//! holds, it takes about 200 bytes of disk an event, and old data goes a partition at a
//! time.
//!
//! - **Partitions** (`store/p-<id>/`) hold what the consumers stored during one span of
//!   time ([`StoreConfig::partition_span`]) or up to [`PARTITION_MAX_ENTRIES`]. Retention
//!   removes a whole partition once its newest arrival is older than `--retention`; the
//!   query API also skips every older item of a partition not yet removed.
//! - **Value files** (`v-<shard>.val`, [`values`]): the enriched events and bad rows as
//!   zstd-compressed blocks of NDJSON, appended by the shard's consumer, never rewritten.
//! - **Index files** (`i-<id>.idx`, [`index_file`]): sorted runs of small entries (key,
//!   kind, arrival, value position), events by `(pk, sk)` as in DynamoDB and bad rows by
//!   `(failed_at, shard_id, sequence_number, sub_sequence_number)`. Each unit of work
//!   writes one; [`merge`] folds runs of them into bigger ones in the background, so a
//!   query reads a few files per partition, and an insert never touches a page of an
//!   older file (the B-tree page splits that made SQLite slow down as it grew).
//! - **The catalog** lives in `pipeline.db` (tables `store_partitions`, `store_files`,
//!   `store_values`, `bad_row_marks`) and changes in the unit of work's transaction with
//!   the stream checkpoint: a file the catalog does not list is an unfinished write and is
//!   deleted at start-up, and a value file is cut back to its committed length.
//!
//! `pipeline store` (crate `pipeline-cli`) lists partitions and dumps events and bad rows
//! as NDJSON; the value blocks are plain zstd frames of NDJSON.

mod codec;
pub mod files;
pub mod index_file;
pub mod merge;
pub mod pack;
pub mod read;
pub mod values;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};
use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use pipeline::bad_row::BadRowId;
use pipeline::sync::{MutexExt as _, RwLockExt as _};
use rusqlite::{Connection, OptionalExtension, Transaction, params};

pub use codec::{Entry, Key, OwnedKey, ValueRef};
use files::FileCache;
use index_file::{IndexError, IndexFile, IndexWriter, Section};
use pack::PackedUnit;

/// How long events and bad rows are kept after they arrived, by default (as the AWS
/// stack's `EVENT_TTL_DAYS`).
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(pipeline::limits::EVENT_TTL_DAYS_DEFAULT as u64 * 86_400);
/// Entries after which the current partition is closed and a new one started, so that
/// merges within a partition stay bounded whatever the rate.
pub const PARTITION_MAX_ENTRIES: u64 = 10_000_000;
/// Partitions a retention period is cut into at least: data leaves the disk at most a
/// thirtieth of the retention after it expired.
pub const PARTITIONS_PER_RETENTION: u32 = 30;
/// Longest and shortest span of one partition.
pub const MAX_PARTITION_SPAN: Duration = Duration::from_secs(86_400);
/// Shortest span of one partition.
pub const MIN_PARTITION_SPAN: Duration = Duration::from_secs(1);

/// The store's tables of `pipeline.db`: partitions, their index files, each value file's committed
/// length, and the marks of recovered bad rows.
pub const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS store_partitions (
        id INTEGER PRIMARY KEY,
        opened_at INTEGER NOT NULL
    );
    CREATE TABLE IF NOT EXISTS store_files (
        partition INTEGER NOT NULL,
        file INTEGER NOT NULL,
        level INTEGER NOT NULL,
        gen_lo INTEGER NOT NULL,
        gen_hi INTEGER NOT NULL,
        PRIMARY KEY (partition, file)
    ) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS store_values (
        partition INTEGER NOT NULL,
        shard INTEGER NOT NULL,
        committed_len INTEGER NOT NULL,
        PRIMARY KEY (partition, shard)
    ) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS bad_row_marks (
        shard_id TEXT NOT NULL,
        sequence_number TEXT NOT NULL,
        sub_sequence_number INTEGER NOT NULL,
        recovered_at TEXT NOT NULL,
        partition INTEGER NOT NULL,
        PRIMARY KEY (shard_id, sequence_number, sub_sequence_number)
    ) WITHOUT ROWID;";

/// Why the store cannot go on.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A store file or directory could not be written, synced or read.
    #[error("the store in {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// An index file could not be written or read.
    #[error(transparent)]
    Index(#[from] IndexError),
    /// The catalog's tables in `pipeline.db` failed.
    #[error("the store's catalog in pipeline.db: {0}")]
    Catalog(#[from] rusqlite::Error),
    /// The files on disk and the catalog disagree.
    #[error("the store in {path} does not match its catalog ({why}): move the data directory away to start afresh")]
    Inconsistent {
        /// Where the files are.
        path: PathBuf,
        /// What disagrees.
        why: String,
    },
    /// A stored value could not be read.
    #[error(transparent)]
    Value(#[from] values::ValueError),
}

impl StoreError {
    fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
        move |source| StoreError::Io { path: path.to_path_buf(), source }
    }

    /// Whether the error is the disk being full (the unit of work is tried again later).
    pub fn is_disk_full(&self) -> bool {
        let io = match self {
            StoreError::Io { source, .. } => Some(source),
            StoreError::Index(IndexError::Io { source, .. }) => Some(source),
            _ => None,
        };
        io.is_some_and(|e| e.raw_os_error() == Some(libc::ENOSPC) || e.kind() == std::io::ErrorKind::StorageFull)
    }
}

/// How the store keeps data.
#[derive(Clone, Copy, Debug)]
pub struct StoreConfig {
    /// Shards, each with its own value file per partition.
    pub shards: u32,
    /// Events and bad rows are kept this long after they arrived.
    pub retention: Duration,
}

impl StoreConfig {
    /// The span of one partition: a thirtieth of the retention, within a second and a day.
    pub fn partition_span(&self) -> Duration {
        (self.retention / PARTITIONS_PER_RETENTION).clamp(MIN_PARTITION_SPAN, MAX_PARTITION_SPAN)
    }
}

/// One index file in the store.
#[derive(Debug)]
pub struct StoredFile {
    /// The partition it belongs to.
    pub partition: u64,
    /// Its number, unique in the store: it names the file.
    pub id: u64,
    /// Its merge level: 0 as a unit of work wrote it, one more for each merge.
    pub level: u32,
    /// The unit-of-work numbers whose entries it holds: a later one wins a key both hold.
    pub units: (u64, u64),
    /// Its directory, read when it was opened.
    pub index: IndexFile,
    /// Each shard's lowest and highest bad-row sequence number in the file, read on first use.
    pub(crate) bad_row_seqs: std::sync::OnceLock<HashMap<String, (String, String)>>,
    /// Set once a merge has replaced the file: it is deleted when the last reader's
    /// snapshot lets go of it, so that a query that began before the merge can finish.
    pub(crate) replaced: std::sync::OnceLock<Arc<FileCache>>,
}

impl Drop for StoredFile {
    fn drop(&mut self) {
        if let Some(cache) = self.replaced.get() {
            cache.forget(&self.index.path);
            if let Err(e) = std::fs::remove_file(&self.index.path) {
                tracing::warn!(file = %self.index.path.display(), error = %e, "cannot delete a merged index file; it goes at the next start");
            }
        }
    }
}

/// A partition as readers see it.
#[derive(Clone, Debug)]
pub struct PartitionView {
    /// The partition's number: it names its directory.
    pub id: u64,
    /// When it was started (Unix seconds).
    pub opened_at: i64,
    /// Its directory.
    pub dir: PathBuf,
    /// Its index files, in write order.
    pub files: Vec<Arc<StoredFile>>,
    /// Whether units of work still write to it.
    pub open: bool,
    /// Units of work being written to it now (a merge waits for none).
    pub in_flight: usize,
    /// Committed bytes of its value files.
    pub value_bytes: u64,
}

#[derive(Debug)]
struct PartitionState {
    opened_at: i64,
    files: Vec<Arc<StoredFile>>,
    in_flight: usize,
    /// Committed length of each shard's value file.
    values: BTreeMap<u32, u64>,
}

/// The partition new units of work go to.
#[derive(Debug, Default)]
struct Current {
    id: Option<u64>,
    opened_at: i64,
    entries: u64,
}

/// One shard's value file.
struct ShardWriter {
    partition: u64,
    file: Option<File>,
    len: u64,
}

/// A unit of work's rows, written and synced, waiting for the catalog's transaction.
#[derive(Debug)]
pub struct PreparedWrite {
    shard: u32,
    partition: u64,
    /// When the partition was started (the first unit of work to commit adds it to the catalog).
    opened_at: i64,
    value_len: u64,
    value_committed: u64,
    file: Option<Arc<StoredFile>>,
    /// Events the unit writes.
    pub events: usize,
    /// Bad rows the unit writes.
    pub bad_rows: usize,
}

/// The store (shared by the consumers, the query API and the maintenance thread).
pub struct Store {
    root: PathBuf,
    /// How it keeps data.
    pub config: StoreConfig,
    files: Arc<FileCache>,
    state: RwLock<BTreeMap<u64, PartitionState>>,
    current: Mutex<Current>,
    writers: Vec<Mutex<ShardWriter>>,
    next_file: AtomicU64,
    next_partition: AtomicU64,
    /// Recovered bad rows.
    marks: RwLock<HashMap<BadRowId, Mark>>,
}

/// A bad row marked recovered: when, and the partition it is in (it goes with it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mark {
    /// When it was marked (RFC 3339).
    pub recovered_at: String,
    /// The partition the bad row is in.
    pub partition: u64,
}

fn now_seconds() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Syncs `dir`'s entries (a new file is durable once its directory is synced).
fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(StoreError::io(dir))
}

impl Store {
    /// Opens the store under `data_dir/store` with its catalog in `conn` (created if
    /// missing), removes what no committed unit of work left, and checks the rest.
    pub fn open(data_dir: &Path, conn: &Connection, config: StoreConfig) -> Result<Self, StoreError> {
        let root = data_dir.join("store");
        std::fs::create_dir_all(&root).map_err(StoreError::io(&root))?;
        conn.execute_batch(SCHEMA)?;
        let store = Self {
            root,
            config,
            files: Arc::default(),
            state: RwLock::new(BTreeMap::new()),
            current: Mutex::new(Current::default()),
            writers: (0..config.shards).map(|_| Mutex::new(ShardWriter { partition: 0, file: None, len: 0 })).collect(),
            next_file: AtomicU64::new(1),
            next_partition: AtomicU64::new(1),
            marks: RwLock::new(HashMap::new()),
        };
        store.load_catalog(conn)?;
        store.remove_unlisted()?;
        Ok(store)
    }

    fn load_catalog(&self, conn: &Connection) -> Result<(), StoreError> {
        let mut state = BTreeMap::new();
        let mut stmt = conn.prepare("SELECT id, opened_at FROM store_partitions")?;
        for row in stmt.query_map([], |r| Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)?)))? {
            let (id, opened_at) = row?;
            state.insert(id, PartitionState { opened_at, files: Vec::new(), in_flight: 0, values: BTreeMap::new() });
            self.next_partition.fetch_max(id + 1, Ordering::Relaxed);
        }
        let mut stmt = conn.prepare("SELECT partition, shard, committed_len FROM store_values")?;
        for row in stmt.query_map([], |r| Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u32, r.get::<_, i64>(2)? as u64)))? {
            let (partition, shard, len) = row?;
            if let Some(p) = state.get_mut(&partition) {
                p.values.insert(shard, len);
            }
        }
        let mut stmt = conn.prepare("SELECT partition, file, level, gen_lo, gen_hi FROM store_files ORDER BY partition, gen_lo")?;
        let rows = stmt.query_map([], |r| {
            Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u64, r.get::<_, i64>(2)? as u32, r.get::<_, i64>(3)? as u64, r.get::<_, i64>(4)? as u64))
        })?;
        for row in rows {
            let (partition, id, level, lo, hi) = row?;
            let file = self.open_file(partition, id, level, (lo, hi))?;
            self.next_file.fetch_max(id.max(hi) + 1, Ordering::Relaxed);
            match state.get_mut(&partition) {
                Some(p) => p.files.push(Arc::new(file)),
                None => return Err(StoreError::Inconsistent { path: self.root.clone(), why: format!("file {id} of unknown partition {partition}") }),
            }
        }
        let mut stmt = conn.prepare("SELECT shard_id, sequence_number, sub_sequence_number, recovered_at, partition FROM bad_row_marks")?;
        let mut marks = HashMap::new();
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?, r.get::<_, String>(3)?, r.get::<_, i64>(4)?)))?;
        for row in rows {
            let (shard_id, sequence_number, sub, recovered_at, partition) = row?;
            marks.insert(BadRowId { shard_id, sequence_number, sub_sequence_number: sub as u32 }, Mark { recovered_at, partition: partition as u64 });
        }
        *self.marks.write_ignoring_poison() = marks;
        *self.state.write_ignoring_poison() = state;
        Ok(())
    }

    fn partition_dir(&self, partition: u64) -> PathBuf {
        self.root.join(format!("p-{partition:08}"))
    }

    fn index_path(&self, partition: u64, id: u64) -> PathBuf {
        self.partition_dir(partition).join(format!("i-{id:012}.idx"))
    }

    fn value_path(&self, partition: u64, shard: u32) -> PathBuf {
        self.partition_dir(partition).join(format!("v-{shard:04}.val"))
    }

    fn open_file(&self, partition: u64, id: u64, level: u32, units: (u64, u64)) -> Result<StoredFile, StoreError> {
        let path = self.index_path(partition, id);
        let handle = self.files.get(&path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => StoreError::Inconsistent { path: path.clone(), why: "an index file the catalog lists is missing".into() },
            _ => StoreError::Io { path: path.clone(), source: e },
        })?;
        let index = IndexFile::open(&path, &handle)?;
        Ok(StoredFile { partition, id, level, units, index, bad_row_seqs: Default::default(), replaced: Default::default() })
    }

    /// Deletes files no committed unit of work or merge left (an unfinished write, a
    /// merge's replaced inputs), and cuts value files back to their committed length.
    fn remove_unlisted(&self) -> Result<(), StoreError> {
        let state = self.state.read_ignoring_poison();
        for entry in std::fs::read_dir(&self.root).map_err(StoreError::io(&self.root))? {
            let entry = entry.map_err(StoreError::io(&self.root))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let id = name.strip_prefix("p-").and_then(|n| n.parse::<u64>().ok());
            match id.and_then(|id| state.get(&id).map(|p| (id, p))) {
                Some((id, p)) => self.clean_partition(id, p)?,
                None => std::fs::remove_dir_all(entry.path()).map_err(StoreError::io(&entry.path()))?,
            }
        }
        Ok(())
    }

    fn clean_partition(&self, id: u64, p: &PartitionState) -> Result<(), StoreError> {
        let dir = self.partition_dir(id);
        for entry in std::fs::read_dir(&dir).map_err(StoreError::io(&dir))? {
            let path = entry.map_err(StoreError::io(&dir))?.path();
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            if let Some(n) = name.strip_prefix("i-").and_then(|n| n.strip_suffix(".idx")).and_then(|n| n.parse::<u64>().ok()) {
                if !p.files.iter().any(|f| f.id == n) {
                    std::fs::remove_file(&path).map_err(StoreError::io(&path))?;
                }
            } else if let Some(shard) = name.strip_prefix("v-").and_then(|n| n.strip_suffix(".val")).and_then(|n| n.parse::<u32>().ok()) {
                match p.values.get(&shard) {
                    Some(&len) => {
                        let file = OpenOptions::new().write(true).open(&path).map_err(StoreError::io(&path))?;
                        let size = file.metadata().map_err(StoreError::io(&path))?.len();
                        if size < len {
                            return Err(StoreError::Inconsistent { path, why: format!("a value file holds {size} bytes, the catalog says {len} were committed") });
                        }
                        file.set_len(len).and_then(|()| file.sync_all()).map_err(StoreError::io(&path))?;
                    }
                    None => std::fs::remove_file(&path).map_err(StoreError::io(&path))?,
                }
            }
        }
        for shard in p.values.keys() {
            let path = self.value_path(id, *shard);
            if !path.exists() {
                return Err(StoreError::Inconsistent { path, why: "a value file the catalog lists is missing".into() });
            }
        }
        Ok(())
    }

    /// The partition units of work write to now, started anew when the span or the size
    /// of the current one is used up.
    fn current_partition(&self, now: i64, entries: u64) -> Result<(u64, i64), StoreError> {
        let mut current = self.current.lock_ignoring_poison();
        let span = self.config.partition_span().as_secs().max(1) as i64;
        let due = match current.id {
            None => true,
            Some(_) => now - current.opened_at >= span || current.entries >= PARTITION_MAX_ENTRIES,
        };
        if due {
            let id = self.next_partition.fetch_add(1, Ordering::Relaxed);
            let dir = self.partition_dir(id);
            std::fs::create_dir_all(&dir).map_err(StoreError::io(&dir))?;
            sync_dir(&self.root)?;
            *current = Current { id: Some(id), opened_at: now, entries: 0 };
            self.state.write_ignoring_poison().insert(id, PartitionState { opened_at: now, files: Vec::new(), in_flight: 0, values: BTreeMap::new() });
        }
        current.entries += entries;
        let id = current.id.expect("a current partition");
        if let Some(p) = self.state.write_ignoring_poison().get_mut(&id) {
            p.in_flight += 1;
        }
        Ok((id, current.opened_at))
    }

    /// Closes the current partition once its span is over, also when nothing is written:
    /// only a closed partition can be merged whole and, later, removed.
    pub fn close_stale_partition(&self, now: i64) {
        let mut current = self.current.lock_ignoring_poison();
        let span = self.config.partition_span().as_secs().max(1) as i64;
        if current.id.is_some() && now - current.opened_at >= span {
            *current = Current::default();
        }
    }

    /// Writes a unit of work's packed events and bad rows into the current partition and
    /// syncs them; nothing is visible until [`Store::publish`], after the catalog's
    /// transaction ([`Store::record`]) committed.
    pub fn prepare(&self, shard: u32, unit: PackedUnit) -> Result<PreparedWrite, StoreError> {
        let (n_events, n_bad) = (unit.events.len(), unit.bad_rows.len());
        if unit.is_empty() {
            return Ok(PreparedWrite { shard, partition: 0, opened_at: 0, value_len: 0, value_committed: 0, file: None, events: 0, bad_rows: 0 });
        }
        let (partition, opened_at) = self.current_partition(now_seconds(), (n_events + n_bad) as u64)?;
        match self.write_unit(shard, partition, &unit) {
            Ok((file, value_len, value_committed)) => Ok(PreparedWrite {
                shard,
                partition,
                opened_at,
                value_len,
                value_committed,
                file: Some(Arc::new(file)),
                events: n_events,
                bad_rows: n_bad,
            }),
            Err(e) => {
                self.end_flight(partition);
                Err(e)
            }
        }
    }

    fn end_flight(&self, partition: u64) {
        if let Some(p) = self.state.write_ignoring_poison().get_mut(&partition) {
            p.in_flight = p.in_flight.saturating_sub(1);
        }
    }

    /// Appends the values, writes the unit's index file; returns it, and the value file's
    /// length after and before.
    fn write_unit(&self, shard: u32, partition: u64, unit: &PackedUnit) -> Result<(StoredFile, u64, u64), StoreError> {
        let mut writer = self.writers[shard as usize].lock_ignoring_poison();
        let committed = self.committed_value_len(partition, shard);
        let path = self.value_path(partition, shard);
        if writer.partition != partition || writer.file.is_none() {
            let file = OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&path).map_err(StoreError::io(&path))?;
            writer.file = Some(file);
            writer.partition = partition;
        }
        let base = committed;
        let file = writer.file.as_ref().expect("opened above");
        if let Err(e) = file.write_all_at(&unit.bytes, base).and_then(|()| file.sync_data()) {
            // Nothing of this unit stays: cut back (a later unit writes at `committed`).
            let _ = file.set_len(committed);
            writer.file = None;
            return Err(StoreError::Io { path, source: e });
        }
        writer.len = base + unit.bytes.len() as u64;
        let value_len = writer.len;
        drop(writer);
        let value = |at: &values::Packed| ValueRef { shard, offset: base + at.offset, len: at.len, item: at.item };

        let id = self.next_file.fetch_add(1, Ordering::Relaxed);
        let index_path = self.index_path(partition, id);
        let written = (|| {
            let mut w = IndexWriter::create(&index_path)?;
            for e in &unit.events {
                let entry = Entry { key: Key { parts: [e.pk.as_bytes(), e.sk.as_bytes(), b""], sub: 0 }, kind: &e.event_type, arrival: e.arrival, value: value(&e.at) };
                w.push(Section::Events, &entry)?;
            }
            for b in &unit.bad_rows {
                let key = Key { parts: [b.failed_at.as_bytes(), b.id.shard_id.as_bytes(), b.id.sequence_number.as_bytes()], sub: b.id.sub_sequence_number };
                w.push(Section::BadRows, &Entry { key, kind: b.kind, arrival: b.arrival, value: value(&b.at) })?;
            }
            w.finish()
        })();
        let finished = written.map_err(StoreError::from).and_then(|_| sync_dir(&self.partition_dir(partition))).and_then(|()| self.open_file(partition, id, 0, (id, id)));
        match finished {
            Ok(file) => Ok((file, value_len, committed)),
            Err(e) => {
                let _ = std::fs::remove_file(&index_path);
                self.files.forget(&index_path);
                Err(e)
            }
        }
    }

    fn committed_value_len(&self, partition: u64, shard: u32) -> u64 {
        let state = self.state.read_ignoring_poison();
        state.get(&partition).and_then(|p| p.values.get(&shard)).copied().unwrap_or(0)
    }

    /// Records a prepared write in the catalog, inside the unit of work's transaction.
    pub fn record(&self, tx: &Transaction<'_>, prepared: &PreparedWrite) -> rusqlite::Result<()> {
        let Some(file) = &prepared.file else { return Ok(()) };
        tx.prepare_cached("INSERT OR IGNORE INTO store_partitions (id, opened_at) VALUES (?1, ?2)")?
            .execute(params![prepared.partition as i64, prepared.opened_at])?;
        tx.prepare_cached("INSERT INTO store_files (partition, file, level, gen_lo, gen_hi) VALUES (?1, ?2, 0, ?2, ?2)")?
            .execute(params![prepared.partition as i64, file.id as i64])?;
        tx.prepare_cached(
            "INSERT INTO store_values (partition, shard, committed_len) VALUES (?1, ?2, ?3)
             ON CONFLICT (partition, shard) DO UPDATE SET committed_len = excluded.committed_len",
        )?
        .execute(params![prepared.partition as i64, prepared.shard, prepared.value_len as i64])?;
        Ok(())
    }

    /// The transaction committed: the write becomes visible to queries.
    pub fn publish(&self, prepared: PreparedWrite) {
        let Some(file) = prepared.file else { return };
        let mut state = self.state.write_ignoring_poison();
        if let Some(p) = state.get_mut(&prepared.partition) {
            p.files.push(file);
            p.values.insert(prepared.shard, prepared.value_len);
            p.in_flight = p.in_flight.saturating_sub(1);
        }
    }

    /// The transaction failed: the write's index file goes and its values are cut off.
    pub fn abort(&self, prepared: PreparedWrite) {
        let Some(file) = prepared.file else { return };
        let _ = std::fs::remove_file(&file.index.path);
        self.files.forget(&file.index.path);
        let mut writer = self.writers[prepared.shard as usize].lock_ignoring_poison();
        if writer.partition == prepared.partition {
            if let Some(f) = &writer.file {
                if f.set_len(prepared.value_committed).is_err() {
                    writer.file = None;
                }
            }
            writer.len = prepared.value_committed;
        }
        drop(writer);
        self.end_flight(prepared.partition);
    }

    /// What readers see now: every partition, newest first, its files newest first.
    pub fn snapshot(&self) -> Vec<PartitionView> {
        let current = self.current.lock_ignoring_poison().id;
        let state = self.state.read_ignoring_poison();
        state
            .iter()
            .rev()
            .map(|(&id, p)| {
                let mut files = p.files.clone();
                files.sort_by(|a, b| b.units.1.cmp(&a.units.1));
                PartitionView {
                    id,
                    opened_at: p.opened_at,
                    dir: self.partition_dir(id),
                    files,
                    open: current == Some(id),
                    in_flight: p.in_flight,
                    value_bytes: p.values.values().sum(),
                }
            })
            .collect()
    }

    /// Whether an item that arrived at `arrival` is past retention at `now`.
    pub fn expired(&self, arrival: i64, now: i64) -> bool {
        arrival + self.config.retention.as_secs() as i64 <= now
    }

    /// The store's directory (`data/store`).
    pub fn root(&self) -> &Path {
        &self.root
    }

    pub(crate) fn file_handle(&self, path: &Path) -> std::io::Result<Arc<File>> {
        self.files.get(path)
    }

    /// A read handle on `file`'s index, or `None` when its partition was dropped after the
    /// caller's snapshot (see [`Store::handle_if_kept`]).
    pub(crate) fn index_file_if_kept(&self, file: &StoredFile) -> Result<Option<Arc<File>>, StoreError> {
        self.handle_if_kept(&file.index.path, file.partition)
    }

    /// The value block `value` of `partition`, read and decompressed, or `None` when the
    /// partition was dropped after the caller's snapshot (see [`Store::handle_if_kept`]).
    pub(crate) fn block_if_kept(&self, partition: u64, value: &ValueRef) -> Result<Option<Vec<u8>>, StoreError> {
        match self.handle_if_kept(&self.value_path(partition, value.shard), partition)? {
            Some(file) => Ok(Some(values::read_block(&file, value)?)),
            None => Ok(None),
        }
    }

    /// A read handle on `path`, a file of `partition`, or `None` when the partition was
    /// dropped after the caller's snapshot. Retention drops a partition (catalog and state
    /// first, then its directory) while a reader may still walk its files; its items are
    /// then gone, as they would be from a snapshot taken a moment later. A reader of
    /// another process (`pipeline store`) sees the drop as the directory gone. A file
    /// missing from a partition that is kept is an error.
    fn handle_if_kept(&self, path: &Path, partition: u64) -> Result<Option<Arc<File>>, StoreError> {
        match self.files.get(path) {
            Ok(file) => Ok(Some(file)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && self.dropped(partition) => Ok(None),
            Err(e) => Err(StoreError::Io { path: path.to_path_buf(), source: e }),
        }
    }

    fn dropped(&self, partition: u64) -> bool {
        !self.state.read_ignoring_poison().contains_key(&partition) || !self.partition_dir(partition).exists()
    }

    /// When the bad row `id` was marked recovered, if it was.
    pub fn recovered_at(&self, id: &BadRowId) -> Option<String> {
        self.marks.read_ignoring_poison().get(id).map(|m| m.recovered_at.clone())
    }

    /// Whether any bad row is marked recovered.
    pub fn has_marks(&self) -> bool {
        !self.marks.read_ignoring_poison().is_empty()
    }
}

/// The catalog's checkpoint-free helper for tests and tools: the store of `data_dir`,
/// opened read-only through a new connection.
pub fn open_for_reading(data_dir: &Path, retention: Duration) -> anyhow::Result<Store> {
    let db = data_dir.join("pipeline.db");
    let conn = Connection::open_with_flags(&db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
    let shards: u32 = conn.query_row("SELECT COALESCE(MAX(shard) + 1, 1) FROM store_values", [], |r| r.get(0)).optional()?.unwrap_or(1);
    let store = Store {
        root: data_dir.join("store"),
        config: StoreConfig { shards, retention },
        files: Arc::default(),
        state: RwLock::new(BTreeMap::new()),
        current: Mutex::new(Current::default()),
        writers: Vec::new(),
        next_file: AtomicU64::new(1),
        next_partition: AtomicU64::new(1),
        marks: RwLock::new(HashMap::new()),
    };
    // `pipeline up` may merge files away between our reading of the catalog and our opening
    // of them: a listed file gone means the catalog has moved on, so read it again (each
    // time as one snapshot). Once open, a file stays readable if it is deleted.
    let mut tries = 0;
    loop {
        let snapshot = conn.unchecked_transaction()?;
        match store.load_catalog(&snapshot) {
            Err(StoreError::Inconsistent { .. }) if tries < READ_CATALOG_TRIES => tries += 1,
            loaded => return loaded.map(|()| store).map_err(Into::into),
        }
        drop(snapshot);
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// How often [`open_for_reading`] reads the catalog again when a file it lists is gone.
const READ_CATALOG_TRIES: u32 = 20;
