//! The real `processor` binary through the Lambda Runtime API: cargo-lambda's emulator
//! (`cargo lambda watch`) serves the API, `cargo lambda invoke` sends the fixture event,
//! and the binary writes to moto_server.

use crate::common;

use std::process::{Command, Stdio};

use common::*;
use pipeline_testing::moto::sdk_config;
use pipeline_testing::runtime_emulator::{Emulator, Running};
use pipeline_testing::stack::{create_stack, objects, scan, stack_env};
use pipeline_testing::text;

/// The processor binary under the emulator, configured for `config`'s stack.
fn processor(emulator: &Emulator, config: &pipeline_aws::ProcessorConfig, stdout: Stdio) -> Running {
    processor_with(emulator, config, stdout, &[])
}

/// [`processor`] with more settings (`ENRICHMENTS_DIR`, ...).
fn processor_with(emulator: &Emulator, config: &pipeline_aws::ProcessorConfig, stdout: Stdio, env: &[(&str, &std::ffi::OsStr)]) -> Running {
    Running(
        emulator
            .function(env!("CARGO_BIN_EXE_processor"))
            .envs(env.iter().copied())
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1769")
            .envs(stack_env(config))
            .env("EVENT_TTL_DAYS", "30")
            .stdout(stdout)
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs moto_server and cargo-lambda: scripts/test.sh provides both and runs the ignored tests"]
async fn the_binary_processes_the_fixture_through_the_runtime_api() {
    let aws = sdk_config().await;
    let config = create_stack(&aws, "runtime").await;
    let emulator = Emulator::start();
    let log = tempfile_path("processor.log");
    let _function = processor(&emulator, &config, std::fs::File::create(&log).unwrap().into());
    let response = emulator.invoke(std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/kinesis_event.json")));
    assert_eq!(response, serde_json::json!({"batchItemFailures": []}));

    assert_eq!(scan(&aws, &config.events_table).await.len(), FIXTURE_VALID);
    assert_eq!(objects(&aws, &config.bad_rows_bucket, "bad-rows/").await.len(), FIXTURE_BAD.len());
    let stdout = std::fs::read_to_string(&log).unwrap();
    let emf: serde_json::Value = stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v.get("_aws").is_some())
        .expect("one EMF metrics line");
    assert_eq!(emf["RecordsIn"], 9);
    assert_eq!(emf["ValidEvents"], FIXTURE_VALID);
    assert_eq!(emf["_aws"]["CloudWatchMetrics"][0]["Namespace"], "EventPipeline");
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs moto_server and cargo-lambda: scripts/test.sh provides both and runs the ignored tests"]
async fn odd_record_metadata_never_fails_the_batch() {
    // Arrival times with one and with seven decimals (the second one made aws_lambda_events
    // refuse the whole invocation), as a string, in exponent form, missing; a partition key
    // sent as a number.
    let aws = sdk_config().await;
    let config = create_stack(&aws, "runtime-odd").await;
    let emulator = Emulator::start();
    let _function = processor(&emulator, &config, Stdio::null());
    let fixture = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/kinesis_event_odd_metadata.json"));
    let response = emulator.invoke(fixture);
    assert_eq!(response, serde_json::json!({"batchItemFailures": []}));

    let items = scan(&aws, &config.events_table).await;
    assert_eq!(items.len(), 5, "every record is stored");
    let ingested: std::collections::BTreeMap<String, String> = items
        .iter()
        .map(|item| {
            let event: serde_json::Value = serde_json::from_str(item["payload"].as_s().unwrap()).unwrap();
            (event["user_id"].to_string().trim_matches('"').to_owned(), event["_pipeline"]["ingested_at"].as_str().unwrap().to_owned())
        })
        .collect();
    assert_eq!(ingested["odd-0"], "2025-11-27T12:00:00.400Z", "a tenth of a second is 400 ms: {ingested:?}");
    assert_eq!(ingested["odd-1"], "2025-11-27T12:00:00.123Z", "{ingested:?}");
    assert_eq!(ingested["odd-2"], "2025-11-27T12:00:00.500Z", "{ingested:?}");
    assert_eq!(ingested["4"], "2025-11-27T12:00:00.600Z", "{ingested:?}");
    assert!(ingested["odd-3"] > "2026".to_owned(), "no arrival time: the invocation's: {ingested:?}");
}

/// An enrichments directory: the embedded campaign and referer files, and a lookup of
/// purchase items' skus in a 100,000-row CSV (`W-1` among them).
fn enrichments_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for name in ["campaign.json", "referer.json"] {
        std::fs::copy(std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../enrichments")).join(name), dir.path().join(name)).unwrap();
    }
    std::fs::write(
        dir.path().join("products.json"),
        r#"{"enrichment": "lookup", "name": "products", "enabled": true,
            "parameters": {"table": "products.csv", "key": "items[].sku", "columns": ["category"]}}"#,
    )
    .unwrap();
    let mut csv = String::from("sku,category,brand\nW-1,widgets,Acme\n");
    for i in 0..99_999 {
        csv.push_str(&format!("SKU-{i:06},category-{},brand-{}\n", i % 97, i % 13));
    }
    std::fs::write(dir.path().join("products.csv"), csv).unwrap();
    dir
}

/// A Kinesis event of `events` (one shard) as a file for `cargo lambda invoke`.
fn kinesis_event_file(events: &[serde_json::Value]) -> tempfile::NamedTempFile {
    use base64::Engine as _;
    let records: Vec<serde_json::Value> = events
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let sequence = format!("4965600000000000000000000000000000000000000000000000{i:04}");
            serde_json::json!({
                "eventID": format!("shardId-000000000000:{sequence}"), "eventSource": "aws:kinesis", "eventVersion": "1.0",
                "eventName": "aws:kinesis:record", "awsRegion": "us-east-1",
                "eventSourceARN": "arn:aws:kinesis:us-east-1:123456789012:stream/events",
                "invokeIdentityArn": "arn:aws:iam::123456789012:role/processor",
                "kinesis": {"kinesisSchemaVersion": "1.0", "partitionKey": "u-1", "sequenceNumber": sequence,
                            "approximateArrivalTimestamp": 1796385600.5,
                            "data": base64::engine::general_purpose::STANDARD.encode(e.to_string())}
            })
        })
        .collect();
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), serde_json::json!({"Records": records}).to_string()).unwrap();
    file
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs moto_server and cargo-lambda: scripts/test.sh provides both and runs the ignored tests"]
async fn enrichments_from_enrichments_dir_reach_the_stored_and_archived_events() {
    let aws = sdk_config().await;
    let config = create_stack(&aws, "runtime-enrich").await;
    let emulator = Emulator::start();
    let dir = enrichments_dir();
    let _function = processor_with(&emulator, &config, Stdio::null(), &[("ENRICHMENTS_DIR", dir.path().as_os_str())]);
    let events = [
        serde_json::json!({"event_type": "pageview", "user_id": "u-1", "timestamp": "2026-11-27T12:00:00Z",
            "page": {"url": "https://shop.example.com/?utm_source=newsletter&utm_medium=email&utm_campaign=winter%20sale",
                     "referrer": "https://www.google.com/search?q=widgets"}}),
        serde_json::json!({"event_type": "purchase", "user_id": "u-1", "timestamp": "2026-11-27T12:00:01Z", "order_id": "o-1",
            "amount": 3.0, "currency": "USD", "items": [{"sku": "W-1", "quantity": 1, "price": 1.0}, {"sku": "W-404", "quantity": 1, "price": 2.0}]}),
    ];
    let fixture = kinesis_event_file(&events);
    assert_eq!(emulator.invoke(fixture.path()), serde_json::json!({"batchItemFailures": []}));

    let stored: Vec<serde_json::Value> =
        scan(&aws, &config.events_table).await.iter().map(|item| serde_json::from_str(item["payload"].as_s().unwrap()).unwrap()).collect();
    let archived: Vec<serde_json::Value> = objects(&aws, &config.bad_rows_bucket, "events/")
        .await
        .iter()
        .flat_map(|(_, body)| String::from_utf8(body.clone()).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect::<Vec<_>>())
        .collect();
    for events in [&stored, &archived] {
        assert_eq!(events.len(), 2, "{events:?}");
        let of = |t: &str| events.iter().find(|e| e["event_type"] == t).unwrap()["_pipeline"].clone();
        let pageview = of("pageview");
        assert_eq!(pageview["campaign"], serde_json::json!({"source": "newsletter", "medium": "email", "name": "winter sale"}));
        assert_eq!(pageview["referer"], serde_json::json!({"medium": "search", "source": "Google", "term": "widgets"}));
        assert_eq!(of("purchase")["lookup"], serde_json::json!({"products": [{"category": "widgets"}, null]}));
    }
}

