//! The batch generator: a thread of its own that draws events from the reference workload
//! (`pipeline::workload`), serialises each batch once into the JSON array that is posted (and
//! gzips it with `--gzip`), and queues it ahead of its due time in a bounded channel. The
//! sending side then only hands ready bytes to a connection.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Instant;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use pipeline::workload::{Expected, Workload, WorkloadConfig};
use tokio::sync::mpsc;

use crate::bitset::Bitset;
use crate::schedule::{Schedule, Slot};

/// One request's worth of events, serialised.
pub struct Batch {
    /// The batch's number in the run.
    pub index: u64,
    /// Its place in the schedule: first event, size and due time.
    pub slot: Slot,
    /// The JSON array, uncompressed.
    pub raw: Bytes,
    /// Each event's byte range in `raw`.
    pub events: Vec<(u32, u32)>,
    /// What is posted: `raw`, or its gzip.
    pub body: Bytes,
    /// Whether `body` is gzip-compressed (`--gzip`).
    pub gzip: bool,
}

impl Batch {
    /// Event `i` of the batch (its JSON object).
    pub fn event(&self, i: usize) -> &[u8] {
        let (start, end) = self.events[i];
        &self.raw[start as usize..end as usize]
    }

    /// The body holding the events at `pending` (indices in the batch): the prepared body when
    /// that is all of them, else a new array (a retry of the throttled ones).
    pub fn body_of(&self, pending: &[u32]) -> Bytes {
        if pending.len() == self.events.len() {
            return self.body.clone();
        }
        let raw = array(pending.iter().map(|&i| self.event(i as usize)), self.raw.len());
        if self.gzip { gzip(&raw) } else { Bytes::from(raw) }
    }
}

fn array<'a>(events: impl Iterator<Item = &'a [u8]>, capacity: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(capacity);
    out.push(b'[');
    for (i, e) in events.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(e);
    }
    out.push(b']');
    out
}

/// `data` gzip-compressed at the fast level, as a producer compresses a body.
pub fn gzip(data: &[u8]) -> Bytes {
    Bytes::from(pipeline::gzip::gzip(data, pipeline::gzip::Compression::fast()))
}

/// How fast the generator runs: events made and the time spent making them (not the time
/// spent waiting for room in the queue).
#[derive(Debug, Default)]
pub struct GeneratorStats {
    /// Events made so far.
    pub events: AtomicU64,
    /// Time spent making them, in nanoseconds.
    pub busy_nanos: AtomicU64,
}

impl GeneratorStats {
    /// Events per second of generator time, once it has made some.
    pub fn capacity(&self) -> Option<f64> {
        let (events, nanos) = (self.events.load(Ordering::Relaxed), self.busy_nanos.load(Ordering::Relaxed));
        (events > 0 && nanos > 0).then(|| events as f64 / (nanos as f64 / 1e9))
    }
}

/// What the generator thread makes.
pub struct GeneratorConfig {
    /// The reference workload's settings (seed, mix, invalid share).
    pub workload: WorkloadConfig,
    /// How many batches, of which events, due when.
    pub schedule: Schedule,
    /// The wall-clock time of the schedule's start: events carry their batch's due time.
    pub start: DateTime<Utc>,
    /// Whether bodies are gzip-compressed (`--gzip`).
    pub gzip: bool,
}

