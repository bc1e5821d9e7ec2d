//! One CloudWatch Embedded Metric Format line per invocation: CloudWatch turns it into
//! metrics in namespace `EventPipeline` with no API call from the function.

use std::time::SystemTime;

use chrono::Utc;
use pipeline::flow::BatchReport;
use pipeline::{BadRowType, Record};
use pipeline_aws::emf::{self, Metric};
use serde_json::{Map, Value};

/// The metrics namespace (the Terraform dashboard reads it).
pub const NAMESPACE: &str = emf::NAMESPACE;

/// The EMF JSON line for one invocation.
pub fn emf_line(report: &BatchReport, records: &[Record], now: SystemTime) -> String {
    let now_ms = now.duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or_default();
    let oldest = records.iter().map(|r| r.arrival.timestamp_millis()).min();
    let iterator_age_ms = oldest.map_or(0, |t| (now_ms - t).max(0));
    let retries = report.events.retries + report.archive.retries + report.bad_rows.retries + report.aggregates.retries;
    let mut metrics = vec![
        Metric::count("RecordsIn", report.records),
        Metric::count("ValidEvents", report.counts.valid),
        Metric::count("BadRows", report.counts.bad_total()),
        Metric::count("ItemsWritten", report.events.written),
        Metric::count("EventsArchived", report.archive.written),
        Metric::count("BadRowsStored", report.bad_rows.written),
        Metric::count("Retries", retries),
        Metric::count("FailedRecords", report.failed_records.len()),
        Metric::millis("BatchMilliseconds", report.total_time.as_secs_f64() * 1000.0),
        Metric::millis("CoreMilliseconds", report.core_time.as_secs_f64() * 1000.0),
        Metric::millis("IteratorAgeMilliseconds", iterator_age_ms),
    ];
    let names: Vec<String> = BadRowType::ALL.iter().map(|k| format!("BadRows_{k}")).collect();
    for (kind, name) in BadRowType::ALL.iter().zip(&names) {
        metrics.push(Metric::count(name, report.counts.bad_of(*kind)));
    }
    let mut properties = Map::new();
    properties.insert("shard_id".into(), Value::from(records.first().map(|r| r.shard_id.as_str()).unwrap_or("")));
    properties.insert("retry_from".into(), report.retry_from.clone().map_or(Value::Null, Value::from));
    properties.insert("logged_at".into(), Value::from(Utc::now().to_rfc3339()));
    emf::line(now_ms, &metrics, properties)
}
