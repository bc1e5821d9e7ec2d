//! `--kinesis STREAM`: the same batches sent straight to a Kinesis stream with `PutRecords`.
//! Without `--aggregate`, one record per event, the `user_id` as partition key, as the ingest
//! API does. With `--aggregate`, as the KPL does: the events of a batch are grouped by the
//! shard their partition key maps to (from `ListShards`' hash-key ranges), each group is
//! packed into KPL aggregated records of up to 1 MiB ([`pipeline::kpl::Aggregator`], the
//! encoder the tests use too) whose explicit hash key is their first event's, and the records
//! go out in `PutRecords` calls of at most 500 records and 5 MiB. Credentials, region and
//! `AWS_ENDPOINT_URL` come from the environment as for every AWS SDK client.

use std::time::Duration;

use anyhow::{Context, bail};
use aws_sdk_kinesis::Client;
use aws_sdk_kinesis::error::DisplayErrorContext;
use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::PutRecordsRequestEntry;
use pipeline::kpl::{Aggregator, KinesisRecord, MAX_AGGREGATED_BYTES};
use pipeline::record::hash_key;

use super::Attempt;
use crate::batches::Batch;

/// Records in one `PutRecords` call.
pub const MAX_RECORDS_PER_CALL: usize = 500;
/// Data plus partition keys in one `PutRecords` call.
pub const MAX_BYTES_PER_CALL: usize = pipeline::limits::KINESIS_PUT_RECORDS_BYTES_MAX;

/// Sends batches to a Kinesis stream with `PutRecords` (`--kinesis`), KPL-aggregated per shard with `--aggregate`.
pub struct KinesisProducer {
    client: Client,
    stream: String,
    timeout: Duration,
    /// With `--aggregate`: the shards' hash-key ranges (start, end), by start.
    aggregate_into: Option<Vec<(u128, u128)>>,
}

/// The partition key of one event: its `user_id` (string or number), else a fixed key.
pub fn partition_key(event: &[u8]) -> String {
    let Some(at) = memchr::memmem::find(event, b"\"user_id\":") else { return "loadtest".into() };
    let rest = &event[at + 10..];
    let text = if let Some(rest) = rest.strip_prefix(b"\"") {
        memchr::memchr(b'"', rest).map(|end| &rest[..end])
    } else {
        let end = rest.iter().position(|c| !c.is_ascii_digit()).unwrap_or(rest.len());
        Some(&rest[..end])
    };
    match text.map(String::from_utf8_lossy) {
        Some(key) if !key.is_empty() && key.len() <= 256 => key.into_owned(),
        _ => "loadtest".into(),
    }
}

/// A record to put, and the positions (in the pending list) of the events it carries.
struct Outgoing {
    record: KinesisRecord,
    events: Vec<usize>,
}

/// Packs `events` (partition key, data) the KPL's way: per shard of `ranges`, into
/// aggregated records of at most `max_bytes`, in order within each shard.
fn pack(events: &[(String, &[u8])], ranges: &[(u128, u128)], max_bytes: usize) -> Vec<Outgoing> {
    let shard_of = |hash: u128| ranges.partition_point(|&(start, _)| start <= hash).saturating_sub(1);
    let mut by_shard: Vec<Vec<(usize, u128)>> = vec![Vec::new(); ranges.len().max(1)];
    for (i, (key, _)) in events.iter().enumerate() {
        let hash = hash_key(key);
        by_shard[shard_of(hash)].push((i, hash));
    }
    let mut out = Vec::new();
    for group in by_shard.into_iter().filter(|g| !g.is_empty()) {
        let mut aggregator = Aggregator::new(max_bytes);
        let mut members = Vec::new();
        let mut first_hash = None;
        for (i, hash) in group {
            let (key, data) = &events[i];
            if !aggregator.try_add(key, None, data) {
                out.extend(finish(&mut aggregator, &mut members, first_hash.take()));
                aggregator.try_add(key, None, data);
            }
            first_hash.get_or_insert(hash);
            members.push(i);
        }
        out.extend(finish(&mut aggregator, &mut members, first_hash));
    }
    out
}

fn finish(aggregator: &mut Aggregator, members: &mut Vec<usize>, first_hash: Option<u128>) -> Option<Outgoing> {
    let mut record = aggregator.finish()?;
    // As the KPL does: the aggregate goes where its first user record would have gone.
    record.explicit_hash_key = first_hash.map(|h| h.to_string());
    Some(Outgoing { record, events: std::mem::take(members) })
}

