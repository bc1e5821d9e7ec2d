//! Shared pieces of the benches: reference batches from the workload generator, and
//! rayon pools of a fixed size, so every figure is measured on the same work.

use chrono::Utc;
use pipeline::Record;
use pipeline::workload::{Workload, WorkloadConfig};

/// `n` records of the reference workload (seed 42), as one shard's batch.
pub fn reference_batch(n: usize) -> Vec<Record> {
    Workload::new(WorkloadConfig::default()).records(n, "shardId-000000000000")
}

/// `n` records of the reference workload with campaign URLs and referrers of every medium
/// ([`WorkloadConfig::attribution`]).
pub fn attribution_batch(n: usize) -> Vec<Record> {
    Workload::new(WorkloadConfig { attribution: true, ..WorkloadConfig::default() }).records(n, "shardId-000000000000")
}

/// Records from NDJSON lines, numbered in order, all of one shard.
pub fn records_from_lines(text: &[u8]) -> Vec<Record> {
    let arrival = Utc::now();
    text.split(|&b| b == b'\n')
        .filter(|line| !line.is_empty())
        .enumerate()
        .map(|(i, line)| Record {
            data: line.to_vec(),
            partition_key: String::new(),
            sequence_number: format!("{:056}", i),
            sub_sequence_number: 0,
            shard_id: "shardId-000000000000".into(),
            arrival,
        })
        .collect()
}

/// A rayon pool of exactly `threads` threads.
pub fn pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("rayon pool")
}
