//! Measures the pure batch flow on an NDJSON file, in Kinesis-sized batches, and prints
//! one JSON line: the peer comparison runs the same file through Python stacks.

use std::time::Instant;

use chrono::Utc;
use clap::Parser;
use pipeline::enrichments::lookup::TableBudget;
use pipeline::{CoreConfig, Enrichments, OutcomeCounts, SchemaRegistry, process_batch};
use pipeline_benches::{pool, records_from_lines, write_bench_enrichments};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(about = "Time the batch flow (decode, validate, enrich) on an NDJSON file")]
struct Args {
    /// NDJSON file of events.
    file: std::path::PathBuf,
    /// Worker threads.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Records per batch (Kinesis' largest batch is 10,000).
    #[arg(long, default_value_t = 10_000)]
    batch: usize,
    /// Timed passes over the file; the best is reported.
    #[arg(long, default_value_t = 5)]
    rounds: usize,
    /// `embedded` (campaign and referer, the default), `off`, `all` (both and a lookup of
    /// every purchase item's sku in a 100,000-row table), or an enrichments directory.
    #[arg(long, value_name = "embedded|off|all|DIR", default_value = "embedded")]
    enrichments: String,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let records = records_from_lines(&std::fs::read(&args.file)?);
    let bench_dir = tempfile::tempdir()?;
    let enrichments = match args.enrichments.as_str() {
        "off" => Enrichments::none(),
        "embedded" => Enrichments::embedded(TableBudget::local())?,
        "all" => {
            write_bench_enrichments(bench_dir.path())?;
            Enrichments::from_dir(bench_dir.path(), TableBudget::local())?
        }
        dir => Enrichments::from_dir(std::path::Path::new(dir), TableBudget::local())?,
    };
    let core = CoreConfig { schemas: SchemaRegistry::embedded()?.into(), enrichments };
    let pool = pool(args.threads);
    let mut best = f64::MAX;
    let mut counts = OutcomeCounts::default();
    for _ in 0..args.rounds.max(1) {
        let start = Instant::now();
        let mut round = OutcomeCounts::default();
        for batch in records.chunks(args.batch.max(1)) {
            let outcomes = pool.install(|| process_batch(&core, batch, Utc::now()));
            let c = OutcomeCounts::of(&outcomes);
            round.valid += c.valid;
            for (total, n) in round.bad.iter_mut().zip(c.bad) {
                *total += n;
            }
        }
        best = best.min(start.elapsed().as_secs_f64());
        counts = round;
    }
    println!(
        "{}",
        serde_json::json!({
            "stack": format!("rust pipeline core ({} thread{})", args.threads, if args.threads == 1 { "" } else { "s" }),
            "enrichments": args.enrichments,
            "events": records.len(), "valid": counts.valid, "invalid": counts.bad_total(),
            "seconds": best, "events_per_s": records.len() as f64 / best,
        })
    );
    Ok(())
}
