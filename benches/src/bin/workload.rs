//! Writes the reference workload as NDJSON, for `pipeline validate`, peers and loadtests.

use std::io::{BufWriter, Write};

use clap::Parser;
use pipeline::workload::{Workload, WorkloadConfig};

#[derive(Parser)]
#[command(about = "Write the seeded reference workload as NDJSON (one event per line)")]
struct Args {
    /// How many events.
    #[arg(long, default_value_t = 100_000)]
    events: usize,
    /// Generator seed: the same seed writes the same bytes.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Share of events that should become bad rows.
    #[arg(long, default_value_t = 0.05)]
    invalid_ratio: f64,
    /// Campaign parameters in page URLs and referrers of every medium (for the enrichments);
    /// the other bytes of every event stay as without it.
    #[arg(long)]
    attribution: bool,
    /// Output file (default: standard output).
    #[arg(long)]
    out: Option<std::path::PathBuf>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let config = WorkloadConfig { seed: args.seed, invalid_ratio: args.invalid_ratio, attribution: args.attribution, ..WorkloadConfig::default() };
    let mut workload = Workload::new(config);
    let sink: Box<dyn Write> = match &args.out {
        Some(path) => Box::new(std::fs::File::create(path)?),
        None => Box::new(std::io::stdout().lock()),
    };
    let mut out = BufWriter::new(sink);
    workload.write_ndjson(args.events, &mut out)?;
    out.flush()?;
    Ok(())
}
