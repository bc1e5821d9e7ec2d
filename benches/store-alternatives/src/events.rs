//! The load every backend receives: the reference workload's valid events (seed 42),
//! enriched by the core as local mode's consumers enrich them, routed to shards by
//! `user_id` as the ingest API routes them, and cut into the batches a consumer commits
//! under load (the valid events of up to [`BATCH_RECORDS`] records of one shard).
//!
//! They are made once (`store-alternatives generate`) into a zstd-compressed file of
//! batches, so that a run spends its CPU on the store alone: the reader thread's CPU time
//! is measured and taken out of the process's.
//!
//! File format, one batch after another: shard (u32 LE), checkpoint (u64 LE), events
//! (u32 LE), then each event: pk (u16 length + bytes), sk (u16 + bytes), event type (u8 +
//! bytes), arrival (i64 LE, Unix seconds), stored JSON (u32 + bytes).

use std::collections::HashMap;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::Path;
use std::sync::Arc;

use pipeline::enrichments::lookup::TableBudget;
use pipeline::workload::{Workload, WorkloadConfig};
use pipeline::{CoreConfig, Outcome, process_batch};
use pipeline_local::consumer::BATCH_RECORDS;
use pipeline_local::shard::{shard_id, shard_of};

/// Shards of `pipeline up`'s default: each gets its own batches.
pub const SHARDS: u32 = 4;

/// One event as the consumer stores it: its keys (`USER#<user_id>`, `<event time>#<event_id>`),
/// type, arrival and the enriched JSON the query API returns.
#[derive(Clone, Debug)]
pub struct StoredEvent {
    pub pk: String,
    pub sk: String,
    pub event_type: Arc<str>,
    pub arrival: i64,
    pub json: Vec<u8>,
}

/// One shard's unit of work: its valid events and the checkpoint it moves to.
#[derive(Debug)]
pub struct Batch {
    pub shard: u32,
    pub shard_id: String,
    pub through: u64,
    pub events: Vec<StoredEvent>,
}

/// Writes batches holding at least `events` valid events to `out`; prints progress.
pub fn generate(events: u64, out: &Path) -> anyhow::Result<()> {
    let core = CoreConfig::load(None, None, TableBudget::local())?;
    let mut workload = Workload::new(WorkloadConfig::default());
    let file = std::fs::File::create(out).map_err(|e| anyhow::anyhow!("cannot create {}: {e}", out.display()))?;
    let mut w = zstd::Encoder::new(BufWriter::new(file), 3)?;
    let (mut written, mut records_read, mut checkpoints) = (0u64, 0u64, [0u64; SHARDS as usize]);
    while written < events {
        // One batch's worth of records for every shard, then each shard's share of them.
        let records = workload.records(BATCH_RECORDS * SHARDS as usize, "shardId-000000000000");
        records_read += records.len() as u64;
        let processed_at = records.last().map(|r| r.arrival).unwrap_or_default();
        let mut shards: Vec<Vec<StoredEvent>> = (0..SHARDS).map(|_| Vec::new()).collect();
        for outcome in process_batch(&core, &records, processed_at) {
            if let Outcome::Event(e) = outcome {
                let shard = shard_of(&e.user_id, SHARDS) as usize;
                shards[shard].push(StoredEvent { pk: e.partition_key(), sk: e.sort_key, event_type: e.event_type, arrival: e.arrival.timestamp(), json: e.json });
            }
        }
        for (shard, events) in shards.into_iter().enumerate() {
            checkpoints[shard] += BATCH_RECORDS as u64;
            written += events.len() as u64;
            write_batch(&mut w, &Batch { shard: shard as u32, shard_id: shard_id(shard as u32), through: checkpoints[shard], events })?;
        }
        if records_read % 1_000_000 < (BATCH_RECORDS * SHARDS as usize) as u64 {
            eprintln!("generate: {records_read} records, {written} valid events");
        }
    }
    w.finish()?.flush()?;
    eprintln!("generate: {written} valid events of {records_read} records in {}", out.display());
    Ok(())
}

fn write_batch(w: &mut impl Write, b: &Batch) -> io::Result<()> {
    w.write_all(&b.shard.to_le_bytes())?;
    w.write_all(&b.through.to_le_bytes())?;
    w.write_all(&(b.events.len() as u32).to_le_bytes())?;
    for e in &b.events {
        w.write_all(&(e.pk.len() as u16).to_le_bytes())?;
        w.write_all(e.pk.as_bytes())?;
        w.write_all(&(e.sk.len() as u16).to_le_bytes())?;
        w.write_all(e.sk.as_bytes())?;
        w.write_all(&[e.event_type.len() as u8])?;
        w.write_all(e.event_type.as_bytes())?;
        w.write_all(&e.arrival.to_le_bytes())?;
        w.write_all(&(e.json.len() as u32).to_le_bytes())?;
        w.write_all(&e.json)?;
    }
    Ok(())
}

/// Reads the batches of a file made by [`generate`].
pub struct BatchReader {
    r: zstd::Decoder<'static, BufReader<std::fs::File>>,
    types: HashMap<Vec<u8>, Arc<str>>,
}

impl BatchReader {
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        let file = std::fs::File::open(path).map_err(|e| anyhow::anyhow!("cannot open the events file {}: {e} (make it with `generate`)", path.display()))?;
        Ok(Self { r: zstd::Decoder::new(file)?, types: HashMap::new() })
    }

    /// The next batch; `None` at the end of the file.
    pub fn next_batch(&mut self) -> io::Result<Option<Batch>> {
        let mut head = [0u8; 4];
        match self.r.read_exact(&mut head) {
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
            other => other?,
        }
        let shard = u32::from_le_bytes(head);
        let through = u64::from_le_bytes(self.array()?);
        let n = u32::from_le_bytes(self.array()?) as usize;
        let mut events = Vec::with_capacity(n);
        for _ in 0..n {
            let pk = self.short_text()?;
            let sk = self.short_text()?;
            let [type_len] = self.array()?;
            let raw_type = self.bytes(type_len as usize)?;
            let event_type = Arc::clone(self.types.entry(raw_type).or_insert_with_key(|t| String::from_utf8_lossy(t).into()));
            let arrival = i64::from_le_bytes(self.array()?);
            let n = u32::from_le_bytes(self.array()?) as usize;
            let json = self.bytes(n)?;
            events.push(StoredEvent { pk, sk, event_type, arrival, json });
        }
        Ok(Some(Batch { shard, shard_id: shard_id(shard), through, events }))
    }

    fn array<const N: usize>(&mut self) -> io::Result<[u8; N]> {
        let mut a = [0u8; N];
        self.r.read_exact(&mut a)?;
        Ok(a)
    }

    fn bytes(&mut self, n: usize) -> io::Result<Vec<u8>> {
        let mut v = vec![0u8; n];
        self.r.read_exact(&mut v)?;
        Ok(v)
    }

    /// A u16 length, then that many bytes of UTF-8.
    fn short_text(&mut self) -> io::Result<String> {
        let n = u16::from_le_bytes(self.array()?) as usize;
        String::from_utf8(self.bytes(n)?).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
    }
}
