//! `/metrics` in the Prometheus text format: events accepted and processed, bad rows by
//! type, stream lag, and batch latency.

use std::fmt::Write as _;
use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use pipeline::BadRowType;

use crate::http::AppState;

pub async fn metrics(State(state): State<AppState>) -> Response {
    let s = &state.stats;
    let mut out = String::new();
    let mut metric = |name: &str, kind: &str, help: &str, lines: &[(String, u64)]| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for (labels, value) in lines {
            let _ = writeln!(out, "{name}{labels} {value}");
        }
    };
    metric("pipeline_events_accepted_total", "counter", "Events acknowledged by the ingest API.", &[(String::new(), state.accepted.load(Ordering::Relaxed))]);
    metric("pipeline_records_processed_total", "counter", "Records the consumers processed.", &[(String::new(), s.processed.load(Ordering::Relaxed))]);
    metric("pipeline_events_stored_total", "counter", "Valid events stored.", &[(String::new(), s.events.load(Ordering::Relaxed))]);
    let bad: Vec<(String, u64)> = BadRowType::ALL
        .iter()
        .zip(&s.bad_rows)
        .map(|(kind, n)| (format!("{{type=\"{kind}\"}}"), n.load(Ordering::Relaxed)))
        .collect();
    metric("pipeline_bad_rows_total", "counter", "Bad rows by type.", &bad);
    let counters = &state.stream.counters;
    let lag: Vec<(String, u64)> =
        (0..counters.shards()).map(|shard| (format!("{{shard=\"{}\"}}", crate::shard::shard_id(shard)), counters.shard_lag(shard))).collect();
    metric(
        "pipeline_aggregate_windows_skipped_total",
        "counter",
        "Aggregate windows skipped by the merge because their stored data does not read back.",
        &[(String::new(), state.merges.skipped.load(Ordering::Relaxed))],
    );
    metric("pipeline_stream_lag_records", "gauge", "Records accepted but not yet processed, per shard.", &lag);
    // Batch latency as a Prometheus summary without quantiles: rate(sum) / rate(count) is the mean.
    let _ = writeln!(
        out,
        "# HELP pipeline_batch_duration_seconds Time to process and store one batch.\n# TYPE pipeline_batch_duration_seconds summary\n\
         pipeline_batch_duration_seconds_sum {}\npipeline_batch_duration_seconds_count {}",
        s.batch_micros.load(Ordering::Relaxed) as f64 / 1e6,
        s.batches.load(Ordering::Relaxed)
    );
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out).into_response()
}
