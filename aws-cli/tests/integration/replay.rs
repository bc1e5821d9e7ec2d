//! `pipeline-aws replay` against moto_server (Kinesis, SQS, DynamoDB, Firehose, S3): a
//! batch Lambda skipped is read again from its shard, written through the processor's sinks
//! and its message deleted; replaying it again changes nothing; messages it cannot act on
//! (not an on-failure record, another stream, a shard that is gone, records past
//! retention) are kept and said so.

use crate::common;

use chrono::TimeZone;
use common::pipeline_aws;
use pipeline::Record;
use pipeline::workload::{Workload, WorkloadConfig};
use pipeline_testing::kinesis::{create_stream, put_records, read_stream};
use pipeline_testing::moto::sdk_config;
use pipeline_testing::sqs::{create_queue, queue_depth};
use pipeline_testing::stack::{create_stack_with_streams, event_keys, expected_minutes, merged_minutes, objects, scan};
use pipeline_testing::text;
use serde_json::json;

fn failure_record(stream: &str, shard: &str, start: &str, end: &str, size: usize) -> String {
    json!({
        "requestContext": {"requestId": "c9b8fa9f-5a7f-4f4f-af9c-0c604cde93a5", "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:processor",
            "condition": "RetryAttemptsExhausted", "approximateInvokeCount": 4},
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "version": "1.0", "timestamp": "2026-11-27T12:10:00.000Z",
        "KinesisBatchInfo": {"shardId": shard, "startSequenceNumber": start, "endSequenceNumber": end,
            "approximateArrivalOfFirstRecord": "2026-11-27T12:00:00.000Z", "approximateArrivalOfLastRecord": "2026-11-27T12:00:01.000Z",
            "batchSize": size, "streamArn": format!("arn:aws:kinesis:us-east-1:123456789012:stream/{stream}")}
    })
    .to_string()
}

async fn send(aws: &aws_config::SdkConfig, queue: &str, body: &str) {
    aws_sdk_sqs::Client::new(aws).send_message().queue_url(queue).message_body(body).send().await.unwrap();
}

fn expected_keys(records: &[Record]) -> Vec<(String, String)> {
    let registry = pipeline::CoreConfig::embedded().unwrap();
    let mut keys: Vec<_> = pipeline::process_batch(&registry, records, chrono::Utc::now())
        .into_iter()
        .filter_map(|o| o.as_event().map(|e| (e.partition_key(), e.sort_key.clone())))
        .collect();
    keys.sort();
    keys.dedup();
    keys
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs moto_server: scripts/test.sh starts it and runs the ignored tests"]
async fn a_skipped_batch_is_replayed_once_and_its_message_deleted() {
    let aws = sdk_config().await;
    let stack = create_stack_with_streams(&aws, "replay", 1).await;
    let stream = create_stream(&aws, "replay", 1).await;
    let queue = create_queue(&aws, "replay").await;
    let mut workload = Workload::new(WorkloadConfig { users: 60, oversize_ratio: 0.0, ..WorkloadConfig::default() });
    put_records(&aws, &stream, &workload.records(300, "unused")).await;
    let shard = read_stream(&aws, &stream).await;
    assert_eq!(shard.len(), 300);
    let shard_id = shard[0].shard_id.clone();
    // Lambda gave up on records 100..250.
    let skipped = &shard[100..250];
    let (start, end) = (&skipped[0].sequence_number, &skipped[149].sequence_number);
    send(&aws, &queue, &failure_record(&stream, &shard_id, start, end, 150)).await;

    // A dry run reads and counts, and writes or deletes nothing.
    let out = pipeline_aws(&stack, &["replay", "--queue", &queue, "--stream", &stream, "--dry-run", "--visibility-timeout", "1"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("150 records") && text(&out).contains("would replay"), "{}", text(&out));
    assert!(scan(&aws, &stack.events_table).await.is_empty());
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    assert_eq!(queue_depth(&aws, &queue).await, 1);

    let out = pipeline_aws(&stack, &["replay", "--queue", &queue, "--stream", &stream]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("replayed; message deleted"), "{}", text(&out));
    assert_eq!(queue_depth(&aws, &queue).await, 0);
    let keys = event_keys(&aws, &stack.events_table).await;
    assert_eq!(keys, expected_keys(skipped), "exactly the skipped batch's events");
    let day = chrono::Utc.with_ymd_and_hms(2026, 11, 27, 0, 0, 0).unwrap();
    let expected = expected_minutes(skipped);
    assert_eq!(merged_minutes(&aws, &stack, day).await, expected);
    assert!(!objects(&aws, &stack.bad_rows_bucket, &stack.bad_rows_prefix).await.is_empty(), "the batch's bad rows are stored");

    // The same message again (SQS delivers at least once): nothing changes. (The queue by
    // its name, as Terraform outputs it.)
    send(&aws, &queue, &failure_record(&stream, &shard_id, start, end, 150)).await;
    let name = queue.rsplit('/').next().unwrap();
    let out = pipeline_aws(&stack, &["replay", "--queue", name, "--stream", &stream]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(event_keys(&aws, &stack.events_table).await, keys);
    assert_eq!(merged_minutes(&aws, &stack, day).await, expected, "a batch replayed twice is counted once");
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs moto_server: scripts/test.sh starts it and runs the ignored tests"]
async fn messages_it_cannot_act_on_are_kept_and_said_so() {
    let aws = sdk_config().await;
    let stack = create_stack_with_streams(&aws, "replay-kept", 1).await;
    let stream = create_stream(&aws, "replay-kept", 1).await;
    let queue = create_queue(&aws, "replay-kept").await;
    let mut workload = Workload::new(WorkloadConfig { users: 10, oversize_ratio: 0.0, invalid_ratio: 0.0, ..WorkloadConfig::default() });
    put_records(&aws, &stream, &workload.records(20, "unused")).await;
    let shard = read_stream(&aws, &stream).await;
    let shard_id = shard[0].shard_id.clone();
    let (first, last) = (&shard[0].sequence_number, &shard[19].sequence_number);
    let before_first = (first.parse::<u128>().unwrap() - 1).to_string();
    let after_last = (last.parse::<u128>().unwrap() + 1_000_000).to_string();
    for body in [
        "this is not JSON".to_owned(),
        json!({"hello": "world"}).to_string(),
        failure_record("another-stream", &shard_id, first, last, 20),
        failure_record(&stream, "shardId-000000000042", first, last, 20),
        // The records before the first one still there: gone past retention.
        failure_record(&stream, &shard_id, &before_first, last, 21),
        failure_record(&stream, &shard_id, &after_last, &after_last, 1),
    ] {
        send(&aws, &queue, &body).await;
    }
    let out = pipeline_aws(&stack, &["replay", "--queue", &queue, "--stream", &stream, "--visibility-timeout", "30"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let said = text(&out);
    for expected in ["not a Kinesis on-failure record", "another-stream", "shardId-000000000042", "past the stream's retention", "6 messages: 0 replayed and deleted, 6 kept"] {
        assert!(said.contains(expected), "{expected}: {said}");
    }
    assert_eq!(queue_depth(&aws, &queue).await, 6);
    let out = pipeline_aws(&stack, &["replay", "--queue", "no-such-queue", "--stream", &stream]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("no queue named"), "{}", text(&out));
    let out = pipeline_aws(&stack, &["replay", "--queue", &queue, "--stream", "no-such-stream"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("does not exist"), "{}", text(&out));
    // The partly readable batch was written all the same (writing is idempotent); only
    // --delete-incomplete lets its message go.
    assert_eq!(scan(&aws, &stack.events_table).await.len(), 20);
}
