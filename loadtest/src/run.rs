//! One load run, start to end: check the target, start the generator, send on schedule over
//! `--connections` workers, report, and verify.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use chrono::Utc;
use pipeline::sync::MutexExt as _;
use pipeline::workload::WorkloadConfig;
use tokio::sync::{Mutex, mpsc};

use crate::args::Args;
use crate::batches::{self, Batch, GeneratorConfig, GeneratorStats};
use crate::bitset::Bitset;
use crate::producer::http::Api;
use crate::producer::kinesis::KinesisProducer;
use crate::producer::{Producer, RetryPolicy, Shared, deliver};
use crate::progress::{Counters, Progress, sending_line};
use crate::report::{Extras, Report, summary};
use crate::schedule::Schedule;
use crate::archive::{ArchiveReader, ArchiveSource};
use crate::verify::{BadRowSource, Verifier, user_prefix};

/// Time the generator gets to fill its queue before the first batch is due.
const LEAD: Duration = Duration::from_millis(500);
/// A batch the generator made this much after its due time counts as a generator stall.
const STALL_SLACK: Duration = Duration::from_millis(5);
/// Generator stalls longer than this make the run's numbers the generator's, not the target's.
const STALL_LIMIT: Duration = Duration::from_millis(250);

/// Sending threads with --kinesis.
const KINESIS_SENDER_THREADS: usize = 2;

/// What a run produced.
#[derive(Debug)]
pub struct Outcome {
    /// The run's random id: it is in every user id and event id the run sends.
    pub run_id: u64,
    /// The JSON report.
    pub report: Report,
    /// What else the summary says.
    pub extras: Extras,
    /// Why the run did not go as asked (the exit status is 1 when any).
    pub problems: Vec<String>,
}

impl Outcome {
    /// The human summary printed at the end.
    pub fn summary(&self) -> String {
        summary(&self.report, &self.extras)
    }
}

/// Runs the load described by `args` (on a runtime of its own; call it from plain code).
pub fn run(args: &Args) -> anyhow::Result<Outcome> {
    // HTTP sending is cheap enough for one thread. With --kinesis the AWS SDK serialises,
    // base64-encodes and signs every body (and --aggregate packs and checksums them): two
    // threads keep that from delaying the schedule.
    let mut builder = if args.kinesis.is_some() {
        let mut b = tokio::runtime::Builder::new_multi_thread();
        b.worker_threads(KINESIS_SENDER_THREADS);
        b
    } else {
        tokio::runtime::Builder::new_current_thread()
    };
    let runtime = builder.enable_all().build().context("cannot start the async runtime")?;
    runtime.block_on(run_async(args))
}

/// Which key a client of the pipeline's API sends.
#[derive(Clone, Copy)]
enum KeyRole {
    Ingest,
    Read,
}

fn api_for(args: &Args, why: &str, role: KeyRole) -> anyhow::Result<Api> {
    let target = args.target.as_deref().ok_or_else(|| anyhow!("{why}: pass --target URL, e.g. --target http://127.0.0.1:8080"))?;
    let key = match role {
        KeyRole::Ingest => args.api_key.as_deref().filter(|k| !k.is_empty()).ok_or_else(|| {
            anyhow!("pass --api-key KEY (or set PIPELINE_API_KEY): the ingest key `pipeline up` printed, stored in <data-dir>/api_key")
        })?,
        KeyRole::Read => args.read_key.as_deref().filter(|k| !k.is_empty()).ok_or_else(|| {
            anyhow!("--verify reads the query API: pass --read-key KEY (or set PIPELINE_READ_KEY), the read key `pipeline up` printed, stored in <data-dir>/read_key")
        })?,
    };
    Api::new(target, key, args.connections as usize, args.timeout)
}

