//! The pure batch flow as `BatchFlow` runs it (`process_records`: deaggregate, decode,
//! validate, enrich, output bytes) on the reference workload, at 1 and 2 threads, for a small
//! batch (100) and Kinesis' largest (10,000); the same events packed into KPL aggregated
//! records (`batch_flow_kpl`, throughput in user records); and the cost of the enrichments:
//! off, the embedded two (campaign, referer) and all three (with a 100,000-row lookup
//! table), on the reference workload and on it with campaign URLs and referrers of every
//! medium (`attribution`).

use chrono::Utc;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use pipeline::enrichments::lookup::TableBudget;
use pipeline::{CoreConfig, Enrichments, SchemaRegistry, process_batch, process_records};
use pipeline_benches::{aggregated_batch, attribution_batch, pool, reference_batch, write_bench_enrichments};

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
                b.iter(|| pool.install(|| process_records(&registry, records, Utc::now()).outcomes))
            });
        }
    }
    group.finish();
}

fn batch_flow_kpl(c: &mut Criterion) {
    let registry = CoreConfig::embedded().unwrap();
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

fn enrichments(c: &mut Criterion) {
    let schemas = || std::sync::Arc::new(SchemaRegistry::embedded().unwrap());
    let dir = tempfile::tempdir().unwrap();
    write_bench_enrichments(dir.path()).unwrap();
    let configs = [
        ("off", CoreConfig { schemas: schemas(), enrichments: Enrichments::none() }),
        ("campaign_referer", CoreConfig::embedded().unwrap()),
        ("campaign_referer_lookup", CoreConfig { schemas: schemas(), enrichments: Enrichments::from_dir(dir.path(), TableBudget::local()).unwrap() }),
    ];
    let pool = pool(1);
    let mut group = c.benchmark_group("enrichments");
    group.throughput(Throughput::Elements(10_000));
    for (workload, records) in [("reference", reference_batch(10_000)), ("attribution", attribution_batch(10_000))] {
        for (name, core) in &configs {
            group.bench_with_input(BenchmarkId::new(*name, workload), &records, |b, records| {
                b.iter(|| pool.install(|| process_batch(core, records, Utc::now())))
            });
        }
    }
    group.finish();
}

fn registry_init(c: &mut Criterion) {
    c.bench_function("schema_registry_embedded", |b| b.iter(|| SchemaRegistry::embedded().unwrap()));
    let dir = tempfile::tempdir().unwrap();
    write_bench_enrichments(dir.path()).unwrap();
    let mut group = c.benchmark_group("init");
    group.sample_size(20);
    group.bench_function("enrichments_with_100000_row_lookup", |b| b.iter(|| Enrichments::from_dir(dir.path(), TableBudget::lambda(1769)).unwrap()));
    group.finish();
}

criterion_group!(benches, batch_flow, batch_flow_kpl, enrichments, registry_init);
criterion_main!(benches);
