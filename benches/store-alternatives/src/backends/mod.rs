//! The backends side by side, each behind [`Backend`]: local mode's store as the consumer
//! calls it ([`ours`]), SQLite as one table and as one file per hour ([`sqlite`]), fjall
//! ([`fjall_lsm`]) and RocksDB ([`rocks`]). Every backend gets the same keys and value bytes
//! and makes each unit of work durable, with its checkpoint, before `write` returns (one
//! sync per batch or more: local mode's store needs them, its catalog being another file).

#[cfg(feature = "fjall")]
pub mod fjall_lsm;
pub mod ours;
#[cfg(feature = "rocksdb")]
pub mod rocks;
pub mod sqlite;

use std::path::Path;

use crate::events::{Batch, StoredEvent};

/// One store under test.
pub trait Backend {
    /// Stores one unit of work and its checkpoint, durably and atomically.
    fn write(&mut self, batch: &Batch) -> anyhow::Result<()>;
    /// Lets the backend finish its own background work (flushes, merges, compactions).
    fn finish(&mut self) -> anyhow::Result<()>;
    /// Up to `limit` of one user's events with `from <= sk < to`, newest first, as stored.
    fn user_events(&self, pk: &str, from: &str, to: &str, limit: usize) -> anyhow::Result<Vec<Vec<u8>>>;
    /// What the engine reports about its own work (write amplification, levels), if anything.
    fn engine_report(&self) -> Option<String> {
        None
    }
}

/// Which backend a run measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Kind {
    /// Local mode's store: index files over zstd value blocks, catalog in pipeline.db.
    Ours,
    /// SQLite, one events table with a unique (pk, sk) index (the layout before the store).
    Sqlite,
    /// SQLite, the same table in one file per hour of event time.
    SqliteHourly,
    /// fjall (an LSM tree in Rust), default options.
    Fjall,
    /// RocksDB through the `rocksdb` crate, zstd, 256 MiB write buffers.
    Rocksdb,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Ours => "ours",
            Kind::Sqlite => "sqlite",
            Kind::SqliteHourly => "sqlite-hourly",
            Kind::Fjall => "fjall",
            Kind::Rocksdb => "rocksdb",
        }
    }
}

/// Opens a new backend of `kind` in the empty directory `dir`.
pub fn open(kind: Kind, dir: &Path) -> anyhow::Result<Box<dyn Backend>> {
    Ok(match kind {
        Kind::Ours => Box::new(ours::Ours::open(dir)?),
        Kind::Sqlite => Box::new(sqlite::OneTable::open(dir)?),
        Kind::SqliteHourly => Box::new(sqlite::Hourly::open(dir)?),
        #[cfg(feature = "fjall")]
        Kind::Fjall => Box::new(fjall_lsm::Fjall::open(dir)?),
        #[cfg(feature = "rocksdb")]
        Kind::Rocksdb => Box::new(rocks::Rocks::open(dir)?),
        #[allow(unreachable_patterns)]
        other => anyhow::bail!("this build has no {} backend: build with the default features", other.name()),
    })
}

/// The key-value stores' key of an event: `pk`, a 0 byte (below every byte of a user id,
/// so one user's keys are contiguous), `sk`.
pub fn kv_key(pk: &str, sk: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(pk.len() + 1 + sk.len());
    key.extend_from_slice(pk.as_bytes());
    key.push(0);
    key.extend_from_slice(sk.as_bytes());
    key
}

/// The key-value stores' value of an event: arrival (i64 BE), type (u8 length + bytes), JSON.
pub fn kv_value(e: &StoredEvent) -> Vec<u8> {
    let mut value = Vec::with_capacity(9 + e.event_type.len() + e.json.len());
    value.extend_from_slice(&e.arrival.to_be_bytes());
    value.push(e.event_type.len() as u8);
    value.extend_from_slice(e.event_type.as_bytes());
    value.extend_from_slice(&e.json);
    value
}

/// The JSON of a value made by [`kv_value`].
pub fn kv_json(value: &[u8]) -> Vec<u8> {
    let type_len = value.get(8).copied().unwrap_or(0) as usize;
    value.get(9 + type_len..).unwrap_or_default().to_vec()
}

/// The key-value stores' checkpoint key of a shard (after every event key: `\xff`).
pub fn kv_checkpoint(shard_id: &str) -> Vec<u8> {
    [b"\xffcheckpoint/".as_slice(), shard_id.as_bytes()].concat()
}
