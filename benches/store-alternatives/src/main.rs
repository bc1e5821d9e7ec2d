//! `store-alternatives`: local mode's events store against SQLite (one table; one file
//! per hour), fjall and RocksDB, on the same load (docs/PERFORMANCE.md, "The store against
//! the alternatives"; `scripts/store-alternatives.sh` runs them all).
//!
//! ```sh
//! store-alternatives generate --events 10000000 --out events.bin.zst
//! store-alternatives run --backend ours --events-file events.bin.zst --data-dir /tmp/sa-ours
//! ```
//!
//! A run feeds the file's batches to one backend, one unit of work after another, as one
//! consumer commits them; it prints one JSON line: CPU time per event (the whole process
//! less the reader thread), events per second, bytes written and kept per event, the
//! rate of the first and of the last million events, and the p50 of a user's events in a
//! time range over 1,000 random users.

mod backends;
mod events;
mod measure;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, sync_channel};
use std::time::Instant;

use clap::{Parser, Subcommand};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use backends::{Backend, Kind};
use events::{Batch, BatchReader};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(about = "Measure local mode's events store against SQLite, fjall and RocksDB on the same load")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Make the load: the reference workload's valid events (seed 42), enriched by the
    /// core and cut into the consumers' batches, into a zstd-compressed file.
    Generate {
        /// Valid events to write at least (a batch is not cut).
        #[arg(long)]
        events: u64,
        #[arg(long)]
        out: PathBuf,
    },
    /// Store the file's events in one backend and measure it; prints one JSON line.
    Run {
        #[arg(long, value_enum)]
        backend: Kind,
        /// A file made by `generate`.
        #[arg(long)]
        events_file: PathBuf,
        /// Where the backend keeps its data: must be missing or empty (delete it after).
        #[arg(long)]
        data_dir: PathBuf,
        /// Stop after this many events (whole batches); default: the whole file.
        #[arg(long)]
        max_events: Option<u64>,
        /// Events per sample of the write rate (the first and the last are compared).
        #[arg(long, default_value_t = 1_000_000)]
        window: u64,
        /// Users queried after the writes (a random hour of their events each).
        #[arg(long, default_value_t = 1_000)]
        queries: usize,
        /// Stop writing (and report what was stored) when the disk has less free than
        /// this: the machine's disk is shared.
        #[arg(long, default_value_t = 25)]
        min_free_gb: u64,
    },
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Generate { events, out } => events::generate(events, &out),
        Command::Run { backend, events_file, data_dir, max_events, window, queries, min_free_gb } => {
            let limits = Limits { max_events: max_events.unwrap_or(u64::MAX), window: window.max(1), queries, min_free: min_free_gb << 30 };
            let report = run(backend, &events_file, &data_dir, &limits)?;
            println!("{report}");
            Ok(())
        }
    }
}

/// How much a run stores, samples and queries.
struct Limits {
    max_events: u64,
    window: u64,
    queries: usize,
    /// Bytes the disk keeps free at least.
    min_free: u64,
}

/// Batches between two looks at the disk's free space.
const FREE_SPACE_EVERY: u64 = 20;

/// What the reader saw: the users, the first and last sort keys, its CPU seconds.
#[derive(Default)]
struct ReaderSummary {
    users: Vec<String>,
    first_sk: String,
    last_sk: String,
    /// Bytes of the stored JSON of every event read.
    json_bytes: u64,
}

