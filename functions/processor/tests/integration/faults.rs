//! Faults AWS cannot be made to produce on demand (moto cannot either), injected at the
//! client boundary with aws-smithy-mocks: throttling, UnprocessedItems, Firehose partial
//! failures, S3 500s, and a write that never succeeds. Every record must end up written
//! or reported, and the partial batch response must name the lowest failed record.

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_dynamodb::operation::batch_write_item::BatchWriteItemOutput;
use aws_sdk_firehose::operation::put_record_batch::PutRecordBatchOutput;
use aws_sdk_firehose::types::PutRecordBatchResponseEntry;
use aws_sdk_s3::operation::put_object::PutObjectOutput;
use std::sync::atomic::{AtomicUsize, Ordering};

use aws_smithy_mocks::{MockResponse, MockResponseInterceptor, Rule, RuleMode, create_mock_http_client, mock};
use common::*;
use pipeline::CoreConfig;
use pipeline::flow::Sinks;
use pipeline_aws::{DynamoAggregateStore, DynamoEventStore, FirehoseArchive, S3BadRowStore};
use processor::Processor;
use tokio::time::Instant;

fn interceptor(rules: &[&Rule]) -> MockResponseInterceptor {
    rules.iter().fold(MockResponseInterceptor::new().rule_mode(RuleMode::MatchAny), |i, r| i.with_rule(r))
}

macro_rules! mocked_client {
    ($krate:ident, $rules:expr) => {{
        use $krate::config::{BehaviorVersion, Credentials, Region};
        let config = $krate::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("test", "test", None, None, "test"))
            .http_client(create_mock_http_client())
            .interceptor(interceptor($rules))
            // The adapters' own backoff does the retrying, so every attempt is visible here.
            .retry_config(aws_smithy_types::retry::RetryConfig::disabled())
            .build();
        $krate::Client::from_conf(config)
    }};
}

/// DynamoDB answers: each item whose key matches `unprocessed` comes back unprocessed.
fn dynamo_unprocessed(unprocessed: impl Fn(&str) -> bool + Send + Sync + 'static) -> impl Fn(&aws_sdk_dynamodb::operation::batch_write_item::BatchWriteItemInput) -> BatchWriteItemOutput {
    move |req| {
        let mut left = std::collections::HashMap::new();
        for (table, writes) in req.request_items().cloned().unwrap_or_default() {
            let keep: Vec<_> = writes
                .into_iter()
                .filter(|w| w.put_request().and_then(|p| p.item().get("pk")).and_then(|v| v.as_s().ok()).is_some_and(|pk| unprocessed(pk)))
                .collect();
            if !keep.is_empty() {
                left.insert(table, keep);
            }
        }
        BatchWriteItemOutput::builder().set_unprocessed_items(Some(left)).build()
    }
}

