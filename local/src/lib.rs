//! `pipeline-local`: the whole pipeline on one machine (`pipeline up`).
//!
//! The ingest API ([`ingest`]) appends to a durable log on disk ([`stream`]); one
//! consumer per shard ([`consumer`]) runs the same batch flow as the processor Lambda with
//! local sinks ([`sinks`]) and commits each batch as one unit of work ([`unit`](mod@unit)) to the
//! events and bad-row store ([`store`]), the archive ([`archive`]) and the aggregates
//! ([`aggregates`]), with its checkpoint in `pipeline.db` ([`pipeline_db`]); a thread of
//! upkeep ([`maintenance`]) merges the store's files and applies retention. The query API
//! ([`query`]) reads the stores. The routes share [`http`] (state, keys, error bodies) and
//! are served by [`server`] (connection cap, timeouts, bounded drain). With `--kinesis-listen`, [`kinesis`] answers
//! the Kinesis API on a second listener, appending to the same stream.
//!
//! The central types: [`LocalConfig`] (what `pipeline up`'s flags set) and [`run`], which
//! starts it all and drains it on SIGINT or SIGTERM; [`stream::StreamWriter`], the one
//! writer of the durable log; [`store::Store`], the events and bad rows by key; and
//! [`http::AppState`], what every route shares.
//!
//! # Example
//!
//! A user runs it as `pipeline up` (`pipeline up --help` lists every flag):
//!
//! ```sh
//! pipeline up --data-dir data --listen 127.0.0.1:8080 --shards 4
//! ```
//!
//! and a program embeds it the same way:
//!
//! ```no_run
//! use pipeline_local::{LocalConfig, run};
//!
//! # async fn example() -> anyhow::Result<()> {
//! let mut config = LocalConfig::new("data", "127.0.0.1:8080".parse()?);
//! config.shards = 2;
//! run(config).await // serves until SIGINT or SIGTERM, then drains
//! # }
//! ```

#![warn(missing_docs)]

/// Prints a line for the person running `pipeline up`. A closed stdout (`pipeline up |
/// head`) must not stop the pipeline, as `println!`'s panic would.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}

pub mod aggregates;
pub mod archive;
pub mod body;
pub mod consumer;
pub mod dashboard;
pub mod disk;
pub mod http;
pub mod ingest;
pub mod kinesis;
pub mod maintenance;
pub mod metrics;
pub mod pipeline_db;
pub mod query;
pub mod server;
pub mod shard;
pub mod sinks;
pub mod sqlite;
pub mod stats;
pub mod stats_history;
pub mod store;
pub mod stream;
pub mod unit;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context, bail};
use axum::Router;
use axum::middleware;
use axum::routing::{get, post};
use pipeline::CoreConfig;
use pipeline::enrichments::lookup::TableBudget;

use crate::consumer::{ConsumerConfig, ConsumerStats};
use crate::http::{ApiKeys, AppState, stored_key};
use crate::body::{BODY_BUDGET_BYTES, BodyBudget};
use crate::server::ServerLimits;
use crate::stream::StreamWriter;

/// How local mode runs.
#[derive(Clone, Debug)]
pub struct LocalConfig {
    /// The data directory (`--data-dir`): stream, store, archive and `pipeline.db`.
    pub data_dir: PathBuf,
    /// Where the HTTP API listens (`--listen`).
    pub listen: SocketAddr,
    /// Shards of the stream (`--shards`): each has one consumer.
    pub shards: u32,
    /// The ingest key; `None`: the one stored in the data directory, or a new one.
    pub api_key: Option<String>,
    /// The read key (queries, bad rows); `None`: stored or new, like the ingest key.
    pub read_key: Option<String>,
    /// Connections served at once; `None`: [`server::MAX_CONNECTIONS`] within the
    /// open-files limit.
    pub max_connections: Option<usize>,
    /// Time to send a request's headers, and to leave a keep-alive connection idle.
    pub header_timeout: Duration,
    /// Time to send a request's body.
    pub body_timeout: Duration,
    /// Time a shutdown waits for requests in flight.
    pub drain_timeout: Duration,
    /// A schemas directory replacing the embedded one (`--schemas`).
    pub schemas_dir: Option<PathBuf>,
    /// An enrichments directory replacing the embedded one.
    pub enrichments_dir: Option<PathBuf>,
    /// Seconds between progress lines (0: none).
    pub progress_every: Duration,
    /// How often partial aggregates are merged into rows.
    pub aggregate_interval: Duration,
    /// Where the Kinesis-compatible endpoint listens (`None`: it is off).
    pub kinesis_listen: Option<SocketAddr>,
    /// The one stream the Kinesis endpoint serves.
    pub stream_name: String,
    /// How long events and bad rows are kept after they arrived.
    pub retention: Duration,
    /// How long finished archive files are kept; `None`: for ever.
    pub archive_retention: Option<Duration>,
    /// The consumers start only after this (a backlog builds up: for measuring how fast
    /// they drain one).
    pub pause_consumers: Duration,
}