async fn worker(producer: Arc<Producer>, queue: Arc<Mutex<mpsc::Receiver<Batch>>>, start: Instant, policy: RetryPolicy, shared: Arc<Shared>) {
    let c = &shared.counters;
    while !shared.stopped() {
        let (batch, waited) = {
            let mut queue = queue.lock().await;
            match queue.try_recv() {
                Ok(b) => (b, false),
                Err(mpsc::error::TryRecvError::Empty) => match queue.recv().await {
                    Some(b) => (b, true),
                    None => break,
                },
                Err(mpsc::error::TryRecvError::Disconnected) => break,
            }
        };
        let due = start + batch.slot.due;
        let now = Instant::now();
        if now < due {
            tokio::time::sleep_until(due.into()).await;
        } else if waited && now - due > STALL_SLACK {
            // Due, and not made yet when a connection was free for it: the generator is behind.
            Counters::add(&c.generator_stalls, 1);
            c.generator_stall_max_us.fetch_max((now - due).as_micros() as u64, std::sync::atomic::Ordering::Relaxed);
        }
        let timing = deliver(&producer, &batch, due, policy, &shared).await;
        c.latency.lock_ignoring_poison().record(timing.latency());
        c.send_lag.lock_ignoring_poison().record(timing.send_lag());
    }
}

/// An S3 client from the environment (path-style addressing for an emulator).
async fn s3_client() -> aws_sdk_s3::Client {
    let config = pipeline_aws::sdk::load_from_env().await;
    // Emulators serve buckets by path, not by virtual host.
    let path_style = std::env::var_os("AWS_ENDPOINT_URL").is_some() || std::env::var_os("AWS_ENDPOINT_URL_S3").is_some();
    aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&config).force_path_style(path_style).build())
}

async fn readable_bucket(client: &aws_sdk_s3::Client, bucket: &str, flag: &str) -> anyhow::Result<()> {
    client.head_bucket().bucket(bucket).send().await.map_err(|e| {
        anyhow!("cannot read the bucket {bucket:?}: {}. Check {flag} and the AWS credentials", aws_sdk_s3::error::DisplayErrorContext(&e))
    })?;
    Ok(())
}

/// What `--verify` reads.
struct VerifySources {
    /// The query API, with the read key.
    api: Api,
    bad_rows: BadRowSource,
    /// The archive, if asked.
    archive: Option<ArchiveSource>,
}

/// What `--verify` reads: the query API, where the bad rows are, and the archive if asked.
async fn verify_sources(args: &Args) -> anyhow::Result<VerifySources> {
    let api = api_for(args, "--verify reads the pipeline's query API", KeyRole::Read)?;
    let client = if args.bad_rows_bucket.is_some() || args.archive_bucket.is_some() { Some(s3_client().await) } else { None };
    let bad_rows = match (&args.bad_rows_bucket, &client) {
        (Some(bucket), Some(client)) => {
            readable_bucket(client, bucket, "--bad-rows-bucket").await?;
            BadRowSource::S3 { client: client.clone(), bucket: bucket.clone(), prefix: with_slash(&args.bad_rows_prefix) }
        }
        _ => BadRowSource::Api,
    };
    let archive = match (&args.archive_dir, &args.archive_bucket, &client) {
        (Some(dir), _, _) => {
            if !dir.is_dir() {
                bail!("--archive-dir {} is not a directory: pass the archive/ directory of `pipeline up`'s data directory", dir.display());
            }
            Some(ArchiveSource::Dir(dir.clone()))
        }
        (None, Some(bucket), Some(client)) => {
            readable_bucket(client, bucket, "--archive-bucket").await?;
            Some(ArchiveSource::S3 { client: client.clone(), bucket: bucket.clone(), prefix: with_slash(&args.archive_prefix) })
        }
        _ => None,
    };
    Ok(VerifySources { api, bad_rows, archive })
}

/// A key prefix that ends with `/` (or is empty).
fn with_slash(prefix: &str) -> String {
    if prefix.is_empty() || prefix.ends_with('/') { prefix.to_owned() } else { format!("{prefix}/") }
}

