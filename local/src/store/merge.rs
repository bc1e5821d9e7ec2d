//! The store's background work: merging runs of index files into one (so a query reads a
//! few files per partition), closing a partition whose span is over, and removing whole
//! partitions once everything in them is past retention. Each change is written and
//! synced first, then recorded in the catalog in one transaction, then the replaced files
//! are deleted: a crash at any point leaves either the old files or the new one listed.
//!
//! Merges take [`FAN_IN`] files of one level that follow each other in write order (so a
//! later write of a key still wins), and every file of a closed partition once nothing
//! writes to it any more. Only index entries are rewritten; the values stay where they
//! are.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use pipeline::sync::{MutexExt as _, RwLockExt as _};
use rusqlite::{Connection, params};

use super::index_file::{IndexWriter, Section, SectionCursor};
use super::{OwnedKey, PartitionView, Store, StoreError, StoredFile, now_seconds, sync_dir};

/// Files of one level merged together: each entry is rewritten about log16 of (the
/// partition's entries / a unit's) times, 3 or 4 within a partition of 10M.
pub const FAN_IN: usize = 16;

/// What a dropped partition's directory is renamed to start with while it is deleted.
pub(super) const DROPPED_PREFIX: &str = "dropped-";

/// The files of `p` to merge next, if any.
fn pick(p: &PartitionView) -> Option<Vec<Arc<StoredFile>>> {
    let mut files = p.files.clone();
    files.sort_by_key(|f| f.units.0);
    if !p.open && p.in_flight == 0 {
        return (files.len() > 1).then_some(files);
    }
    let mut i = 0;
    while i < files.len() {
        let level = files[i].level;
        let run = files[i..].iter().take_while(|f| f.level == level).count();
        if run >= FAN_IN {
            return Some(files[i..i + FAN_IN].to_vec());
        }
        i += run;
    }
    None
}

