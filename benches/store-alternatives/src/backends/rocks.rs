//! RocksDB through the `rocksdb` crate: default options but zstd on every level, 256 MiB
//! write buffers (the obvious change for a write-heavy load), two background jobs (the
//! machine's cores), no bloom filters. A batch is one `WriteBatch` with its checkpoint key,
//! written with `sync` (the write-ahead log synced per batch, as every backend here).

use std::path::Path;
use std::time::Duration;

use rocksdb::{DB, DBCompressionType, IteratorMode, Options, ReadOptions, WriteBatch, WriteOptions};

use super::{Backend, kv_checkpoint, kv_json, kv_key, kv_value};
use crate::events::Batch;

/// Bytes of one memtable.
pub const WRITE_BUFFER_BYTES: usize = 256 << 20;

pub struct Rocks {
    db: DB,
    sync: WriteOptions,
}

impl Rocks {
    pub fn open(dir: &Path) -> anyhow::Result<Self> {
        let mut opts = Options::default();
        opts.create_if_missing(true);
        opts.set_compression_type(DBCompressionType::Zstd);
        opts.set_bottommost_compression_type(DBCompressionType::Zstd);
        opts.set_write_buffer_size(WRITE_BUFFER_BYTES);
        opts.increase_parallelism(2);
        opts.set_max_background_jobs(2);
        let db = DB::open(&opts, dir.join("rocksdb"))?;
        let mut sync = WriteOptions::default();
        sync.set_sync(true);
        Ok(Self { db, sync })
    }

    fn int(&self, name: &str) -> u64 {
        self.db.property_int_value(name).ok().flatten().unwrap_or(0)
    }
}

impl Backend for Rocks {
    fn write(&mut self, batch: &Batch) -> anyhow::Result<()> {
        let mut wb = WriteBatch::default();
        for e in &batch.events {
            wb.put(kv_key(&e.pk, &e.sk), kv_value(e));
        }
        wb.put(kv_checkpoint(&batch.shard_id), batch.through.to_le_bytes());
        self.db.write_opt(wb, &self.sync)?;
        Ok(())
    }

    fn finish(&mut self) -> anyhow::Result<()> {
        self.db.flush()?;
        // Its own compactions, until none is running or due.
        while self.int("rocksdb.num-running-compactions") > 0 || self.int("rocksdb.compaction-pending") > 0 || self.int("rocksdb.num-running-flushes") > 0 {
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(())
    }

    fn user_events(&self, pk: &str, from: &str, to: &str, limit: usize) -> anyhow::Result<Vec<Vec<u8>>> {
        let mut read = ReadOptions::default();
        read.set_iterate_lower_bound(kv_key(pk, from));
        read.set_iterate_upper_bound(kv_key(pk, to));
        let mut out = Vec::new();
        for item in self.db.iterator_opt(IteratorMode::End, read).take(limit) {
            let (_, value) = item?;
            out.push(kv_json(&value));
        }
        Ok(out)
    }

    fn engine_report(&self) -> Option<String> {
        let stats = self.db.property_value("rocksdb.stats").ok().flatten().unwrap_or_default();
        // The compaction table's header and its "Sum" row: files per level, bytes written
        // by flushes and compactions, and RocksDB's own write amplification.
        let row = |start: &str| stats.lines().find(|l| l.trim_start().starts_with(start)).map(|l| l.split_whitespace().map(str::to_owned).collect::<Vec<_>>());
        let (Some(header), Some(sum)) = (row("Level"), row("Sum")) else { return None };
        // "Size" is two words in the rows ("20.35 MB") and one in the header.
        let mut sum = sum;
        if sum.len() > header.len() {
            let unit = sum.remove(3);
            sum[2] = format!("{}{unit}", sum[2]);
        }
        let fields: Vec<String> = header.iter().zip(&sum).filter(|(h, _)| ["Files", "Size", "Write(GB)", "W-Amp", "Comp(sec)", "Comp(cnt)"].contains(&h.as_str())).map(|(h, v)| format!("{h} {v}")).collect();
        Some(format!("live SST {} B; all levels: {}", self.int("rocksdb.live-sst-files-size"), fields.join(", ")))
    }
}
