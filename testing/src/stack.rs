//! A whole stack on moto_server: the processor's tables, bucket and delivery streams under
//! fresh names, and readers of what landed in them.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use pipeline::aggregate::Granularity;
use pipeline::rollup::AggregateTable;
use pipeline::{CoreConfig, Outcome, Record};
use pipeline_aws::{DynamoAggregateTable, ProcessorConfig};

use crate::moto;

/// An S3 client for moto.
pub fn s3_client(config: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
    // moto serves buckets by path, not by virtual host.
    aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(config).force_path_style(true).build())
}

/// Creates the tables, the bucket and two delivery streams under fresh names.
pub async fn create_stack(config: &aws_config::SdkConfig, name: &str) -> ProcessorConfig {
    create_stack_with_streams(config, name, 2).await
}

/// Like [`create_stack`] with `stream_count` delivery streams; stream `i` delivers under
/// `events/stream-<i>/` (moto writes what it receives, without dynamic partitioning).
pub async fn create_stack_with_streams(config: &aws_config::SdkConfig, name: &str, stream_count: usize) -> ProcessorConfig {
    let dynamo = aws_sdk_dynamodb::Client::new(config);
    let suffix = format!("{name}-{}", std::process::id());
    let events_table = format!("events-{suffix}");
    let aggregates_table = format!("aggregates-{suffix}");
    for table in [&events_table, &aggregates_table] {
        moto::create_table(&dynamo, table).await;
    }
    let bucket = format!("pipeline-{suffix}").to_lowercase();
    s3_client(config).create_bucket().bucket(&bucket).send().await.expect("create bucket");
    let firehose = aws_sdk_firehose::Client::new(config);
    remove_streams_of_ended_processes(&firehose).await;
    let mut streams = Vec::new();
    for i in 0..stream_count {
        let stream = format!("archive-{suffix}-{i}");
        firehose
            .create_delivery_stream()
            .delivery_stream_name(&stream)
            .extended_s3_destination_configuration(
                aws_sdk_firehose::types::ExtendedS3DestinationConfiguration::builder()
                    .role_arn("arn:aws:iam::123456789012:role/firehose")
                    .bucket_arn(format!("arn:aws:s3:::{bucket}"))
                    .prefix(format!("events/stream-{i}/"))
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .expect("create delivery stream");
        streams.push(stream);
    }
    ProcessorConfig {
        events_table,
        aggregates_table,
        archive_streams: streams,
        bad_rows_bucket: bucket,
        bad_rows_prefix: "bad-rows/".into(),
        event_ttl_days: 30,
        gsi_write_shards: Some(4),
        query_event_types: None,
        schemas_dir: None,
        enrichments_dir: None,
        memory_mib: None,
    }
}

/// Deletes the delivery streams that stacks of test processes no longer running left
/// behind (`archive-<name>-<pid>-<i>`). moto_server allows 50 delivery streams, and one run
/// of the tests creates about 30: without this, a second run against the same moto_server
/// fails with LimitExceededException. A stream another test deletes first is not an error.
async fn remove_streams_of_ended_processes(firehose: &aws_sdk_firehose::Client) {
    let listed = firehose.list_delivery_streams().limit(10_000).send().await.expect("list delivery streams");
    for name in listed.delivery_stream_names() {
        let pid = name.strip_prefix("archive-").and_then(|rest| rest.rsplit('-').nth(1)).and_then(|pid| pid.parse::<u32>().ok());
        if pid.is_some_and(|pid| !std::path::Path::new(&format!("/proc/{pid}")).exists()) {
            let _ = firehose.delete_delivery_stream().delivery_stream_name(name).send().await;
        }
    }
}

/// The environment that points a binary (a Lambda function, `pipeline-aws`) at `stack`.
pub fn stack_env(stack: &ProcessorConfig) -> [(&'static str, String); 5] {
    [
        ("EVENTS_TABLE", stack.events_table.clone()),
        ("AGGREGATES_TABLE", stack.aggregates_table.clone()),
        ("ARCHIVE_STREAMS", stack.archive_streams.join(",")),
        ("BAD_ROWS_BUCKET", stack.bad_rows_bucket.clone()),
        ("BAD_ROWS_PREFIX", stack.bad_rows_prefix.clone()),
    ]
}

/// Every item of a table, sorted by key.
pub async fn scan(config: &aws_config::SdkConfig, table: &str) -> Vec<HashMap<String, AttributeValue>> {
    let dynamo = aws_sdk_dynamodb::Client::new(config);
    let mut items = Vec::new();
    let mut start = None;
    loop {
        let page = dynamo.scan().table_name(table).set_exclusive_start_key(start).send().await.expect("scan");
        items.extend(page.items.unwrap_or_default());
        start = page.last_evaluated_key;
        if start.is_none() {
            break;
        }
    }
    items.sort_by_key(|i| format!("{:?}{:?}", i.get("pk"), i.get("sk")));
    items
}

/// Every object under `prefix`: (key, bytes).
pub async fn objects(config: &aws_config::SdkConfig, bucket: &str, prefix: &str) -> Vec<(String, Vec<u8>)> {
    let s3 = s3_client(config);
    let listed = s3.list_objects_v2().bucket(bucket).prefix(prefix).send().await.expect("list objects");
    let mut out = Vec::new();
    for object in listed.contents.unwrap_or_default() {
        let key = object.key.unwrap_or_default();
        let body = s3.get_object().bucket(bucket).key(&key).send().await.expect("get object").body.collect().await.expect("body");
        out.push((key, body.into_bytes().to_vec()));
    }
    out.sort();
    out
}

/// The enriched event an events-table item holds: its `payload` text, or its gzip
/// `payload_gz` (items the processor compressed to save a write unit).
pub fn stored_event(item: &HashMap<String, AttributeValue>) -> serde_json::Value {
    let text = match (item.get("payload"), item.get("payload_gz")) {
        (Some(text), _) => text.as_s().expect("payload is a string").clone(),
        (None, Some(packed)) => gunzip(packed.as_b().expect("payload_gz is binary").as_ref()),
        (None, None) => panic!("an item without payload or payload_gz: {item:?}"),
    };
    serde_json::from_str(&text).expect("the payload is JSON")
}

/// `bytes` gunzipped, as text.
pub fn gunzip(bytes: &[u8]) -> String {
    use std::io::Read;
    let mut text = String::new();
    flate2::read::GzDecoder::new(bytes).read_to_string(&mut text).expect("gzip");
    text
}

/// The events table's keys, sorted.
pub async fn event_keys(aws: &aws_config::SdkConfig, table: &str) -> Vec<(String, String)> {
    scan(aws, table).await.iter().map(|i| (i["pk"].as_s().unwrap().clone(), i["sk"].as_s().unwrap().clone())).collect()
}

/// The processor's batch flow over the stack's sinks.
pub fn flow(aws: &aws_config::SdkConfig, stack: &ProcessorConfig) -> pipeline::flow::BatchFlow<pipeline_aws::DynamoEventStore, pipeline_aws::FirehoseArchive, pipeline_aws::S3BadRowStore, pipeline_aws::DynamoAggregateStore> {
    pipeline::flow::BatchFlow::new(Arc::new(CoreConfig::embedded().unwrap()), pipeline_aws::sinks(stack, aws))
}

/// (type, minute) -> (count, revenue in millionths) of `records`' valid events.
pub type Minutes = BTreeMap<(String, DateTime<Utc>), (u64, BTreeMap<String, u128>)>;

/// The minute rows `records`' valid events make, computed by the core alone.
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
