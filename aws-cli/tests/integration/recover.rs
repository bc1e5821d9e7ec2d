//! `pipeline-aws recover` against moto_server: bad rows the processor wrote to S3 go back
//! into the Kinesis stream under their original partition keys, each with the identity it
//! would have had, and a manifest marks them; a second run puts nothing; the processor
//! stores each recovered event once however often it is recovered; a bucket with foreign
//! objects stops the run before anything is written.

use crate::common;

use std::time::Duration;

use chrono::{TimeZone, Utc};
use common::pipeline_aws;
use pipeline::Record;
use pipeline_testing::kinesis::{create_stream, read_stream};
use pipeline_testing::moto::sdk_config;
use pipeline_testing::stack::{create_stack_with_streams, event_keys, flow, merged_minutes, objects, s3_client};
use pipeline_testing::text;
use serde_json::{Value, json};
use tokio::time::Instant;

const CURRENCY_FIX: &str = r#"[{"op": "test", "path": "/currency", "value": "usd"}, {"op": "replace", "path": "/currency", "value": "USD"}]"#;

fn purchase(user: &str, currency: &str, timestamp: Option<&str>) -> Value {
    let mut e = json!({"event_type": "purchase", "user_id": user, "order_id": format!("o-{user}"), "amount": 4.5, "currency": currency,
        "items": [{"sku": "s-1", "quantity": 1, "price": 4.5}]});
    if let Some(t) = timestamp {
        e["timestamp"] = json!(t);
    }
    e
}

/// The bad rows a processed batch leaves in S3: three purchases with a lower-case currency
/// (one with its own time), one in another currency, and a misspelt event type.
fn records() -> Vec<Record> {
    let arrival = Utc.with_ymd_and_hms(2026, 11, 27, 11, 59, 59).unwrap() + chrono::Duration::milliseconds(120);
    let events = [
        purchase("b-1", "usd", None),
        purchase("b-2", "usd", Some("2026-11-27T08:00:00Z")),
        purchase("b-3", "usd", None),
        purchase("b-4", "eur", None),
        json!({"event_type": "pagevew", "user_id": "v-1"}),
        json!({"event_type": "pageview", "user_id": "v-2"}),
    ];
    events
        .iter()
        .enumerate()
        .map(|(i, e)| Record {
            data: serde_json::to_vec(e).unwrap(),
            partition_key: format!("original-key-{i}"),
            sequence_number: format!("{:056}", 49_650_000_000_000_000_000u128 + i as u128),
            sub_sequence_number: 0,
            shard_id: "shardId-000000000003".into(),
            arrival,
        })
        .collect()
}