impl LocalConfig {
    /// The defaults of `pipeline up` for `data_dir` and `listen`.
    pub fn new(data_dir: impl Into<PathBuf>, listen: SocketAddr) -> Self {
        Self {
            data_dir: data_dir.into(),
            listen,
            shards: 4,
            api_key: None,
            read_key: None,
            max_connections: None,
            header_timeout: server::HEADER_TIMEOUT,
            body_timeout: body::BODY_TIMEOUT,
            drain_timeout: server::DRAIN_TIMEOUT,
            schemas_dir: None,
            enrichments_dir: None,
            progress_every: Duration::ZERO,
            aggregate_interval: Duration::from_secs(60),
            kinesis_listen: None,
            stream_name: kinesis::DEFAULT_STREAM_NAME.to_owned(),
            retention: store::DEFAULT_RETENTION,
            archive_retention: None,
            pause_consumers: Duration::ZERO,
        }
    }
}

/// Nice value of the consumer threads (0 is normal; higher yields the CPU to others).
pub const CONSUMER_NICE: i32 = 10;

/// Lowers the calling thread's CPU priority (Linux: the nice value is per thread).
fn lower_priority(nice: i32) {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: plain syscalls on the calling thread, no memory handed over.
        let tid = unsafe { libc::syscall(libc::SYS_gettid) };
        if unsafe { libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, nice) } != 0 {
            tracing::debug!("could not lower the consumer thread's priority");
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = nice;
}

/// The routes (DESIGN sections 4-5), each behind the key of its role ([`http`]).
pub fn router(state: AppState) -> Router {
    let ingest = Router::new()
        .route("/v1/events", post(ingest::put_events))
        .route("/v1/event", post(ingest::put_event))
        .route_layer(middleware::from_fn_with_state(state.clone(), http::require_ingest_key));
    let read = Router::new()
        .route("/v1/users/{user_id}/events", get(query::user_events))
        .route("/v1/events", get(query::type_events))
        .route("/v1/bad-rows", get(query::bad_rows))
        .route("/v1/bad-rows/recovered", post(query::mark_recovered))
        .route("/v1/aggregates", get(query::aggregates))
        .route_layer(middleware::from_fn_with_state(state.clone(), http::require_read_key));
    let open = Router::new()
        .route("/health", get(query::health))
        .route("/metrics", get(metrics::metrics))
        .route("/v1/stats", get(stats::stats))
        .route("/", get(dashboard::index))
        .route("/assets/dashboard.js", get(dashboard::script))
        .route("/assets/dashboard.css", get(dashboard::style))
        .route("/assets/uplot.js", get(dashboard::uplot_js))
        .route("/assets/uplot.css", get(dashboard::uplot_css))
        .route("/openapi.yaml", get(dashboard::openapi));
    Router::new()
        .merge(ingest)
        .merge(read)
        .merge(open)
        .fallback(http::not_found)
        .method_not_allowed_fallback(http::method_not_allowed)
        .layer(middleware::from_fn(http::json_errors))
        .with_state(state)
}