async fn run_async(args: &Args) -> anyhow::Result<Outcome> {
    let progress = Arc::new(Progress::new(args.quiet));
    let schedule = checked_schedule(args)?;
    let total = schedule.total_events();

    // The target and the query API are checked before any load.
    let producer = checked_producer(args, &progress).await?;
    let run_id: u64 = rand::random();
    let query = if args.verify { Some(checked_verify_sources(args, run_id).await?) } else { None };

    let shared = Arc::new(Shared::new(total));
    let invalid = Arc::new(Bitset::new(total));
    let generator_stats = Arc::new(GeneratorStats::default());
    let queue_batches = ((args.rate / f64::from(args.batch_size)).ceil() as usize).clamp(4, 4096);
    let (tx, rx) = mpsc::channel(queue_batches);
    let start = Instant::now() + LEAD;
    let start_wall = Utc::now() + chrono::Duration::from_std(LEAD).unwrap_or_default();
    let generator = batches::spawn(
        GeneratorConfig { workload: run_workload(args, run_id), schedule, start: start_wall, gzip: args.gzip && args.kinesis.is_none() },
        Arc::clone(&invalid),
        Arc::clone(&generator_stats),
        tx,
    )
    .context("cannot start the generator thread")?;
    progress.println(&start_line(args, &schedule, run_id, total));

    let end = send_on_schedule(args, producer, rx, start, &shared, &progress, &generator_stats).await?;
    let _ = tokio::task::spawn_blocking(move || generator.join()).await;

    let fatal = shared.fatal.lock_ignoring_poison().take();
    if let Some(text) = fatal {
        progress.finish();
        bail!(text);
    }
    let mut outcome = tally(args, run_id, &shared, &generator_stats, end.saturating_duration_since(start), &progress);
    if let Some(sources) = query {
        let run = RunToVerify { run_id, total, start_wall, accepted: &shared.accepted, invalid: &invalid };
        verify_run(args, sources, run, &mut outcome, &progress).await?;
    }
    progress.finish();

    if let Some(path) = &args.report {
        std::fs::write(path, outcome.report.to_json() + "\n").with_context(|| format!("cannot write the report to {}", path.display()))?;
    }
    Ok(outcome)
}

/// The run's schedule, once the arguments are checked; an error when it makes no events.
fn checked_schedule(args: &Args) -> anyhow::Result<Schedule> {
    args.check().map_err(|e| anyhow!(e))?;
    let schedule = Schedule { rate: args.rate, duration: args.duration, ramp: args.ramp, batch_size: args.batch_size };
    if schedule.total_events() == 0 {
        bail!("--rate {} for --duration {} makes no events: raise either", args.rate, humantime::format_duration(args.duration));
    }
    Ok(schedule)
}

/// The producer for `--kinesis` or `--target`, after checking that the target answers.
async fn checked_producer(args: &Args, progress: &Progress) -> anyhow::Result<Producer> {
    Ok(match &args.kinesis {
        Some(stream) => {
            if args.gzip {
                progress.println("--gzip is ignored with --kinesis (records are single events)");
            }
            Producer::Kinesis(KinesisProducer::new(stream, args.timeout, args.aggregate).await?)
        }
        None => {
            let api = api_for(args, "loadtest needs the pipeline's address", KeyRole::Ingest)?;
            api.preflight().await?;
            Producer::Http(Box::new(api))
        }
    })
}

/// What `--verify` reads, after one probe of the query API with the read key.
async fn checked_verify_sources(args: &Args, run_id: u64) -> anyhow::Result<VerifySources> {
    let sources = verify_sources(args).await?;
    let api = &sources.api;
    let probe = api.get(&format!("/v1/users/{}0/events?limit=1", user_prefix(run_id))).await?;
    match probe.status.as_u16() {
        200 => Ok(sources),
        403 => bail!("the query API at {} refused the read key (403): pass the read key with --read-key (PIPELINE_READ_KEY)", api.base()),
        s => bail!("--verify needs the query API at {} (GET /v1/users/ID/events answered {s}: {})", api.base(), probe.message()),
    }
}

