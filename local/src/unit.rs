//! One unit of work: what a consumer's batch hands to the stores, committed as a whole or
//! not at all. The batch flow's sinks ([`crate::sinks`]) stage typed rows in a
//! [`UnitOfWork`]; the consumer then takes them ([`UnitOfWork::take`]) and calls
//! [`Staged::commit`] once, which
//!
//! 1. writes the archive's gzip members and syncs the files they touched
//!    ([`ArchiveWriter::append`]);
//! 2. writes and syncs the events and bad rows ([`Store::prepare`]);
//! 3. records, in one `pipeline.db` transaction, the store's new file, the archive files'
//!    committed lengths, the partial aggregates and the stream checkpoint;
//! 4. makes the writes visible ([`Store::publish`], [`ArchiveWriter::committed`]).
//!
//! A failure at any step undoes the earlier ones (the store's new file goes, the archive
//! files are cut back) and the consumer reads the batch again from the same checkpoint; a
//! crash between steps leaves files the catalog does not list, which the next start
//! removes. So the stream log stays the one durable source until step 3 commits.

use std::sync::Mutex;

use pipeline::sync::MutexExt as _;
use rusqlite::Connection;

use crate::aggregates::{StagedPartial, insert_partials};
use crate::archive::{self, ArchiveMember, ArchiveWriter};
use crate::pipeline_db;
use crate::store::pack::PackedUnit;
use crate::store::values::Packer;
use crate::store::{Store, StoreError};

/// The rows one batch's sinks staged: events and bad rows already packed into value
/// blocks, partial aggregates, and the archive's gzip members.
#[derive(Debug, Default)]
pub struct Staged {
    /// The batch's events and bad rows, packed into value blocks.
    pub values: PackedUnit,
    /// The batch's partial aggregates.
    pub partials: Vec<StagedPartial>,
    /// The batch's events for the archive, one gzip member per partition.
    pub archive: Vec<ArchiveMember>,
}

/// Where the sinks of one consumer stage their rows (shared with them).
pub struct UnitOfWork {
    staged: Mutex<Staged>,
    packer: Mutex<Packer>,
}

impl UnitOfWork {
    /// An empty unit, with the packer's scratch space.
    pub fn new() -> std::io::Result<Self> {
        Ok(Self { staged: Mutex::default(), packer: Mutex::new(Packer::new()?) })
    }

    fn with<T>(&self, f: impl FnOnce(&mut Staged, &mut Packer) -> T) -> T {
        let mut packer = self.packer.lock_ignoring_poison();
        f(&mut self.staged.lock_ignoring_poison(), &mut packer)
    }

    /// Packs the batch's events into the unit's value blocks.
    pub fn stage_events<'a>(&self, events: impl Iterator<Item = &'a pipeline::EnrichedEvent>) -> std::io::Result<()> {
        self.with(|s, packer| s.values.pack_events(packer, events))
    }

    /// Packs the batch's bad rows (with their record indices); returns the records of
    /// rows that could not be serialised.
    pub fn stage_bad_rows<'a>(&self, rows: impl Iterator<Item = (usize, &'a pipeline::BadRow)>) -> std::io::Result<Vec<usize>> {
        self.with(|s, packer| s.values.pack_bad_rows(packer, rows))
    }

    /// Adds partial aggregates to the unit.
    pub fn stage_partials(&self, partials: impl IntoIterator<Item = StagedPartial>) {
        self.with(|s, _| s.partials.extend(partials));
    }

    /// Adds archive members to the unit.
    pub fn stage_archive(&self, members: impl IntoIterator<Item = ArchiveMember>) {
        self.with(|s, _| s.archive.extend(members));
    }

    /// Takes what was staged, leaving the unit empty for the next batch.
    pub fn take(&self) -> Staged {
        std::mem::take(&mut self.staged.lock_ignoring_poison())
    }
}

/// The stores one shard's units of work commit to.
pub struct ShardStores<'a> {
    /// The shard's number.
    pub shard: u32,
    /// The shard's id (`shardId-000000000000`), the checkpoint's key.
    pub shard_id: &'a str,
    /// The events and bad-row store.
    pub store: &'a Store,
    /// The shard's archive writer.
    pub archive: &'a mut ArchiveWriter,
    /// The `pipeline.db` connection every consumer writes through, one at a time.
    pub db: &'a Mutex<Connection>,
}

/// Why a unit of work was not committed (nothing of it is kept).
#[derive(Debug, thiserror::Error)]
pub enum CommitError {
    /// An archive file could not be written or synced.
    #[error("cannot write the archive: {0}")]
    Archive(std::io::Error),
    /// The store could not write the unit's files.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The transaction in `pipeline.db` failed.
    #[error("cannot commit the unit of work to pipeline.db: {0}")]
    Catalog(#[from] rusqlite::Error),
}

impl CommitError {
    /// Whether the disk is full: the unit is tried again once there is room.
    pub fn is_disk_full(&self) -> bool {
        match self {
            CommitError::Archive(e) => e.raw_os_error() == Some(libc::ENOSPC) || e.kind() == std::io::ErrorKind::StorageFull,
            CommitError::Store(e) => e.is_disk_full(),
            CommitError::Catalog(rusqlite::Error::SqliteFailure(e, _)) => e.code == rusqlite::ErrorCode::DiskFull,
            CommitError::Catalog(_) => false,
        }
    }
}

/// What a committed unit of work stored.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Committed {
    /// Events stored.
    pub events: usize,
    /// Bad rows stored.
    pub bad_rows: usize,
}

impl Staged {
    /// Stores every staged row and moves the shard's checkpoint to `through`, atomically
    /// (see the module doc).
    pub fn commit(self, to: &mut ShardStores<'_>, through: u64) -> Result<Committed, CommitError> {
        let lengths = match to.archive.append(&self.archive) {
            Ok(lengths) => lengths,
            Err(e) => {
                to.archive.rollback();
                return Err(CommitError::Archive(e));
            }
        };
        let prepared = match to.store.prepare(to.shard, self.values) {
            Ok(p) => p,
            Err(e) => {
                to.archive.rollback();
                return Err(e.into());
            }
        };
        let committed = Committed { events: prepared.events, bad_rows: prepared.bad_rows };
        let result = {
            let mut conn = to.db.lock_ignoring_poison();
            (|| {
                let tx = conn.transaction()?;
                to.store.record(&tx, &prepared)?;
                archive::record(&tx, to.shard_id, &lengths)?;
                insert_partials(&tx, &self.partials)?;
                pipeline_db::set_checkpoint(&tx, to.shard_id, through)?;
                tx.commit()
            })()
        };
        match result {
            Ok(()) => {
                to.store.publish(prepared);
                to.archive.committed();
                Ok(committed)
            }
            Err(e) => {
                to.store.abort(prepared);
                to.archive.rollback();
                Err(e.into())
            }
        }
    }
}
