//! `--kinesis STREAM` against a real Kinesis API (moto_server): every event of the run is
//! read back from the stream.

use clap::Parser;
use pipeline_testing::kinesis::{create_stream, read_stream};
use pipeline_testing::moto::sdk_config;

#[test]
#[ignore = "needs moto_server (AWS_ENDPOINT_URL): scripts/test.sh starts it and runs the ignored tests"]
fn kinesis_mode_puts_every_event_into_the_stream() {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let aws = rt.block_on(sdk_config());
    let stream = rt.block_on(create_stream(&aws, &format!("loadtest-{}", uuid::Uuid::new_v4().simple()), 2));
    // One connection: moto_server numbers a shard's records by reading the highest number and
    // adding one, without a lock (moto/kinesis/models.py, `Shard.put_record`), so two
    // PutRecords calls in flight to one shard can take the same number and the later record
    // replaces the earlier one. Real Kinesis has no such race; CI once read back 499 of 500.
    #[rustfmt::skip]
    let args = loadtest::Args::try_parse_from([
        "loadtest", "--quiet", "--kinesis", &stream, "--rate", "500", "--duration", "1s", "--batch-size", "50", "--users", "20",
        "--connections", "1",
    ])
    .unwrap();
    let outcome = loadtest::run(&args).unwrap();
    assert!(outcome.problems.is_empty(), "{:?}", outcome.problems);
    assert_eq!((outcome.report.sent, outcome.report.accepted), (500, 500), "{}", outcome.summary());

    let records: Vec<Vec<u8>> = rt.block_on(read_stream(&aws, &stream)).into_iter().map(|r| r.data).collect();
    assert_eq!(records.len(), 500);
    let prefix = format!("lt-{:016x}-", outcome.run_id);
    for data in &records {
        let event: serde_json::Value = serde_json::from_slice(data).expect("one JSON event per record");
        assert!(event["user_id"].as_str().unwrap().starts_with(&prefix), "{event}");
    }
    let ids: std::collections::HashSet<&str> = records.iter().map(|d| std::str::from_utf8(d).unwrap()).collect();
    assert_eq!(ids.len(), 500, "no event twice");

    let e = loadtest::Args::try_parse_from(["loadtest", "--quiet", "--kinesis", "no-such-stream-here", "--rate", "10", "--duration", "1s"]).unwrap();
    let text = format!("{:#}", loadtest::run(&e).unwrap_err());
    assert!(text.contains("does not exist"), "{text}");
}
