//! `GET /v1/stats`: the pipeline's counts as JSON (open, like `/metrics`: counts only, no
//! event data), with a history of one sample a second for the dashboard's charts, so a
//! page opened late still shows the last minutes.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use pipeline::BadRowType;

use crate::http::AppState;
use crate::stats_history::{HISTORY_SAMPLES, SAMPLE_EVERY, StatsHistory, sample};

/// Takes a sample every [`SAMPLE_EVERY`] until the process ends (the data directory is
/// measured by the upkeep thread, [`crate::disk`]).
pub fn spawn_sampler(state: AppState, history: Arc<StatsHistory>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(SAMPLE_EVERY);
        loop {
            tick.tick().await;
            history.push(sample(state.accepted.load(Ordering::Relaxed), &state.stats, &state.stream.counters));
        }
    });
}

/// The data directory as last measured: bytes by part, bytes per stored event (store,
/// archive and pipeline.db over the events stored; `null` before the first measure or
/// event), bytes written, and the retention in force.
fn disk_body(state: &AppState) -> serde_json::Value {
    let d = &state.disk;
    let get = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
    let (store, archive, catalog, stream) = (get(&d.store), get(&d.archive), get(&d.catalog), get(&d.stream));
    let measured = store + archive + catalog + stream > 0;
    let per_event = d.bytes_per_stored_event();
    let retention = state.store.config.retention;
    serde_json::json!({
        "data_dir_bytes": measured.then_some(store + archive + catalog + stream),
        "bytes_per_stored_event": (per_event > 0.0).then_some(per_event),
        "store_bytes": store,
        "archive_bytes": archive,
        "catalog_bytes": catalog,
        "stream_bytes": stream,
        "written_bytes": crate::disk::written_bytes(),
        "retention": format!(
            "events and bad rows for {} after arrival; archive files {}",
            humantime_days(retention),
            state.archive_retention.map_or("kept".to_owned(), |a| format!("for {}", humantime_days(a)))
        ),
        "retention_seconds": retention.as_secs(),
        "archive_retention_seconds": state.archive_retention.map(|a| a.as_secs()),
    })
}

/// `30 days`, `12 h`, `90 s`: a duration as a person reads it.
fn humantime_days(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        s if s >= 86_400 && s % 86_400 == 0 => format!("{} days", s / 86_400),
        s if s >= 3_600 && s % 3_600 == 0 => format!("{} h", s / 3_600),
        s if s >= 60 && s % 60 == 0 => format!("{} min", s / 60),
        s => format!("{s} s"),
    }
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
    let disk = disk_body(&state);
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
        "disk": disk,
        "bad_row_types": BadRowType::ALL.iter().map(|k| k.as_str()).collect::<Vec<_>>(),
        "history": history,
    });
    axum::Json(body).into_response()
}
