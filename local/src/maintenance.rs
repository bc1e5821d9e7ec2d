//! Local mode's background upkeep, on a thread of its own at the consumers' priority: the
//! store's merges, closing its partitions on time and removing those past `--retention`,
//! removing archive files older than `--archive-retention`, and measuring the data
//! directory for `/metrics` ([`crate::disk`]). A failure (a full disk, say) is logged once
//! and tried again; it never stops the pipeline.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rusqlite::Connection;

use crate::disk::{DiskUsage, MEASURE_EVERY};
use crate::store::Store;

/// Wait when there was nothing to merge.
pub const IDLE_WAIT: Duration = Duration::from_millis(200);
/// How often partitions past retention are looked for.
pub const RETENTION_EVERY: Duration = Duration::from_secs(1);
/// How often old archive files are looked for.
pub const ARCHIVE_RETENTION_EVERY: Duration = Duration::from_secs(10);

/// What the upkeep thread works on.
pub struct Upkeep {
    /// The store whose files are merged and aged out.
    pub store: Arc<Store>,
    /// The `pipeline.db` connection the consumers share: merges and retention record their changes through it.
    pub db: Arc<Mutex<Connection>>,
    /// The data directory, whose size is measured.
    pub data_dir: PathBuf,
    /// Where the measured sizes go.
    pub disk: Arc<DiskUsage>,
    /// `None`: archive files are kept.
    pub archive_retention: Option<Duration>,
    /// Set at shutdown: the thread returns.
    pub stop: Arc<AtomicBool>,
}

/// Logs an error once per run of failures.
#[derive(Default)]
struct Once(bool);

impl Once {
    fn report<T, E: std::fmt::Display>(&mut self, what: &str, result: Result<T, E>) -> Option<T> {
        match result {
            Ok(v) => {
                self.0 = false;
                Some(v)
            }
            Err(e) => {
                if !std::mem::replace(&mut self.0, true) {
                    tracing::warn!(error = %e, "cannot {what}; trying again");
                }
                None
            }
        }
    }
}

/// Runs until `stop`.
pub fn run(upkeep: Upkeep) {
    let (mut merging, mut expiring, mut archiving) = (Once::default(), Once::default(), Once::default());
    let mut last_retention = Instant::now();
    let mut last_archive = Instant::now();
    let mut last_measure: Option<Instant> = None;
    let archive_root = upkeep.data_dir.join("archive");
    while !upkeep.stop.load(Ordering::Relaxed) {
        let store = &upkeep.store;
        store.close_stale_partition(chrono::Utc::now().timestamp());
        let merged = merging.report("merge store files", store.merge_once(&upkeep.db)).unwrap_or(false);
        if last_retention.elapsed() >= RETENTION_EVERY {
            last_retention = Instant::now();
            if let Some(n) = expiring.report("remove a store partition past retention", store.drop_expired(&upkeep.db, chrono::Utc::now().timestamp())) {
                if n > 0 {
                    tracing::info!(partitions = n, "removed store partitions past retention");
                }
            }
        }
        if let Some(keep) = upkeep.archive_retention {
            if last_archive.elapsed() >= ARCHIVE_RETENTION_EVERY.min(keep) {
                last_archive = Instant::now();
                if let Some(n) = archiving.report("remove old archive files", crate::archive::remove_older_than(&archive_root, keep)) {
                    if n > 0 {
                        tracing::info!(files = n, "removed archive files past --archive-retention");
                    }
                }
            }
        }
        if last_measure.is_none_or(|t| t.elapsed() >= MEASURE_EVERY) {
            last_measure = Some(Instant::now());
            upkeep.disk.measure(&upkeep.data_dir, store);
        }
        if !merged {
            std::thread::sleep(IDLE_WAIT);
        }
    }
}
