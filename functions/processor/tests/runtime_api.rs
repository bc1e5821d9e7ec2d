//! The real `processor` binary through the Lambda Runtime API: cargo-lambda's emulator
//! (`cargo lambda watch`) serves the API, `cargo lambda invoke` sends the fixture event,
//! and the binary writes to moto_server.

mod common;

use std::process::{Command, Stdio};

use common::*;
#[path = "../../testing/runtime_emulator.rs"]
mod runtime_emulator;
use runtime_emulator::{Emulator, Running};

/// The processor binary under the emulator, configured for `config`'s stack.
fn processor(emulator: &Emulator, config: &pipeline_aws::ProcessorConfig, stdout: Stdio) -> Running {
    Running(
        emulator
            .function(env!("CARGO_BIN_EXE_processor"), &endpoint())
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1769")
            .env("EVENTS_TABLE", &config.events_table)
            .env("AGGREGATES_TABLE", &config.aggregates_table)
            .env("ARCHIVE_STREAMS", config.archive_streams.join(","))
            .env("BAD_ROWS_BUCKET", &config.bad_rows_bucket)
            .env("BAD_ROWS_PREFIX", &config.bad_rows_prefix)
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
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("BAD_ROWS_BUCKET"), "{text}");
}

fn tempfile_path(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("{}-{}-{name}", env!("CARGO_PKG_NAME"), std::process::id()))
}
