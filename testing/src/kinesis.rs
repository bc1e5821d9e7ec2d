//! Kinesis streams on moto_server: create one and wait until it is active, put records, and
//! read back every record of every shard.

use std::time::{Duration, Instant};

use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::{PutRecordsRequestEntry, ShardIteratorType};
use chrono::{TimeZone, Utc};
use pipeline::Record;

/// How long a new stream may take to become active.
const ACTIVE_WITHIN: Duration = Duration::from_secs(30);

/// Creates stream `events-<name>-<pid>` of `shards` shards, waits until it is active, and
/// returns its name.
pub async fn create_stream(aws: &aws_config::SdkConfig, name: &str, shards: i32) -> String {
    let kinesis = aws_sdk_kinesis::Client::new(aws);
    let stream = format!("events-{name}-{}", std::process::id());
    kinesis.create_stream().stream_name(&stream).shard_count(shards).send().await.expect("create stream");
    let start = Instant::now();
    loop {
        let summary = kinesis.describe_stream_summary().stream_name(&stream).send().await.expect("describe stream");
        if summary.stream_description_summary().is_some_and(|s| s.stream_status().as_str() == "ACTIVE") {
            return stream;
        }
        assert!(start.elapsed() < ACTIVE_WITHIN, "stream {stream} did not become active");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Puts `records`' data and partition keys to `stream`, in order.
pub async fn put_records(aws: &aws_config::SdkConfig, stream: &str, records: &[Record]) {
    let kinesis = aws_sdk_kinesis::Client::new(aws);
    for chunk in records.chunks(100) {
        let entries = chunk
            .iter()
            .map(|r| PutRecordsRequestEntry::builder().data(Blob::new(r.data.clone())).partition_key(&r.partition_key).build().unwrap())
            .collect();
        let out = kinesis.put_records().stream_name(stream).set_records(Some(entries)).send().await.unwrap();
        assert_eq!(out.failed_record_count(), Some(0));
    }
}

/// Every record of every shard of `stream`, in shard then sequence order.
pub async fn read_stream(aws: &aws_config::SdkConfig, stream: &str) -> Vec<Record> {
    let kinesis = aws_sdk_kinesis::Client::new(aws);
    let shards = kinesis.list_shards().stream_name(stream).send().await.unwrap();
    let mut out = Vec::new();
    for shard in shards.shards() {
        let it = kinesis
            .get_shard_iterator()
            .stream_name(stream)
            .shard_id(shard.shard_id())
            .shard_iterator_type(ShardIteratorType::TrimHorizon)
            .send()
            .await
            .unwrap();
        let mut iterator = it.shard_iterator().map(str::to_owned);
        while let Some(i) = iterator {
            let page = kinesis.get_records().shard_iterator(&i).limit(10_000).send().await.unwrap();
            for r in page.records() {
                let at = r.approximate_arrival_timestamp().unwrap();
                out.push(Record {
                    data: r.data().as_ref().to_vec(),
                    partition_key: r.partition_key().unwrap_or_default().to_owned(),
                    sequence_number: r.sequence_number().to_owned(),
                    sub_sequence_number: 0,
                    shard_id: shard.shard_id().to_owned(),
                    arrival: Utc.timestamp_opt(at.secs(), at.subsec_nanos()).unwrap(),
                });
            }
            if page.records().is_empty() {
                break;
            }
            iterator = page.next_shard_iterator().map(str::to_owned);
        }
    }
    out
}