/// Runs local mode until SIGINT or SIGTERM, then drains and returns.
pub async fn run(config: LocalConfig) -> anyhow::Result<()> {
    if config.aggregate_interval.is_zero() {
        bail!("--aggregate-interval must be longer than 0, e.g. 60s");
    }
    if config.shards == 0 || config.shards > 1024 {
        bail!("--shards {} is out of range: use 1 to 1024", config.shards);
    }
    let _lock = take_data_dir(&config.data_dir)?;
    if config.retention.is_zero() {
        bail!("--retention must be longer than 0, e.g. 30d");
    }
    let core = Arc::new(CoreConfig::load(config.schemas_dir.as_deref(), config.enrichments_dir.as_deref(), TableBudget::local())?);
    let stores = Stores::open(&config)?;
    let keys = Keys::load(&config)?;
    let limits = server_limits(&config)?;
    let listeners = Listeners::bind(&config).await?;

    // The core's rayon threads work for the consumers: same priority as theirs.
    let _ = rayon::ThreadPoolBuilder::new().start_handler(|_| lower_priority(CONSUMER_NICE)).build_global();
    let stop = Arc::new(AtomicBool::new(false));
    // A consumer that cannot go on (a damaged stream) stops the pipeline with its error.
    let failed = Arc::new(tokio::sync::Notify::new());
    let stats = Arc::new(ConsumerStats::default());
    let merge_stats = Arc::new(aggregates::MergeStats::default());
    let consumers = start_consumers(&config, &stores, &core, &stats, &stop, &failed)?;
    let disk = Arc::new(disk::DiskUsage::default());
    let upkeep = start_upkeep(&config, &stores, &disk, &stop)?;
    let (state, kinesis_state) = route_states(&config, &stores, &core, &keys, disk, &stats, &merge_stats);
    stats::spawn_sampler(state.clone(), Arc::clone(&state.history));
    let merges = start_merges(&config, &stores, &stop, merge_stats)?;
    say_started(&config, &listeners, &core, &keys)?;

    let progress = spawn_progress(config.progress_every, Arc::clone(&state.accepted), stats, stores.writer.clone());
    serve_until_stopped(listeners, state, kinesis_state, limits, failed).await?;
    say!("shutting down: no new requests; processing what was accepted ...");
    stop.store(true, Ordering::Relaxed);
    for c in consumers {
        tokio::task::spawn_blocking(move || c.join()).await?.map_err(|_| anyhow::anyhow!("a consumer thread panicked"))??;
    }
    // The merge sees `stop` and runs once more over what the consumers committed last.
    merges.await??;
    tokio::task::spawn_blocking(move || upkeep.join()).await?.map_err(|_| anyhow::anyhow!("the upkeep thread panicked"))?;
    if let Some(p) = progress {
        p.abort();
    }
    say!("stopped cleanly: every accepted event is processed");
    Ok(())
}

/// Creates the data directory, checks it is writable and takes it for this process.
fn take_data_dir(data_dir: &Path) -> anyhow::Result<std::fs::File> {
    std::fs::create_dir_all(data_dir).with_context(|| format!("cannot create the data directory {}", data_dir.display()))?;
    let probe = data_dir.join(".write-test");
    std::fs::write(&probe, b"").with_context(|| format!("the data directory {} is not writable: pass --data-dir DIR", data_dir.display()))?;
    let _ = std::fs::remove_file(probe);
    lock_data_dir(data_dir)
}

/// The data directory's stores, opened and recovered, that the consumers, the routes and
/// the upkeep share.
struct Stores {
    db_path: PathBuf,
    /// `pipeline.db`'s one writing connection.
    db: Arc<std::sync::Mutex<rusqlite::Connection>>,
    store: Arc<store::Store>,
    writer: StreamWriter,
    reader: stream::StreamReader,
}

impl Stores {
    fn open(config: &LocalConfig) -> anyhow::Result<Self> {
        let db_path = config.data_dir.join("pipeline.db");
        let db = pipeline_db::open(&db_path)?;
        let processed = (0..config.shards)
            .map(|shard| pipeline_db::checkpoint(&db, &shard::shard_id(shard)))
            .collect::<rusqlite::Result<Vec<u64>>>()?;
        archive::create_layout(&config.data_dir.join("archive"))?;
        let store = Arc::new(store::Store::open(&config.data_dir, &db, store::StoreConfig { shards: config.shards, retention: config.retention })?);
        let (writer, reader) = stream::start(&config.data_dir, config.shards, &processed)?;
        // One connection writes for every consumer: SQLite takes one writer at a time anyway,
        // and with several writing connections there is nearly always one inside the log, so it
        // is never restarted and grows by gigabytes under load.
        let db = Arc::new(std::sync::Mutex::new(db));
        Ok(Self { db_path, db, store, writer, reader })
    }
}

/// The ingest and read keys, and whether each was just made (and stored).
struct Keys {
    ingest: String,
    ingest_is_new: bool,
    read: String,
    read_is_new: bool,
}

