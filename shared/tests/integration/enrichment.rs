//! Enrichment (DESIGN section 3): producer bytes kept, `_pipeline` added, ids deterministic.

use chrono::{TimeZone, Utc};
use pipeline::enrich::derived_event_id;
use pipeline::{CoreConfig, Outcome, Record, process_batch};
use serde_json::Value;

fn run(data: &str, shard: &str, seq: &str) -> pipeline::EnrichedEvent {
    let core = CoreConfig::embedded().unwrap();
    let record = Record {
        data: data.as_bytes().to_vec(),
        partition_key: "pk".into(),
        sequence_number: seq.into(),
        sub_sequence_number: 0,
        shard_id: shard.into(),
        arrival: Utc.with_ymd_and_hms(2026, 11, 27, 23, 59, 58).unwrap() + chrono::Duration::milliseconds(250),
    };
    let processed = Utc.with_ymd_and_hms(2026, 11, 28, 0, 0, 1).unwrap();
    match process_batch(&core, &[record], processed).remove(0) {
        Outcome::Event(e) => e,
        Outcome::Bad(b) => panic!("{b:#?}"),
    }
}

#[test]
fn adds_pipeline_fields_and_keeps_producer_bytes() {
    let data = r#"{"event_type":"pageview",  "user_id": 123, "timestamp": "2026-11-27T23:30:00.5-02:00",
        "page": {"url": "https://e.com/x", "title": "caf\u00e9 \"quoted\""}, "properties": {"n": 1.50}} "#;
    let e = run(data, "shardId-000000000001", "4961");
    let text = std::str::from_utf8(&e.json).unwrap();
    // Kept byte for byte, except that a line break between tokens becomes a space (NDJSON).
    let trimmed = data.trim_end().replace('\n', " ");
    assert!(text.starts_with(&trimmed[..trimmed.len() - 1]), "producer bytes changed:\n{text}");
    let v: Value = serde_json::from_str(text).unwrap();
    let id = derived_event_id("shardId-000000000001", "4961", 0).to_string();
    assert_eq!(v["event_id"], id.as_str());
    assert_eq!(v["timestamp"], "2026-11-27T23:30:00.5-02:00");
    assert_eq!(
        v["_pipeline"],
        serde_json::json!({
            "schema": "pageview/1-0-0",
            "ingested_at": "2026-11-27T23:59:58.250Z",
            "processed_at": "2026-11-28T00:00:01.000Z",
            "shard_id": "shardId-000000000001",
            "sequence_number": "4961",
            "dt": "2026-11-28", "hr": "01"
        })
    );
    assert_eq!(e.user_id, "123");
    assert_eq!(e.partition_key(), "USER#123");
    assert_eq!(e.sort_key, format!("2026-11-28T01:30:00.500Z#{id}"));
    assert_eq!((e.dt().as_str(), e.hr().as_str()), ("2026-11-28", "01"));
}

#[test]
fn uses_arrival_time_and_given_event_id_and_parses_user_agent() {
    let data = r#"{"event_type":"pageview","user_id":"u-7","event_id":"0b9f3f0e-52a8-4c57-9c5a-3a1d1e4b2f10",
        "device":{"user_agent":"Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1"}}"#;
    let e = run(data, "shardId-000000000000", "1");
    let v: Value = serde_json::from_slice(&e.json).unwrap();
    assert_eq!(v["event_id"], "0b9f3f0e-52a8-4c57-9c5a-3a1d1e4b2f10");
    assert_eq!(v["timestamp"], "2026-11-27T23:59:58.250Z", "arrival time written in");
    assert_eq!(v["_pipeline"]["dt"], "2026-11-27");
    assert_eq!(v["_pipeline"]["hr"], "23");
    assert_eq!(v["_pipeline"]["ua"]["browser"], "Safari");
    assert_eq!(v["_pipeline"]["ua"]["os"], "iPhone");
    assert_eq!(v["_pipeline"]["ua"]["device"], "smartphone");
    assert_eq!(e.event_id, "0b9f3f0e-52a8-4c57-9c5a-3a1d1e4b2f10");
    assert_eq!(e.partition_key(), "USER#u-7");
}

#[test]
fn derived_ids_repeat_on_retry_and_differ_by_position() {
    let data = r#"{"event_type":"pageview","user_id":1}"#;
    let a = run(data, "shardId-000000000000", "100");
    let b = run(data, "shardId-000000000000", "100");
    let c = run(data, "shardId-000000000000", "101");
    let d = run(data, "shardId-000000000001", "100");
    assert_eq!(a.json, b.json, "a retry must write the same bytes");
    assert_ne!(a.event_id, c.event_id);
    assert_ne!(a.event_id, d.event_id);
    assert_eq!(uuid::Uuid::parse_str(&a.event_id).unwrap().get_version_num(), 5);
}

#[test]
fn a_pretty_printed_event_is_enriched_onto_one_line() {
    let e = run("{\n  \"event_type\": \"pageview\",\r\n  \"user_id\": 7,\n  \"properties\": {\"note\": \"a\\nb\"}\n}\n", "shardId-000000000000", "1");
    let text = std::str::from_utf8(&e.json).unwrap();
    assert!(!text.contains('\n') && !text.contains('\r'), "{text}");
    let value: serde_json::Value = serde_json::from_str(text).unwrap();
    assert_eq!(value["properties"]["note"], "a\nb", "escaped line breaks inside strings are kept");
}