/// Reads batches on a thread of its own (its CPU time, in `cpu_nanos`, is not the backend's).
fn spawn_reader(path: &Path, max_events: u64, cpu_nanos: Arc<AtomicU64>) -> anyhow::Result<(Receiver<Batch>, std::thread::JoinHandle<anyhow::Result<ReaderSummary>>)> {
    let mut reader = BatchReader::open(path)?;
    let (tx, rx) = sync_channel::<Batch>(16);
    let handle = std::thread::Builder::new().name("reader".into()).spawn(move || {
        let (mut users, mut summary, mut sent) = (HashSet::new(), ReaderSummary::default(), 0u64);
        while sent < max_events {
            let Some(batch) = reader.next_batch()? else { break };
            for e in &batch.events {
                summary.json_bytes += e.json.len() as u64;
                if !users.contains(&e.pk) {
                    users.insert(e.pk.clone());
                }
                if summary.first_sk.is_empty() || e.sk < summary.first_sk {
                    summary.first_sk.clone_from(&e.sk);
                }
                if e.sk > summary.last_sk {
                    summary.last_sk.clone_from(&e.sk);
                }
            }
            sent += batch.events.len() as u64;
            cpu_nanos.store((thread_cpu_seconds() * 1e9) as u64, Ordering::Relaxed);
            if tx.send(batch).is_err() {
                break;
            }
        }
        let mut users: Vec<String> = users.into_iter().collect();
        users.sort();
        summary.users = users;
        cpu_nanos.store((thread_cpu_seconds() * 1e9) as u64, Ordering::Relaxed);
        Ok(summary)
    })?;
    Ok((rx, handle))
}

fn thread_cpu_seconds() -> f64 {
    // SAFETY: pthread_self is always a live thread (this one).
    measure::thread_cpu(unsafe { libc::pthread_self() })
}

/// One sample of the write loop: events stored so far, wall and backend CPU seconds.
#[derive(Clone, Copy, Debug)]
struct Sample {
    events: u64,
    wall: f64,
    cpu: f64,
}

/// The rate between two samples: events per wall second and CPU microseconds per event.
fn rate(a: Sample, b: Sample) -> serde_json::Value {
    let n = (b.events - a.events).max(1) as f64;
    serde_json::json!({
        "from_events": a.events, "to_events": b.events,
        "events_per_s": (n / (b.wall - a.wall).max(1e-9)).round(),
        "cpu_us_per_event": ((b.cpu - a.cpu) / n * 1e6 * 100.0).round() / 100.0,
    })
}

fn run(kind: Kind, events_file: &Path, data_dir: &Path, limits: &Limits) -> anyhow::Result<serde_json::Value> {
    let (window, queries) = (limits.window, limits.queries);
    if std::fs::read_dir(data_dir).is_ok_and(|mut d| d.next().is_some()) {
        anyhow::bail!("{} is not empty: give a new --data-dir (each run starts from an empty store)", data_dir.display());
    }
    std::fs::create_dir_all(data_dir)?;
    let mut backend = backends::open(kind, data_dir)?;
    let reader_cpu = Arc::new(AtomicU64::new(0));
    let (rx, reader) = spawn_reader(events_file, limits.max_events, Arc::clone(&reader_cpu))?;
    let reader_seconds = || reader_cpu.load(Ordering::Relaxed) as f64 / 1e9;

    let (t0, cpu0, reader0, written0) = (Instant::now(), measure::process_cpu(), reader_seconds(), measure::written_bytes());
    let sample = |events: u64| Sample { events, wall: t0.elapsed().as_secs_f64(), cpu: measure::process_cpu() - cpu0 - (reader_seconds() - reader0) };
    let mut samples = vec![sample(0)];
    let (mut stored, mut batches, mut stopped) = (0u64, 0u64, None);
    for batch in rx {
        if batches % FREE_SPACE_EVERY == 0 && measure::free_bytes(data_dir) < limits.min_free {
            eprintln!("{}: stopped after {stored} events: less than {} GB free", kind.name(), limits.min_free >> 30);
            stopped = Some(format!("less than {} GB free", limits.min_free >> 30));
            break;
        }
        backend.write(&batch)?;
        stored += batch.events.len() as u64;
        batches += 1;
        if stored / window > samples.last().map_or(0, |s| s.events / window) {
            let s = sample(stored);
            eprintln!("{}: {stored} events, {:.0} s, {:.2} µs CPU an event so far", kind.name(), s.wall, s.cpu / stored as f64 * 1e6);
            samples.push(s);
        }
    }
    let summary = reader.join().map_err(|_| anyhow::anyhow!("the reader thread panicked"))??;
    let written = sample(stored);
    backend.finish()?;
    let done = sample(stored);
    let written_bytes = measure::written_bytes() - written0;
    let disk = measure::disk_bytes(data_dir);
    let query = query_latency(&*backend, &summary, queries)?;

    // The first and the last window of `window` events (a sample is taken after the batch
    // that crosses each multiple of `window`; the events after the last one are left out).
    let (first, last) = match samples.len() {
        n if n >= 3 => (rate(samples[0], samples[1]), rate(samples[n - 2], samples[n - 1])),
        _ => (serde_json::Value::Null, serde_json::Value::Null),
    };
    let per_event = |v: f64| (v / stored.max(1) as f64 * 100.0).round() / 100.0;
    Ok(serde_json::json!({
        "backend": kind.name(),
        "events": stored,
        "batches": batches,
        "stopped_early": stopped,
        "write_seconds": (written.wall * 10.0).round() / 10.0,
        "finish_seconds": ((done.wall - written.wall) * 10.0).round() / 10.0,
        "events_per_s": (stored as f64 / done.wall).round(),
        "cpu_us_per_event": per_event(done.cpu * 1e6),
        "cpu_us_per_event_before_finish": per_event(written.cpu * 1e6),
        "written_bytes_per_event": per_event(written_bytes as f64),
        "disk_bytes_per_event": per_event(disk as f64),
        "disk_bytes": disk,
        "first_window": first,
        "last_window": last,
        "windows": samples.windows(2).map(|w| rate(w[0], w[1])).collect::<Vec<_>>(),
        "query": query,
        "engine": backend.engine_report(),
        "reader_cpu_seconds": reader_seconds(),
        "mean_json_bytes": summary.json_bytes / stored.max(1),
    }))
}

