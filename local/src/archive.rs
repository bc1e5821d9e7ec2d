//! The local archive: enriched events as gzip NDJSON under
//! `archive/events/event_type=<t>/dt=<YYYY-MM-DD>/hr=<HH>/`, rolled by size and time.
//!
//! Each shard's consumer appends to one open file per partition,
//! `.<shard>-<first sequence>.jsonl.gz.open` (hidden from readers), one gzip member per
//! unit of work (a file of several members is one valid gzip stream). The unit of work
//! ([`crate::unit`]) hands its members over at commit: they are written, every file they
//! touched is synced once ([`ArchiveWriter::append`]), and the files' new lengths go into
//! the unit's transaction ([`record`]), so after a crash a file is cut back to what was
//! committed and the replayed batch is appended once. A file is finished, renamed to
//! `<shard>-<first sequence>.jsonl.gz`, when it reaches [`ROLL_BYTES`], when it is
//! [`ROLL_AGE`] old or has had nothing appended for [`ROLL_IDLE`], and at shutdown.
//!
//! A shard keeps at most [`MAX_OPEN_FILES_PER_SHARD`] file descriptors: a backfill over
//! thousands of hours closes the least recently used file (after syncing it) rather than
//! running out of descriptors; its state is kept and it is opened again when needed.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, Transaction, params};

/// A file is finished once it holds this many compressed bytes.
pub const ROLL_BYTES: u64 = 64 * 1024 * 1024;
/// A file is finished once it is this old, so a busy partition's events show up.
pub const ROLL_AGE: Duration = Duration::from_secs(60);
/// A file is finished once nothing was appended to it for this long, so the last events
/// of a load show up soon after it ends.
pub const ROLL_IDLE: Duration = Duration::from_secs(5);
/// Archive files a shard keeps open at once at most; the server keeps this many file
/// descriptors per shard out of its connection cap.
pub const MAX_OPEN_FILES_PER_SHARD: usize = 64;
/// A unit of work that touched more files than this syncs the file system once
/// (`syncfs`) instead of each file.
pub const SYNCFS_FROM: usize = 16;

/// The `archive_files` table of `pipeline.db`: each open file's committed length.
pub const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS archive_files (
        shard_id TEXT NOT NULL,
        path TEXT NOT NULL,
        committed_len INTEGER NOT NULL,
        opened_at INTEGER NOT NULL,
        PRIMARY KEY (shard_id, path)
    ) WITHOUT ROWID;";

/// One partition's share of a unit of work: a gzip member of its events.
#[derive(Clone, Debug)]
pub struct ArchiveMember {
    /// `events/event_type=<t>/dt=<d>/hr=<h>`, relative to the archive's root.
    pub partition: String,
    /// The unit's first sequence number: it names a file the member starts.
    pub first_sequence: String,
    /// The events as one gzip member of NDJSON.
    pub gzip: Vec<u8>,
}

/// An open file's length as the unit of work's transaction records it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArchiveFileLength {
    /// The open file, relative to the archive's root.
    pub path: String,
    /// Its length once the unit of work commits: after a crash it is cut back to this.
    pub committed_len: u64,
    /// Unix seconds.
    pub opened_at: i64,
}

/// Writes the lengths of a unit of work's files in its transaction.
pub fn record(tx: &Transaction<'_>, shard_id: &str, lengths: &[ArchiveFileLength]) -> rusqlite::Result<()> {
    let mut file = tx.prepare_cached(
        "INSERT INTO archive_files (shard_id, path, committed_len, opened_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (shard_id, path) DO UPDATE SET committed_len = excluded.committed_len",
    )?;
    for f in lengths {
        file.execute(params![shard_id, f.path, f.committed_len as i64, f.opened_at])?;
    }
    Ok(())
}

