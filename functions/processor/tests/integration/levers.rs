//! The stack's cost levers end to end on real AWS APIs (moto_server): the per-type index
//! off (no index keys) or on (`GET /v1/events` over it), payloads stored compressed where
//! that saves a write unit and read back whole, and `QUERY_EVENT_TYPES` keeping only some
//! types for per-user queries while the archive keeps every event.

use crate::common;

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::{DateTime, Utc};
use common::*;
use pipeline_testing::moto::{create_table_with_index, sdk_config};
use pipeline_testing::stack::{create_stack, objects, scan};
use processor::Processor;
use serde_json::{Value, json};
use tokio::time::Instant;

fn deadline() -> Instant {
    Instant::now() + Duration::from_secs(60)
}

/// `n` events of `event_type` for `user`, a second apart from `start`; every third has a
/// long user agent, so its item is over 1 KB uncompressed.
fn events(event_type: &str, user: &str, n: usize, start: &str, first_sequence: u64) -> Vec<pipeline::Record> {
    let start: DateTime<Utc> = start.parse().unwrap();
    (0..n)
        .map(|i| {
            let time = pipeline::time_format::format_millis(start + chrono::Duration::seconds(i as i64));
            let mut event = match event_type {
                "click" => json!({"event_type": "click", "user_id": user, "element_id": format!("b{i}"), "page_url": "https://shop.example.com/p/1", "timestamp": time}),
                _ => json!({"event_type": "pageview", "user_id": user, "page": {"url": format!("https://shop.example.com/p/{i}"), "title": "T"}, "timestamp": time}),
            };
            if i % 3 == 0 {
                let agent = format!("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.{i}.0 Safari/537.36 {}", "x".repeat(600));
                event["context"] = json!({"user_agent": agent});
            }
            pipeline::Record {
                data: event.to_string().into_bytes(),
                partition_key: user.to_owned(),
                sequence_number: format!("{:056}", first_sequence + i as u64),
                sub_sequence_number: 0,
                shard_id: "shardId-000000000001".into(),
                arrival: start,
            }
        })
        .collect()
}