/// p50 and p99 of one user's events in one hour (a random user and hour within the data's
/// event times, seeded), over `n` users; newest first, at most the API's default page.
fn query_latency(backend: &dyn Backend, summary: &ReaderSummary, n: usize) -> anyhow::Result<serde_json::Value> {
    let time = |sk: &str| chrono::DateTime::parse_from_rfc3339(sk.split('#').next().unwrap_or_default()).map(|t| t.with_timezone(&chrono::Utc));
    let (Ok(start), Ok(end)) = (time(&summary.first_sk), time(&summary.last_sk)) else { return Ok(serde_json::Value::Null) };
    if summary.users.is_empty() || n == 0 {
        return Ok(serde_json::Value::Null);
    }
    let hour = chrono::Duration::hours(1);
    let span_ms = (end - start - hour).num_milliseconds().max(1);
    let mut rng = SmallRng::seed_from_u64(42);
    let (mut latencies, mut found) = (Vec::with_capacity(n), 0usize);
    for _ in 0..n {
        let user = &summary.users[rng.random_range(0..summary.users.len())];
        let from = start + chrono::Duration::milliseconds(rng.random_range(0..span_ms));
        let (mut lo, mut hi) = (String::new(), String::new());
        pipeline::time_format::push_millis(&mut lo, from);
        pipeline::time_format::push_millis(&mut hi, from + hour);
        let t = Instant::now();
        let events = backend.user_events(user, &lo, &hi, pipeline::query::DEFAULT_LIMIT)?;
        latencies.push(t.elapsed().as_secs_f64() * 1e3);
        found += events.len();
    }
    latencies.sort_by(f64::total_cmp);
    let ms = |v: f64| (v * 1000.0).round() / 1000.0;
    Ok(serde_json::json!({
        "users": n,
        "range": "1 h",
        "p50_ms": ms(measure::quantile(&latencies, 0.5)),
        "p99_ms": ms(measure::quantile(&latencies, 0.99)),
        "mean_events_returned": (found as f64 / n as f64 * 10.0).round() / 10.0,
    }))
}
