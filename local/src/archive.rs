//! The local archive: enriched events as gzip NDJSON under
//! `archive/events/event_type=<t>/dt=<YYYY-MM-DD>/hr=<HH>/`, rolled by size and time.
//!
//! Each consumer keeps one open file per partition, `.<shard>-<first sequence>.jsonl.gz.open`
//! (hidden from readers), and appends one gzip member per batch (a file of several members
//! is one valid gzip stream). The file's length after each batch is stored in the batch's
//! own transaction ([`Staged`]), so after a crash the file is cut back to what was committed
//! and the replayed batch is appended once. A file is finished, renamed to
//! `<shard>-<first sequence>.jsonl.gz`, when it reaches [`ROLL_BYTES`], when it is
//! [`ROLL_AGE`] old, and at shutdown.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use pipeline::EnrichedEvent;
use pipeline::gzip::{Compression, gzip};
use pipeline::sink::{Archive, BatchKey, Indexed, SinkReport};
use rusqlite::{Connection, params};
use tokio::time::Instant;

use crate::store::Staged;

/// A file is finished once it holds this many compressed bytes.
pub const ROLL_BYTES: u64 = 64 * 1024 * 1024;
/// A file is finished once it is this old, so a quiet partition's events show up.
pub const ROLL_AGE: Duration = Duration::from_secs(60);
/// Archive files a shard keeps open at once at most; the server keeps this many file
/// descriptors per shard out of its connection cap.
pub const MAX_OPEN_FILES_PER_SHARD: usize = 64;

pub const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS archive_files (
        shard_id TEXT NOT NULL,
        path TEXT NOT NULL,
        committed_len INTEGER NOT NULL,
        opened_at INTEGER NOT NULL,
        PRIMARY KEY (shard_id, path)
    ) WITHOUT ROWID;";

/// An open archive file as the batch transaction records it: path, committed length,
/// opening time (Unix seconds).
pub type StagedFile = (String, u64, i64);

struct OpenFile {
    /// Kept open between batches: a batch appends with one write and one fsync.
    file: File,
    /// Bytes written, including a batch not yet committed.
    len: u64,
    /// Bytes the last committed batch left.
    committed: u64,
    opened_at: i64,
}

fn now_seconds() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

/// Writes `<dir>`'s entries to disk (a rename is durable once its directory is synced).
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

/// One consumer's archive writer.
pub struct LocalArchive {
    root: PathBuf,
    shard_id: String,
    staged: Arc<Staged>,
    open: Mutex<BTreeMap<PathBuf, OpenFile>>,
}