struct OpenFile {
    path: PathBuf,
    /// Open between units while there is room; `None` once closed to make room.
    file: Option<File>,
    /// Bytes written, including a unit not yet committed.
    len: u64,
    /// Bytes the last committed unit left.
    committed: u64,
    opened_at: i64,
    /// Written since its last sync.
    dirty: bool,
    last_used: u64,
    last_write: Instant,
}

impl OpenFile {
    fn handle(&mut self) -> std::io::Result<&File> {
        if self.file.is_none() {
            self.file = Some(OpenOptions::new().write(true).open(&self.path)?);
        }
        Ok(self.file.as_ref().expect("opened above"))
    }
}

fn now_seconds() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

/// Writes `<dir>`'s entries to disk (a new or renamed file is durable once its directory is).
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Syncs the whole file system that holds `file` (Linux `syncfs`).
fn sync_file_system(file: &File) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: a plain syscall on a descriptor this process owns.
    if unsafe { libc::syncfs(file.as_raw_fd()) } == 0 { Ok(()) } else { Err(std::io::Error::last_os_error()) }
}

/// Makes `root/events/`, so that the layout is there from the start for readers
/// (`loadtest --archive-dir`) too.
pub fn create_layout(root: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(root.join("events")).map_err(|e| anyhow::anyhow!("cannot create the archive in {}: {e}", root.display()))
}

/// One shard's archive files.
pub struct ArchiveWriter {
    root: PathBuf,
    shard_id: String,
    /// By partition (relative path).
    files: BTreeMap<String, OpenFile>,
    clock: u64,
}

impl ArchiveWriter {
    /// Picks up the shard's open files where the last committed unit left them: cut back
    /// to their committed length; open files never committed are removed.
    pub fn recover(root: impl Into<PathBuf>, shard_id: &str, db: &Connection) -> anyhow::Result<Self> {
        let root = root.into();
        create_layout(&root)?;
        let mut files = BTreeMap::new();
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
                    let partition = partition_of(&root, &path);
                    let open = OpenFile { path, file: None, len: len as u64, committed: len as u64, opened_at, dirty: false, last_used: 0, last_write: Instant::now() };
                    files.insert(partition, open);
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
        let writer = Self { root, shard_id: shard_id.to_owned(), files, clock: 0 };
        writer.remove_uncommitted()?;
        Ok(writer)
    }