fn times(body: &Value) -> Vec<String> {
    body["events"].as_array().unwrap().iter().map(|e| e["timestamp"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs moto_server: scripts/test.sh starts it and runs the ignored tests"]
async fn with_the_index_on_get_v1_events_pages_one_types_events_newest_first() {
    let aws = sdk_config().await;
    let mut config = create_stack(&aws, "type-events").await;
    config.events_table = format!("{}-indexed", config.events_table);
    create_table_with_index(&aws_sdk_dynamodb::Client::new(&aws), &config.events_table).await;
    config.gsi_write_shards = Some(4);
    let processor = Processor::new(&config, &aws).unwrap();
    let mut records = events("pageview", "u-1", 20, "2026-11-27T12:00:00Z", 1_000);
    records.extend(events("pageview", "u-2", 15, "2026-11-27T12:00:00.500Z", 2_000));
    records.extend(events("click", "u-1", 10, "2026-11-27T12:00:00Z", 3_000));
    let (response, report, _) = processor.answer(&kinesis_event(&records), deadline()).await;
    assert!(response.batch_item_failures.is_empty(), "{report:#?}");

    // Items carry the index keys; the long ones are stored compressed.
    let items = scan(&aws, &config.events_table).await;
    assert_eq!(items.len(), 45);
    assert!(items.iter().all(|i| i["gsi1pk"].as_s().unwrap().starts_with(&format!("TYPE#{}#", i["event_type"].as_s().unwrap()))));
    let compressed = items.iter().filter(|i| i.contains_key("payload_gz")).count();
    assert_eq!(compressed, 7 + 5 + 4, "every third event is over 1 KB as text and one unit compressed");

    let api = query_api(&aws, &config);
    let (status, body) = call(&api, "/v1/events", &[("event_type", "pageview")]).await;
    assert_eq!(status, 200, "{body}");
    let all = times(&body);
    assert_eq!(all.len(), 35, "both users' pageviews, no clicks");
    let mut sorted = all.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(all, sorted, "newest first");
    assert_eq!(body["next_cursor"], Value::Null);
    let with_agent = body["events"].as_array().unwrap().iter().find(|e| e["context"]["user_agent"].is_string()).unwrap();
    assert!(with_agent["context"]["user_agent"].as_str().unwrap().ends_with("xxx"), "a compressed payload reads back whole");
    assert!(with_agent["_pipeline"]["schema"].is_string());

    // Pages of 6 give every event once, in order, whatever the index shard it is on.
    let mut paged = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..20 {
        let mut params = vec![("event_type", "pageview".to_owned()), ("limit", "6".to_owned())];
        if let Some(c) = &cursor {
            params.push(("cursor", c.clone()));
        }
        let params: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (status, body) = call(&api, "/v1/events", &params).await;
        assert_eq!(status, 200, "{body}");
        assert!(body["events"].as_array().unwrap().len() <= 6);
        paged.extend(times(&body));
        match body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(paged, all, "pages concatenate to the whole list");

    // from/to narrow it; the other type; the errors.
    let (_, body) = call(&api, "/v1/events", &[("event_type", "pageview"), ("from", "2026-11-27T12:00:05Z"), ("to", "2026-11-27T12:00:09Z")]).await;
    let window = times(&body);
    assert_eq!(window.len(), 9, "05.000 to 09.000 inclusive, both users: {window:?}");
    assert!(window.iter().all(|t| t.as_str() >= "2026-11-27T12:00:05.000Z" && t.as_str() <= "2026-11-27T12:00:09.000Z"));
    let (_, body) = call(&api, "/v1/events", &[("event_type", "click")]).await;
    assert_eq!(times(&body).len(), 10);
    let (_, first_clicks) = call(&api, "/v1/events", &[("event_type", "click"), ("limit", "2")]).await;
    let click_cursor = first_clicks["next_cursor"].as_str().unwrap().to_owned();
    let (status, body) = call(&api, "/v1/events", &[("event_type", "pageview"), ("cursor", &click_cursor)]).await;
    assert_eq!(status, 400, "another type's cursor: {body}");
    let (status, body) = call(&api, "/v1/events", &[]).await;
    assert!(status == 400 && body["message"].as_str().unwrap().contains("event_type is required"), "{body}");
    let (status, _) = call(&api, "/v1/events", &[("event_type", "nosuchtype")]).await;
    assert_eq!(status, 400);
    let (status, body) = call(&api, "/v1/events", &[("event_type", "identify")]).await;
    assert_eq!((status, body["events"].as_array().unwrap().len()), (200, 0));
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs moto_server: scripts/test.sh starts it and runs the ignored tests"]
async fn with_the_index_off_and_some_types_kept_the_table_holds_less_and_the_archive_all() {
    let aws = sdk_config().await;
    let mut config = create_stack(&aws, "levers-off").await;
    config.gsi_write_shards = None;
    config.query_event_types = Some(BTreeSet::from(["pageview".to_owned()]));
    let processor = Processor::new(&config, &aws).unwrap();
    let mut records = events("pageview", "u-9", 6, "2026-11-27T12:00:00Z", 10_000);
    records.extend(events("click", "u-9", 4, "2026-11-27T12:00:00Z", 20_000));
    let (response, report, _) = processor.answer(&kinesis_event(&records), deadline()).await;
    assert!(response.batch_item_failures.is_empty(), "{report:#?}");
    assert_eq!(report.counts.valid, 10);

    let items = scan(&aws, &config.events_table).await;
    assert_eq!(items.len(), 6, "only pageviews are kept for per-user queries");
    assert!(items.iter().all(|i| i["event_type"].as_s().unwrap() == "pageview" && !i.contains_key("gsi1pk") && !i.contains_key("gsi1sk")));
    let archived: usize = objects(&aws, &config.bad_rows_bucket, "events/").await.iter().map(|(_, b)| String::from_utf8_lossy(b).lines().count()).sum();
    assert_eq!(archived, 10, "the archive keeps every event");

    let api = query_api(&aws, &config);
    let (status, body) = call(&api, "/v1/users/u-9/events", &[]).await;
    assert_eq!((status, body["events"].as_array().unwrap().len()), (200, 6), "{body}");
    let (status, body) = call(&api, "/v1/events", &[("event_type", "pageview")]).await;
    assert_eq!(status, 404, "no index, no route: {body}");
    assert!(body["message"].as_str().unwrap().contains("events_gsi_enabled"), "{body}");

    // A kept type the schemas do not know stops init with both lists.
    config.query_event_types = Some(BTreeSet::from(["pagevew".to_owned()]));
    let error = Processor::new(&config, &aws).err().unwrap().to_string();
    assert!(error.contains("pagevew") && error.contains("pageview"), "{error}");
}
