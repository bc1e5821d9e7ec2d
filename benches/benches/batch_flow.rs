//! The pure batch flow as `BatchFlow` runs it (`process_records`: deaggregate, decode,
//! validate, enrich, output bytes) on the reference workload, at 1 and 2 threads, for a small
//! batch (100) and Kinesis' largest (10,000); and the same events packed into KPL aggregated
//! records (`batch_flow_kpl`, throughput in user records).

use chrono::Utc;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use pipeline::{SchemaRegistry, process_records};
use pipeline_benches::{aggregated_batch, pool, reference_batch};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn batch_flow(c: &mut Criterion) {
    let registry = SchemaRegistry::embedded().unwrap();
    let mut group = c.benchmark_group("batch_flow");
    for size in [100usize, 10_000] {
        let records = reference_batch(size);
        group.throughput(Throughput::Elements(size as u64));
        for threads in [1usize, 2] {
            let pool = pool(threads);
            group.bench_with_input(BenchmarkId::new(format!("{threads}_threads"), size), &records, |b, records| {
                b.iter(|| pool.install(|| process_records(&registry, records, Utc::now()).outcomes))
            });
        }
    }
    group.finish();
}

fn batch_flow_kpl(c: &mut Criterion) {
    let registry = SchemaRegistry::embedded().unwrap();
    let mut group = c.benchmark_group("batch_flow_kpl");
    for size in [10_000usize] {
        let records = aggregated_batch(size, 4);
        group.throughput(Throughput::Elements(size as u64));
        for threads in [1usize, 2] {
            let pool = pool(threads);
            group.bench_with_input(BenchmarkId::new(format!("{threads}_threads"), size), &records, |b, records| {
                b.iter(|| pool.install(|| process_records(&registry, records, Utc::now()).outcomes))
            });
        }
    }
    group.finish();
}

fn registry_init(c: &mut Criterion) {
    c.bench_function("schema_registry_embedded", |b| b.iter(|| SchemaRegistry::embedded().unwrap()));
}

criterion_group!(benches, batch_flow, batch_flow_kpl, registry_init);
criterion_main!(benches);
