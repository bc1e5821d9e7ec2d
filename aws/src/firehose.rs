//! The archive on Firehose: enriched events packed newline-delimited into records of at
//! most 1,000 KiB and 500 events, at most 500 records and 4 MiB per `PutRecordBatch`,
//! spread over the delivery streams; only the entries Firehose refused are sent again.

use std::sync::atomic::{AtomicUsize, Ordering};

use aws_sdk_firehose::Client;
use aws_sdk_firehose::primitives::Blob;
use aws_sdk_firehose::types::Record as FirehoseRecord;
use futures::stream::{self, StreamExt};
use pipeline::EnrichedEvent;
use pipeline::sink::{Archive, BatchKey, Indexed, SinkReport};
use tokio::time::Instant;

use crate::retry::{Backoff, describe, is_retryable};

/// Bytes of one Firehose record (Firehose's limit is 1,000 KiB).
pub const MAX_RECORD_BYTES: usize = 1_000 * 1024;
/// Events packed into one record (what Firehose's deaggregation splits one record into).
pub const MAX_EVENTS_PER_RECORD: usize = 500;
/// Records per `PutRecordBatch` (Firehose's limit).
pub const MAX_RECORDS_PER_REQUEST: usize = 500;
/// Bytes per `PutRecordBatch` (Firehose's limit is 4 MiB).
pub const MAX_REQUEST_BYTES: usize = 4 * 1024 * 1024;
/// `PutRecordBatch` requests in flight at once per batch.
pub const REQUESTS_IN_FLIGHT: usize = 4;

/// Archives enriched events through Firehose delivery streams.
#[derive(Debug)]
pub struct FirehoseArchive {
    client: Client,
    streams: Vec<String>,
    next_stream: AtomicUsize,
}

/// One Firehose record and the batch records packed into it.
#[derive(Clone, Debug, Default)]
pub struct PackedRecord {
    pub data: Vec<u8>,
    pub records: Vec<usize>,
}

impl FirehoseArchive {
    pub fn new(client: Client, streams: Vec<String>) -> Self {
        Self { client, streams, next_stream: AtomicUsize::new(0) }
    }

    /// The stream for the next request: round robin, so load spreads over all streams.
    fn stream(&self) -> &str {
        let i = self.next_stream.fetch_add(1, Ordering::Relaxed);
        &self.streams[i % self.streams.len().max(1)]
    }
}

