//! `/metrics` in the Prometheus text format: events accepted and processed, bad rows by
//! type, stream lag, batch latency, and the data directory's size and writes
//! ([`crate::disk`]).

use std::fmt::Write as _;
use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use pipeline::BadRowType;

use crate::http::AppState;

/// `GET /metrics` (no key): Prometheus text of the pipeline's counters.
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
    metric(
        "pipeline_kinesis_records_accepted_total",
        "counter",
        "Records acknowledged by the Kinesis endpoint (an aggregated record counts once).",
        &[(String::new(), state.kinesis_accepted.load(Ordering::Relaxed))],
    );
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
    disk_metrics(&mut out, &state);
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out).into_response()
}

/// The data directory: bytes by part, the store's contents, bytes written, and both per event.
fn disk_metrics(out: &mut String, state: &AppState) {
    let d = &state.disk;
    let get = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
    let mut line = |name: &str, kind: &str, help: &str, values: &[(&str, f64)]| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for (labels, value) in values {
            let _ = writeln!(out, "{name}{labels} {value}");
        }
    };
    let parts = [("{part=\"store\"}", get(&d.store)), ("{part=\"archive\"}", get(&d.archive)), ("{part=\"catalog\"}", get(&d.catalog)), ("{part=\"stream\"}", get(&d.stream))];
    let parts: Vec<(&str, f64)> = parts.iter().map(|(l, v)| (*l, *v as f64)).collect();
    line("pipeline_disk_bytes", "gauge", "Bytes on disk by part of the data directory (measured every 10 s).", &parts);
    line("pipeline_store_events", "gauge", "Events the store holds.", &[("", get(&d.events) as f64)]);
    line("pipeline_store_bad_rows", "gauge", "Bad rows the store holds.", &[("", get(&d.bad_rows) as f64)]);
    line("pipeline_store_partitions", "gauge", "Partitions of the store.", &[("", get(&d.partitions) as f64)]);
    line("pipeline_store_index_files", "gauge", "Index files of the store.", &[("", get(&d.index_files) as f64)]);
    line("pipeline_disk_bytes_per_stored_event", "gauge", "Bytes of store, archive and pipeline.db (not the stream) per stored event.", &[("", d.bytes_per_stored_event())]);
    if let Some(written) = crate::disk::written_bytes() {
        line("pipeline_disk_written_bytes_total", "counter", "Bytes this process caused to be written to storage (stream included).", &[("", written as f64)]);
        let processed = state.stats.processed.load(Ordering::Relaxed);
        let per = if processed > 0 { written as f64 / processed as f64 } else { 0.0 };
        line("pipeline_disk_written_bytes_per_processed_event", "gauge", "Bytes written since start per record processed.", &[("", per)]);
    }
    line("pipeline_unit_commit_failures_total", "counter", "Units of work that could not be committed and were tried again (a full disk, say).", &[("", state.stats.failed_commits.load(Ordering::Relaxed) as f64)]);
}