/// The events of run `run_id`: the seeded workload with the run's user prefix and event ids.
fn run_workload(args: &Args, run_id: u64) -> WorkloadConfig {
    WorkloadConfig {
        seed: args.seed,
        mix: args.mix.0,
        invalid_ratio: args.invalid_ratio,
        oversize_ratio: 0.0,
        unparseable: false,
        users: args.users,
        user_prefix: Some(user_prefix(run_id)),
        event_id_run: Some(run_id),
        ..WorkloadConfig::default()
    }
}

/// The line that says what the run will send, and where.
fn start_line(args: &Args, schedule: &Schedule, run_id: u64, total: u64) -> String {
    format!(
        "loadtest run {run_id:016x}: {} events/s for {} (ramp {}) to {}: {total} events in {} batches of up to {}, {} connections",
        args.rate,
        humantime::format_duration(args.duration),
        humantime::format_duration(args.ramp),
        args.kinesis.as_ref().map_or_else(
            || args.target.clone().unwrap_or_default(),
            |s| format!("Kinesis stream {s}{}", if args.aggregate { " (KPL aggregated records)" } else { "" })
        ),
        schedule.batches(),
        args.batch_size,
        args.connections
    )
}

/// Sends every batch the generator makes over `--connections` workers, with a progress line
/// while they run; the instant the last worker finished.
async fn send_on_schedule(
    args: &Args,
    producer: Producer,
    rx: mpsc::Receiver<Batch>,
    start: Instant,
    shared: &Arc<Shared>,
    progress: &Arc<Progress>,
    generator_stats: &GeneratorStats,
) -> anyhow::Result<Instant> {
    let producer = Arc::new(producer);
    let queue = Arc::new(Mutex::new(rx));
    let policy = RetryPolicy { retries: args.retries, ..RetryPolicy::default() };
    let workers: Vec<_> = (0..args.connections)
        .map(|_| tokio::spawn(worker(Arc::clone(&producer), Arc::clone(&queue), start, policy, Arc::clone(shared))))
        .collect();
    drop(queue);
    let ticker = spawn_ticker(Arc::clone(shared), Arc::clone(progress), args.rate, start);

    tokio::time::sleep_until(start.into()).await;
    let capacity = generator_stats.capacity();
    if let Some(c) = capacity.filter(|&c| c < args.rate) {
        progress.println(&format!(
            "warning: the generator makes only about {c:.0} events/s on this machine, below --rate {}: expect the run to be generator-limited",
            args.rate
        ));
    }
    for w in workers {
        w.await.context("a sender task failed")?;
    }
    let end = Instant::now();
    ticker.abort();
    Ok(end)
}

/// Shows the sending line every 250 ms from `start` until aborted.
fn spawn_ticker(shared: Arc<Shared>, progress: Arc<Progress>, rate: f64, start: Instant) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        tokio::time::sleep_until(start.into()).await;
        let mut window = (Instant::now(), 0u64);
        let mut recent = 0.0;
        loop {
            tokio::time::sleep(Duration::from_millis(250)).await;
            let now = Instant::now();
            let accepted = Counters::get(&shared.counters.accepted);
            // Over the last second; the mean until a second has passed.
            if now - window.0 >= Duration::from_secs(1) {
                recent = (accepted - window.1) as f64 / (now - window.0).as_secs_f64();
                window = (now, accepted);
            } else if window.1 == 0 {
                recent = accepted as f64 / (now - start).as_secs_f64().max(1e-3);
            }
            progress.show(sending_line(&shared.counters, now - start, rate, recent));
        }
    })
}