/// Splits records into calls of at most [`MAX_RECORDS_PER_CALL`] and [`MAX_BYTES_PER_CALL`].
fn calls(records: Vec<Outgoing>) -> Vec<Vec<Outgoing>> {
    let mut calls: Vec<Vec<Outgoing>> = Vec::new();
    let mut bytes = 0;
    for r in records {
        let size = r.record.data.len() + r.record.partition_key.len();
        match calls.last_mut() {
            Some(call) if call.len() < MAX_RECORDS_PER_CALL && bytes + size <= MAX_BYTES_PER_CALL => {
                bytes += size;
                call.push(r);
            }
            _ => {
                bytes = size;
                calls.push(vec![r]);
            }
        }
    }
    calls
}

impl KinesisProducer {
    /// A client for `stream`, checked with `DescribeStreamSummary`; with `aggregate`, the
    /// stream's shards are listed for packing.
    pub async fn new(stream: &str, timeout: Duration, aggregate: bool) -> anyhow::Result<Self> {
        let config = pipeline_aws::sdk::load_from_env().await;
        let region = config.region().map(|r| r.to_string());
        let client = Client::new(&config);
        if let Err(e) = client.describe_stream_summary().stream_name(stream).send().await {
            let region = region.unwrap_or_else(|| "(none: set AWS_REGION)".into());
            if e.as_service_error().is_some_and(|s| s.is_resource_not_found_exception()) {
                bail!("the Kinesis stream {stream:?} does not exist in region {region}: create it, or check --kinesis and AWS_REGION");
            }
            bail!("cannot reach the Kinesis stream {stream:?} in region {region}: {}. Check AWS credentials, AWS_REGION and AWS_ENDPOINT_URL", DisplayErrorContext(&e));
        }
        let aggregate_into = if aggregate { Some(open_shard_ranges(&client, stream).await?) } else { None };
        Ok(Self { client, stream: stream.to_owned(), timeout, aggregate_into })
    }

    /// Puts the events of `batch` at `pending` (indices in the batch) with `PutRecords` (more than one call when they are over its limits); the answer says which were taken.
    pub async fn put_records(&self, batch: &Batch, pending: &[u32]) -> Attempt {
        let events: Vec<(String, &[u8])> = pending.iter().map(|&i| batch.event(i as usize)).map(|data| (partition_key(data), data)).collect();
        let outgoing: Vec<Outgoing> = match &self.aggregate_into {
            Some(ranges) => pack(&events, ranges, MAX_AGGREGATED_BYTES),
            None => events
                .iter()
                .enumerate()
                .map(|(i, (key, data))| Outgoing {
                    record: KinesisRecord { partition_key: key.clone(), explicit_hash_key: None, data: data.to_vec(), user_records: 1 },
                    events: vec![i],
                })
                .collect(),
        };
        let calls = calls(outgoing);
        let answers = futures::future::join_all(calls.iter().map(|call| self.call(call))).await;
        let mut acknowledged = vec![false; pending.len()];
        let mut throttled = None;
        for (call, answer) in calls.iter().zip(answers) {
            match answer {
                Attempt::Records(results) => {
                    for (record, ok) in call.iter().zip(results) {
                        for &i in &record.events {
                            acknowledged[i] = ok;
                        }
                    }
                }
                // One call of several throttled: its events are resent with the throttled ones.
                Attempt::Throttled { .. } | Attempt::Retry(_) if calls.len() > 1 => {}
                other @ (Attempt::Throttled { .. } | Attempt::Retry(_)) => throttled = Some(other),
                other => return other,
            }
        }
        throttled.unwrap_or(Attempt::Records(acknowledged))
    }

    /// One `PutRecords` call; one result per record.
    async fn call(&self, records: &[Outgoing]) -> Attempt {
        let mut entries = Vec::with_capacity(records.len());
        for r in records {
            let entry = PutRecordsRequestEntry::builder()
                .data(Blob::new(r.record.data.clone()))
                .partition_key(&r.record.partition_key)
                .set_explicit_hash_key(r.record.explicit_hash_key.clone())
                .build();
            match entry {
                Ok(entry) => entries.push(entry),
                Err(e) => return Attempt::Refused(format!("cannot make a PutRecords entry: {e}")),
            }
        }
        let call = self.client.put_records().stream_name(&self.stream).set_records(Some(entries)).send();
        match tokio::time::timeout(self.timeout, call).await {
            Err(_) => Attempt::Retry(format!("PutRecords: no answer within {}", humantime::format_duration(self.timeout))),
            Ok(Ok(out)) => Attempt::Records(out.records().iter().map(|r| r.error_code().is_none() && r.sequence_number().is_some()).collect()),
            Ok(Err(e)) => match e.as_service_error() {
                Some(s) if s.is_provisioned_throughput_exceeded_exception() || s.is_kms_throttling_exception() => Attempt::Throttled { retry_after: None },
                Some(s) if s.is_resource_not_found_exception() => Attempt::Fatal(format!("the Kinesis stream {:?} is gone: {}", self.stream, DisplayErrorContext(&e))),
                Some(s) if s.is_access_denied_exception() || s.is_kms_access_denied_exception() => {
                    Attempt::Fatal(format!("PutRecords to {:?} is not allowed: {}", self.stream, DisplayErrorContext(&e)))
                }
                Some(s) if s.is_invalid_argument_exception() => Attempt::Refused(format!("PutRecords refused the batch: {}", DisplayErrorContext(&e))),
                _ => Attempt::Retry(format!("PutRecords: {}", DisplayErrorContext(&e))),
            },
        }
    }
}