impl LocalArchive {
    /// Picks up the shard's open files where the last committed batch left them: cut back
    /// to their committed length; open files never committed are removed.
    pub fn recover(root: impl Into<PathBuf>, shard_id: &str, staged: Arc<Staged>, db: &Connection) -> anyhow::Result<Self> {
        let root = root.into();
        let mut open = BTreeMap::new();
        let mut gone = Vec::new();
        let mut stmt = db.prepare("SELECT path, committed_len, opened_at FROM archive_files WHERE shard_id = ?1")?;
        let rows = stmt.query_map([shard_id], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?, r.get::<_, i64>(2)?)))?;
        for row in rows {
            let (path, len, opened_at) = row?;
            let path = PathBuf::from(path);
            match OpenOptions::new().write(true).open(&path) {
                Ok(file) => {
                    file.set_len(len as u64)?;
                    file.sync_all()?;
                    open.insert(path, OpenFile { file, len: len as u64, committed: len as u64, opened_at });
                }
                // Renamed (finished) before the crash, its row not yet deleted.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => gone.push(path),
                Err(e) => return Err(anyhow::anyhow!("cannot reopen the archive file {}: {e}", path.display())),
            }
        }
        drop(stmt);
        for path in gone {
            db.execute("DELETE FROM archive_files WHERE shard_id = ?1 AND path = ?2", params![shard_id, path.to_string_lossy()])?;
        }
        let archive = Self { root, shard_id: shard_id.to_owned(), staged, open: Mutex::new(open) };
        archive.remove_uncommitted()?;
        Ok(archive)
    }

    fn open_files(&self) -> std::sync::MutexGuard<'_, BTreeMap<PathBuf, OpenFile>> {
        self.open.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Deletes this shard's open files that no committed batch wrote to.
    fn remove_uncommitted(&self) -> std::io::Result<()> {
        let prefix = format!(".{}-", self.shard_id);
        let known: Vec<PathBuf> = self.open_files().keys().cloned().collect();
        let mut dirs = vec![self.root.join("events")];
        while let Some(dir) = dirs.pop() {
            let entries = match std::fs::read_dir(&dir) {
                Ok(e) => e,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
            for entry in entries {
                let entry = entry?;
                let path = entry.path();
                let name = entry.file_name().to_string_lossy().into_owned();
                if entry.file_type()?.is_dir() {
                    dirs.push(path);
                } else if name.starts_with(&prefix) && name.ends_with(".open") && !known.contains(&path) {
                    std::fs::remove_file(&path)?;
                }
            }
        }
        Ok(())
    }

    /// The batch's transaction is committed: what was written is now kept.
    pub fn committed(&self) {
        for file in self.open_files().values_mut() {
            file.committed = file.len;
        }
    }

    /// Cuts every open file back to its committed length (a batch that will be read again).
    pub fn rollback(&self) {
        for (path, file) in self.open_files().iter_mut() {
            file.len = file.committed;
            if let Err(e) = file.file.set_len(file.committed) {
                tracing::error!(error = %e, path = %path.display(), "cannot cut an archive file back to its committed length");
            }
        }
    }

    /// Finishes the files due (all of them with `all`): renames each to its final name and
    /// forgets it. Call only between batches, when every byte written is committed.
    pub fn roll(&self, db: &Connection, all: bool) -> anyhow::Result<usize> {
        let now = now_seconds();
        let due: Vec<PathBuf> = self
            .open_files()
            .iter()
            .filter(|(_, f)| all || f.len >= ROLL_BYTES || now - f.opened_at >= ROLL_AGE.as_secs() as i64)
            .map(|(p, _)| p.clone())
            .collect();
        for path in &due {
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            let finished = path.with_file_name(name.trim_start_matches('.').trim_end_matches(".open"));
            let empty = self.open_files().get(path).is_some_and(|f| f.committed == 0);
            if empty {
                // Opened by a batch that was never committed: nothing to keep.
                std::fs::remove_file(path).or_else(|e| if e.kind() == std::io::ErrorKind::NotFound { Ok(()) } else { Err(e) })?;
            } else {
                std::fs::rename(path, &finished)?;
            }
            if let Some(dir) = path.parent() {
                sync_dir(dir)?;
            }
            db.execute("DELETE FROM archive_files WHERE shard_id = ?1 AND path = ?2", params![self.shard_id, path.to_string_lossy()])?;
            self.open_files().remove(path);
        }
        Ok(due.len())
    }

    /// Appends one gzip member holding `lines` to the partition's open file; the new
    /// length is staged for the batch's transaction.
    fn append(&self, dir: &Path, batch: &BatchKey, lines: &[&EnrichedEvent]) -> std::io::Result<StagedFile> {
        let mut text = Vec::with_capacity(lines.iter().map(|e| e.json.len() + 1).sum());
        for event in lines {
            text.extend_from_slice(&event.json);
            text.push(b'\n');
        }
        let member = gzip(&text, Compression::fast());

        let mut open = self.open_files();
        let existing = open.iter().find(|(p, _)| p.parent() == Some(dir)).map(|(p, _)| p.clone());
        let path = match existing {
            Some(p) => p,
            None => {
                std::fs::create_dir_all(dir)?;
                let path = dir.join(format!(".{}-{}.jsonl.gz.open", batch.shard_id, batch.first_sequence_number));
                let file = OpenOptions::new().create(true).write(true).truncate(true).open(&path)?;
                sync_dir(dir)?;
                open.insert(path.clone(), OpenFile { file, len: 0, committed: 0, opened_at: now_seconds() });
                path
            }
        };
        let Some(state) = open.get_mut(&path) else { return Err(std::io::Error::other("archive file state lost")) };
        // Written at `len`: a rollback already cut off what no committed batch wrote.
        std::io::Seek::seek(&mut state.file, std::io::SeekFrom::Start(state.len))?;
        state.file.write_all(&member)?;
        state.file.sync_data()?;
        state.len += member.len() as u64;
        Ok((path.to_string_lossy().into_owned(), state.len, state.opened_at))
    }
}

impl Archive for LocalArchive {
    async fn archive(&self, batch: &BatchKey, events: &[Indexed<'_, EnrichedEvent>], _: Instant) -> SinkReport {
        let mut partitions: BTreeMap<(String, String, String), Vec<&Indexed<'_, EnrichedEvent>>> = BTreeMap::new();
        for e in events {
            partitions.entry((e.item.event_type.to_string(), e.item.dt(), e.item.hr())).or_default().push(e);
        }
        let mut report = SinkReport::default();
        let mut files = Vec::new();
        for ((event_type, dt, hr), group) in partitions {
            let dir = self.root.join(format!("events/event_type={event_type}/dt={dt}/hr={hr}"));
            let items: Vec<&EnrichedEvent> = group.iter().map(|e| e.item).collect();
            match self.append(&dir, batch, &items) {
                Ok(file) => {
                    report.written += group.len();
                    files.push(file);
                }
                Err(e) => {
                    tracing::error!(error = %e, "cannot write the archive");
                    report.failed.extend(group.iter().map(|e| e.record));
                }
            }
        }
        self.staged.stage_archive_files(files);
        report
    }
}
