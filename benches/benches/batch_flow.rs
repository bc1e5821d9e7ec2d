//! The pure batch flow (decode, validate, enrich, output bytes) on the reference workload,
//! at 1 and 2 threads, for a small batch (100) and Kinesis' largest (10,000).

use chrono::Utc;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use pipeline::{CoreConfig, SchemaRegistry, process_batch};
use pipeline_benches::{pool, reference_batch};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn batch_flow(c: &mut Criterion) {
    let registry = CoreConfig::embedded().unwrap();
    let mut group = c.benchmark_group("batch_flow");
    for size in [100usize, 10_000] {
        let records = reference_batch(size);
        group.throughput(Throughput::Elements(size as u64));
        for threads in [1usize, 2] {
            let pool = pool(threads);
            group.bench_with_input(BenchmarkId::new(format!("{threads}_threads"), size), &records, |b, records| {
                b.iter(|| pool.install(|| process_batch(&registry, records, Utc::now())))
            });
        }
    }
    group.finish();
}

fn registry_init(c: &mut Criterion) {
    c.bench_function("schema_registry_embedded", |b| b.iter(|| SchemaRegistry::embedded().unwrap()));
}

criterion_group!(benches, batch_flow, registry_init);
criterion_main!(benches);
