//! The core on hostile shapes (`pipeline::workload::hostile`): one record just under the
//! 1 MiB limit per shape, decoded, validated and enriched (or made a bad row). Each must
//! cost at most a few milliseconds: a same-shard event waits behind it.

use chrono::{TimeZone, Utc};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use pipeline::workload::hostile::{LARGEST, SHAPES};
use pipeline::{BatchClock, CoreConfig, Record, process_record};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn hostile(c: &mut Criterion) {
    let core = CoreConfig::embedded().unwrap();
    let clock = BatchClock::new(Utc::now());
    let mut group = c.benchmark_group("hostile");
    group.sample_size(20);
    for shape in SHAPES {
        let record = Record {
            data: (shape.make)(LARGEST),
            partition_key: "hostile".into(),
            sequence_number: "1".into(),
            sub_sequence_number: 0,
            shard_id: "shardId-000000000000".into(),
            arrival: Utc.with_ymd_and_hms(2026, 11, 27, 12, 0, 0).unwrap(),
        };
        group.throughput(Throughput::Bytes(record.data.len() as u64));
        group.bench_with_input(BenchmarkId::from_parameter(shape.name), &record, |b, record| {
            b.iter(|| process_record(&core, record, &clock))
        });
    }
    group.finish();
}

criterion_group!(benches, hostile);
criterion_main!(benches);