/// Packs events into newline-delimited records within the limits above, in order.
pub fn pack(events: &[Indexed<'_, EnrichedEvent>]) -> Vec<PackedRecord> {
    let mut packed: Vec<PackedRecord> = Vec::new();
    for event in events {
        let size = event.item.json.len() + 1;
        let fits = packed
            .last()
            .is_some_and(|r| r.records.len() < MAX_EVENTS_PER_RECORD && r.data.len() + size <= MAX_RECORD_BYTES);
        if !fits {
            packed.push(PackedRecord { data: Vec::with_capacity(size.max(64 * 1024).min(MAX_RECORD_BYTES)), records: Vec::new() });
        }
        if let Some(record) = packed.last_mut() {
            record.data.extend_from_slice(&event.item.json);
            record.data.push(b'\n');
            record.records.push(event.record);
        }
    }
    packed
}

/// Groups packed records into requests within the request limits.
fn requests(packed: Vec<PackedRecord>) -> Vec<Vec<PackedRecord>> {
    let mut requests: Vec<Vec<PackedRecord>> = Vec::new();
    let mut bytes = 0;
    for record in packed {
        let full = requests
            .last()
            .is_none_or(|r| r.len() == MAX_RECORDS_PER_REQUEST || bytes + record.data.len() > MAX_REQUEST_BYTES);
        if full {
            requests.push(Vec::new());
            bytes = 0;
        }
        bytes += record.data.len();
        if let Some(request) = requests.last_mut() {
            request.push(record);
        }
    }
    requests
}

impl Archive for FirehoseArchive {
    async fn archive(&self, _: &BatchKey, events: &[Indexed<'_, EnrichedEvent>], deadline: Instant) -> SinkReport {
        stream::iter(requests(pack(events)))
            .map(|request| self.put_batch(request, deadline))
            .buffer_unordered(REQUESTS_IN_FLIGHT)
            .collect::<Vec<SinkReport>>()
            .await
            .into_iter()
            .collect()
    }
}

impl FirehoseArchive {
    async fn put_batch(&self, mut pending: Vec<PackedRecord>, deadline: Instant) -> SinkReport {
        let mut report = SinkReport::default();
        let mut backoff = Backoff::until(deadline);
        let stream = self.stream().to_owned();
        loop {
            let records: Vec<FirehoseRecord> = pending
                .iter()
                .filter_map(|p| FirehoseRecord::builder().data(Blob::new(p.data.clone())).build().ok())
                .collect();
            let result = self
                .client
                .put_record_batch()
                .delivery_stream_name(&stream)
                .set_records(Some(records))
                .send()
                .await;
            match result {
                Ok(output) if output.failed_put_count() == 0 => {
                    report.written += pending.iter().map(|p| p.records.len()).sum::<usize>();
                    pending.clear();
                }
                Ok(output) => {
                    // Entries answer the request's records in order; keep the refused ones.
                    let responses = output.request_responses();
                    let mut refused = Vec::new();
                    for (i, record) in pending.into_iter().enumerate() {
                        let failed = responses.get(i).is_none_or(|r| r.error_code().is_some());
                        if failed {
                            refused.push(record);
                        } else {
                            report.written += record.records.len();
                        }
                    }
                    tracing::warn!(refused = refused.len(), stream = %stream, "PutRecordBatch partly failed; retrying the refused records");
                    pending = refused;
                }
                Err(err) if is_retryable(&err) => {
                    tracing::warn!(error = %describe(&err), stream = %stream, "PutRecordBatch failed; retrying");
                }
                Err(err) => {
                    tracing::error!(error = %describe(&err), stream = %stream, "PutRecordBatch refused; not retrying");
                    break;
                }
            }
            if pending.is_empty() || !backoff.wait().await {
                break;
            }
            report.retries += 1;
        }
        report.failed.extend(pending.iter().flat_map(|p| p.records.iter().copied()));
        report
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn event(bytes: usize) -> EnrichedEvent {
        EnrichedEvent {
            json: vec![b'x'; bytes],
            event_type: "pageview".into(),
            schema: "pageview/1-0-0".into(),
            user_id: "1".into(),
            event_id: "e".into(),
            event_time: Utc::now(),
            arrival: Utc::now(),
            sort_key: "k".into(),
            revenue: None,
        }
    }

    #[test]
    fn packs_within_record_and_request_limits_in_order() {
        let small: Vec<EnrichedEvent> = (0..1_200).map(|_| event(600)).collect();
        let big: Vec<EnrichedEvent> = (0..12).map(|_| event(600 * 1024)).collect();
        let all: Vec<&EnrichedEvent> = small.iter().chain(&big).collect();
        let indexed: Vec<Indexed<'_, EnrichedEvent>> = all.iter().enumerate().map(|(record, item)| Indexed { record, item: *item }).collect();
        let packed = pack(&indexed);
        assert!(packed.iter().all(|p| p.data.len() <= MAX_RECORD_BYTES && p.records.len() <= MAX_EVENTS_PER_RECORD));
        let order: Vec<usize> = packed.iter().flat_map(|p| p.records.clone()).collect();
        assert_eq!(order, (0..indexed.len()).collect::<Vec<_>>(), "every event once, in order");
        assert_eq!(packed[0].records.len(), 500);
        for p in &packed {
            assert_eq!(p.data.iter().filter(|&&b| b == b'\n').count(), p.records.len());
        }
        let reqs = requests(packed);
        assert!(reqs.iter().all(|r| r.len() <= MAX_RECORDS_PER_REQUEST && r.iter().map(|p| p.data.len()).sum::<usize>() <= MAX_REQUEST_BYTES));
        assert!(reqs.len() >= 3, "12 records of 600 KiB need several 4 MiB requests");
    }
}
