//! One CloudWatch Embedded Metric Format line per invocation: CloudWatch turns it into
//! metrics in namespace `EventPipeline` with no API call from the function.

use std::time::SystemTime;

use chrono::Utc;
use pipeline::flow::BatchReport;
use pipeline::{BadRowType, Record};
use serde_json::{Map, Value, json};

/// The metrics namespace (the Terraform dashboard reads it).
pub const NAMESPACE: &str = "EventPipeline";

/// The EMF JSON line for one invocation.
pub fn emf_line(report: &BatchReport, records: &[Record], now: SystemTime) -> String {
    let now_ms = now.duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or_default();
    let oldest = records.iter().map(|r| r.arrival.timestamp_millis()).min();
    let iterator_age_ms = oldest.map_or(0, |t| (now_ms - t).max(0));
    let written = report.events.written;
    let retries = report.events.retries + report.archive.retries + report.bad_rows.retries + report.aggregates.retries;
    let mut values = vec![
        ("RecordsIn", json!(report.records), "Count"),
        ("ValidEvents", json!(report.counts.valid), "Count"),
        ("BadRows", json!(report.counts.bad_total()), "Count"),
        ("ItemsWritten", json!(written), "Count"),
        ("EventsArchived", json!(report.archive.written), "Count"),
        ("BadRowsStored", json!(report.bad_rows.written), "Count"),
        ("Retries", json!(retries), "Count"),
        ("FailedRecords", json!(report.failed_records.len()), "Count"),
        ("BatchMilliseconds", json!(report.total_time.as_secs_f64() * 1000.0), "Milliseconds"),
        ("CoreMilliseconds", json!(report.core_time.as_secs_f64() * 1000.0), "Milliseconds"),
        ("IteratorAgeMilliseconds", json!(iterator_age_ms), "Milliseconds"),
    ];
    let names: Vec<String> = BadRowType::ALL.iter().map(|k| format!("BadRows_{k}")).collect();
    for (kind, name) in BadRowType::ALL.iter().zip(&names) {
        values.push((name.as_str(), json!(report.counts.bad_of(*kind)), "Count"));
    }
    let mut line = Map::new();
    line.insert(
        "_aws".into(),
        json!({
            "Timestamp": now_ms,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [[]],
                "Metrics": values.iter().map(|(name, _, unit)| json!({"Name": name, "Unit": unit})).collect::<Vec<_>>(),
            }],
        }),
    );
    for (name, value, _) in values {
        line.insert(name.to_owned(), value);
    }
    line.insert("shard_id".into(), Value::from(records.first().map(|r| r.shard_id.as_str()).unwrap_or("")));
    line.insert("retry_from".into(), report.retry_from.clone().map_or(Value::Null, Value::from));
    line.insert("logged_at".into(), Value::from(Utc::now().to_rfc3339()));
    Value::Object(line).to_string()
}
