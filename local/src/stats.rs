//! `GET /v1/stats`: the pipeline's counts as JSON (open, like `/metrics`: counts only, no
//! event data), with a history of one sample a second for the dashboard's charts, so a
//! page opened late still shows the last minutes.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use pipeline::BadRowType;
use serde::Serialize;

use crate::consumer::ConsumerStats;
use crate::http::AppState;
use crate::stream::StreamCounters;

/// Samples kept: ten minutes at one a second.
pub const HISTORY_SAMPLES: usize = 600;
/// Time between samples.
pub const SAMPLE_EVERY: Duration = Duration::from_secs(1);
/// Time between walks of the data directory for its size (it can hold many files).
pub const DISK_EVERY: Duration = Duration::from_secs(10);

/// One second of the pipeline, as totals at that time (rates are differences).
#[derive(Clone, Debug, Serialize)]
pub struct Sample {
    pub t: DateTime<Utc>,
    pub accepted: u64,
    pub processed: u64,
    pub events_stored: u64,
    /// Per type, in [`BadRowType::ALL`] order.
    pub bad_rows: [u64; BadRowType::COUNT],
    pub lag: u64,
    pub batches: u64,
    pub batch_seconds: f64,
}

/// The sampled history and the last disk reading, shared by the sampler and the route.
#[derive(Debug, Default)]
pub struct StatsHistory {
    samples: Mutex<VecDeque<Sample>>,
    data_dir_bytes: Mutex<Option<u64>>,
}

impl StatsHistory {
    fn push(&self, sample: Sample) {
        let mut samples = self.samples.lock().unwrap_or_else(|e| e.into_inner());
        if samples.len() == HISTORY_SAMPLES {
            samples.pop_front();
        }
        samples.push_back(sample);
    }

    fn last(&self, n: usize) -> Vec<Sample> {
        let samples = self.samples.lock().unwrap_or_else(|e| e.into_inner());
        samples.iter().skip(samples.len().saturating_sub(n)).cloned().collect()
    }
}

/// The totals now.
pub fn sample(accepted: u64, stats: &ConsumerStats, stream: &StreamCounters) -> Sample {
    let mut bad_rows = [0u64; BadRowType::COUNT];
    for (slot, n) in bad_rows.iter_mut().zip(&stats.bad_rows) {
        *slot = n.load(Ordering::Relaxed);
    }
    Sample {
        t: Utc::now(),
        accepted,
        processed: stats.processed.load(Ordering::Relaxed),
        events_stored: stats.events.load(Ordering::Relaxed),
        bad_rows,
        lag: stream.lag(),
        batches: stats.batches.load(Ordering::Relaxed),
        batch_seconds: stats.batch_micros.load(Ordering::Relaxed) as f64 / 1e6,
    }
}

/// Takes a sample every [`SAMPLE_EVERY`] and measures the data directory every
/// [`DISK_EVERY`], until the process ends.
pub fn spawn_sampler(state: AppState, history: Arc<StatsHistory>, data_dir: PathBuf) {
    tokio::spawn(async move {
        let mut last_disk: Option<Instant> = None;
        let mut tick = tokio::time::interval(SAMPLE_EVERY);
        loop {
            tick.tick().await;
            history.push(sample(state.accepted.load(Ordering::Relaxed), &state.stats, &state.stream.counters));
            if last_disk.is_none_or(|at| at.elapsed() >= DISK_EVERY) {
                last_disk = Some(Instant::now());
                let (dir, history) = (data_dir.clone(), Arc::clone(&history));
                tokio::task::spawn_blocking(move || {
                    *history.data_dir_bytes.lock().unwrap_or_else(|e| e.into_inner()) = Some(dir_bytes(&dir));
                });
            }
        }
    });
}

/// Bytes of the files under `dir` (what `du --apparent-size` counts), 0 where unreadable.
fn dir_bytes(dir: &Path) -> u64 {
    let mut total = 0;
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            match entry.metadata() {
                Ok(m) if m.is_dir() => dirs.push(entry.path()),
                Ok(m) => total += m.len(),
                Err(_) => {}
            }
        }
    }
    total
}

/// Seconds of history returned when `history` is not given.
pub const DEFAULT_HISTORY: usize = 300;

/// `GET /v1/stats?history=SECONDS`.
pub async fn stats(State(state): State<AppState>, Query(params): Query<Vec<(String, String)>>) -> Response {
    let seconds = match pipeline::query::param(&params, "history") {
        None => DEFAULT_HISTORY,
        Some(text) => match text.parse::<usize>() {
            Ok(n) if n <= HISTORY_SAMPLES => n,
            _ => {
                return crate::http::message(
                    axum::http::StatusCode::BAD_REQUEST,
                    format!("history {text:?} must be a whole number of seconds from 0 to {HISTORY_SAMPLES}"),
                );
            }
        },
    };
    let now = sample(state.accepted.load(Ordering::Relaxed), &state.stats, &state.stream.counters);
    let history = state.history.last(seconds);
    let counters = &state.stream.counters;
    let shards: serde_json::Map<String, serde_json::Value> =
        (0..counters.shards()).map(|s| (crate::shard::shard_id(s), counters.shard_lag(s).into())).collect();
    let bad_rows: serde_json::Map<String, serde_json::Value> =
        BadRowType::ALL.iter().zip(now.bad_rows).map(|(kind, n)| (kind.as_str().to_owned(), n.into())).collect();
    let data_dir_bytes = *state.history.data_dir_bytes.lock().unwrap_or_else(|e| e.into_inner());
    let stored = now.events_stored + now.bad_rows.iter().sum::<u64>();
    let body = serde_json::json!({
        "at": now.t,
        "uptime_seconds": state.started.elapsed().as_secs(),
        "shards": counters.shards(),
        "accepted": now.accepted,
        "processed": now.processed,
        "events_stored": now.events_stored,
        "bad_rows": bad_rows,
        "bad_rows_total": now.bad_rows.iter().sum::<u64>(),
        "lag": {"total": now.lag, "shards": shards},
        "batches": now.batches,
        "batch_seconds_total": now.batch_seconds,
        "aggregates": {
            "merges": state.merges.runs.load(Ordering::Relaxed),
            "windows_skipped": state.merges.skipped.load(Ordering::Relaxed),
        },
        "disk": {
            "data_dir_bytes": data_dir_bytes,
            // Stream files included: a rough figure while the stream holds a backlog.
            "bytes_per_stored_event": data_dir_bytes.filter(|_| stored > 0).map(|b| b as f64 / stored as f64),
        },
        "bad_row_types": BadRowType::ALL.iter().map(|k| k.as_str()).collect::<Vec<_>>(),
        "history": history,
    });
    axum::Json(body).into_response()
}
