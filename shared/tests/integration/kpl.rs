//! KPL aggregated records through the core: a hand-made aggregate (bytes from the format
//! document) and ones from the project's encoder are deaggregated into user records that each
//! follow the normal path, with their own partition key and sub-sequence number; every shape
//! of a damaged aggregate is one `malformed` bad row that holds the whole record and leaves
//! its neighbours alone; and a failed write retries the whole Kinesis record.

use std::sync::Mutex;

use base64::Engine as _;
use chrono::{TimeZone, Utc};
use pipeline::enrich::derived_event_id;
use pipeline::kpl::{self, AggregatedRecord, MAGIC, MAX_AGGREGATED_BYTES, ProtoRecord};
use pipeline::{BadRowType, CoreConfig, Record, process_records};
use pipeline_testing::kpl_fixture::{HANDMADE_USER_RECORDS, handmade_aggregate};

const SHARD: &str = "shardId-000000000002";

fn record(seq: u64, key: &str, data: Vec<u8>) -> Record {
    Record {
        data,
        partition_key: key.into(),
        sequence_number: format!("{seq:056}"),
        sub_sequence_number: 0,
        shard_id: SHARD.into(),
        arrival: Utc.with_ymd_and_hms(2026, 11, 27, 12, 0, 0).unwrap(),
    }
}

fn registry() -> CoreConfig {
    CoreConfig::embedded().unwrap()
}

fn json(event: &pipeline::EnrichedEvent) -> serde_json::Value {
    serde_json::from_slice(&event.json).unwrap()
}

#[test]
fn the_handmade_aggregate_decodes_into_its_user_records() {
    let data = handmade_aggregate();
    assert!(kpl::is_aggregated(&data));
    let users = kpl::deaggregate(&data).unwrap();
    let got: Vec<(&str, Option<&str>, &str)> =
        users.iter().map(|u| (u.partition_key.as_str(), u.explicit_hash_key.as_deref(), std::str::from_utf8(&u.data).unwrap())).collect();
    assert_eq!(got, HANDMADE_USER_RECORDS);
}