/// Processes what the stream holds from `from` on, as the processor would.
async fn process_stream(aws: &aws_config::SdkConfig, stack: &pipeline_aws::ProcessorConfig, stream: &str, from: usize) -> usize {
    let records = read_stream(aws, stream).await;
    let report = flow(aws, stack).run(&records[from..], Instant::now() + Duration::from_secs(60)).await;
    assert!(report.retry_from.is_none(), "{report:?}");
    records.len()
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs moto_server: scripts/test.sh starts it and runs the ignored tests"]
async fn bad_rows_in_s3_go_back_into_kinesis_once() {
    let aws = sdk_config().await;
    let stack = create_stack_with_streams(&aws, "recover", 1).await;
    let stream = create_stream(&aws, "recover", 1).await;
    let report = flow(&aws, &stack).run(&records(), Instant::now() + Duration::from_secs(60)).await;
    assert_eq!((report.counts.valid, report.counts.bad_total()), (1, 5));
    let bucket = stack.bad_rows_bucket.clone();
    let dir = tempfile::tempdir().unwrap();
    let patch = dir.path().join("currency.json");
    std::fs::write(&patch, CURRENCY_FIX).unwrap();
    let report_file = dir.path().join("report.json");
    let args = |extra: &[&str]| {
        let mut a = vec!["recover", "--bad-rows-bucket", bucket.as_str(), "--kinesis", stream.as_str(), "--patch", patch.to_str().unwrap()];
        a.extend_from_slice(extra);
        a.iter().map(|s| (*s).to_owned()).collect::<Vec<String>>()
    };
    let run = |extra: &[&str]| {
        let a = args(extra);
        pipeline_aws(&stack, &a.iter().map(String::as_str).collect::<Vec<_>>())
    };
    let read_report = || serde_json::from_slice::<Value>(&std::fs::read(&report_file).unwrap()).unwrap();

    // A dry run counts and writes nothing.
    let out = run(&["--dry-run", "--report", report_file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    let r = read_report();
    assert_eq!(r["types"]["schema_violation"]["fixed"], 3, "{r}");
    assert_eq!(r["types"]["schema_violation"]["not_matching"], 1, "{r}");
    assert_eq!(r["types"]["unknown_event_type"]["not_matching"], 1, "{r}");
    assert!(read_stream(&aws, &stream).await.is_empty());
    assert!(objects(&aws, &bucket, "bad-rows/recovered/").await.is_empty());

    let out = run(&["--type", "schema_violation", "--report", report_file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(read_report()["totals"]["recovered"], 3, "{}", text(&out));
    let put = read_stream(&aws, &stream).await;
    assert_eq!(put.len(), 3);
    let mut keys: Vec<&str> = put.iter().map(|r| r.partition_key.as_str()).collect();
    keys.sort();
    assert_eq!(keys, ["original-key-0", "original-key-1", "original-key-2"], "the original partition keys");
    let originals = records();
    for record in &put {
        let event: Value = serde_json::from_slice(&record.data).unwrap();
        assert_eq!(event["currency"], "USD");
        let i: usize = record.partition_key.trim_start_matches("original-key-").parse().unwrap();
        let derived = pipeline::enrich::derived_event_id(&originals[i].shard_id, &originals[i].sequence_number, 0).to_string();
        assert_eq!(event["event_id"], derived.as_str());
        let expected_time = if i == 1 { "2026-11-27T08:00:00Z" } else { "2026-11-27T11:59:59.120Z" };
        assert_eq!(event["timestamp"], expected_time);
    }
    let manifests = objects(&aws, &bucket, "bad-rows/recovered/").await;
    let listed: usize = manifests
        .iter()
        .map(|(_, body)| serde_json::from_slice::<Value>(body).unwrap()["bad_rows"].as_array().unwrap().len())
        .sum();
    assert_eq!(listed, 3, "{manifests:?}");

    // The processor stores each once; a second run puts nothing; --again puts them again,
    // and the events table still holds each once.
    process_stream(&aws, &stack, &stream, 0).await;
    let stored = event_keys(&aws, &stack.events_table).await;
    assert_eq!(stored.len(), 4, "{stored:?}");
    assert!(stored.iter().any(|(pk, sk)| pk == "USER#b-1" && sk.starts_with("2026-11-27T11:59:59.120Z#")));
    let out = run(&["--report", report_file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    let r = read_report();
    assert_eq!((r["totals"]["recovered"].as_u64(), r["totals"]["already_recovered"].as_u64()), (Some(0), Some(3)), "{r}");
    assert!(text(&out).contains("recovered by an earlier run"), "{}", text(&out));
    assert_eq!(read_stream(&aws, &stream).await.len(), 3);
    let out = run(&["--type", "schema_violation", "--again"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(read_stream(&aws, &stream).await.len(), 6);
    process_stream(&aws, &stack, &stream, 3).await;
    assert_eq!(event_keys(&aws, &stack.events_table).await, stored);
    let day = Utc.with_ymd_and_hms(2026, 11, 27, 0, 0, 0).unwrap();
    let purchases: u64 = merged_minutes(&aws, &stack, day).await.iter().filter(|((t, _), _)| t == "purchase").map(|(_, (n, _))| n).sum();
    assert_eq!(purchases, 6, "--again counts the recovered events again in the aggregates (documented)");
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs moto_server: scripts/test.sh starts it and runs the ignored tests"]
async fn a_bucket_with_foreign_objects_stops_the_run_before_anything_is_written() {
    let aws = sdk_config().await;
    let stack = create_stack_with_streams(&aws, "recover-foreign", 1).await;
    let stream = create_stream(&aws, "recover-foreign", 1).await;
    flow(&aws, &stack).run(&records(), Instant::now() + Duration::from_secs(60)).await;
    let s3 = s3_client(&aws);
    let bucket = stack.bad_rows_bucket.clone();
    let recover = |extra: &[&str]| {
        let mut a = vec!["recover", "--bad-rows-bucket", bucket.as_str(), "--kinesis", stream.as_str()];
        a.extend_from_slice(extra);
        pipeline_aws(&stack, &a)
    };

    // An object of the processor's layout whose content is not bad rows.
    let key = "bad-rows/type=schema_violation/dt=2026-11-27/shardId-000000000009-1.jsonl.gz";
    s3.put_object().bucket(&bucket).key(key).body(b"plain text, not gzip".to_vec().into()).send().await.unwrap();
    let out = recover(&[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains(key) && text(&out).contains("nothing was written"), "{}", text(&out));
    s3.delete_object().bucket(&bucket).key(key).send().await.unwrap();

    // A key outside the layout (the wrong prefix, or something else kept there).
    s3.put_object().bucket(&bucket).key("bad-rows/notes.txt").body(b"hello".to_vec().into()).send().await.unwrap();
    let out = recover(&[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("bad-rows/notes.txt") && text(&out).contains("--bad-rows-prefix"), "{}", text(&out));
    // The archive is not bad rows either.
    let out = recover(&["--bad-rows-prefix", "events/"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    // A stream that does not exist.
    s3.delete_object().bucket(&bucket).key("bad-rows/notes.txt").send().await.unwrap();
    let out = pipeline_aws(&stack, &["recover", "--bad-rows-bucket", &bucket, "--kinesis", "no-such-stream"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("does not exist"), "{}", text(&out));

    assert!(read_stream(&aws, &stream).await.is_empty(), "nothing was put");
    assert!(objects(&aws, &bucket, "bad-rows/recovered/").await.is_empty(), "nothing was marked");
}
