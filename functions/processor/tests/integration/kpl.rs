//! KPL aggregated records through the real `processor` binary and the Lambda Runtime API
//! (cargo-lambda's emulator), writing to moto_server: aggregates made by the project's
//! encoder (the one `loadtest --aggregate` uses) and a hand-made one whose bytes come from the
//! format document; every user record is stored once (or is its own bad row), a damaged
//! aggregate is one malformed bad row, and nothing is retried.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Stdio;

use chrono::{TimeZone, Utc};
use pipeline::Record;
use pipeline::enrich::derived_event_id;
use pipeline::kpl::{MAX_AGGREGATED_BYTES, aggregate};
use pipeline::workload::{Workload, WorkloadConfig};
use pipeline_testing::kpl_fixture;
use pipeline_testing::moto::sdk_config;
use pipeline_testing::records::kinesis_event_json;
use pipeline_testing::runtime_emulator::{Emulator, Running};
use pipeline_testing::stack::{create_stack, gunzip, objects, scan, stack_env, stored_event};

const SHARD: &str = "shardId-000000000001";

fn record(seq: u64, key: &str, data: Vec<u8>) -> Record {
    Record {
        data,
        partition_key: key.into(),
        sequence_number: format!("4965{seq:052}"),
        sub_sequence_number: 0,
        shard_id: SHARD.into(),
        arrival: Utc.with_ymd_and_hms(2026, 11, 27, 12, 0, 0).unwrap(),
    }
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs moto_server and cargo-lambda: scripts/test.sh provides both and runs the ignored tests"]
async fn the_binary_stores_every_user_record_of_aggregated_kinesis_records() {
    let aws = sdk_config().await;
    let config = create_stack(&aws, "kpl").await;

    // 600 workload events (about 5% invalid on purpose) in aggregates of at most 64 KiB,
    // the hand-made aggregate, a damaged one, and a plain record.
    let events = Workload::new(WorkloadConfig { invalid_ratio: 0.05, unparseable: false, ..WorkloadConfig::default() }).records(600, SHARD);
    let packed = aggregate(events.iter().map(|r| (r.partition_key.as_str(), None, r.data.as_slice())), 64 * 1024);
    assert!(packed.len() > 2 && packed.iter().all(|k| k.data.len() <= MAX_AGGREGATED_BYTES));
    let mut records: Vec<Record> = packed.iter().enumerate().map(|(i, k)| record(i as u64 + 1, &k.partition_key, k.data.clone())).collect();
    let n = records.len() as u64;
    let handmade = record(n + 1, "alpha", kpl_fixture::handmade_aggregate());
    let mut damaged = kpl_fixture::handmade_aggregate();
    damaged.truncate(damaged.len() - 5);
    let damaged = record(n + 2, "broken", damaged);
    let plain = record(n + 3, "p", br#"{"event_type":"pageview","user_id":"plain"}"#.to_vec());
    records.extend([handmade.clone(), damaged.clone(), plain]);
    let expected_bad = pipeline::process_batch(&pipeline::CoreConfig::embedded().unwrap(), &events, Utc::now())
        .iter()
        .filter(|o| o.as_bad_row().is_some())
        .count();
    let event_file = std::env::temp_dir().join(format!("processor-kpl-{}.json", std::process::id()));
    std::fs::write(&event_file, kinesis_event_json(&records).to_string()).unwrap();

    let emulator = Emulator::start();
    let _function = Running(
        emulator
            .function(env!("CARGO_BIN_EXE_processor"))
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1769")
            .env("EVENT_TTL_DAYS", "30")
            .envs(stack_env(&config))
            .stdout(Stdio::inherit())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap(),
    );
    let response = emulator.invoke(&event_file);
    let _ = std::fs::remove_file(&event_file);
    assert_eq!(response, serde_json::json!({"batchItemFailures": []}), "nothing to retry");

    let items = scan(&aws, &config.events_table).await;
    let stored: BTreeMap<String, serde_json::Value> = items
        .iter()
        .map(|i| {
            let event = stored_event(i);
            (event["event_id"].as_str().unwrap().to_owned(), event)
        })
        .collect();
    // Workload events (valid ones), the hand-made aggregate's two valid user records, the plain one.
    assert_eq!(items.len(), stored.len(), "no event twice");
    assert_eq!(items.len(), 600 - expected_bad + 2 + 1);
    for (sub, user) in [(0u32, "alpha"), (1, "beta")] {
        let id = derived_event_id(SHARD, &handmade.sequence_number, sub).to_string();
        let event = stored.get(&id).unwrap_or_else(|| panic!("user record {sub} of the hand-made aggregate is stored as {id}"));
        assert_eq!(event["user_id"], user);
        assert_eq!(event["_pipeline"]["sub_sequence_number"], sub);
        assert_eq!(event["_pipeline"]["sequence_number"], handmade.sequence_number.as_str());
    }
    let workload_ids: BTreeSet<&str> = stored.values().filter(|e| e["_pipeline"]["sequence_number"].as_str().unwrap() <= records[packed.len() - 1].sequence_number.as_str()).map(|e| e["event_id"].as_str().unwrap()).collect();
    assert_eq!(workload_ids.len(), 600 - expected_bad, "every valid user record of the encoded aggregates");

    let mut bad_rows = Vec::new();
    for (_, body) in objects(&aws, &config.bad_rows_bucket, "bad-rows/").await {
        bad_rows.extend(gunzip(&body).lines().map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()));
    }
    assert_eq!(bad_rows.len(), expected_bad + 2, "the workload's invalid events, the hand-made invalid one, the damaged aggregate");
    let keyed: BTreeSet<(String, u64)> = bad_rows.iter().map(|b| (b["sequence_number"].as_str().unwrap().to_owned(), b["sub_sequence_number"].as_u64().unwrap())).collect();
    assert_eq!(keyed.len(), bad_rows.len(), "bad rows of one aggregate are told apart by sub-sequence number");
    let of = |seq: &str| bad_rows.iter().filter(|b| b["sequence_number"] == seq).collect::<Vec<_>>();
    let handmade_bad = of(&handmade.sequence_number);
    assert_eq!(handmade_bad.len(), 1);
    assert_eq!((handmade_bad[0]["type"].as_str(), handmade_bad[0]["sub_sequence_number"].as_u64(), handmade_bad[0]["partition_key"].as_str()), (Some("schema_violation"), Some(2), Some("alpha")));
    let damaged_bad = of(&damaged.sequence_number);
    assert_eq!(damaged_bad.len(), 1, "a damaged aggregate is one bad row");
    assert_eq!(damaged_bad[0]["type"], "malformed");
    assert!(damaged_bad[0]["errors"][0]["message"].as_str().unwrap().contains("MD5"), "{}", damaged_bad[0]);
    assert!(damaged_bad[0]["payload_base64"].is_string(), "the whole record is kept");
}