#[test]
fn each_user_record_follows_the_normal_path_with_its_own_key_and_sub_sequence_number() {
    let batch = [record(7, "p", br#"{"event_type":"pageview","user_id":"plain"}"#.to_vec()), record(8, "alpha", handmade_aggregate())];
    let processed = process_records(&registry(), &batch, Utc::now());
    let outcomes = &processed.outcomes;
    assert_eq!(outcomes.len(), 4, "one plain record and three user records");

    // The plain record is unchanged: sub-sequence 0, no sub_sequence_number in _pipeline.
    let plain = outcomes[0].as_event().unwrap();
    assert_eq!(plain.event_id, derived_event_id(SHARD, &batch[0].sequence_number, 0).to_string());
    assert!(json(plain)["_pipeline"].get("sub_sequence_number").is_none());

    let seq = &batch[1].sequence_number;
    for (sub, user) in [(0u32, "alpha"), (1, "beta")] {
        let event = outcomes[1 + sub as usize].as_event().unwrap_or_else(|| panic!("user record {sub}: {:?}", outcomes[1 + sub as usize]));
        let v = json(event);
        assert_eq!(v["user_id"], user);
        assert_eq!(event.event_id, derived_event_id(SHARD, seq, sub).to_string(), "the id names shard, sequence and sub-sequence");
        assert_eq!(v["_pipeline"]["sequence_number"], seq.as_str());
        assert_eq!(v["_pipeline"]["sub_sequence_number"], sub, "every user record of an aggregate names its index");
        assert_eq!(v["_pipeline"]["shard_id"], SHARD);
        assert_eq!(v["_pipeline"]["ingested_at"], "2026-11-27T12:00:00.000Z");
    }
    assert_ne!(outcomes[1].as_event().unwrap().event_id, outcomes[2].as_event().unwrap().event_id);

    // The invalid user record is a bad row of its own: its index, its partition key, its bytes.
    let bad = outcomes[3].as_bad_row().expect("user_id is required");
    assert_eq!(bad.kind, BadRowType::SchemaViolation);
    assert_eq!((bad.sequence_number.as_str(), bad.sub_sequence_number, bad.partition_key.as_str()), (seq.as_str(), 2, "alpha"));
    assert_eq!(bad.payload.as_deref(), Some(HANDMADE_USER_RECORDS[2].2));
    assert_eq!(bad.ingested_at, "2026-11-27T12:00:00.000Z");
    // Traced back to their Kinesis records.
    assert_eq!((0..4).map(|i| processed.user_records.origin(i)).collect::<Vec<_>>(), [0, 1, 1, 1]);
}

/// Every damaged shape we know: each is one malformed bad row holding the whole record.
fn damaged_aggregates() -> Vec<(&'static str, Vec<u8>)> {
    let good = handmade_aggregate();
    let with_md5 = |message: Vec<u8>| [MAGIC.to_vec(), message.clone(), md5(&message)].concat();
    let mut flipped = good.clone();
    flipped[10] ^= 0x40;
    let proto = |records: Vec<ProtoRecord>, keys: usize, hash_keys: usize| {
        kpl::frame(&AggregatedRecord {
            partition_key_table: (0..keys).map(|i| format!("k{i}")).collect(),
            explicit_hash_key_table: (0..hash_keys).map(|i| i.to_string()).collect(),
            records,
        })
    };
    let user = |pk: u64, ehk: Option<u64>| ProtoRecord { partition_key_index: pk, explicit_hash_key_index: ehk, data: b"{}".to_vec(), tags: vec![] };
    vec![
        ("the magic alone", MAGIC.to_vec()),
        ("magic and part of a checksum", [MAGIC.as_slice(), &[0u8; 10]].concat()),
        ("truncated by one byte", good[..good.len() - 1].to_vec()),
        ("truncated in the middle", good[..good.len() / 2].to_vec()),
        ("a flipped bit", flipped),
        ("a wrong checksum", [&good[..good.len() - 16], &[0u8; 16][..]].concat()),
        ("no protobuf, a checksum of nothing", with_md5(Vec::new())),
        ("a protobuf field cut short", with_md5(vec![0x1a, 0x7f, 0x08])),
        ("an invalid wire type", with_md5(vec![0x0f, 0x00])),
        ("a partition key index past the table", proto(vec![user(0, None), user(3, None)], 2, 0)),
        ("an index beyond 64 bits", with_md5(vec![0x0a, 0x01, b'k', 0x1a, 0x0c, 0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01])),
        ("an explicit hash key index with no table", proto(vec![user(0, Some(0))], 1, 0)),
        ("no user records", proto(vec![], 1, 0)),
        ("a partition key that is not UTF-8", with_md5(vec![0x0a, 0x02, 0xff, 0xfe, 0x1a, 0x04, 0x08, 0x00, 0x1a, 0x00])),
    ]
}

fn md5(bytes: &[u8]) -> Vec<u8> {
    use md5::Digest;
    md5::Md5::digest(bytes).to_vec()
}

#[test]
fn a_damaged_aggregate_is_one_malformed_bad_row_and_its_neighbours_are_untouched() {
    let registry = registry();
    for (what, data) in damaged_aggregates() {
        let batch = [
            record(1, "before", br#"{"event_type":"pageview","user_id":"before"}"#.to_vec()),
            record(2, "damaged", data.clone()),
            record(3, "after", br#"{"event_type":"pageview","user_id":"after"}"#.to_vec()),
        ];
        let outcomes = process_records(&registry, &batch, Utc::now()).outcomes;
        assert_eq!(outcomes.len(), 3, "{what}: one outcome for the damaged record");
        assert!(outcomes[0].as_event().is_some() && outcomes[2].as_event().is_some(), "{what}: {outcomes:?}");
        let bad = outcomes[1].as_bad_row().unwrap_or_else(|| panic!("{what}: {:?}", outcomes[1]));
        assert_eq!(bad.kind, BadRowType::Malformed, "{what}");
        assert_eq!(bad.errors.len(), 1, "{what}");
        assert_eq!(bad.errors[0].keyword, pipeline::user_records::UNDECODABLE_KEYWORD, "{what}");
        assert!(bad.errors[0].message.contains("aggregated record") || bad.errors[0].message.contains("KPL"), "{what}: {}", bad.errors[0].message);
        assert_eq!((bad.sub_sequence_number, bad.partition_key.as_str()), (0, "damaged"), "{what}");
        let kept = base64::engine::general_purpose::STANDARD.decode(bad.payload_base64.as_deref().expect("not UTF-8: base64")).unwrap();
        assert_eq!(kept, data, "{what}: the whole record is kept, nothing is lost");
    }
}

#[test]
fn encoded_aggregates_of_the_workload_keep_every_event_in_order() {
    use pipeline::workload::{Workload, WorkloadConfig};
    let users = Workload::new(WorkloadConfig::default()).records(3_000, SHARD);
    let packed = kpl::aggregate(users.iter().map(|r| (r.partition_key.as_str(), None, r.data.as_slice())), MAX_AGGREGATED_BYTES);
    assert!(packed.len() > 1, "3,000 events fill more than one 1 MiB record");
    let batch: Vec<Record> = packed.iter().enumerate().map(|(i, k)| record(i as u64 + 1, &k.partition_key, k.data.clone())).collect();
    let processed = process_records(&registry(), &batch, Utc::now());
    assert_eq!(processed.outcomes.len(), 3_000);
    let plain = pipeline::process_batch(&registry(), &users, Utc::now());
    for (i, (a, b)) in processed.outcomes.iter().zip(&plain).enumerate() {
        assert_eq!(std::mem::discriminant(a), std::mem::discriminant(b), "event {i} has the same fate aggregated or not");
        let r = &processed.user_records.records()[i];
        assert_eq!((r.partition_key.as_str(), r.data.as_slice()), (users[i].partition_key.as_str(), users[i].data.as_slice()));
    }
    // Sub-sequence numbers count up from 0 within each Kinesis record.
    let subs: Vec<u32> = processed.user_records.records().iter().filter(|r| r.sequence_number == batch[1].sequence_number).map(|r| r.sub_sequence_number).collect();
    assert_eq!(subs, (0..subs.len() as u32).collect::<Vec<_>>());
}

mod flow {
    use std::time::Duration;

    use pipeline::flow::{BatchFlow, Sinks};
    use pipeline::sink::{Archive, BadRowStore, BatchKey, EventStore, Indexed, NoAggregates, SinkReport};
    use pipeline::{BadRow, EnrichedEvent};
    use tokio::time::Instant;

    use super::*;

    /// An events store that fails the events of one user.
    struct FailingFor(&'static str, Mutex<Vec<String>>);
    impl EventStore for FailingFor {
        async fn put_events(&self, events: &[Indexed<'_, EnrichedEvent>], _: Instant) -> SinkReport {
            let mut report = SinkReport::default();
            for e in events {
                if e.item.user_id == self.0 {
                    report.failed.push(e.record);
                } else {
                    self.1.lock().unwrap().push(e.item.event_id.clone());
                    report.written += 1;
                }
            }
            report
        }
    }
    struct Nothing;
    impl Archive for Nothing {
        async fn archive(&self, _: &BatchKey, events: &[Indexed<'_, EnrichedEvent>], _: Instant) -> SinkReport {
            SinkReport { written: events.len(), ..SinkReport::default() }
        }
    }
    impl BadRowStore for Nothing {
        async fn put_bad_rows(&self, _: &BatchKey, rows: &[Indexed<'_, BadRow>], _: Instant) -> SinkReport {
            SinkReport { written: rows.len(), ..SinkReport::default() }
        }
    }

    #[tokio::test]
    async fn a_failed_user_record_retries_its_whole_kinesis_record() {
        let plain = |seq, user: &str| record(seq, user, format!(r#"{{"event_type":"pageview","user_id":"{user}"}}"#).into_bytes());
        // Kinesis record 2 is the hand-made aggregate; its user record "beta" fails to store.
        let batch = [plain(1, "u1"), record(2, "alpha", handmade_aggregate()), plain(3, "u3"), plain(4, "beta")];
        let sinks = Sinks { events: FailingFor("beta", Mutex::default()), archive: Nothing, bad_rows: Nothing, aggregates: NoAggregates };
        let flow = BatchFlow::new(std::sync::Arc::new(registry()), sinks);
        let report = flow.run(&batch, Instant::now() + Duration::from_secs(5)).await;
        assert_eq!((report.records, report.user_records), (4, 6));
        assert_eq!(report.failed_records, [1, 3], "Kinesis records, not user records");
        assert_eq!(report.retry_from.as_deref(), Some(batch[1].sequence_number.as_str()));
        assert_eq!((report.counts.valid, report.counts.bad_total()), (5, 1));
    }
}
