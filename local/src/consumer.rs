//! Shard consumers: each reads its shard in order from its checkpoint, runs the shared
//! batch flow with the local sinks ([`crate::sinks`]), and commits the batch as one unit
//! of work ([`crate::unit`]): events, bad rows, archive, partial aggregates and the new
//! checkpoint together. A batch whose writes fail (a full disk, say) is read again from
//! the same checkpoint after a pause, so a consumer never stops on a transient error.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pipeline::CoreConfig;
use pipeline::flow::{BatchFlow, Sinks};
use pipeline::sync::MutexExt as _;
use rusqlite::Connection;
use tokio::time::Instant;

use crate::archive::ArchiveWriter;
use crate::pipeline_db;
use crate::shard::shard_id;
use crate::sinks::{LocalAggregateStore, LocalArchive, LocalBadRowStore, LocalEventStore};
use crate::store::Store;
use crate::stream::{LogError, StreamCounters, StreamReader};
use crate::unit::{ShardStores, UnitOfWork};

/// Records read and processed together at most (Kinesis' largest batch).
pub const BATCH_RECORDS: usize = 10_000;
/// Wait before looking again at an empty shard.
pub const IDLE_POLL: Duration = Duration::from_millis(20);
/// Time a batch's writes may take before it is retried.
pub const BATCH_DEADLINE: Duration = Duration::from_secs(30);
/// Wait before trying a failed read or batch again.
pub const RETRY_WAIT: Duration = Duration::from_millis(500);
/// A batch smaller than this means the shard has caught up: the consumer waits
/// [`GATHER_WAIT`] before it reads again, so that a unit of work (its syncs, its index
/// file, its partial aggregates) covers more records. Events then show up within about
/// that wait.
pub const SMALL_BATCH: usize = 2_000;
/// How long a caught-up consumer waits before it reads again (see [`SMALL_BATCH`]).
pub const GATHER_WAIT: Duration = Duration::from_millis(100);

/// Totals the progress line and `/metrics` read.
#[derive(Debug, Default)]
pub struct ConsumerStats {
    /// Stream records processed.
    pub processed: AtomicU64,
    /// Valid events stored.
    pub events: AtomicU64,
    /// Bad rows stored, per type in [`pipeline::BadRowType::ALL`] order.
    pub bad_rows: [AtomicU64; pipeline::BadRowType::COUNT],
    /// Batches committed.
    pub batches: AtomicU64,
    /// Time the committed batches took, in microseconds.
    pub batch_micros: AtomicU64,
    /// Units of work that could not be committed (and were tried again).
    pub failed_commits: AtomicU64,
}

/// What one shard's consumer needs.
pub struct ConsumerConfig {
    /// The shard it reads.
    pub shard: u32,
    /// The connection every consumer writes `pipeline.db` through, one at a time.
    pub db: Arc<Mutex<Connection>>,
    /// The events and bad-row store.
    pub store: Arc<Store>,
    /// The archive's root directory (`data/archive`).
    pub archive_root: PathBuf,
    /// The schemas and enrichments.
    pub core: Arc<CoreConfig>,
    /// Its reader of the stream.
    pub reader: StreamReader,
    /// The stream's counters: the consumer reports how far it processed.
    pub counters: Arc<StreamCounters>,
    /// Totals for the progress line and `/metrics`.
    pub stats: Arc<ConsumerStats>,
    /// Set at shutdown: the consumer drains the shard and returns.
    pub stop: Arc<AtomicBool>,
}

/// Runs one shard's consumer until `stop` is set and the shard is drained.
pub async fn run(config: ConsumerConfig) -> anyhow::Result<()> {
    let id = shard_id(config.shard);
    let db = || config.db.lock_ignoring_poison();
    let reader = &config.reader;
    let unit = Arc::new(UnitOfWork::new()?);
    let flow = BatchFlow::new(
        Arc::clone(&config.core),
        Sinks {
            events: LocalEventStore(Arc::clone(&unit)),
            archive: LocalArchive(Arc::clone(&unit)),
            bad_rows: LocalBadRowStore(Arc::clone(&unit)),
            aggregates: LocalAggregateStore(Arc::clone(&unit)),
        },
    );
    let mut archive = ArchiveWriter::recover(&config.archive_root, &id, &db())?;
    // Records at or before the checkpoint were processed before a restart: the stream
    // knows (its lag at start-up counts only those after it) and drops them.
    let mut checkpoint = pipeline_db::checkpoint(&db(), &id)?;
    let mut failing = false;
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
        if batch.is_empty() {
            if config.stop.load(Ordering::Relaxed) {
                // Drained: finish every archive file so that its events are readable.
                archive.roll(&db(), true)?;
                return Ok(());
            }
            roll(&mut archive, &db(), &id);
            tokio::time::sleep(IDLE_POLL).await;
            continue;
        }
        let last = batch.last().map_or(checkpoint, |(seq, _)| *seq);
        let records: Vec<pipeline::Record> = batch.into_iter().map(|(_, r)| r).collect();
        let started = Instant::now();
        let report = flow.run(&records, started + BATCH_DEADLINE).await;
        let staged = unit.take();
        if !report.failed_records.is_empty() {
            // Nothing of this batch is written; read it again.
            tracing::warn!(shard = %id, failed = report.failed_records.len(), "batch writes failed; retrying the batch");
            tokio::time::sleep(RETRY_WAIT).await;
            continue;
        }
        let mut to = ShardStores { shard: config.shard, shard_id: &id, store: &config.store, archive: &mut archive, db: &config.db };
        if let Err(e) = staged.commit(&mut to, last) {
            config.stats.failed_commits.fetch_add(1, Ordering::Relaxed);
            // Logged once per run of failures: a full disk fails every try until it has room.
            if !std::mem::replace(&mut failing, true) {
                let why = if e.is_disk_full() { "the disk is full; trying again until there is room" } else { "trying the batch again" };
                tracing::error!(shard = %id, error = %e, "cannot store a batch: {why}");
            }
            tokio::time::sleep(RETRY_WAIT).await;
            continue;
        }
        if std::mem::replace(&mut failing, false) {
            tracing::info!(shard = %id, "storing batches again");
        }
        checkpoint = last;
        roll(&mut archive, &db(), &id);
        let n = records.len() as u64;
        config.counters.processed(config.shard, checkpoint, n);
        let stats = &config.stats;
        stats.processed.fetch_add(n, Ordering::Relaxed);
        stats.events.fetch_add(report.counts.valid as u64, Ordering::Relaxed);
        for (total, n) in stats.bad_rows.iter().zip(report.counts.bad) {
            total.fetch_add(n as u64, Ordering::Relaxed);
        }
        stats.batches.fetch_add(1, Ordering::Relaxed);
        stats.batch_micros.fetch_add(started.elapsed().as_micros() as u64, Ordering::Relaxed);
        if records.len() < SMALL_BATCH && !config.stop.load(Ordering::Relaxed) {
            tokio::time::sleep(GATHER_WAIT).await;
        }
    }
}

/// Finishes the archive files that are due; a failure is retried at the next chance.
fn roll(archive: &mut ArchiveWriter, db: &Connection, shard: &str) {
    if let Err(e) = archive.roll(db, false) {
        tracing::warn!(shard, error = %e, "cannot finish an archive file; trying again later");
    }
}