/// The report of what was sent in `elapsed`, and the problems of the sending itself.
fn tally(args: &Args, run_id: u64, shared: &Shared, generator_stats: &GeneratorStats, elapsed: Duration, progress: &Progress) -> Outcome {
    let c = &shared.counters;
    // The schedule's length, or longer when the last responses came after its end.
    let duration_s = elapsed.max(args.duration).as_secs_f64().max(1e-9);
    let accepted = Counters::get(&c.accepted);
    let report = Report {
        sent: Counters::get(&c.sent),
        accepted,
        throttled: Counters::get(&c.throttled),
        failed: Counters::get(&c.failed),
        duration_s,
        achieved_events_per_s: accepted as f64 / duration_s,
        latency_ms: c.latency.lock_ignoring_poison().summary(),
        verify: None,
    };
    let extras = Extras {
        target_rate: args.rate,
        requests: Counters::get(&c.requests),
        errors: Counters::get(&c.errors),
        send_lag_p99_ms: c.send_lag.lock_ignoring_poison().quantile_ms(0.99),
        generator_capacity: generator_stats.capacity(),
        ..Extras::default()
    };
    let mut problems = Vec::new();
    let stall_max = Duration::from_micros(Counters::get(&c.generator_stall_max_us));
    if stall_max > STALL_LIMIT {
        problems.push(format!(
            "the generator fell behind the schedule ({} batches late, by up to {} ms; it makes about {:.0} events/s here against --rate {}): \
             the achieved rate and latencies describe loadtest's generator, not the target. Lower --rate or run loadtest on another machine",
            Counters::get(&c.generator_stalls),
            stall_max.as_millis(),
            extras.generator_capacity.unwrap_or_default(),
            args.rate
        ));
    }
    if let Some(text) = shared.first_refusal.lock_ignoring_poison().take() {
        problems.push(format!("the target refused requests (their events count as failed); the first: {text}"));
    }
    if report.failed > 0
        && let Some(text) = shared.last_error.lock_ignoring_poison().clone()
    {
        progress.println(&format!("{} events failed after retries; the last error: {text}", report.failed));
    }
    if accepted == 0 {
        problems.push("the target acknowledged no event".into());
    }
    progress.println(&format!(
        "sent {} events in {duration_s:.1} s: accepted {accepted} ({:.0}/s), p99 {:.1} ms",
        report.sent, report.achieved_events_per_s, report.latency_ms.p99
    ));
    Outcome { run_id, report, extras, problems }
}

/// What `--verify` checks of a finished run.
struct RunToVerify<'a> {
    run_id: u64,
    /// Events the run made.
    total: u64,
    start_wall: chrono::DateTime<Utc>,
    accepted: &'a Bitset,
    invalid: &'a Bitset,
}

/// Waits until every accepted event of `run` is stored or a bad row (and archived, when
/// asked), and adds what is not to `outcome`.
async fn verify_run(args: &Args, sources: VerifySources, run: RunToVerify<'_>, outcome: &mut Outcome, progress: &Progress) -> anyhow::Result<()> {
    let VerifySources { api, bad_rows, archive } = sources;
    let since = run.start_wall - chrono::Duration::seconds(60);
    let since_file = std::time::SystemTime::UNIX_EPOCH + Duration::from_secs(since.timestamp().max(0) as u64);
    let verifier = Verifier {
        api: &api,
        bad_rows,
        run: run.run_id,
        users: args.users,
        since,
        accepted: run.accepted,
        invalid: run.invalid,
        archive: archive.map(|source| (ArchiveReader::new(source, run.run_id, since_file), Arc::new(Bitset::new(run.total)))),
        ids_only: std::sync::OnceLock::new(),
    };
    let (v, found) = verifier.wait_and_check(args.verify_timeout, progress).await?;
    outcome.report.verify = Some(v);
    outcome.extras.unacknowledged_found = found.unacknowledged;
    outcome.extras.misplaced = found.misplaced;
    if v.missing > 0 {
        outcome.problems.push(format!("conservation failed: {} of {} accepted events are neither stored nor bad rows", v.missing, v.accepted));
    }
    if let Some(missing) = v.archive_missing.filter(|&m| m > 0) {
        outcome.problems.push(format!("{missing} valid accepted events are not in the archive"));
    }
    if found.misplaced > 0 {
        outcome.problems.push(format!("{} events ended on the wrong side (a valid event as a bad row, or an invalid one stored)", found.misplaced));
    }
    Ok(())
}
