//! No input makes the core panic, and every record gets exactly one outcome, in order.

use chrono::{TimeZone, Utc};
use pipeline::{CoreConfig, Outcome, Record, process_batch};
use proptest::prelude::*;

fn records(data: Vec<Vec<u8>>) -> Vec<Record> {
    data.into_iter()
        .enumerate()
        .map(|(i, data)| Record {
            data,
            partition_key: "pk".into(),
            sequence_number: format!("{i:020}"),
            sub_sequence_number: 0,
            shard_id: "shardId-000000000000".into(),
            arrival: Utc.with_ymd_and_hms(2026, 11, 27, 12, 0, 0).unwrap(),
        })
        .collect()
}

/// One outcome per record, each naming its own record, and valid output is valid JSON.
fn check(core: &CoreConfig, data: Vec<Vec<u8>>) {
    let records = records(data);
    let outcomes = process_batch(core, &records, Utc::now());
    assert_eq!(outcomes.len(), records.len());
    for (record, outcome) in records.iter().zip(&outcomes) {
        match outcome {
            Outcome::Event(e) => {
                let v: serde_json::Value = serde_json::from_slice(&e.json).expect("enriched output is JSON");
                assert_eq!(v["_pipeline"]["sequence_number"].as_str(), Some(record.sequence_number.as_str()));
            }
            Outcome::Bad(b) => {
                assert_eq!(b.sequence_number, record.sequence_number);
                assert!(!b.errors.is_empty());
                assert_eq!(b.payload_bytes().as_deref(), Some(&record.data[..]), "payload kept whole");
            }
        }
    }
}

const SEEDS: [&str; 4] = [
    r#"{"event_type":"pageview","user_id":123,"page":{"url":"https://e.com/a","title":"t","referrer":""},"device":{"user_agent":"Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0","screen":{"w":1,"h":2}}}"#,
    r#"{"event_type":"click","user_id":"u","element_id":"b","page_url":"https://e.com","x":1,"y":2}"#,
    r#"{"event_type":"purchase","user_id":9,"order_id":"o","amount":3.5,"currency":"USD","items":[{"sku":"A","quantity":1,"price":3.5}],"timestamp":"2026-11-27T12:00:00Z"}"#,
    r#"{"event_type":"identify","user_id":"u","email":"a@b.co","traits":{"a":1},"event_id":"0b9f3f0e-52a8-4c57-9c5a-3a1d1e4b2f10"}"#,
];

/// A valid event with some bytes replaced, inserted or removed.
fn mutated() -> impl Strategy<Value = Vec<u8>> {
    (0..SEEDS.len(), prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0..3u8), 1..6)).prop_map(
        |(seed, edits)| {
            let mut bytes = SEEDS[seed].as_bytes().to_vec();
            for (at, byte, op) in edits {
                let i = at.index(bytes.len().max(1));
                match op {
                    0 if i < bytes.len() => bytes[i] = byte,
                    1 => bytes.insert(i.min(bytes.len()), byte),
                    _ if i < bytes.len() => {
                        bytes.remove(i);
                    }
                    _ => {}
                }
            }
            bytes
        },
    )
}

/// Structured JSON from a small grammar: likely to reach validation and enrichment.
fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(Into::into),
        any::<i64>().prop_map(Into::into),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Into::into),
        "\\PC{0,12}".prop_map(Into::into),
    ];
    leaf.prop_recursive(6, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Into::into),
            prop::collection::btree_map("[a-z_]{1,10}", inner, 0..6)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

fn event_like() -> impl Strategy<Value = Vec<u8>> {
    (
        prop::sample::select(vec!["pageview", "click", "purchase", "identify", "nope", ""]),
        prop::collection::btree_map(
            prop::sample::select(vec!["user_id", "timestamp", "event_id", "page", "items", "amount", "traits", "device", "schema_version", "x"]),
            json_value(),
            0..6,
        ),
    )
        .prop_map(|(ty, fields)| {
            let mut object: serde_json::Map<String, serde_json::Value> = fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
            object.insert("event_type".into(), ty.into());
            serde_json::to_vec(&object).unwrap()
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes(data in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..200), 1..20)) {
        check(&CoreConfig::embedded().unwrap(), data);
    }

    #[test]
    fn mutated_valid_events(data in prop::collection::vec(mutated(), 1..20)) {
        check(&CoreConfig::embedded().unwrap(), data);
    }

    #[test]
    fn generated_objects(data in prop::collection::vec(event_like(), 1..20)) {
        check(&CoreConfig::embedded().unwrap(), data);
    }
}

#[test]
fn unmutated_seeds_are_valid() {
    let core = CoreConfig::embedded().unwrap();
    let recs = records(SEEDS.iter().map(|s| s.as_bytes().to_vec()).collect());
    for outcome in process_batch(&core, &recs, Utc::now()) {
        assert!(matches!(outcome, Outcome::Event(_)), "{outcome:?}");
    }
}

#[test]
fn pathological_records_get_one_outcome_each() {
    let core = CoreConfig::embedded().unwrap();
    let deep_obj = format!("{}{}", "{\"a\":".repeat(100_000), "}".repeat(100_000));
    let deep_arr = format!("{{\"event_type\":\"pageview\",\"user_id\":1,\"properties\":{{\"x\":{}{}}}}}", "[".repeat(100_000), "]".repeat(100_000));
    let unclosed = "[".repeat(1_000_000);
    let huge = format!("{{\"event_type\":\"pageview\",\"user_id\":1,\"properties\":{{\"s\":\"{}\"}}}}", "x".repeat(5 << 20));
    let data: Vec<Vec<u8>> = vec![
        vec![], b"{".to_vec(), b"}".to_vec(), b"{}".to_vec(), b"\xEF\xBB\xBF{}".to_vec(), vec![0; 100],
        deep_obj.into_bytes(), deep_arr.into_bytes(), unclosed.into_bytes(), huge.into_bytes(),
        br#"{"event_type":"pageview","user_id":1,"user_id":1}"#.to_vec(),
        br#"{"event_type":"pageview","user_id":1e400}"#.to_vec(),
        br#"{"event_type":"pageview","user_id":18446744073709551616}"#.to_vec(),
        br#"{"event_type":"pageview","user_id":1,"timestamp":"9999-12-31T23:59:60Z"}"#.to_vec(),
        br#"{"event_type":"pageview","user_id":1,"timestamp":"0000-01-01T00:00:00+23:59"}"#.to_vec(),
    ];
    check(&core, data);
}
