//! The archive on Firehose: enriched events packed newline-delimited into records of at
//! most 1,000 KiB and 500 events, at most 500 records and 4 MiB per `PutRecordBatch`,
//! spread over the delivery streams; only the entries Firehose refused are sent again.
//!
//! **Routing.** Each delivery stream partitions what it receives by event type and event
//! hour, and takes at most 500 active partitions (by default) in its buffer; records of any
//! further partition go to the error prefix (`activePartitionExceeded`). Live traffic is a
//! handful of partitions (types × the current hour) that needs every stream's throughput,
//! so events within [`LIVE_HOURS`] of their record's arrival go round robin to all streams.
//! Events of other hours (a backfill, a client with a skewed clock) are few per hour but
//! may span thousands of hours: each such partition goes to one stream only, chosen by a
//! stable hash of the partition, so N streams take N times the partitions instead of each
//! seeing all of them. The cost: one late partition is bounded by one stream's Direct PUT
//! quota (throttles are retried like any other).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use aws_sdk_firehose::Client;
use aws_sdk_firehose::primitives::Blob;
use aws_sdk_firehose::types::Record as FirehoseRecord;
use futures::stream::{self, StreamExt};
use pipeline::EnrichedEvent;
use pipeline::sink::{Archive, BatchKey, Indexed, SinkReport};
use tokio::time::Instant;

use crate::event_item::stable_hash;
use crate::retry::{BACKOFF, failed};
use pipeline::retry::{Answer, RequestLimits, until_taken};

/// Bytes of one Firehose record (Firehose's limit is 1,000 KiB).
pub const MAX_RECORD_BYTES: usize = pipeline::limits::FIREHOSE_RECORD_BYTES_MAX;
/// Events packed into one record (what Firehose's deaggregation splits one record into).
pub const MAX_EVENTS_PER_RECORD: usize = 500;
/// Records per `PutRecordBatch` (Firehose's limit).
pub const MAX_RECORDS_PER_REQUEST: usize = pipeline::limits::FIREHOSE_PUT_BATCH_RECORDS_MAX;
/// Bytes per `PutRecordBatch` (Firehose's limit is 4 MiB).
pub const MAX_REQUEST_BYTES: usize = pipeline::limits::FIREHOSE_PUT_BATCH_BYTES_MAX;
/// `PutRecordBatch` requests in flight at once per batch.
pub const REQUESTS_IN_FLIGHT: usize = 4;
/// Event hours this close to their record's arrival hour (either side) are live traffic,
/// sent to every stream; others are routed by partition (see the module docs).
pub const LIVE_HOURS: i64 = 1;

/// Archives enriched events through Firehose delivery streams.
#[derive(Debug)]
pub struct FirehoseArchive {
    client: Client,
    streams: Vec<String>,
    next_stream: AtomicUsize,
}

/// One Firehose record and where its events came from.
#[derive(Clone, Debug, Default)]
pub struct PackedRecord {
    /// The events, newline-delimited.
    pub data: Vec<u8>,
    /// The position in the batch of the Kinesis record of each event packed here, in order:
    /// what a refused record reports as failed.
    pub batch_records: Vec<usize>,
}

impl FirehoseArchive {
    /// An archive over `streams` (which event goes to which: the module doc).
    pub fn new(client: Client, streams: Vec<String>) -> Self {
        Self { client, streams, next_stream: AtomicUsize::new(0) }
    }

    /// The stream for the next request of live traffic: round robin, so load spreads over
    /// all streams.
    fn next_stream(&self) -> &str {
        let i = self.next_stream.fetch_add(1, Ordering::Relaxed);
        &self.streams[i % self.streams.len().max(1)]
    }
}

/// Where an event's archive record may go.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Route {
    /// Any stream (live traffic: round robin).
    AnyStream,
    /// Only stream `i` (a partition away from the arrival hour: all its events together).
    Stream(usize),
}

/// The route of `event` among `streams` delivery streams.
pub fn route(event: &EnrichedEvent, streams: usize) -> Route {
    let hour = |t: chrono::DateTime<chrono::Utc>| t.timestamp().div_euclid(3600);
    let hours_off = (hour(event.event_time) - hour(event.arrival)).abs();
    if streams <= 1 || hours_off <= LIVE_HOURS {
        return Route::AnyStream;
    }
    // The archive's partition: event_type, dt and hr of the event time (UTC).
    let partition = format!("{}/{}", event.event_type, hour(event.event_time));
    Route::Stream((stable_hash(&partition) % streams as u64) as usize)
}

