//! The processor against real AWS APIs (moto_server): DynamoDB items, Firehose archive,
//! S3 bad rows, and a replay that changes nothing in the tables.

use crate::common;

use std::time::Duration;

use common::*;
use pipeline_testing::moto::sdk_config;
use pipeline_testing::stack::{create_stack, gunzip, objects, scan};
use processor::Processor;
use tokio::time::Instant;

#[tokio::test]
#[ignore = "needs moto_server: scripts/test.sh starts it and runs the ignored tests"]
async fn stores_archives_and_reports_a_fixture_batch_and_a_replay_changes_nothing() {
    let aws = sdk_config().await;
    let config = create_stack(&aws, "fixture").await;
    let processor = Processor::new(&config, &aws).unwrap();

    let (response, report, _) = processor.answer(&fixture_event(), Instant::now() + Duration::from_secs(30)).await;
    assert!(response.batch_item_failures.is_empty(), "{report:#?}");
    assert_eq!(report.counts.valid, FIXTURE_VALID);

    // DynamoDB: one item per valid event, keyed as DESIGN section 6 says.
    let items = scan(&aws, &config.events_table).await;
    assert_eq!(items.len(), FIXTURE_VALID);
    let keys: Vec<String> = items.iter().map(|i| i["pk"].as_s().unwrap().clone()).collect();
    assert_eq!(keys.iter().filter(|k| *k == "USER#u-42").count(), 3);
    assert!(keys.contains(&"USER#123".to_owned()) && keys.contains(&"USER#124".to_owned()));
    let click = items.iter().find(|i| i["event_type"].as_s().unwrap() == "click").unwrap();
    assert_eq!(click["sk"].as_s().unwrap(), "2026-11-27T12:00:01.250Z#0b9f3f0e-52a8-4c57-9c5a-3a1d1e4b2f10");
    let payload: serde_json::Value = serde_json::from_str(click["payload"].as_s().unwrap()).unwrap();
    assert_eq!(payload["_pipeline"]["shard_id"], "shardId-000000000003");
    assert_eq!(payload["_pipeline"]["schema"], "click/1-0-0");
    // The TTL counts from the record's arrival (12:00:00.01), not the event's time (12:00:01.25).
    let ttl: i64 = click["ttl"].as_n().unwrap().parse().unwrap();
    assert_eq!(ttl, chrono::DateTime::parse_from_rfc3339("2026-11-27T12:00:00Z").unwrap().timestamp() + 30 * 86_400);

    // S3: one gzip NDJSON object per bad-row type.
    let bad = objects(&aws, &config.bad_rows_bucket, "bad-rows/").await;
    assert_eq!(bad.len(), FIXTURE_BAD.len(), "{:?}", bad.iter().map(|(k, _)| k).collect::<Vec<_>>());
    for (kind, count) in FIXTURE_BAD {
        let (key, body) = bad.iter().find(|(k, _)| k.contains(&format!("type={kind}/"))).expect(kind);
        assert!(key.ends_with("/shardId-000000000003-49656000000000000000000000000000000000000000000000000000.jsonl.gz"), "{key}");
        let rows: Vec<serde_json::Value> = gunzip(body).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(rows.len(), count);
        assert_eq!(rows[0]["type"], kind);
        assert_eq!(rows[0]["shard_id"], "shardId-000000000003");
    }

    // Archive: every valid event once, newline-delimited, through Firehose into the bucket.
    let archived: Vec<serde_json::Value> = objects(&aws, &config.bad_rows_bucket, "events/")
        .await
        .iter()
        .flat_map(|(_, body)| String::from_utf8(body.clone()).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect::<Vec<_>>())
        .collect();
    assert_eq!(archived.len(), FIXTURE_VALID);
    assert!(archived.iter().all(|e| e["_pipeline"]["dt"].is_string() && e["event_id"].is_string()));

    // A replay writes the same items (only `_pipeline.processed_at`, the time of the latest
    // processing, moves) and the same bad-row objects.
    let (response, _, _) = processor.answer(&fixture_event(), Instant::now() + Duration::from_secs(30)).await;
    assert!(response.batch_item_failures.is_empty());
    let replayed = scan(&aws, &config.events_table).await;
    assert_eq!(replayed.len(), items.len());
    for (after, before) in replayed.iter().zip(&items) {
        let mut after = after.clone();
        let mut before = before.clone();
        for item in [&mut after, &mut before] {
            let mut payload: serde_json::Value = serde_json::from_str(item["payload"].as_s().unwrap()).unwrap();
            payload["_pipeline"].as_object_mut().unwrap().remove("processed_at");
            item.insert("payload".into(), aws_sdk_dynamodb::types::AttributeValue::S(payload.to_string()));
        }
        assert_eq!(after, before, "a replay changes nothing in DynamoDB but processed_at");
    }
    assert_eq!(objects(&aws, &config.bad_rows_bucket, "bad-rows/").await.len(), FIXTURE_BAD.len());
}