impl Keys {
    fn load(config: &LocalConfig) -> anyhow::Result<Self> {
        let (ingest, ingest_is_new) = stored_key(&config.data_dir, "api_key", config.api_key.clone())?;
        let (read, read_is_new) = stored_key(&config.data_dir, "read_key", config.read_key.clone())?;
        if read == ingest {
            bail!("the read key and the ingest key are the same: give --read-key a key of its own (it opens the query routes; the ingest key ships in apps)");
        }
        Ok(Self { ingest, ingest_is_new, read, read_is_new })
    }
}

/// The connection cap and timeouts, within this process's open-files limit.
fn server_limits(config: &LocalConfig) -> anyhow::Result<ServerLimits> {
    let open_files = server::raise_open_files_limit();
    Ok(ServerLimits {
        max_connections: server::connection_cap(config.max_connections, open_files, reserved_fds(config.shards))?,
        header_timeout: config.header_timeout,
        drain_timeout: config.drain_timeout,
    })
}

/// The HTTP API's listener, and the Kinesis endpoint's when it is on.
struct Listeners {
    http: tokio::net::TcpListener,
    kinesis: Option<tokio::net::TcpListener>,
}

impl Listeners {
    async fn bind(config: &LocalConfig) -> anyhow::Result<Self> {
        let http = tokio::net::TcpListener::bind(config.listen).await.with_context(|| {
            format!("cannot listen on {}: is another program using the port? Pass --listen ADDR", config.listen)
        })?;
        warn_if_exposed(http.local_addr()?, "the HTTP API", "--listen");
        let kinesis = match config.kinesis_listen {
            None => None,
            Some(at) => {
                kinesis::check_stream_name(&config.stream_name)?;
                let listener = tokio::net::TcpListener::bind(at).await.with_context(|| {
                    format!("cannot listen on {at} for the Kinesis endpoint: is another program using the port? Pass --kinesis-listen ADDR")
                })?;
                warn_if_exposed(listener.local_addr()?, "the Kinesis endpoint (it checks no signature)", "--kinesis-listen");
                Some(listener)
            }
        };
        Ok(Self { http, kinesis })
    }
}

/// One consumer thread per shard; each notifies `failed` when it stops with an error.
fn start_consumers(
    config: &LocalConfig,
    stores: &Stores,
    core: &Arc<CoreConfig>,
    stats: &Arc<ConsumerStats>,
    stop: &Arc<AtomicBool>,
    failed: &Arc<tokio::sync::Notify>,
) -> anyhow::Result<Vec<std::thread::JoinHandle<anyhow::Result<()>>>> {
    let mut consumers = Vec::new();
    for shard in 0..config.shards {
        let consumer = ConsumerConfig {
            shard,
            db: Arc::clone(&stores.db),
            store: Arc::clone(&stores.store),
            archive_root: config.data_dir.join("archive"),
            core: Arc::clone(core),
            reader: stores.reader.clone(),
            counters: Arc::clone(&stores.writer.counters),
            stats: Arc::clone(stats),
            stop: Arc::clone(stop),
        };
        // Each consumer on its own thread and runtime: a shard with a backlog never yields,
        // and must not hold the threads that serve HTTP. Under overload, acknowledging
        // requests comes first: consumers run at a lower CPU priority and drain the durable
        // backlog with what is left (the lag limit's 429 bounds how far they fall behind).
        let failed = Arc::clone(failed);
        let pause = config.pause_consumers;
        let thread = std::thread::Builder::new().name(format!("consumer-{shard}")).spawn(move || {
            lower_priority(CONSUMER_NICE);
            std::thread::sleep(pause);
            let result = tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(consumer::run(consumer));
            if let Err(e) = &result {
                tracing::error!(error = format!("{e:#}"), "a consumer stopped: shutting down");
                failed.notify_one();
            }
            result
        })?;
        consumers.push(thread);
    }
    Ok(consumers)
}