/// The batch's events grouped by route, each group in batch order.
pub fn routed<'e>(events: &[Indexed<'e, EnrichedEvent>], streams: usize) -> BTreeMap<Route, Vec<Indexed<'e, EnrichedEvent>>> {
    let mut groups: BTreeMap<Route, Vec<Indexed<'e, EnrichedEvent>>> = BTreeMap::new();
    for event in events {
        groups.entry(route(event.item, streams)).or_default().push(Indexed { record: event.record, item: event.item });
    }
    groups
}

/// Packs events into newline-delimited records within the limits above, in order.
pub fn pack(events: &[Indexed<'_, EnrichedEvent>]) -> Vec<PackedRecord> {
    let mut packed: Vec<PackedRecord> = Vec::new();
    for event in events {
        let size = event.item.json.len() + 1;
        let fits = packed
            .last()
            .is_some_and(|r| r.batch_records.len() < MAX_EVENTS_PER_RECORD && r.data.len() + size <= MAX_RECORD_BYTES);
        if !fits {
            packed.push(PackedRecord { data: Vec::with_capacity(size.max(64 * 1024).min(MAX_RECORD_BYTES)), batch_records: Vec::new() });
        }
        if let Some(record) = packed.last_mut() {
            record.data.extend_from_slice(&event.item.json);
            record.data.push(b'\n');
            record.batch_records.push(event.record);
        }
    }
    packed
}

/// Groups packed records into requests within PutRecordBatch's limits.
fn requests(packed: Vec<PackedRecord>) -> Vec<Vec<PackedRecord>> {
    RequestLimits { items: MAX_RECORDS_PER_REQUEST, bytes: MAX_REQUEST_BYTES }.split(packed, |p| p.data.len())
}

impl Archive for FirehoseArchive {
    async fn archive(&self, _: &BatchKey, events: &[Indexed<'_, EnrichedEvent>], deadline: Instant) -> SinkReport {
        let mut sends: Vec<(String, Vec<PackedRecord>)> = Vec::new();
        for (route, group) in routed(events, self.streams.len()) {
            for request in requests(pack(&group)) {
                let stream = match route {
                    Route::AnyStream => self.next_stream(),
                    Route::Stream(i) => &self.streams[i],
                };
                sends.push((stream.to_owned(), request));
            }
        }
        stream::iter(sends)
            .map(|(stream, request)| self.put_batch(stream, request, deadline))
            .buffer_unordered(REQUESTS_IN_FLIGHT)
            .collect::<Vec<SinkReport>>()
            .await
            .into_iter()
            .collect()
    }
}

impl FirehoseArchive {
    async fn put_batch(&self, stream: String, pending: Vec<PackedRecord>, deadline: Instant) -> SinkReport {
        let mut report = SinkReport::default();
        let events: usize = pending.iter().map(|p| p.batch_records.len()).sum();
        let what = format!("PutRecordBatch to {stream}");
        let retried = until_taken(BACKOFF, deadline, pending, |pending: &[PackedRecord]| {
            let records: Vec<FirehoseRecord> =
                pending.iter().filter_map(|p| FirehoseRecord::builder().data(Blob::new(p.data.clone())).build().ok()).collect();
            let request = self.client.put_record_batch().delivery_stream_name(&stream).set_records(Some(records));
            let (sent, stream, what) = (pending.len(), &stream, &what);
            async move {
                match request.send().await {
                    Ok(output) => {
                        // Entries answer the request's records in order; keep the refused ones.
                        let responses = output.request_responses();
                        let refused: Vec<usize> = (0..sent).filter(|&i| responses.get(i).is_none_or(|r| r.error_code().is_some())).collect();
                        if !refused.is_empty() {
                            tracing::warn!(refused = refused.len(), stream = %stream, "PutRecordBatch partly failed; retrying the refused records");
                        }
                        Answer::Left(refused)
                    }
                    Err(err) => failed(&err, what),
                }
            }
        })
        .await;
        report.retries = retried.retries;
        report.written = events - retried.left.iter().map(|p| p.batch_records.len()).sum::<usize>();
        report.failed.extend(retried.left.iter().flat_map(|p| p.batch_records.iter().copied()));
        report
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use std::collections::BTreeSet;
    use std::sync::Arc;

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
            groups: Default::default(),
        }
    }

    fn at(event_hours_before_arrival: i64, event_type: &str) -> EnrichedEvent {
        let arrival = chrono::DateTime::parse_from_rfc3339("2026-11-27T12:30:00Z").unwrap().with_timezone(&Utc);
        EnrichedEvent {
            event_type: event_type.into(),
            arrival,
            event_time: arrival - chrono::Duration::hours(event_hours_before_arrival),
            ..event(100)
        }
    }

    #[test]
    fn live_hours_go_to_every_stream_and_other_hours_to_one_stream_each() {
        for hours in [-1, 0, 1] {
            assert_eq!(route(&at(hours, "pageview"), 24), Route::AnyStream, "{hours} h from arrival is live traffic");
        }
        assert!(matches!(route(&at(2, "pageview"), 24), Route::Stream(_)));
        assert!(matches!(route(&at(-2, "pageview"), 24), Route::Stream(_)), "a clock ahead too");
        assert_eq!(route(&at(500, "pageview"), 1), Route::AnyStream, "one stream takes everything");
        // One partition, one stream, whatever the minute inside the hour or the event.
        let a = at(100, "click");
        let b = EnrichedEvent { event_time: a.event_time + chrono::Duration::minutes(29), event_id: "other".into(), ..a.clone() };
        assert_eq!(route(&a, 24), route(&b, 24));
    }

    #[test]
    fn a_backfill_over_many_hours_spreads_its_partitions_over_the_streams() {
        // 2,000 distinct hours of two types: 4,000 partitions. Round robin would put all of
        // them on every stream (8 x the default 500); routed, each stream sees its share.
        let events: Vec<EnrichedEvent> =
            (0..2_000).flat_map(|h| [at(h + 2, "pageview"), at(h + 2, "click"), at(h + 2, "pageview")]).collect();
        let indexed: Vec<Indexed<'_, EnrichedEvent>> = events.iter().enumerate().map(|(record, item)| Indexed { record, item }).collect();
        let groups = routed(&indexed, 24);
        let mut seen: Vec<usize> = groups.values().flatten().map(|e| e.record).collect();
        seen.sort_unstable();
        assert_eq!(seen, (0..events.len()).collect::<Vec<_>>(), "every event routed once");
        assert!(groups.values().all(|g| g.windows(2).all(|w| w[0].record < w[1].record)), "batch order within a stream");
        let mut partitions_of: BTreeMap<(Arc<str>, i64), BTreeSet<Route>> = BTreeMap::new();
        for (route, group) in &groups {
            for e in group {
                partitions_of.entry((e.item.event_type.clone(), e.item.event_time.timestamp() / 3600)).or_default().insert(*route);
            }
        }
        assert_eq!(partitions_of.len(), 4_000);
        assert!(partitions_of.values().all(|routes| routes.len() == 1), "a partition goes to one stream");
        assert_eq!(groups.len(), 24, "every stream takes some");
        for (route, group) in &groups {
            let partitions: BTreeSet<_> = group.iter().map(|e| (e.item.event_type.clone(), e.item.event_time.timestamp() / 3600)).collect();
            assert!(partitions.len() < 250, "{route:?} sees {} partitions: the default quota is 500", partitions.len());
        }
    }

    #[test]
    fn packs_within_record_and_request_limits_in_order() {
        let small: Vec<EnrichedEvent> = (0..1_200).map(|_| event(600)).collect();
        let big: Vec<EnrichedEvent> = (0..12).map(|_| event(600 * 1024)).collect();
        let all: Vec<&EnrichedEvent> = small.iter().chain(&big).collect();
        let indexed: Vec<Indexed<'_, EnrichedEvent>> = all.iter().enumerate().map(|(record, item)| Indexed { record, item: *item }).collect();
        let packed = pack(&indexed);
        assert!(packed.iter().all(|p| p.data.len() <= MAX_RECORD_BYTES && p.batch_records.len() <= MAX_EVENTS_PER_RECORD));
        let order: Vec<usize> = packed.iter().flat_map(|p| p.batch_records.clone()).collect();
        assert_eq!(order, (0..indexed.len()).collect::<Vec<_>>(), "every event once, in order");
        assert_eq!(packed[0].batch_records.len(), 500);
        for p in &packed {
            assert_eq!(p.data.iter().filter(|&&b| b == b'\n').count(), p.batch_records.len());
        }
        let reqs = requests(packed);
        assert!(reqs.iter().all(|r| r.len() <= MAX_RECORDS_PER_REQUEST && r.iter().map(|p| p.data.len()).sum::<usize>() <= MAX_REQUEST_BYTES));
        assert!(reqs.len() >= 3, "12 records of 600 KiB need several 4 MiB requests");
    }
}