/// The open shards' hash-key ranges, sorted by start (every page of `ListShards`).
async fn open_shard_ranges(client: &Client, stream: &str) -> anyhow::Result<Vec<(u128, u128)>> {
    let mut ranges = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let request = match &token {
            Some(t) => client.list_shards().next_token(t),
            None => client.list_shards().stream_name(stream),
        };
        let page = request.send().await.map_err(|e| anyhow::anyhow!("ListShards of {stream:?}: {}", DisplayErrorContext(&e)))?;
        for shard in page.shards() {
            // Closed shards (after a reshard) have an ending sequence number and take no writes.
            if shard.sequence_number_range().is_some_and(|r| r.ending_sequence_number().is_some()) {
                continue;
            }
            let Some(range) = shard.hash_key_range() else { continue };
            let parse = |text: &str| text.parse::<u128>().with_context(|| format!("ListShards gave the hash key {text:?}"));
            ranges.push((parse(range.starting_hash_key())?, parse(range.ending_hash_key())?));
        }
        token = page.next_token().map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    if ranges.is_empty() {
        bail!("the Kinesis stream {stream:?} has no open shard to aggregate into");
    }
    ranges.sort_unstable();
    Ok(ranges)
}

#[cfg(test)]
mod tests {
    use pipeline::kpl::{deaggregate, is_aggregated};

    use super::*;

    #[test]
    fn the_partition_key_is_the_user_id() {
        assert_eq!(partition_key(br#"{"event_type":"click","user_id":"lt-ab-7","x":1}"#), "lt-ab-7");
        assert_eq!(partition_key(br#"{"event_type":"click","user_id":123,"x":1}"#), "123");
        assert_eq!(partition_key(br#"{"event_type":"click"}"#), "loadtest");
    }

    #[test]
    fn events_are_packed_per_shard_and_every_one_is_carried_once() {
        let ranges = [(0, (1u128 << 127) - 1), (1u128 << 127, u128::MAX)];
        let data: Vec<Vec<u8>> = (0..300).map(|i| format!("{{\"user_id\":\"u{i}\",\"pad\":\"{}\"}}", "p".repeat(200)).into_bytes()).collect();
        let events: Vec<(String, &[u8])> = data.iter().map(|d| (partition_key(d), d.as_slice())).collect();
        let out = pack(&events, &ranges, 10_000);
        let mut seen = vec![0; events.len()];
        for o in &out {
            let shard = |key: &str| usize::from(hash_key(key) >= 1u128 << 127);
            let users = if is_aggregated(&o.record.data) { deaggregate(&o.record.data).unwrap() } else { Vec::new() };
            assert_eq!(users.len().max(1), o.events.len());
            for (n, &i) in o.events.iter().enumerate() {
                seen[i] += 1;
                assert_eq!(shard(&events[i].0), shard(&events[o.events[0]].0), "one shard per aggregate");
                if let Some(u) = users.get(n) {
                    assert_eq!((u.partition_key.as_str(), u.data.as_slice()), (events[i].0.as_str(), events[i].1));
                }
            }
            let ehk: u128 = o.record.explicit_hash_key.as_deref().unwrap().parse().unwrap();
            assert_eq!(ehk, hash_key(&events[o.events[0]].0));
            assert!(o.record.data.len() + o.record.partition_key.len() <= 10_000);
        }
        assert!(seen.iter().all(|&n| n == 1));
        assert!(out.len() < 20, "about 40 events of 230 bytes in each 10 kB aggregate: {}", out.len());
        let split = calls(out);
        assert!(split.iter().all(|c| c.len() <= MAX_RECORDS_PER_CALL));
    }
}
