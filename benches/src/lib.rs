//! `pipeline-benches`: the benchmarks of the processing core, and the pieces they share:
//! reference batches from the workload generator, and rayon pools of a fixed size, so every
//! figure is measured on the same work.
//!
//! The criterion benches (`benches/`): `batch_flow` (the pure batch flow at 1 and 2 threads,
//! KPL aggregated records, the enrichments' cost), `aggregator` (the merge of one minute's
//! partials into minute..month rows) and `hostile` (one near-1 MiB record of each hostile
//! shape through the core). The binaries: `workload` writes the
//! reference workload as NDJSON, `flow_throughput` times the flow over such a file (the
//! Python peers of `peer/` run the same file). docs/PERFORMANCE.md has the figures.
//!
//! The shared pieces: [`reference_batch`], [`attribution_batch`] and [`aggregated_batch`]
//! make a shard's batch of [`Record`]s, [`records_from_lines`] reads one from NDJSON,
//! [`write_bench_enrichments`] writes the enrichments the benches turn on, and [`pool`]
//! makes a pool of a fixed size.
//!
//! # Example
//!
//! ```sh
//! cargo bench -p pipeline-benches --bench batch_flow
//! cargo run --release -p pipeline-benches --bin workload -- --events 200000 --out reference.ndjson
//! cargo run --release -p pipeline-benches --bin flow_throughput -- reference.ndjson
//! benches/peer/compare.sh
//! ```
//!
//! ```
//! let records = pipeline_benches::reference_batch(100);
//! let config = pipeline::CoreConfig::embedded()?;
//! let outcomes = pipeline_benches::pool(1).install(|| pipeline::process_batch(&config, &records, chrono::Utc::now()));
//! assert_eq!(outcomes.len(), 100);
//! # Ok::<(), pipeline::CoreConfigError>(())
//! ```

#![warn(missing_docs)]

use std::path::Path;

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

/// The records of [`reference_batch`]`(n)` packed as a KPL producer would: into aggregated
/// records of at most 1 MiB, one per partition-key shard of `shards`, each numbered as one
/// stream record.
pub fn aggregated_batch(n: usize, shards: u32) -> Vec<Record> {
    let users = reference_batch(n);
    let arrival = Utc::now();
    let shard_of = |key: &str| (pipeline::record::hash_key(key) % u128::from(shards)) as usize;
    let mut groups: Vec<Vec<&Record>> = vec![Vec::new(); shards as usize];
    for r in &users {
        groups[shard_of(&r.partition_key)].push(r);
    }
    let packed = groups.iter().flat_map(|g| {
        pipeline::kpl::aggregate(g.iter().map(|r| (r.partition_key.as_str(), None, r.data.as_slice())), pipeline::kpl::MAX_AGGREGATED_BYTES)
    });
    packed
        .enumerate()
        .map(|(i, k)| Record {
            data: k.data,
            partition_key: k.partition_key,
            sequence_number: format!("{:056}", i),
            sub_sequence_number: 0,
            shard_id: "shardId-000000000000".into(),
            arrival,
        })
        .collect()
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

/// Rows of the benches' lookup table.
pub const LOOKUP_ROWS: usize = 100_000;

/// Writes the benches' three enrichments into `dir`: the embedded campaign and referer
/// files, and a lookup of every purchase item's `sku` in a [`LOOKUP_ROWS`]-row CSV
/// (every tenth of the workload's SKUs is in it, as `SKU-<n>` with `n` a multiple of 10).
pub fn write_bench_enrichments(dir: &Path) -> std::io::Result<()> {
    std::fs::write(dir.join("campaign.json"), include_str!("../../enrichments/campaign.json"))?;
    std::fs::write(dir.join("referer.json"), include_str!("../../enrichments/referer.json"))?;
    std::fs::write(
        dir.join("products.json"),
        r#"{"enrichment": "lookup", "name": "products", "enabled": true,
            "parameters": {"table": "products.csv", "key": "items[].sku", "event_types": ["purchase"]}}"#,
    )?;
    let mut csv = String::with_capacity(LOOKUP_ROWS * 40);
    csv.push_str("sku,category,brand\n");
    for i in 0..LOOKUP_ROWS {
        csv.push_str(&format!("SKU-{:06},category-{},brand-{}\n", i * 10, i % 97, i % 13));
    }
    std::fs::write(dir.join("products.csv"), csv)
}

/// A rayon pool of exactly `threads` threads.
pub fn pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("rayon pool")
}