/// The upkeep thread: merges the store's files, applies retention, measures the disk.
fn start_upkeep(config: &LocalConfig, stores: &Stores, disk: &Arc<disk::DiskUsage>, stop: &Arc<AtomicBool>) -> anyhow::Result<std::thread::JoinHandle<()>> {
    let upkeep = maintenance::Upkeep {
        store: Arc::clone(&stores.store),
        db: Arc::clone(&stores.db),
        data_dir: config.data_dir.clone(),
        disk: Arc::clone(disk),
        archive_retention: config.archive_retention,
        stop: Arc::clone(stop),
    };
    Ok(std::thread::Builder::new().name("upkeep".into()).spawn(move || {
        lower_priority(CONSUMER_NICE);
        maintenance::run(upkeep);
    })?)
}

/// The state of the HTTP routes and of the Kinesis endpoint's.
fn route_states(
    config: &LocalConfig,
    stores: &Stores,
    core: &CoreConfig,
    keys: &Keys,
    disk: Arc<disk::DiskUsage>,
    stats: &Arc<ConsumerStats>,
    merge_stats: &Arc<aggregates::MergeStats>,
) -> (AppState, kinesis::KinesisState) {
    let body_budget = BodyBudget::new(BODY_BUDGET_BYTES);
    let kinesis_accepted = Arc::new(AtomicU64::new(0));
    let state = AppState {
        stream: stores.writer.clone(),
        store: Arc::clone(&stores.store),
        disk,
        archive_retention: config.archive_retention,
        keys: ApiKeys { ingest: keys.ingest.clone().into(), read: keys.read.clone().into() },
        shards: config.shards,
        accepted: Arc::new(AtomicU64::new(0)),
        stats: Arc::clone(stats),
        merges: Arc::clone(merge_stats),
        db_path: stores.db_path.clone().into(),
        registry: Arc::clone(&core.schemas),
        body_budget: body_budget.clone(),
        body_timeout: config.body_timeout,
        kinesis_accepted: Arc::clone(&kinesis_accepted),
        history: Arc::new(stats_history::StatsHistory::default()),
        type_scans: Arc::new(tokio::sync::Semaphore::new(query::TYPE_SCANS_AT_ONCE)),
        started: std::time::Instant::now(),
    };
    let kinesis_state = kinesis::KinesisState {
        stream: stores.writer.clone(),
        shards: config.shards,
        name: config.stream_name.as_str().into(),
        created: chrono::Utc::now().timestamp_millis() as f64 / 1000.0,
        accepted: kinesis_accepted,
        body_budget,
        body_timeout: config.body_timeout,
    };
    (state, kinesis_state)
}

/// The merge of partial aggregates into rows, every `--aggregate-interval` until `stop`.
fn start_merges(config: &LocalConfig, stores: &Stores, stop: &Arc<AtomicBool>, stats: Arc<aggregates::MergeStats>) -> anyhow::Result<tokio::task::JoinHandle<anyhow::Result<()>>> {
    let table = aggregates::LocalAggregateTable::open(&stores.db_path)?;
    let (every, stop, stream) = (config.aggregate_interval, Arc::clone(stop), Arc::clone(&stores.writer.counters));
    Ok(tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
        tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(aggregates::run_merges(table, every, stop, stream, stats));
        Ok(())
    }))
}

/// Tells the person running `pipeline up` where it listens, its keys and how to try it.
fn say_started(config: &LocalConfig, listeners: &Listeners, core: &CoreConfig, keys: &Keys) -> anyhow::Result<()> {
    let addr = listeners.http.local_addr()?;
    let (key, read_key) = (&keys.ingest, &keys.read);
    say!("pipeline is up on http://{addr} (data in {}, {} shards)", config.data_dir.display(), config.shards);
    say!("enrichments from {}", core.enrichments);
    let stored = |new: bool, file: &str| {
        if new { format!(" (new, stored in {})", config.data_dir.join(file).display()) } else { String::new() }
    };
    say!("ingest key (x-api-key of POST /v1/events){}: {key}", stored(keys.ingest_is_new, "api_key"));
    say!("read key (x-api-key of the query routes){}: {read_key}", stored(keys.read_is_new, "read_key"));
    if let Some(listener) = &listeners.kinesis {
        let at = listener.local_addr()?;
        say!(
            "Kinesis endpoint for stream {:?} on http://{at} (any signature is accepted), e.g.:\n  AWS_ENDPOINT_URL=http://{at} AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=x \\\n    aws kinesis put-record --stream-name {} --partition-key 123 --cli-binary-format raw-in-base64-out \\\n    --data '{{\"event_type\": \"pageview\", \"user_id\": 123}}'",
            config.stream_name,
            config.stream_name
        );
    }
    say!(
        "try:\n  curl -s -H 'x-api-key: {key}' -H 'content-type: application/json' \\\n    -d '[{{\"event_type\": \"pageview\", \"user_id\": 123}}]' http://{addr}/v1/events\n  curl -s -H 'x-api-key: {read_key}' http://{addr}/v1/users/123/events"
    );
    Ok(())
}

