//! Stream records for tests: a timed workload, and the JSON of the Lambda Kinesis event that
//! carries records.

use base64::Engine as _;
use pipeline::Record;
use pipeline::workload::{Workload, WorkloadConfig};

/// The JSON Lambda sends for a Kinesis batch of `records`.
pub fn kinesis_event_json(records: &[Record]) -> serde_json::Value {
    serde_json::json!({
        "Records": records.iter().map(|r| serde_json::json!({
            "eventID": format!("{}:{}", r.shard_id, r.sequence_number),
            "eventSource": "aws:kinesis",
            "kinesis": {
                "data": base64::engine::general_purpose::STANDARD.encode(&r.data),
                "partitionKey": r.partition_key,
                "sequenceNumber": r.sequence_number,
                "approximateArrivalTimestamp": r.arrival.timestamp_millis() as f64 / 1000.0,
            }
        })).collect::<Vec<_>>()
    })
}

/// `n` records of `shard` from `workload`, 700 ms of event time apart from 12:00 on
/// 27 November 2026 (several minutes), in sequence order.
pub fn timed_records(shard: &str, n: usize, workload: WorkloadConfig) -> Vec<Record> {
    let start = chrono::TimeZone::with_ymd_and_hms(&chrono::Utc, 2026, 11, 27, 12, 0, 0).unwrap();
    let mut workload = Workload::new(workload);
    (0..n)
        .map(|i| {
            let time = start + chrono::Duration::milliseconds(700 * i as i64);
            Record {
                data: workload.next_event_at(time).data,
                partition_key: format!("pk-{i}"),
                sequence_number: format!("{:056}", 49_650_000_000_000_000_000u128 + 1_000 * i as u128),
                sub_sequence_number: 0,
                shard_id: shard.to_owned(),
                arrival: time,
            }
        })
        .collect()
}
