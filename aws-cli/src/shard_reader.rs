//! Reads a skipped batch's records again from its shard: `GetShardIterator` at the batch's
//! first sequence number, then `GetRecords` up to its last, within the stream's retention.
//! What cannot be read (a shard that is gone, records past retention) is said, never
//! papered over.

use std::time::Duration;

use aws_sdk_kinesis::Client;
use pipeline_aws::retry::describe;
use aws_sdk_kinesis::types::ShardIteratorType;
use chrono::{DateTime, TimeZone, Utc};
use pipeline::Record;
use pipeline::flow::compare_sequence_numbers;

use crate::failure_record::KinesisBatchInfo;

/// Records asked for per `GetRecords` (Kinesis' largest).
const GET_RECORDS_LIMIT: i32 = 10_000;
/// Pause between two `GetRecords` of a shard: Kinesis allows five calls a second.
const POLL_PAUSE: Duration = Duration::from_millis(200);
/// Empty answers in a row (while the shard is behind) before giving up on reaching the end.
const MAX_EMPTY_POLLS: usize = 50;
/// Failed calls in a row before giving up.
const MAX_FAILED_CALLS: usize = 6;

/// A batch's records as fetched, and what could not be fetched.
#[derive(Debug, Default)]
pub struct Fetched {
    pub records: Vec<Record>,
    /// Why some or all of the batch's records are not in `records` (empty: all are).
    pub missing: Vec<String>,
}

/// Fetches the records of `batch` from `stream`.
pub async fn fetch(client: &Client, stream: &str, batch: &KinesisBatchInfo) -> Fetched {
    let mut fetched = Fetched::default();
    let start = &batch.start_sequence_number;
    let Some(mut iterator) = iterator_at(client, stream, batch, ShardIteratorType::AtSequenceNumber, start, &mut fetched).await else {
        return fetched;
    };
    let (mut empty, mut failures, mut wait) = (0, 0, POLL_PAUSE);
    'reading: loop {
        let answer = client.get_records().shard_iterator(&iterator).limit(GET_RECORDS_LIMIT).send().await;
        let page = match answer {
            Ok(page) => page,
            Err(e) if e.as_service_error().is_some_and(|s| s.is_expired_iterator_exception()) => {
                let (kind, from) = match fetched.records.last() {
                    Some(last) => (ShardIteratorType::AfterSequenceNumber, last.sequence_number.clone()),
                    None => (ShardIteratorType::AtSequenceNumber, start.clone()),
                };
                match iterator_at(client, stream, batch, kind, &from, &mut fetched).await {
                    Some(next) => iterator = next,
                    None => break,
                }
                continue;
            }
            Err(e) => {
                failures += 1;
                if failures >= MAX_FAILED_CALLS {
                    fetched.missing.push(format!("GetRecords on {} failed {failures} times: {}", batch.shard_id, describe(&e)));
                    break;
                }
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(5));
                continue;
            }
        };
        failures = 0;
        wait = POLL_PAUSE;
        for r in page.records() {
            if batch.end_sequence_number.as_deref().is_some_and(|end| compare_sequence_numbers(r.sequence_number(), end).is_gt()) {
                break 'reading;
            }
            fetched.records.push(Record {
                data: r.data().as_ref().to_vec(),
                partition_key: r.partition_key().unwrap_or_default().to_owned(),
                sequence_number: r.sequence_number().to_owned(),
                sub_sequence_number: 0,
                shard_id: batch.shard_id.clone(),
                arrival: r.approximate_arrival_timestamp().and_then(arrival).unwrap_or_else(Utc::now),
            });
            let enough = batch.end_sequence_number.is_none() && batch.batch_size.is_some_and(|n| fetched.records.len() as u64 >= n);
            let at_end = batch.end_sequence_number.as_deref() == Some(r.sequence_number());
            if enough || at_end {
                break 'reading;
            }
        }
        if page.records().is_empty() {
            empty += 1;
            if page.millis_behind_latest() == Some(0) || empty >= MAX_EMPTY_POLLS {
                break;
            }
        } else {
            empty = 0;
        }
        match page.next_shard_iterator() {
            Some(next) => iterator = next.to_owned(),
            None => break, // a closed shard, read to its end
        }
        tokio::time::sleep(POLL_PAUSE).await;
    }
    check_ends(batch, &mut fetched);
    fetched
}

async fn iterator_at(
    client: &Client,
    stream: &str,
    batch: &KinesisBatchInfo,
    kind: ShardIteratorType,
    at: &str,
    fetched: &mut Fetched,
) -> Option<String> {
    let answer = client
        .get_shard_iterator()
        .stream_name(stream)
        .shard_id(&batch.shard_id)
        .shard_iterator_type(kind)
        .starting_sequence_number(at)
        .send()
        .await;
    match answer {
        Ok(out) => out.shard_iterator().map(str::to_owned).or_else(|| {
            fetched.missing.push(format!("{}: GetShardIterator gave no iterator", batch.shard_id));
            None
        }),
        Err(e) => {
            let why = match e.as_service_error() {
                Some(s) if s.is_resource_not_found_exception() => "the shard is not in the stream (gone past retention after a reshard?)",
                Some(s) if s.is_invalid_argument_exception() => "the sequence number is not one of the shard's (past retention?)",
                _ => "GetShardIterator failed",
            };
            fetched.missing.push(format!("{} of stream {stream} from {at}: {why}: {}", batch.shard_id, describe(&e)));
            None
        }
    }
}

/// Says what is missing at either end of what was read.
fn check_ends(batch: &KinesisBatchInfo, fetched: &mut Fetched) {
    if !fetched.missing.is_empty() {
        return;
    }
    let start = &batch.start_sequence_number;
    let Some(first) = fetched.records.first() else {
        fetched.missing.push(format!(
            "{}: no record at or after {start} (past the stream's retention, or not a sequence number of this shard)",
            batch.shard_id
        ));
        return;
    };
    if first.sequence_number != *start {
        fetched.missing.push(format!(
            "{}: the records from {start} up to {} are gone: past the stream's retention",
            batch.shard_id, first.sequence_number
        ));
    }
    let last = fetched.records.last().map(|r| r.sequence_number.as_str()).unwrap_or_default();
    if let Some(end) = &batch.end_sequence_number {
        if last != end {
            fetched.missing.push(format!("{}: the batch ends at {end}, but the shard's records stop at {last}", batch.shard_id));
        }
    }
}

fn arrival(t: &aws_sdk_kinesis::primitives::DateTime) -> Option<DateTime<Utc>> {
    Utc.timestamp_opt(t.secs(), t.subsec_nanos()).single()
}