/// Starts the generator thread. It stops after the last batch, or when the receiver is gone.
/// Events the workload makes invalid are marked in `invalid`.
pub fn spawn(config: GeneratorConfig, invalid: Arc<Bitset>, stats: Arc<GeneratorStats>, tx: mpsc::Sender<Batch>) -> std::io::Result<JoinHandle<()>> {
    std::thread::Builder::new().name("loadtest-generator".into()).spawn(move || {
        let mut workload = Workload::new(config.workload);
        let mut raw = Vec::new();
        for index in 0..config.schedule.batches() {
            let began = Instant::now();
            let slot = config.schedule.slot(index);
            let time = config.start + chrono::Duration::from_std(slot.due).unwrap_or_default();
            raw.clear();
            raw.push(b'[');
            let mut events = Vec::with_capacity(slot.events as usize);
            for i in 0..u64::from(slot.events) {
                let event = workload.next_event_at(time);
                if event.expected != Expected::Valid {
                    invalid.insert(slot.first_event + i);
                }
                if i > 0 {
                    raw.push(b',');
                }
                let start = raw.len() as u32;
                raw.extend_from_slice(&event.data);
                events.push((start, raw.len() as u32));
            }
            raw.push(b']');
            let raw_bytes = Bytes::copy_from_slice(&raw);
            let body = if config.gzip { gzip(&raw) } else { raw_bytes.clone() };
            let batch = Batch { index, slot, raw: raw_bytes, events, body, gzip: config.gzip };
            stats.events.fetch_add(u64::from(slot.events), Ordering::Relaxed);
            stats.busy_nanos.fetch_add(began.elapsed().as_nanos() as u64, Ordering::Relaxed);
            if tx.blocking_send(batch).is_err() {
                return;
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn run(gzip_on: bool) -> (Vec<Batch>, Arc<Bitset>) {
        let schedule = Schedule { rate: 1_000.0, duration: Duration::from_millis(500), ramp: Duration::ZERO, batch_size: 40 };
        let workload = WorkloadConfig { unparseable: false, invalid_ratio: 0.2, event_id_run: Some(9), user_prefix: Some("lt-x-".into()), ..WorkloadConfig::default() };
        let invalid = Arc::new(Bitset::new(schedule.total_events()));
        let (tx, mut rx) = mpsc::channel(4);
        let config = GeneratorConfig { workload, schedule, start: Utc::now(), gzip: gzip_on };
        let handle = spawn(config, Arc::clone(&invalid), Arc::default(), tx).unwrap();
        let mut batches = Vec::new();
        while let Some(b) = rx.blocking_recv() {
            batches.push(b);
        }
        handle.join().unwrap();
        (batches, invalid)
    }

    #[test]
    fn batches_are_json_arrays_of_the_scheduled_events_in_order() {
        let (batches, invalid) = run(false);
        assert_eq!(batches.len(), 13);
        assert_eq!(batches[12].events.len(), 20);
        let mut n = 0;
        for (k, b) in batches.iter().enumerate() {
            assert_eq!(b.index, k as u64);
            let arr: Vec<serde_json::Value> = serde_json::from_slice(&b.body).unwrap();
            assert_eq!(arr.len(), b.events.len());
            for (i, v) in arr.iter().enumerate() {
                assert_eq!(serde_json::from_slice::<serde_json::Value>(b.event(i)).unwrap(), *v);
                let id: uuid::Uuid = v["event_id"].as_str().unwrap().parse().unwrap();
                assert_eq!(pipeline::workload::run_event_index(9, &id), Some(n));
                n += 1;
            }
        }
        assert!(invalid.count() > 40 && invalid.count() < 160, "{}", invalid.count());
        // A retry's body holds only the pending events.
        let retry: Vec<serde_json::Value> = serde_json::from_slice(&batches[0].body_of(&[1, 3])).unwrap();
        assert_eq!(retry.len(), 2);
        assert_eq!(retry[1], serde_json::from_slice::<serde_json::Value>(batches[0].event(3)).unwrap());
    }

    #[test]
    fn gzip_bodies_unpack_to_the_same_array() {
        use std::io::Read;
        let (batches, _) = run(true);
        let b = &batches[0];
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&b.body[..]).read_to_end(&mut out).unwrap();
        assert_eq!(out, b.raw);
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&b.body_of(&[0])[..]).read_to_end(&mut out).unwrap();
        assert_eq!(out, [b"[".as_slice(), b.event(0), b"]"].concat());
    }
}
