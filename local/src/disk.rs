//! What the data directory holds on disk, by part, and what the process has written:
//! measured by the upkeep thread every [`MEASURE_EVERY`] (walking the directories) and
//! read by `/metrics`, so that bytes per stored event and bytes written per event are
//! watched while the pipeline runs.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::store::Store;
use crate::store::index_file::Section;

/// How often the upkeep thread measures the data directory.
pub const MEASURE_EVERY: Duration = Duration::from_secs(10);

/// Bytes on disk by part, and the store's counts, as last measured.
#[derive(Debug, Default)]
pub struct DiskUsage {
    /// `store/`: value and index files.
    pub store: AtomicU64,
    /// `archive/`.
    pub archive: AtomicU64,
    /// `pipeline.db` and its write-ahead log.
    pub catalog: AtomicU64,
    /// `stream/` (what waits to be processed, and the file appended to).
    pub stream: AtomicU64,
    /// Events and bad rows the store's index files hold.
    pub events: AtomicU64,
    /// Bad rows the index files hold.
    pub bad_rows: AtomicU64,
    /// Partitions of the store.
    pub partitions: AtomicU64,
    /// Index files of the store.
    pub index_files: AtomicU64,
}

/// Bytes under `path` (0 if it does not exist).
pub fn bytes_under(path: &Path) -> u64 {
    let Ok(meta) = std::fs::symlink_metadata(path) else { return 0 };
    if !meta.is_dir() {
        return meta.len();
    }
    std::fs::read_dir(path).map(|entries| entries.flatten().map(|e| bytes_under(&e.path())).sum()).unwrap_or(0)
}

/// Bytes this process has caused to be written to storage (Linux `/proc/self/io`).
pub fn written_bytes() -> Option<u64> {
    let io = std::fs::read_to_string("/proc/self/io").ok()?;
    io.lines().find_map(|l| l.strip_prefix("write_bytes:")).and_then(|v| v.trim().parse().ok())
}

impl DiskUsage {
    /// Measures `data_dir` and the store now.
    pub fn measure(&self, data_dir: &Path, store: &Store) {
        let set = |a: &AtomicU64, v: u64| a.store(v, Ordering::Relaxed);
        set(&self.store, bytes_under(&data_dir.join("store")));
        set(&self.archive, bytes_under(&data_dir.join("archive")));
        set(&self.catalog, ["pipeline.db", "pipeline.db-wal", "pipeline.db-shm"].iter().map(|f| bytes_under(&data_dir.join(f))).sum());
        set(&self.stream, bytes_under(&data_dir.join("stream")));
        let views = store.partitions();
        let count = |s: Section| views.iter().flat_map(|p| &p.files).map(|f| f.index.section(s).entries).sum::<u64>();
        set(&self.events, count(Section::Events));
        set(&self.bad_rows, count(Section::BadRows));
        set(&self.partitions, views.len() as u64);
        set(&self.index_files, views.iter().map(|p| p.files.len() as u64).sum());
    }

    /// Bytes kept for the stored events (store, archive, catalog; the stream left out) per
    /// stored event; 0 before any.
    pub fn bytes_per_stored_event(&self) -> f64 {
        let events = self.events.load(Ordering::Relaxed);
        let kept = self.store.load(Ordering::Relaxed) + self.archive.load(Ordering::Relaxed) + self.catalog.load(Ordering::Relaxed);
        if events == 0 { 0.0 } else { kept as f64 / events as f64 }
    }
}
