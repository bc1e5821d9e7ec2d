//! The real `processor` binary through the Lambda Runtime API: cargo-lambda's emulator
//! (`cargo lambda watch`) serves the API, `cargo lambda invoke` sends the fixture event,
//! and the binary writes to moto_server.

mod common;

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// Kills a child process when the test ends, however it ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn wait_for_port(port: u16) {
    let start = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(start.elapsed() < Duration::from_secs(60), "the runtime emulator did not start on port {port}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs moto_server and cargo-lambda: scripts/test.sh provides both and runs the ignored tests"]
async fn the_binary_processes_the_fixture_through_the_runtime_api() {
    let aws = sdk_config().await;
    let config = create_stack(&aws, "runtime").await;
    let port = free_port();
    // The emulator alone: this test runs the binary cargo already built, so the emulator
    // need not build it (and wait on cargo's lock held by this very test run).
    let _emulator = Running(
        Command::new("cargo")
            .args(["lambda", "watch", "--only-lambda-apis", "-A", "127.0.0.1", "-P", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("cargo lambda is installed (pip install cargo-lambda)"),
    );
    wait_for_port(port);
    let log = tempfile_path("processor.log");
    let _function = Running(
        Command::new(env!("CARGO_BIN_EXE_processor"))
            .env("AWS_LAMBDA_RUNTIME_API", format!("http://127.0.0.1:{port}/.rt"))
            .env("AWS_LAMBDA_FUNCTION_NAME", "_")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1769")
            .env("EVENTS_TABLE", &config.events_table)
            .env("AGGREGATES_TABLE", &config.aggregates_table)
            .env("ARCHIVE_STREAMS", config.archive_streams.join(","))
            .env("BAD_ROWS_BUCKET", &config.bad_rows_bucket)
            .env("BAD_ROWS_PREFIX", &config.bad_rows_prefix)
            .env("EVENT_TTL_DAYS", "30")
            .env("AWS_ENDPOINT_URL", endpoint())
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap(),
    );
    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/kinesis_event.json");
    let invoke = Command::new("cargo")
        .args(["lambda", "invoke", "-A", "127.0.0.1", "-P", &port.to_string(), "--data-file", fixture])
        .output()
        .unwrap();
    assert!(invoke.status.success(), "invoke failed: {}", String::from_utf8_lossy(&invoke.stderr));
    let response: serde_json::Value = serde_json::from_slice(&invoke.stdout).unwrap();
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
