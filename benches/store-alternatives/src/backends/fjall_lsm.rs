//! fjall, an LSM tree in Rust (its latest release): one keyspace with default options (its
//! lz4 compression on the levels that hold most of the data, leveled compaction), a batch
//! one atomic `WriteBatch` with its checkpoint key, its journal synced per batch
//! (`PersistMode::SyncData`), as every backend here.

use std::path::Path;
use std::time::Duration;

use fjall::{Database, Keyspace, KeyspaceCreateOptions, PersistMode};

use super::{Backend, kv_checkpoint, kv_json, kv_key, kv_value};
use crate::events::Batch;

pub struct Fjall {
    db: Database,
    events: Keyspace,
}

impl Fjall {
    pub fn open(dir: &Path) -> anyhow::Result<Self> {
        let db = Database::builder(dir.join("fjall")).open()?;
        let events = db.keyspace("events", KeyspaceCreateOptions::default)?;
        Ok(Self { db, events })
    }
}

impl Backend for Fjall {
    fn write(&mut self, batch: &Batch) -> anyhow::Result<()> {
        let mut wb = self.db.batch().durability(Some(PersistMode::SyncData));
        for e in &batch.events {
            wb.insert(&self.events, kv_key(&e.pk, &e.sk), kv_value(e));
        }
        wb.insert(&self.events, kv_checkpoint(&batch.shard_id), batch.through.to_le_bytes());
        wb.commit()?;
        Ok(())
    }

    fn finish(&mut self) -> anyhow::Result<()> {
        self.events.rotate_memtable_and_wait()?;
        // Its own compactions, until none has run for a second (one may start just after
        // a flush).
        let mut idle = 0;
        while idle < 10 {
            std::thread::sleep(Duration::from_millis(100));
            idle = if self.db.outstanding_flushes() > 0 || self.db.active_compactions() > 0 { 0 } else { idle + 1 };
        }
        Ok(())
    }

    fn user_events(&self, pk: &str, from: &str, to: &str, limit: usize) -> anyhow::Result<Vec<Vec<u8>>> {
        let mut out = Vec::new();
        for guard in self.events.range(kv_key(pk, from)..kv_key(pk, to)).rev().take(limit) {
            let (_, value) = guard.into_inner()?;
            out.push(kv_json(&value));
        }
        Ok(out)
    }

    fn engine_report(&self) -> Option<String> {
        Some(format!("{} compactions completed, {:.1} s compacting", self.db.compactions_completed(), self.db.time_compacting().as_secs_f64()))
    }
}
