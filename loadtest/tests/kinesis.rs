//! `--kinesis STREAM` against a real Kinesis API (moto_server): every event of the run is
//! read back from the stream.

use std::time::{Duration, Instant};

use aws_sdk_kinesis::types::ShardIteratorType;
use clap::Parser;

async fn client() -> aws_sdk_kinesis::Client {
    aws_sdk_kinesis::Client::new(&aws_config::defaults(aws_config::BehaviorVersion::latest()).load().await)
}

async fn create(stream: &str) {
    let c = client().await;
    c.create_stream().stream_name(stream).shard_count(2).send().await.unwrap();
    let start = Instant::now();
    loop {
        let d = c.describe_stream_summary().stream_name(stream).send().await.unwrap();
        if d.stream_description_summary().unwrap().stream_status().as_str() == "ACTIVE" {
            return;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "the stream did not become active");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Every record's data in `stream`, all shards.
async fn read_all(stream: &str) -> Vec<Vec<u8>> {
    let c = client().await;
    let shards = c.list_shards().stream_name(stream).send().await.unwrap();
    let mut out = Vec::new();
    for shard in shards.shards() {
        let it = c
            .get_shard_iterator()
            .stream_name(stream)
            .shard_id(shard.shard_id())
            .shard_iterator_type(ShardIteratorType::TrimHorizon)
            .send()
            .await
            .unwrap();
        let mut iterator = it.shard_iterator().map(str::to_owned);
        while let Some(i) = iterator {
            let got = c.get_records().shard_iterator(i).limit(10_000).send().await.unwrap();
            out.extend(got.records().iter().map(|r| r.data().as_ref().to_vec()));
            iterator = if got.records().is_empty() { None } else { got.next_shard_iterator().map(str::to_owned) };
        }
    }
    out
}

#[test]
#[ignore = "needs moto_server (AWS_ENDPOINT_URL): scripts/test.sh starts it and runs the ignored tests"]
fn kinesis_mode_puts_every_event_into_the_stream() {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let stream = format!("loadtest-{}", uuid::Uuid::new_v4().simple());
    rt.block_on(create(&stream));
    #[rustfmt::skip]
    let args = loadtest::Args::try_parse_from([
        "loadtest", "--quiet", "--kinesis", &stream, "--rate", "500", "--duration", "1s", "--batch-size", "50", "--users", "20",
    ])
    .unwrap();
    let outcome = loadtest::run(&args).unwrap();
    assert!(outcome.problems.is_empty(), "{:?}", outcome.problems);
    assert_eq!((outcome.report.sent, outcome.report.accepted), (500, 500), "{}", outcome.summary());

    let records = rt.block_on(read_all(&stream));
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