/// A DynamoDB error response as the service sends it.
fn dynamo_error(status: u16, code: &str) -> aws_smithy_runtime_api::http::Response {
    aws_smithy_runtime_api::http::Response::new(
        aws_smithy_runtime_api::http::StatusCode::try_from(status).unwrap(),
        aws_smithy_types::body::SdkBody::from(format!(r#"{{"__type":"com.amazonaws.dynamodb.v20120810#{code}","message":"injected"}}"#)),
    )
}

fn dynamo_ok() -> Rule {
    mock!(aws_sdk_dynamodb::Client::batch_write_item).then_compute_output(dynamo_unprocessed(|_| false))
}

/// Firehose's answer to a request of `n` records, refusing those `refused` picks.
fn firehose_answer(n: usize, refused: impl Fn(usize) -> bool) -> PutRecordBatchOutput {
    let entries: Vec<_> = (0..n)
        .map(|i| {
            let e = PutRecordBatchResponseEntry::builder();
            if refused(i) { e.error_code("ServiceUnavailableException").error_message("busy").build() } else { e.record_id(format!("r{i}")).build() }
        })
        .collect();
    let failed = (0..n).filter(|&i| refused(i)).count() as i32;
    PutRecordBatchOutput::builder().failed_put_count(failed).set_request_responses(Some(entries)).build().unwrap()
}

fn firehose_ok() -> Rule {
    mock!(aws_sdk_firehose::Client::put_record_batch).then_compute_output(|req| firehose_answer(req.records().len(), |_| false))
}

fn s3_ok() -> Rule {
    mock!(aws_sdk_s3::Client::put_object).then_output(|| PutObjectOutput::builder().build())
}

fn processor(dynamo: &[&Rule], firehose: &[&Rule], s3: &[&Rule]) -> Processor {
    processor_with(dynamo, firehose, s3, &[&dynamo_ok()])
}

/// A processor whose partial aggregates go through their own client (`aggregates` rules).
fn processor_with(dynamo: &[&Rule], firehose: &[&Rule], s3: &[&Rule], aggregates: &[&Rule]) -> Processor {
    let sinks = Sinks {
        events: DynamoEventStore::new(mocked_client!(aws_sdk_dynamodb, dynamo), "events", 30, Some(4)),
        archive: FirehoseArchive::new(mocked_client!(aws_sdk_firehose, firehose), vec!["a-0".into(), "a-1".into()]),
        bad_rows: S3BadRowStore::new(mocked_client!(aws_sdk_s3, s3), "bucket", "bad-rows/"),
        aggregates: DynamoAggregateStore::new(mocked_client!(aws_sdk_dynamodb, aggregates), "aggregates"),
    };
    Processor::with_sinks(Arc::new(CoreConfig::embedded().unwrap()), sinks)
}

fn deadline(seconds: u64) -> Instant {
    Instant::now() + Duration::from_secs(seconds)
}

/// Nothing lost, nothing reported twice: each sink accounts for every item it was given,
/// and the failed records are exactly the union of the sinks' failures.
fn assert_conserved(report: &pipeline::flow::BatchReport) {
    let valid = report.counts.valid;
    assert_eq!(report.events.written + report.events.failed.len(), valid, "events: {:?}", report.events);
    assert_eq!(report.archive.written + report.archive.failed.len(), valid, "archive: {:?}", report.archive);
    assert_eq!(report.bad_rows.written + report.bad_rows.failed.len(), report.counts.bad_total(), "bad rows: {:?}", report.bad_rows);
    let mut union: Vec<usize> =
        [&report.events, &report.archive, &report.bad_rows, &report.aggregates].iter().flat_map(|r| r.failed.clone()).collect();
    union.sort_unstable();
    union.dedup();
    assert_eq!(union, report.failed_records);
}

#[tokio::test]
async fn unprocessed_items_for_a_while_are_retried_until_written() {
    let calls = AtomicUsize::new(0);
    let some = dynamo_unprocessed(|pk| pk == "USER#u-42");
    let none = dynamo_unprocessed(|_| false);
    let dynamo = mock!(aws_sdk_dynamodb::Client::batch_write_item)
        .then_compute_output(move |req| if calls.fetch_add(1, Ordering::SeqCst) < 4 { some(req) } else { none(req) });
    let (f, s) = (firehose_ok(), s3_ok());
    let p = processor(&[&dynamo], &[&f], &[&s]);
    let (response, report, _) = p.answer(&fixture_event(), deadline(30)).await;
    assert_conserved(&report);
    assert!(response.batch_item_failures.is_empty(), "{report:#?}");
    assert_eq!(report.events.written, FIXTURE_VALID);
    assert_eq!(report.events.retries, 4);
    assert_eq!(dynamo.num_calls(), 5);
}

#[tokio::test]
async fn throttling_is_retried() {
    let calls = AtomicUsize::new(0);
    let none = dynamo_unprocessed(|_| false);
    let dynamo = mock!(aws_sdk_dynamodb::Client::batch_write_item).then_compute_response(move |req| {
        if calls.fetch_add(1, Ordering::SeqCst) < 3 {
            // What DynamoDB sends: the SDK parses the code from the body.
            MockResponse::Http(dynamo_error(400, "ProvisionedThroughputExceededException"))
        } else {
            MockResponse::Output(none(req))
        }
    });
    let (f, s) = (firehose_ok(), s3_ok());
    let p = processor(&[&dynamo], &[&f], &[&s]);
    let (response, report, _) = p.answer(&fixture_event(), deadline(30)).await;
    assert_conserved(&report);
    assert!(response.batch_item_failures.is_empty(), "{report:#?}");
    assert_eq!(report.events.written, FIXTURE_VALID);
    assert_eq!(report.events.retries, 3);
}

#[tokio::test]
async fn firehose_partial_failures_resend_only_the_failed_records() {
    // The fixture's 5 valid events pack into one Firehose record; fail it once.
    let calls = AtomicUsize::new(0);
    let firehose = mock!(aws_sdk_firehose::Client::put_record_batch).then_compute_output(move |req| {
        let fail = calls.fetch_add(1, Ordering::SeqCst) < 2;
        firehose_answer(req.records().len(), |_| fail)
    });
    let (d, s) = (dynamo_ok(), s3_ok());
    let p = processor(&[&d], &[&firehose], &[&s]);
    let (response, report, _) = p.answer(&fixture_event(), deadline(30)).await;
    assert_conserved(&report);
    assert!(response.batch_item_failures.is_empty(), "{report:#?}");
    assert_eq!(report.archive.written, FIXTURE_VALID);
    assert_eq!(report.archive.retries, 2);
    assert_eq!(firehose.num_calls(), 3);
}

#[tokio::test]
async fn firehose_resends_only_refused_entries_of_a_mixed_answer() {
    use pipeline::workload::{Workload, WorkloadConfig};
    // Enough events for several Firehose records; the first answer refuses only record 1.
    let mut workload = Workload::new(WorkloadConfig { invalid_ratio: 0.0, oversize_ratio: 0.0, ..WorkloadConfig::default() });
    let records = workload.records(2_000, "shardId-000000000001");
    let sizes = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = Arc::clone(&sizes);
    let firehose = mock!(aws_sdk_firehose::Client::put_record_batch).then_compute_output(move |req| {
        let n = req.records().len();
        let mut calls = seen.lock().unwrap();
        calls.push(n);
        let refuse_one = calls.len() == 1;
        firehose_answer(n, |i| refuse_one && i == 1)
    });
    let (d, s) = (dynamo_ok(), s3_ok());
    let p = processor(&[&d], &[&firehose], &[&s]);
    let flow_report = {
        let sinks_processor = &p;
        let event = kinesis_event(&records);
        sinks_processor.answer(&event, deadline(30)).await.1
    };
    assert!(flow_report.failed_records.is_empty(), "{flow_report:#?}");
    assert_eq!(flow_report.archive.written, 2_000);
    let calls = sizes.lock().unwrap().clone();
    assert!(calls[0] > 1, "{calls:?}");
    assert_eq!(*calls.last().unwrap(), 1, "only the refused record is sent again: {calls:?}");
}

#[tokio::test]
async fn s3_server_errors_are_retried() {
    let s3 = mock!(aws_sdk_s3::Client::put_object)
        .sequence()
        .http_status(500, Some("<Error><Code>InternalError</Code><Message>oops</Message></Error>".into()))
        .times(2)
        .output(|| PutObjectOutput::builder().build())
        .repeatedly()
        .build();
    let (d, f) = (dynamo_ok(), firehose_ok());
    let p = processor(&[&d], &[&f], &[&s3]);
    let (response, report, _) = p.answer(&fixture_event(), deadline(30)).await;
    assert_conserved(&report);
    assert!(response.batch_item_failures.is_empty(), "{report:#?}");
    assert_eq!(report.bad_rows.written, 4);
    assert!(report.bad_rows.retries >= 2);
}

#[tokio::test]
async fn a_write_that_never_succeeds_is_reported_from_the_lowest_failed_record() {
    // User u-42's items are never processed; everything else is.
    let dynamo = mock!(aws_sdk_dynamodb::Client::batch_write_item).then_compute_output(dynamo_unprocessed(|pk| pk == "USER#u-42"));
    let (f, s) = (firehose_ok(), s3_ok());
    let p = processor(&[&dynamo], &[&f], &[&s]);
    let (response, report, records) = p.answer(&fixture_event(), deadline(5)).await;
    assert_conserved(&report);
    // u-42's events are the fixture's records 1, 2 and 3.
    assert_eq!(report.failed_records, [1, 2, 3]);
    assert_eq!(report.events.written, FIXTURE_VALID - 3);
    let ids: Vec<_> = response.batch_item_failures.iter().map(|f| f.item_identifier.clone().unwrap()).collect();
    assert_eq!(ids, [records[1].sequence_number.clone()], "one entry: the lowest failed sequence number");
    assert_eq!(report.bad_rows.written, 4, "invalid events never fail the batch");
    assert_eq!(report.archive.written, FIXTURE_VALID);
    assert!(report.events.retries > 3, "retried until the deadline");
}

#[tokio::test]
async fn an_access_error_is_not_retried_and_fails_the_batch() {
    let dynamo = mock!(aws_sdk_dynamodb::Client::batch_write_item).then_http_response(|| dynamo_error(400, "AccessDeniedException"));
    let (f, s) = (firehose_ok(), s3_ok());
    let p = processor(&[&dynamo], &[&f], &[&s]);
    let (response, report, records) = p.answer(&fixture_event(), deadline(30)).await;
    assert_conserved(&report);
    assert_eq!(dynamo.num_calls(), 1, "a refusal is not retried");
    assert_eq!(report.events.retries, 0);
    assert_eq!(response.batch_item_failures.len(), 1);
    assert_eq!(response.batch_item_failures[0].item_identifier.as_deref(), Some(records[0].sequence_number.as_str()));
}

#[tokio::test]
async fn partial_aggregates_that_cannot_be_written_fail_their_records() {
    // Every partial stays unprocessed; the touched-minute markers go through.
    let aggregates = mock!(aws_sdk_dynamodb::Client::batch_write_item).then_compute_output(dynamo_unprocessed(|pk| pk.starts_with("PARTIAL#")));
    let (d, f, s) = (dynamo_ok(), firehose_ok(), s3_ok());
    let p = processor_with(&[&d], &[&f], &[&s], &[&aggregates]);
    let (response, report, records) = p.answer(&fixture_event(), deadline(3)).await;
    assert_conserved(&report);
    assert_eq!(report.events.written, FIXTURE_VALID);
    assert_eq!(report.aggregates.failed.len(), FIXTURE_VALID, "every valid record is in a partial that failed");
    assert_eq!(report.failed_records, report.aggregates.failed);
    let lowest = &records[report.failed_records[0]].sequence_number;
    assert_eq!(response.batch_item_failures[0].item_identifier.as_ref(), Some(lowest));
    assert!(report.aggregates.retries > 0, "retried until the deadline");
}
