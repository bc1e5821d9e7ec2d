//! Shard consumers: each reads its shard in order from its checkpoint, runs the shared
//! batch flow with the local sinks, and commits the batch's rows with the new checkpoint
//! in one transaction. A batch that fails is read again from the same checkpoint.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use pipeline::CoreConfig;
use pipeline::flow::{BatchFlow, Sinks};
use rusqlite::Connection;
use tokio::time::Instant;

use crate::aggregates::LocalAggregateStore;
use crate::archive::LocalArchive;
use crate::shard::shard_id;
use crate::store::{self, LocalBadRowStore, LocalEventStore, Staged};
use crate::stream::{LogError, StreamCounters, StreamReader};

/// Records read and processed together at most (Kinesis' largest batch).
pub const BATCH_RECORDS: usize = 10_000;
/// Wait before looking again at an empty shard.
pub const IDLE_POLL: Duration = Duration::from_millis(20);
/// Time a batch's writes may take before it is retried.
pub const BATCH_DEADLINE: Duration = Duration::from_secs(30);
/// Wait before trying a failed read or batch again.
pub const RETRY_WAIT: Duration = Duration::from_millis(500);

/// Totals the progress line and `/metrics` read.
#[derive(Debug, Default)]
pub struct ConsumerStats {
    pub processed: AtomicU64,
    pub events: AtomicU64,
    pub bad_rows: [AtomicU64; pipeline::BadRowType::COUNT],
    pub batches: AtomicU64,
    pub batch_micros: AtomicU64,
}

pub struct ConsumerConfig {
    pub shard: u32,
    /// The connection every consumer writes `pipeline.db` through, one at a time.
    pub db: Arc<Mutex<Connection>>,
    pub archive_root: PathBuf,
    pub core: Arc<CoreConfig>,
    pub reader: StreamReader,
    pub counters: Arc<StreamCounters>,
    pub stats: Arc<ConsumerStats>,
    pub stop: Arc<AtomicBool>,
}

/// Runs one shard's consumer until `stop` is set and the shard is drained.
pub async fn run(config: ConsumerConfig) -> anyhow::Result<()> {
    let id = shard_id(config.shard);
    let db = || config.db.lock().unwrap_or_else(|e| e.into_inner());
    let reader = &config.reader;
    let staged = Arc::new(Staged::default());
    let flow = BatchFlow::new(
        Arc::clone(&config.core),
        Sinks {
            events: LocalEventStore(Arc::clone(&staged)),
            archive: LocalArchive::recover(&config.archive_root, &id, Arc::clone(&staged), &db())?,
            bad_rows: LocalBadRowStore(Arc::clone(&staged)),
            aggregates: LocalAggregateStore(Arc::clone(&staged)),
        },
    );
    // Records at or before the checkpoint were processed before a restart: the stream
    // knows (its lag at start-up counts only those after it) and drops them.
    let mut checkpoint = store::checkpoint(&db(), &id)?;
    loop {
        // Errors here are transient (a busy disk, a full one): log, wait, read again. A
        // damaged record is not: reading it again would stall the shard for ever.
        let batch = match reader.read(config.shard, checkpoint, BATCH_RECORDS) {
            Ok(batch) => batch,
            Err(e @ LogError::Corrupt { .. }) => return Err(anyhow::Error::new(e).context(format!("shard {id} cannot go on"))),
            Err(e) => {
                tracing::error!(shard = %id, error = %e, "cannot read the stream; retrying");
                tokio::time::sleep(RETRY_WAIT).await;
                continue;
            }
        };
        let archive = &flow.sinks().archive;
        if batch.is_empty() {
            if config.stop.load(Ordering::Relaxed) {
                // Drained: finish every archive file so that its events are readable.
                archive.roll(&db(), true)?;
                return Ok(());
            }
            roll(archive, &db(), &id);
            tokio::time::sleep(IDLE_POLL).await;
            continue;
        }
        let last = batch.last().map_or(checkpoint, |(seq, _)| *seq);
        let records: Vec<pipeline::Record> = batch.into_iter().map(|(_, r)| r).collect();
        let report = flow.run(&records, Instant::now() + BATCH_DEADLINE).await;
        if !report.failed_records.is_empty() {
            // Nothing of this batch is committed; read it again.
            tracing::warn!(shard = %id, failed = report.failed_records.len(), "batch writes failed; retrying the batch");
            staged.clear();
            archive.rollback();
            tokio::time::sleep(RETRY_WAIT).await;
            continue;
        }
        // The connection is released here, not held through the retry's wait below.
        let committed = staged.commit(&mut db(), &id, last);
        if let Err(e) = committed {
            tracing::error!(shard = %id, error = %e, "cannot store the batch; processing it again");
            staged.clear();
            archive.rollback();
            tokio::time::sleep(RETRY_WAIT).await;
            continue;
        }
        checkpoint = last;
        archive.committed();
        roll(archive, &db(), &id);
        let n = records.len() as u64;
        config.counters.processed(config.shard, checkpoint, n);
        let stats = &config.stats;
        stats.processed.fetch_add(n, Ordering::Relaxed);
        stats.events.fetch_add(report.counts.valid as u64, Ordering::Relaxed);
        for (total, n) in stats.bad_rows.iter().zip(report.counts.bad) {
            total.fetch_add(n as u64, Ordering::Relaxed);
        }
        stats.batches.fetch_add(1, Ordering::Relaxed);
        stats.batch_micros.fetch_add(report.total_time.as_micros() as u64, Ordering::Relaxed);
    }
}

/// Finishes the archive files that are due; a failure is retried at the next chance.
fn roll(archive: &LocalArchive, db: &rusqlite::Connection, shard: &str) {
    if let Err(e) = archive.roll(db, false) {
        tracing::warn!(shard, error = %e, "cannot finish an archive file; trying again later");
    }
}
