//! Times the processor: init (schema registry and AWS clients; and with the benches' three
//! enrichments, a 100,000-row lookup table among them), the core on a 10,000-record
//! batch of the reference workload, and the whole handler with null sinks and, when
//! `AWS_ENDPOINT_URL` points at moto_server, against real AWS APIs. For the handler it also
//! reports the CPU time (user + system, `getrusage`) this process spent per event: with
//! moto that includes the SDK's request building, signing and serialisation, everything the
//! processor itself does but the TLS (moto speaks plain HTTP) and the waiting. `pipeline
//! plan` uses that figure for the Lambda line.
//!
//!   cargo run --release -p processor --example handler_timing
//!   AWS_ENDPOINT_URL=http://127.0.0.1:5055 cargo run --release -p processor --example handler_timing

use std::sync::Arc;
use std::time::{Duration, Instant};

use pipeline::flow::{BatchFlow, Sinks};
use pipeline::sink::{Archive, BadRowStore, BatchKey, EventStore, Indexed, NoAggregates, SinkReport};
use pipeline::workload::{Workload, WorkloadConfig};
use pipeline::{BadRow, CoreConfig, EnrichedEvent};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Takes everything, stores nothing: the handler's cost without the network.
struct Null;

impl EventStore for Null {
    async fn put_events(&self, events: &[Indexed<'_, EnrichedEvent>], _: tokio::time::Instant) -> SinkReport {
        SinkReport { written: events.len(), ..SinkReport::default() }
    }
}
impl Archive for Null {
    async fn archive(&self, _: &BatchKey, events: &[Indexed<'_, EnrichedEvent>], _: tokio::time::Instant) -> SinkReport {
        // Packing is real work of the archive adapter; do it so the figure includes it.
        let packed = pipeline_aws::firehose::pack(events);
        SinkReport { written: packed.iter().map(|p| p.batch_records.len()).sum(), ..SinkReport::default() }
    }
}
impl BadRowStore for Null {
    async fn put_bad_rows(&self, _: &BatchKey, rows: &[Indexed<'_, BadRow>], _: tokio::time::Instant) -> SinkReport {
        let items: Vec<&BadRow> = rows.iter().map(|r| r.item).collect();
        let _ = pipeline_aws::s3::encode(&items);
        SinkReport { written: rows.len(), ..SinkReport::default() }
    }
}

/// CPU time (user + system) this process has used so far.
fn cpu_time() -> Duration {
    // SAFETY: getrusage only writes the struct it is given.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let time = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    time(usage.ru_utime) + time(usage.ru_stime)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let records = Workload::new(WorkloadConfig::default()).records(10_000, "shardId-000000000000");

    let mut init = Vec::new();
    for _ in 0..20 {
        let start = Instant::now();
        let registry = CoreConfig::embedded()?;
        let aws = pipeline_aws::sdk::load_from_env().await;
        let clients = (aws_sdk_dynamodb::Client::new(&aws), aws_sdk_firehose::Client::new(&aws), aws_sdk_s3::Client::new(&aws));
        init.push(start.elapsed());
        drop((registry, clients));
    }
    println!("init (registry + config + 3 clients), median of 20: {:.1} ms", ms(median(init)));

    // The same init as the processor's with ENRICHMENTS_DIR holding a 100,000-row table.
    let dir = tempfile::tempdir()?;
    pipeline_benches::write_bench_enrichments(dir.path())?;
    let mut init = Vec::new();
    for _ in 0..20 {
        let start = Instant::now();
        let core = CoreConfig::load(None, Some(dir.path()), pipeline::enrichments::lookup::TableBudget::lambda(1769))?;
        let aws = pipeline_aws::sdk::load_from_env().await;
        let clients = (aws_sdk_dynamodb::Client::new(&aws), aws_sdk_firehose::Client::new(&aws), aws_sdk_s3::Client::new(&aws));
        init.push(start.elapsed());
        drop((core, clients));
    }
    println!(
        "init with ENRICHMENTS_DIR (campaign, referer, a {}-row lookup table), median of 20: {:.1} ms",
        pipeline_benches::LOOKUP_ROWS,
        ms(median(init))
    );

    rayon::ThreadPoolBuilder::new().num_threads(2).build_global()?;
    let registry = Arc::new(CoreConfig::embedded()?);
    let mut core = Vec::new();
    for _ in 0..20 {
        let start = Instant::now();
        let outcomes = pipeline::process_batch(&registry, &records, chrono::Utc::now());
        core.push(start.elapsed());
        drop(outcomes);
    }
    println!("core, 10,000 records, 2 threads, median of 20: {:.1} ms", ms(median(core)));

    let flow = BatchFlow::new(Arc::clone(&registry), Sinks { events: Null, archive: Null, bad_rows: Null, aggregates: NoAggregates });
    let mut null = Vec::new();
    let mut null_cpu = Vec::new();
    for _ in 0..20 {
        let cpu = cpu_time();
        let report = flow.run(&records, tokio::time::Instant::now() + Duration::from_secs(60)).await;
        null_cpu.push(cpu_time() - cpu);
        null.push(report.total_time);
    }
    println!("handler with null sinks, 10,000 records, median of 20: {:.1} ms", ms(median(null)));
    println!("  CPU per event (user + system, all threads), median of 20: {:.2} µs", median(null_cpu).as_secs_f64() * 1e6 / records.len() as f64);

    if std::env::var("AWS_ENDPOINT_URL").is_ok() {
        let aws = pipeline_testing::moto::sdk_config().await;
        let mut config = pipeline_testing::stack::create_stack(&aws, "timing").await;
        config.gsi_write_shards = None; // the index is off by default
        let processor = processor::Processor::new(&config, &aws)?;
        let mut moto = Vec::new();
        let mut moto_cpu = Vec::new();
        for _ in 0..5 {
            let cpu = cpu_time();
            let report = processor.write_records(&records, tokio::time::Instant::now() + Duration::from_secs(120)).await;
            moto_cpu.push(cpu_time() - cpu);
            anyhow::ensure!(report.failed_records.is_empty(), "writes failed: {report:?}");
            moto.push(report.total_time);
        }
        println!("handler against moto_server, 10,000 records, median of 5: {:.0} ms", ms(median(moto)));
        println!(
            "  CPU per event in this process (moto runs apart), median of 5: {:.2} µs",
            median(moto_cpu).as_secs_f64() * 1e6 / records.len() as f64
        );
    }
    Ok(())
}