    /// Deletes this shard's open files that no committed unit wrote to.
    fn remove_uncommitted(&self) -> std::io::Result<()> {
        let prefix = format!(".{}-", self.shard_id);
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
                } else if name.starts_with(&prefix) && name.ends_with(".open") && !self.files.values().any(|f| f.path == path) {
                    std::fs::remove_file(&path)?;
                }
            }
        }
        Ok(())
    }

    /// File descriptors open now.
    pub fn open_descriptors(&self) -> usize {
        self.files.values().filter(|f| f.file.is_some()).count()
    }

    /// Closes the least recently used descriptor (syncing its file first if it holds
    /// unsynced bytes), so that one more can be opened.
    fn make_room(&mut self) -> std::io::Result<()> {
        while self.open_descriptors() >= MAX_OPEN_FILES_PER_SHARD {
            let Some(f) = self.files.values_mut().filter(|f| f.file.is_some()).min_by_key(|f| f.last_used) else { return Ok(()) };
            if f.dirty {
                f.handle()?.sync_data()?;
                f.dirty = false;
            }
            f.file = None;
        }
        Ok(())
    }

    /// Writes a unit of work's members and syncs every file they touched; returns the
    /// lengths its transaction must record. On an error nothing of the unit stays
    /// committed: call [`ArchiveWriter::rollback`].
    pub fn append(&mut self, members: &[ArchiveMember]) -> std::io::Result<Vec<ArchiveFileLength>> {
        let mut touched = Vec::new();
        let mut new_dirs = Vec::new();
        for m in members {
            self.clock += 1;
            let clock = self.clock;
            if !self.files.contains_key(&m.partition) {
                let dir = self.root.join(&m.partition);
                std::fs::create_dir_all(&dir)?;
                let path = dir.join(format!(".{}-{}.jsonl.gz.open", self.shard_id, m.first_sequence));
                self.make_room()?;
                let file = OpenOptions::new().create(true).write(true).truncate(true).open(&path)?;
                new_dirs.push(dir);
                let open = OpenFile { path, file: Some(file), len: 0, committed: 0, opened_at: now_seconds(), dirty: false, last_used: clock, last_write: Instant::now() };
                self.files.insert(m.partition.clone(), open);
            } else if self.files.get(&m.partition).is_some_and(|f| f.file.is_none()) {
                self.make_room()?;
            }
            let f = self.files.get_mut(&m.partition).expect("inserted above");
            // Written at `len`: a rollback already cut off what no committed unit wrote.
            let at = f.len;
            f.handle()?.write_all_at(&m.gzip, at)?;
            f.len += m.gzip.len() as u64;
            (f.dirty, f.last_used, f.last_write) = (true, clock, Instant::now());
            touched.push(m.partition.clone());
        }
        touched.sort();
        touched.dedup();
        self.sync(&touched, &new_dirs)?;
        Ok(touched
            .iter()
            .filter_map(|p| self.files.get(p))
            .map(|f| ArchiveFileLength { path: f.path.to_string_lossy().into_owned(), committed_len: f.len, opened_at: f.opened_at })
            .collect())
    }

    /// Syncs what a unit wrote: each file (and each new file's directory), or the whole
    /// file system once when that is fewer calls.
    fn sync(&mut self, touched: &[String], new_dirs: &[PathBuf]) -> std::io::Result<()> {
        let dirty: Vec<&String> = touched.iter().filter(|p| self.files.get(*p).is_some_and(|f| f.dirty)).collect();
        if dirty.len() + new_dirs.len() > SYNCFS_FROM {
            let any = self.files.values_mut().find(|f| f.file.is_some()).map(|f| f.handle().and_then(|h| h.try_clone())).transpose()?;
            let handle = match any {
                Some(h) => h,
                None => File::open(&self.root)?,
            };
            sync_file_system(&handle)?;
        } else {
            let dirty: Vec<String> = dirty.into_iter().cloned().collect();
            for p in &dirty {
                if let Some(f) = self.files.get_mut(p) {
                    f.handle()?.sync_data()?;
                }
            }
            for dir in new_dirs {
                sync_dir(dir)?;
                if let Some(parent) = dir.parent() {
                    sync_dir(parent)?;
                }
            }
        }
        for p in touched {
            if let Some(f) = self.files.get_mut(p) {
                f.dirty = false;
            }
        }
        Ok(())
    }

    /// The unit of work's transaction committed: what was written is now kept.
    pub fn committed(&mut self) {
        for file in self.files.values_mut() {
            file.committed = file.len;
        }
    }

    /// Cuts every file back to its committed length (a unit of work that will be done
    /// again) and closes every descriptor: the failure may have been a lack of them.
    pub fn rollback(&mut self) {
        self.files.retain(|_, f| {
            if f.len != f.committed {
                let committed = f.committed;
                let cut = f.handle().and_then(|h| h.set_len(committed));
                if let Err(e) = cut {
                    tracing::error!(error = %e, path = %f.path.display(), "cannot cut an archive file back to its committed length");
                }
                f.len = f.committed;
            }
            f.file = None;
            f.dirty = false;
            // A file no committed unit wrote to is forgotten; its name is used again.
            if f.committed == 0 {
                let _ = std::fs::remove_file(&f.path);
                return false;
            }
            true
        });
    }

    /// Finishes the files due (all of them with `all`): renames each to its final name and
    /// forgets it. Call only between units of work, when every byte written is committed.
    pub fn roll(&mut self, db: &Connection, all: bool) -> anyhow::Result<usize> {
        let now = now_seconds();
        let due: Vec<String> = self
            .files
            .iter()
            .filter(|(_, f)| {
                all || f.len >= ROLL_BYTES || now - f.opened_at >= ROLL_AGE.as_secs() as i64 || f.last_write.elapsed() >= ROLL_IDLE
            })
            .map(|(p, _)| p.clone())
            .collect();
        for partition in &due {
            let Some(f) = self.files.get(partition) else { continue };
            let path = f.path.clone();
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            let finished = path.with_file_name(name.trim_start_matches('.').trim_end_matches(".open"));
            if f.committed == 0 {
                // Opened by a unit that was never committed: nothing to keep.
                std::fs::remove_file(&path).or_else(|e| if e.kind() == std::io::ErrorKind::NotFound { Ok(()) } else { Err(e) })?;
            } else {
                std::fs::rename(&path, &finished)?;
            }
            if let Some(dir) = path.parent() {
                sync_dir(dir)?;
            }
            db.execute("DELETE FROM archive_files WHERE shard_id = ?1 AND path = ?2", params![self.shard_id, path.to_string_lossy()])?;
            self.files.remove(partition);
        }
        Ok(due.len())
    }
}

