//! Test helpers: a whole stack on moto_server (tables, bucket, delivery streams, a Kinesis
//! stream, an SQS queue), the `pipeline-aws` binary pointed at it, and readers of what it wrote.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::process::{Command, Output};
use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use pipeline::aggregate::Granularity;
use pipeline::rollup::AggregateTable;
use pipeline::{CoreConfig, Outcome, Record};
use pipeline_aws::{DynamoAggregateTable, ProcessorConfig};

#[path = "../../../functions/testing/moto.rs"]
mod moto;
#[path = "../../../functions/testing/stack.rs"]
mod stack;
pub use moto::{endpoint, sdk_config};
pub use stack::*;

/// Creates a Kinesis stream of `shards` shards and waits until it is active.
pub async fn create_stream(aws: &aws_config::SdkConfig, name: &str, shards: i32) -> String {
    let kinesis = aws_sdk_kinesis::Client::new(aws);
    let stream = format!("events-{name}-{}", std::process::id());
    kinesis.create_stream().stream_name(&stream).shard_count(shards).send().await.expect("create stream");
    for _ in 0..100 {
        let summary = kinesis.describe_stream_summary().stream_name(&stream).send().await.expect("describe stream");
        if summary.stream_description_summary().is_some_and(|s| s.stream_status().as_str() == "ACTIVE") {
            return stream;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("stream {stream} did not become active");
}

/// Creates an SQS queue; its URL.
pub async fn create_queue(aws: &aws_config::SdkConfig, name: &str) -> String {
    let sqs = aws_sdk_sqs::Client::new(aws);
    let out = sqs.create_queue().queue_name(format!("{name}-{}", std::process::id())).send().await.expect("create queue");
    out.queue_url().unwrap().to_owned()
}

/// Messages in the queue, visible or not.
pub async fn queue_depth(aws: &aws_config::SdkConfig, queue: &str) -> u64 {
    use aws_sdk_sqs::types::QueueAttributeName;
    let out = aws_sdk_sqs::Client::new(aws)
        .get_queue_attributes()
        .queue_url(queue)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
        .send()
        .await
        .unwrap();
    out.attributes().unwrap().values().map(|v| v.parse::<u64>().unwrap()).sum()
}

/// Puts `records`' data and partition keys to `stream`, in order.
pub async fn put_records(aws: &aws_config::SdkConfig, stream: &str, records: &[Record]) {
    use aws_sdk_kinesis::primitives::Blob;
    use aws_sdk_kinesis::types::PutRecordsRequestEntry;
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
    use aws_sdk_kinesis::types::ShardIteratorType;
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
            let page = kinesis.get_records().shard_iterator(&i).send().await.unwrap();
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

/// The events table's keys, sorted.
pub async fn event_keys(aws: &aws_config::SdkConfig, table: &str) -> Vec<(String, String)> {
    scan(aws, table).await.iter().map(|i| (i["pk"].as_s().unwrap().clone(), i["sk"].as_s().unwrap().clone())).collect()
}

/// `pipeline-aws` with `args`, pointed at moto and at `stack`.
pub fn pipeline_aws(stack: &ProcessorConfig, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pipeline-aws"))
        .args(args)
        .env("AWS_ENDPOINT_URL", endpoint())
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("EVENTS_TABLE", &stack.events_table)
        .env("AGGREGATES_TABLE", &stack.aggregates_table)
        .env("ARCHIVE_STREAMS", stack.archive_streams.join(","))
        .env("BAD_ROWS_BUCKET", &stack.bad_rows_bucket)
        .env("BAD_ROWS_PREFIX", &stack.bad_rows_prefix)
        .env_remove("SCHEMAS_DIR")
        .output()
        .unwrap()
}

pub fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

/// The processor's batch flow over the stack's sinks.
pub fn flow(aws: &aws_config::SdkConfig, stack: &ProcessorConfig) -> pipeline::flow::BatchFlow<pipeline_aws::DynamoEventStore, pipeline_aws::FirehoseArchive, pipeline_aws::S3BadRowStore, pipeline_aws::DynamoAggregateStore> {
    pipeline::flow::BatchFlow::new(Arc::new(CoreConfig::embedded().unwrap()), pipeline_aws::sinks(stack, aws))
}

/// (type, minute) -> (count, revenue in millionths) of `records`' valid events.
pub type Minutes = BTreeMap<(String, DateTime<Utc>), (u64, BTreeMap<String, u128>)>;

pub fn expected_minutes(records: &[Record]) -> Minutes {
    let registry = CoreConfig::embedded().unwrap();
    let events: Vec<_> = pipeline::process_batch(&registry, records, Utc::now()).into_iter().filter_map(|o| if let Outcome::Event(e) = o { Some(e) } else { None }).collect();
    pipeline::aggregate::partials(events.iter()).into_iter().map(|(w, a)| ((w.event_type.to_string(), w.minute), (a.count, a.revenue))).collect()
}

/// Runs the aggregator over the stack's table, then reads every minute row from `from` to
/// now (events without a timestamp count when they arrived).
pub async fn merged_minutes(aws: &aws_config::SdkConfig, stack: &ProcessorConfig, from: DateTime<Utc>) -> Minutes {
    let table = DynamoAggregateTable::new(aws_sdk_dynamodb::Client::new(aws), &stack.aggregates_table);
    pipeline::rollup::roll_up(&table, usize::MAX).await.unwrap();
    let mut out = Minutes::new();
    for t in pipeline::workload::EVENT_TYPES {
        for row in table.rows(Granularity::Minute, t, from, Utc::now() + chrono::Duration::days(1)).await.unwrap() {
            out.insert((t.to_owned(), row.window_start), (row.aggregate.count, row.aggregate.revenue.clone()));
        }
    }
    out
}
