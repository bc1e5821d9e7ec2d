//! Measures the pure batch flow on an NDJSON file, in Kinesis-sized batches, and prints
//! one JSON line (best wall time and best CPU time of the passes): the peer comparison runs
//! the same file through Python stacks.

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
    /// Instead: time these enrichment settings side by side (comma-separated, e.g.
    /// `off,embedded,all`), each batch run under every setting in turn (the order turned
    /// each batch), so a busy machine slows all alike; prints each setting's median CPU
    /// time per batch, its ratio to the first's, and the quartiles of the per-batch ratios
    /// to the first (`paired_time_vs_first`).
    #[arg(long, value_name = "A,B,...")]
    compare: Option<String>,
}

/// The enrichments a `--enrichments` value names (`dir` holds the benches' files for `all`).
fn enrichments_of(setting: &str, dir: &std::path::Path) -> anyhow::Result<Enrichments> {
    Ok(match setting {
        "off" => Enrichments::none(),
        "embedded" => Enrichments::embedded(TableBudget::local())?,
        "all" => {
            write_bench_enrichments(dir)?;
            Enrichments::from_dir(dir, TableBudget::local())?
        }
        other => Enrichments::from_dir(std::path::Path::new(other), TableBudget::local())?,
    })
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let records = records_from_lines(&std::fs::read(&args.file)?);
    let bench_dir = tempfile::tempdir()?;
    if let Some(settings) = &args.compare {
        return compare(&args, &records, settings, bench_dir.path());
    }
    let core = CoreConfig { schemas: SchemaRegistry::embedded()?.into(), enrichments: enrichments_of(&args.enrichments, bench_dir.path())? };
    let pool = pool(args.threads);
    let mut best = f64::MAX;
    let mut best_cpu = f64::MAX;
    let mut counts = OutcomeCounts::default();
    for _ in 0..args.rounds.max(1) {
        let start = Instant::now();
        let cpu_start = process_cpu_seconds();
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
        best_cpu = best_cpu.min(process_cpu_seconds() - cpu_start);
        counts = round;
    }
    println!(
        "{}",
        serde_json::json!({
            "stack": format!("rust pipeline core ({} thread{})", args.threads, if args.threads == 1 { "" } else { "s" }),
            "enrichments": args.enrichments,
            "events": records.len(), "valid": counts.valid, "invalid": counts.bad_total(),
            "seconds": best, "events_per_s": records.len() as f64 / best,
            "cpu_seconds": best_cpu, "events_per_cpu_s": records.len() as f64 / best_cpu,
        })
    );
    Ok(())
}

/// CPU time of the whole process so far: on a busy machine the time the work took on a
/// processor, without the time it waited for one.
fn process_cpu_seconds() -> f64 {
    let mut t = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes into the timespec it is given.
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut t) };
    t.tv_sec as f64 + t.tv_nsec as f64 / 1e9
}

/// `--compare`: every batch under every setting in turn, `rounds` times over the file. The
/// order of the settings turns by one each batch: the first of a batch measured up to 1 %
/// slower than the same setting later in it.
fn compare(args: &Args, records: &[pipeline::Record], settings: &str, dir: &std::path::Path) -> anyhow::Result<()> {
    let names: Vec<&str> = settings.split(',').map(str::trim).filter(|s| !s.is_empty()).collect();
    let cores = names
        .iter()
        .map(|n| Ok(CoreConfig { schemas: SchemaRegistry::embedded()?.into(), enrichments: enrichments_of(n, dir)? }))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let pool = pool(args.threads);
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); cores.len()];
    let mut turn = 0;
    for _ in 0..args.rounds.max(1) {
        for batch in records.chunks(args.batch.max(1)) {
            for i in (0..cores.len()).map(|j| (j + turn) % cores.len()) {
                let cpu_start = process_cpu_seconds();
                drop(pool.install(|| process_batch(&cores[i], batch, Utc::now())));
                times[i].push(process_cpu_seconds() - cpu_start);
            }
            turn += 1;
        }
    }
    let batch = args.batch.max(1).min(records.len()) as f64;
    let batches = times[0].len();
    // Each batch's time under a setting against its time under the first, measured moments
    // apart: a machine that slows down between batches moves both.
    let paired: Vec<Vec<f64>> = times.iter().map(|t| t.iter().zip(&times[0]).map(|(a, first)| a / first).collect()).collect();
    let medians: Vec<f64> = times.into_iter().map(|t| quartiles(t)[1]).collect();
    for ((name, m), ratios) in names.iter().zip(&medians).zip(paired) {
        let [p25, p50, p75] = quartiles(ratios);
        println!(
            "{}",
            serde_json::json!({"enrichments": name, "batches": batches, "median_cpu_seconds_per_batch": m,
                "events_per_cpu_s": batch / m, "time_vs_first": m / medians[0],
                "paired_time_vs_first": {"p25": p25, "median": p50, "p75": p75}})
        );
    }
    Ok(())
}

/// The first quartile, the median and the third quartile of `values` (nearest rank).
fn quartiles(mut values: Vec<f64>) -> [f64; 3] {
    values.sort_by(f64::total_cmp);
    [0.25, 0.5, 0.75].map(|q| values[((values.len() - 1) as f64 * q).round() as usize])
}