impl Store {
    /// Does one merge if one is due; whether it did.
    pub fn merge_once(&self, db: &Mutex<Connection>) -> Result<bool, StoreError> {
        for p in self.snapshot() {
            if let Some(files) = pick(&p) {
                self.merge(db, &p, &files)?;
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Merges `inputs` (files of partition `p`) into one new file and swaps it in.
    fn merge(&self, db: &Mutex<Connection>, p: &PartitionView, inputs: &[Arc<StoredFile>]) -> Result<(), StoreError> {
        let id = self.next_file.fetch_add(1, Ordering::Relaxed);
        let path = self.index_path(p.id, id);
        let now = now_seconds();
        let written = self.write_merged(&path, inputs, now);
        let merged = written.and_then(|()| sync_dir(&p.dir)).and_then(|()| {
            let level = inputs.iter().map(|f| f.level).max().unwrap_or(0) + 1;
            let units = (inputs.iter().map(|f| f.units.0).min().unwrap_or(id), inputs.iter().map(|f| f.units.1).max().unwrap_or(id));
            self.open_file(p.id, id, level, units)
        });
        let merged = match merged.and_then(|f| self.record_merge(db, p.id, inputs, &f).map(|()| f)) {
            Ok(f) => Arc::new(f),
            Err(e) => {
                let _ = std::fs::remove_file(&path);
                self.files.forget(&path);
                return Err(e);
            }
        };
        {
            let mut state = self.state.write_ignoring_poison();
            if let Some(part) = state.get_mut(&p.id) {
                part.files.retain(|f| !inputs.iter().any(|i| i.id == f.id));
                part.files.push(merged);
            }
        }
        for f in inputs {
            let _ = f.replaced.set(Arc::clone(&self.files));
        }
        Ok(())
    }

    /// Writes the merge of `inputs` to `path`, section by section, dropping entries past
    /// retention and older writes of a key.
    fn write_merged(&self, path: &std::path::Path, inputs: &[Arc<StoredFile>], now: i64) -> Result<(), StoreError> {
        let mut out = IndexWriter::create(path)?;
        for section in Section::ALL {
            let mut cursors = Vec::with_capacity(inputs.len());
            let mut units = Vec::with_capacity(inputs.len());
            for f in inputs {
                let handle = self.file_handle(&f.index.path).map_err(StoreError::io(&f.index.path))?;
                cursors.push(SectionCursor::new(&f.index, handle, section, None)?);
                units.push(f.units.1);
            }
            let mut heap = CursorHeap::new(&cursors, &units);
            let mut last: Option<OwnedKey> = None;
            while let Some(top) = heap.top() {
                {
                    let entry = cursors[top].peek().expect("a cursor in the heap has an entry");
                    // Of equal keys the newest write comes first: the others are dropped.
                    if last.as_ref().is_none_or(|l| l.key() != entry.key) {
                        if !self.expired(entry.arrival, now) {
                            out.push(section, &entry)?;
                        }
                        match &mut last {
                            Some(l) => l.assign(entry.key),
                            None => last = Some(OwnedKey::new(entry.key)),
                        }
                    }
                }
                cursors[top].advance()?;
                heap.replace_top(&cursors, &units);
            }
        }
        out.finish()?;
        Ok(())
    }

    fn record_merge(&self, db: &Mutex<Connection>, partition: u64, inputs: &[Arc<StoredFile>], merged: &StoredFile) -> Result<(), StoreError> {
        let mut conn = db.lock_ignoring_poison();
        let tx = conn.transaction()?;
        for f in inputs {
            tx.execute("DELETE FROM store_files WHERE partition = ?1 AND file = ?2", params![partition as i64, f.id as i64])?;
        }
        tx.execute(
            "INSERT INTO store_files (partition, file, level, gen_lo, gen_hi) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![partition as i64, merged.id as i64, merged.level, merged.units.0 as i64, merged.units.1 as i64],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Removes every closed partition whose newest arrival is past retention; returns how
    /// many it removed. Its cost is per partition, not per event: the catalog's rows of
    /// the partition and its directory go.
    pub fn drop_expired(&self, db: &Mutex<Connection>, now: i64) -> Result<usize, StoreError> {
        let mut dropped = 0;
        for p in self.snapshot() {
            if p.open || p.in_flight > 0 {
                continue;
            }
            let newest = p.files.iter().flat_map(|f| Section::ALL.map(|s| f.index.section(s))).filter(|s| s.entries > 0).map(|s| s.max_arrival).max();
            if newest.is_some_and(|n| !self.expired(n, now)) {
                continue;
            }
            self.drop_partition(db, &p)?;
            dropped += 1;
        }
        Ok(dropped)
    }

    fn drop_partition(&self, db: &Mutex<Connection>, p: &PartitionView) -> Result<(), StoreError> {
        {
            let mut conn = db.lock_ignoring_poison();
            let tx = conn.transaction()?;
            for table in ["store_files", "store_values", "bad_row_marks"] {
                tx.execute(&format!("DELETE FROM {table} WHERE partition = ?1"), [p.id as i64])?;
            }
            tx.execute("DELETE FROM store_partitions WHERE id = ?1", [p.id as i64])?;
            tx.commit()?;
        }
        self.state.write_ignoring_poison().remove(&p.id);
        self.marks.write_ignoring_poison().retain(|_, m| m.partition != p.id);
        for writer in &self.writers {
            let mut w = writer.lock_ignoring_poison();
            if w.partition == p.id {
                w.file = None;
            }
        }
        self.files.forget_dir(&p.dir);
        // Renamed away first, so that a reader in another process (`pipeline store`) sees
        // the whole directory go at once: a value file gone from a directory still there
        // would read as a broken store. A crash before the delete leaves the renamed
        // directory, which the next open removes as unlisted.
        let doomed = self.root.join(format!("{DROPPED_PREFIX}{}", p.dir.file_name().unwrap_or_default().to_string_lossy()));
        match std::fs::rename(&p.dir, &doomed) {
            Ok(()) => std::fs::remove_dir_all(&doomed).map_err(|e| StoreError::Io { path: doomed, source: e }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(StoreError::Io { path: p.dir.clone(), source: e }),
        }
    }
}

/// A binary heap of cursor indices, lowest key first and of equal keys the newest write
/// (highest unit number) first; keys are compared in place, never copied.
struct CursorHeap {
    heap: Vec<usize>,
}

impl CursorHeap {
    fn new(cursors: &[SectionCursor<'_>], units: &[u64]) -> Self {
        let mut h = Self { heap: Vec::with_capacity(cursors.len()) };
        for i in (0..cursors.len()).filter(|&i| cursors[i].peek().is_some()) {
            h.heap.push(i);
            h.sift_up(cursors, units, h.heap.len() - 1);
        }
        h
    }

    fn before(cursors: &[SectionCursor<'_>], units: &[u64], a: usize, b: usize) -> bool {
        let (ka, kb) = (cursors[a].peek_key().expect("in the heap"), cursors[b].peek_key().expect("in the heap"));
        ka < kb || (ka == kb && units[a] > units[b])
    }

    fn top(&self) -> Option<usize> {
        self.heap.first().copied()
    }

    /// The top cursor moved on: drop it if it is exhausted, and restore the order.
    fn replace_top(&mut self, cursors: &[SectionCursor<'_>], units: &[u64]) {
        if cursors[self.heap[0]].peek().is_none() {
            let last = self.heap.len() - 1;
            self.heap.swap(0, last);
            self.heap.pop();
        }
        if !self.heap.is_empty() {
            self.sift_down(cursors, units, 0);
        }
    }

    fn sift_up(&mut self, cursors: &[SectionCursor<'_>], units: &[u64], mut i: usize) {
        while i > 0 {
            let parent = (i - 1) / 2;
            if !Self::before(cursors, units, self.heap[i], self.heap[parent]) {
                return;
            }
            self.heap.swap(i, parent);
            i = parent;
        }
    }

    fn sift_down(&mut self, cursors: &[SectionCursor<'_>], units: &[u64], mut i: usize) {
        loop {
            let (l, r) = (2 * i + 1, 2 * i + 2);
            let mut first = i;
            if l < self.heap.len() && Self::before(cursors, units, self.heap[l], self.heap[first]) {
                first = l;
            }
            if r < self.heap.len() && Self::before(cursors, units, self.heap[r], self.heap[first]) {
                first = r;
            }
            if first == i {
                return;
            }
            self.heap.swap(i, first);
            i = first;
        }
    }
}