#[test]
fn an_enrichment_file_that_cannot_be_used_stops_init_with_the_file_and_the_reason() {
    let dir = enrichments_dir();
    std::fs::write(dir.path().join("products.csv"), "sku,category\nW-1,a\nW-1,b\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_processor"))
        .env_clear()
        .env("EVENTS_TABLE", "events")
        .env("AGGREGATES_TABLE", "aggregates")
        .env("ARCHIVE_STREAMS", "archive-0")
        .env("BAD_ROWS_BUCKET", "bucket")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("ENRICHMENTS_DIR", dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let text = text(&out);
    assert!(text.contains("enrichment file products.json") && text.contains("products.csv line 3"), "{text}");
    assert!(text.contains("\"W-1\" is in the table twice"), "{text}");
}

#[test]
fn a_missing_setting_stops_init_with_its_name() {
    let out = Command::new(env!("CARGO_BIN_EXE_processor"))
        .env_clear()
        .env("EVENTS_TABLE", "events")
        .env("AGGREGATES_TABLE", "aggregates")
        .env("ARCHIVE_STREAMS", "archive-0")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let text = text(&out);
    assert!(text.contains("BAD_ROWS_BUCKET"), "{text}");
}

fn tempfile_path(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("{}-{}-{name}", env!("CARGO_PKG_NAME"), std::process::id()))
}