/// Serves both listeners until a signal, or a consumer that cannot go on; then drains them.
async fn serve_until_stopped(
    listeners: Listeners,
    state: AppState,
    kinesis_state: kinesis::KinesisState,
    limits: ServerLimits,
    failed: Arc<tokio::sync::Notify>,
) -> anyhow::Result<()> {
    // One stop for both listeners: a signal, or a consumer that cannot go on.
    let (stop_serving, serving) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        tokio::select! {
            () = shutdown_signal() => {}
            () = failed.notified() => {}
        }
        let _ = stop_serving.send(true);
    });
    let stopping = |mut serving: tokio::sync::watch::Receiver<bool>| async move {
        let _ = serving.wait_for(|stop| *stop).await;
    };
    // Both listeners share one connection cap: it guards the process's file descriptors.
    let slots = server::connection_slots(&limits);
    let kinesis_server = listeners.kinesis.map(|listener| {
        tokio::spawn(server::serve(listener, kinesis::router(kinesis_state), limits, Arc::clone(&slots), stopping(serving.clone())))
    });
    server::serve(listeners.http, router(state), limits, slots, stopping(serving)).await;
    if let Some(kinesis_server) = kinesis_server {
        kinesis_server.await?;
    }
    Ok(())
}

fn spawn_progress(every: Duration, accepted: Arc<AtomicU64>, stats: Arc<ConsumerStats>, writer: StreamWriter) -> Option<tokio::task::JoinHandle<()>> {
    if every.is_zero() {
        return None;
    }
    Some(tokio::spawn(async move {
        let mut last = 0u64;
        loop {
            tokio::time::sleep(every).await;
            // User records (events and bad rows): a KPL aggregated record counts as many.
            let bad: u64 = stats.bad_rows.iter().map(|b| b.load(Ordering::Relaxed)).sum();
            let processed = stats.events.load(Ordering::Relaxed) + bad;
            let rate = (processed - last) as f64 / every.as_secs_f64();
            last = processed;
            say!(
                "accepted {} | processed {processed} ({rate:.0}/s) | lag {} | bad rows {bad}",
                accepted.load(Ordering::Relaxed),
                writer.counters.lag()
            );
        }
    }))
}

/// Warns when `addr` is reachable from other machines (local mode binds loopback unless told
/// otherwise: neither listener is meant for a network).
fn warn_if_exposed(addr: SocketAddr, what: &str, flag: &str) {
    if !addr.ip().is_loopback() {
        tracing::warn!(%addr, "{what} listens on a non-loopback address: other machines can reach it (pass {flag} 127.0.0.1:PORT to keep it local)");
        say!("warning: {what} listens on {addr}, reachable from other machines; pass {flag} 127.0.0.1:PORT to keep it local");
    }
}

/// File descriptors kept for all but connections: the stream, the database, the
/// archive's open files of every shard and the store's files.
fn reserved_fds(shards: u32) -> u64 {
    server::RESERVED_FDS
        + u64::from(shards) * (archive::MAX_OPEN_FILES_PER_SHARD as u64 + 1)
        + (store::files::MAX_OPEN_FILES + store::files::WORKING_FILES) as u64
}

/// Takes `dir` for this process until it exits: two pipelines on one data directory would
/// write the same stream files.
fn lock_data_dir(dir: &Path) -> anyhow::Result<std::fs::File> {
    use std::io::Write;
    let path = dir.join("LOCK");
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let pid = std::fs::read_to_string(&path).unwrap_or_default();
            let pid = pid.trim();
            let by = if pid.is_empty() { String::new() } else { format!(" (pid {pid})") };
            bail!("the data directory {} is in use by another `pipeline up`{by}: stop it, or pass another --data-dir", dir.display());
        }
        Err(std::fs::TryLockError::Error(e)) => return Err(e).with_context(|| format!("cannot lock {}", path.display())),
    }
    file.set_len(0)?;
    writeln!(file, "{}", std::process::id())?;
    Ok(file)
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}