/// The partition (relative to the archive root) of an open file's path.
fn partition_of(root: &Path, path: &Path) -> String {
    path.parent().and_then(|d| d.strip_prefix(root).ok()).map(|d| d.to_string_lossy().into_owned()).unwrap_or_default()
}

/// The archive partition of an event: `events/event_type=<t>/dt=<d>/hr=<h>`.
pub fn partition(event_type: &str, dt: &str, hr: &str) -> String {
    format!("events/event_type={event_type}/dt={dt}/hr={hr}")
}

/// Removes finished archive files last written more than `keep` ago (and the directories
/// left empty); returns how many it removed. Its cost is per file, not per event.
pub fn remove_older_than(root: &Path, keep: Duration) -> std::io::Result<usize> {
    let Some(cutoff) = SystemTime::now().checked_sub(keep) else { return Ok(0) };
    let mut removed = 0;
    let mut dirs = vec![root.join("events")];
    let mut seen = Vec::new();
    while let Some(dir) = dirs.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        seen.push(dir.clone());
        for entry in entries {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let meta = entry.metadata()?;
            if meta.is_dir() {
                dirs.push(entry.path());
            } else if name.ends_with(".jsonl.gz") && !name.starts_with('.') && meta.modified()? < cutoff {
                std::fs::remove_file(entry.path())?;
                removed += 1;
            }
        }
    }
    // Deepest first: a partition directory left empty goes, then its parents.
    seen.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
    for dir in seen.into_iter().filter(|d| d != &root.join("events")) {
        let _ = std::fs::remove_dir(&dir);
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(SCHEMA).unwrap();
        conn
    }

    fn member(partition: &str, seq: u64, text: &str) -> ArchiveMember {
        ArchiveMember { partition: partition.into(), first_sequence: format!("{seq:020}"), gzip: pipeline::gzip::gzip(text.as_bytes(), pipeline::gzip::Compression::fast()) }
    }

    fn commit(w: &mut ArchiveWriter, conn: &mut Connection, members: &[ArchiveMember]) {
        let lengths = w.append(members).unwrap();
        let tx = conn.transaction().unwrap();
        record(&tx, "shardId-000000000000", &lengths).unwrap();
        tx.commit().unwrap();
        w.committed();
    }

    fn finished_text(root: &Path) -> Vec<String> {
        use std::io::Read;
        let mut out = Vec::new();
        let mut dirs = vec![root.join("events")];
        while let Some(d) = dirs.pop() {
            for e in std::fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    dirs.push(p);
                } else if !p.file_name().unwrap().to_string_lossy().starts_with('.') {
                    let mut s = String::new();
                    flate2::read::MultiGzDecoder::new(File::open(&p).unwrap()).read_to_string(&mut s).unwrap();
                    out.extend(s.lines().map(str::to_owned));
                }
            }
        }
        out.sort();
        out
    }

    #[test]
    fn a_wide_unit_keeps_descriptors_bounded_and_every_file_whole() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = db();
        let mut w = ArchiveWriter::recover(dir.path(), "shardId-000000000000", &conn).unwrap();
        // 2,000 distinct hours in one unit: past the descriptor bound, synced once.
        let members: Vec<ArchiveMember> = (0..2_000).map(|h| member(&partition("pageview", &format!("d{}", h / 24), &format!("{:02}", h % 24)), 1, &format!("{{\"h\":{h}}}\n"))).collect();
        commit(&mut w, &mut conn, &members);
        assert!(w.open_descriptors() <= MAX_OPEN_FILES_PER_SHARD);
        // A second unit over the same hours appends to the same (reopened) files.
        let again: Vec<ArchiveMember> = (0..2_000).map(|h| member(&partition("pageview", &format!("d{}", h / 24), &format!("{:02}", h % 24)), 9, &format!("{{\"h\":{h},\"again\":1}}\n"))).collect();
        commit(&mut w, &mut conn, &again);
        assert!(w.open_descriptors() <= MAX_OPEN_FILES_PER_SHARD);
        assert_eq!(w.roll(&conn, true).unwrap(), 2_000);
        assert_eq!(finished_text(dir.path()).len(), 4_000);
        let rows: i64 = conn.query_row("SELECT COUNT(*) FROM archive_files", [], |r| r.get(0)).unwrap();
        assert_eq!(rows, 0);
    }

    #[test]
    fn a_rolled_back_unit_leaves_nothing_and_a_restart_cuts_back_to_the_commit() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = db();
        let p = partition("click", "2026-11-27", "12");
        let mut w = ArchiveWriter::recover(dir.path(), "shardId-000000000000", &conn).unwrap();
        commit(&mut w, &mut conn, &[member(&p, 1, "{\"a\":1}\n")]);
        w.append(&[member(&p, 2, "{\"b\":2}\n"), member(&partition("click", "2026-11-27", "13"), 2, "{\"c\":3}\n")]).unwrap();
        w.rollback();
        assert_eq!(w.open_descriptors(), 0, "a failed unit closes its descriptors");
        // A crash after an append that was never committed.
        w.append(&[member(&p, 3, "{\"d\":4}\n")]).unwrap();
        drop(w);
        let mut w = ArchiveWriter::recover(dir.path(), "shardId-000000000000", &conn).unwrap();
        commit(&mut w, &mut conn, &[member(&p, 4, "{\"e\":5}\n")]);
        w.roll(&conn, true).unwrap();
        assert_eq!(finished_text(dir.path()), ["{\"a\":1}", "{\"e\":5}"]);
    }

    #[test]
    fn old_finished_files_are_removed_and_open_ones_kept() {
        let dir = tempfile::tempdir().unwrap();
        let part = dir.path().join(partition("click", "2020-01-01", "00"));
        std::fs::create_dir_all(&part).unwrap();
        std::fs::write(part.join("shardId-000000000000-1.jsonl.gz"), b"x").unwrap();
        std::fs::write(part.join(".shardId-000000000000-2.jsonl.gz.open"), b"x").unwrap();
        assert_eq!(remove_older_than(dir.path(), Duration::from_secs(3600)).unwrap(), 0);
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(remove_older_than(dir.path(), Duration::from_millis(1)).unwrap(), 1);
        assert!(part.join(".shardId-000000000000-2.jsonl.gz.open").exists());
        std::fs::remove_file(part.join(".shardId-000000000000-2.jsonl.gz.open")).unwrap();
        remove_older_than(dir.path(), Duration::from_millis(1)).unwrap();
        assert!(!dir.path().join("events/event_type=click").exists(), "empty partition directories go");
    }
}
