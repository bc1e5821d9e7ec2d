//! Test helpers: the fixture event, and AWS resources on moto_server.
#![allow(dead_code)]

use processor::KinesisBatch;

pub const FIXTURE: &str = include_str!("../fixtures/kinesis_event.json");
/// Valid events in the fixture, and its bad rows by type.
pub const FIXTURE_VALID: usize = 5;
pub const FIXTURE_BAD: [(&str, usize); 4] =
    [("schema_violation", 1), ("unknown_event_type", 1), ("unknown_schema_version", 1), ("malformed", 1)];

pub fn fixture_event() -> KinesisBatch {
    KinesisBatch::from_json(FIXTURE).expect("fixture is a Kinesis event")
}

#[path = "../../../testing/moto.rs"]
mod moto;
#[path = "../../../testing/stack.rs"]
mod stack;
#[allow(unused_imports)] // not every test file uses them all
pub use moto::{endpoint, sdk_config};
#[allow(unused_imports)]
pub use stack::*;

/// A Lambda Kinesis event carrying `records`.
pub fn kinesis_event(records: &[pipeline::Record]) -> KinesisBatch {
    use base64::Engine as _;
    let json = serde_json::json!({
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
    });
    KinesisBatch::from_json(&json.to_string()).unwrap()
}
