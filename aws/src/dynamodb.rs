//! The events table on DynamoDB, and the batch writer the aggregates store shares:
//! `BatchWriteItem` in chunks of 25, several in flight, `UnprocessedItems` and throttles
//! retried with backoff until the deadline.
//!
//! Item keys (`pk = USER#<user_id>`, `sk = <time>#<event_id>`) come from the event, so
//! writing an event again writes the same item ([`crate::event_item`] builds it). Only the
//! event types kept for per-user queries (`QUERY_EVENT_TYPES`, default all) are written;
//! the others reach the archive and the aggregates only.

use std::collections::{BTreeSet, HashMap};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
use futures::stream::{self, StreamExt};
use pipeline::EnrichedEvent;
use pipeline::sink::{EventStore, Indexed, SinkReport};
use tokio::time::Instant;

use crate::event_item::{EventItems, item_bytes};
use crate::retry::{BACKOFF, failed};
use pipeline::retry::{Answer, RequestLimits, until_taken};

pub use crate::event_item::{MAX_ITEM_BYTES, gsi_shard, stable_hash};

/// Items per `BatchWriteItem` (DynamoDB's limit).
pub const MAX_ITEMS_PER_REQUEST: usize = pipeline::limits::DYNAMODB_BATCH_WRITE_ITEMS_MAX;
/// Bytes per `BatchWriteItem` request: kept a mebibyte under DynamoDB's limit for the
/// request's own framing.
pub const MAX_REQUEST_BYTES: usize = pipeline::limits::DYNAMODB_BATCH_WRITE_BYTES_MAX - 1024 * 1024;
/// `BatchWriteItem` requests in flight at once per batch.
pub const REQUESTS_IN_FLIGHT: usize = 8;

/// Writes enriched events to the events table.
#[derive(Clone, Debug)]
pub struct DynamoEventStore {
    client: Client,
    table: String,
    items: EventItems,
    /// The event types written; `None`: every type.
    query_event_types: Option<BTreeSet<String>>,
}

impl DynamoEventStore {
    /// A store writing every event type; `gsi_write_shards` `None` when the per-type index is off.
    pub fn new(client: Client, table: impl Into<String>, ttl_days: u32, gsi_write_shards: Option<u32>) -> Self {
        let items = EventItems { ttl_days, gsi_write_shards: gsi_write_shards.map(|n| n.max(1)) };
        Self { client, table: table.into(), items, query_event_types: None }
    }

    /// Writes only these event types (`QUERY_EVENT_TYPES`); `None`: every type.
    pub fn keeping_only(mut self, event_types: Option<BTreeSet<String>>) -> Self {
        self.query_event_types = event_types;
        self
    }

    /// The item stored for `event`.
    pub fn item(&self, event: &EnrichedEvent) -> HashMap<String, AttributeValue> {
        self.items.item(event)
    }

    /// Whether events of `event_type` are kept for per-user queries.
    pub fn keeps(&self, event_type: &str) -> bool {
        self.query_event_types.as_ref().is_none_or(|kept| kept.contains(event_type))
    }
}

fn key_of(item: &HashMap<String, AttributeValue>) -> (String, String) {
    let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
    (text("pk"), text("sk"))
}

impl EventStore for DynamoEventStore {
    async fn put_events(&self, events: &[Indexed<'_, EnrichedEvent>], deadline: Instant) -> SinkReport {
        let items = events.iter().filter(|e| self.keeps(&e.item.event_type)).map(|e| (self.item(e.item), vec![e.record]));
        BatchWriter::new(&self.client, &self.table).write(items, deadline).await
    }
}

/// An item to write and the batch records it stands for.
pub type ItemOf = (HashMap<String, AttributeValue>, Vec<usize>);

/// Writes items to one table with `BatchWriteItem`, reporting the records of the items
/// that could not be written by the deadline.
#[derive(Clone, Copy, Debug)]
pub struct BatchWriter<'a> {
    client: &'a Client,
    table: &'a str,
}

impl<'a> BatchWriter<'a> {
    /// A writer to `table` through `client`.
    pub fn new(client: &'a Client, table: &'a str) -> Self {
        Self { client, table }
    }

    /// Writes every item. One request must not hold two items with the same key (DynamoDB
    /// refuses the whole request), so an item whose key repeats is written once, and the
    /// records of both succeed or fail together.
    pub async fn write(&self, items: impl IntoIterator<Item = ItemOf>, deadline: Instant) -> SinkReport {
        let mut by_key: HashMap<(String, String), ItemOf> = HashMap::new();
        let mut order = Vec::new();
        for (item, records) in items {
            let key = key_of(&item);
            match by_key.get_mut(&key) {
                Some((_, known)) => known.extend(records),
                None => {
                    order.push(key.clone());
                    by_key.insert(key, (item, records));
                }
            }
        }
        let limits = RequestLimits { items: MAX_ITEMS_PER_REQUEST, bytes: MAX_REQUEST_BYTES };
        let chunks = limits.split(order.into_iter().filter_map(|key| by_key.remove(&key)), |(item, _)| item_bytes(item));
        stream::iter(chunks)
            .map(|chunk| self.write_chunk(chunk, deadline))
            .buffer_unordered(REQUESTS_IN_FLIGHT)
            .collect::<Vec<SinkReport>>()
            .await
            .into_iter()
            .collect()
    }

    /// Writes up to 25 items, sending again whatever DynamoDB leaves unprocessed.
    async fn write_chunk(&self, chunk: Vec<ItemOf>, deadline: Instant) -> SinkReport {
        let mut report = SinkReport::default();
        let mut records_of: HashMap<(String, String), Vec<usize>> = HashMap::new();
        let mut pending: Vec<WriteRequest> = Vec::with_capacity(chunk.len());
        for (item, records) in chunk {
            records_of.insert(key_of(&item), records);
            match PutRequest::builder().set_item(Some(item)).build() {
                Ok(put) => pending.push(WriteRequest::builder().put_request(put).build()),
                Err(e) => tracing::error!(error = %e, "cannot build a DynamoDB put request"),
            }
        }
        let (sent, what) = (pending.len(), format!("BatchWriteItem on table {}", self.table));
        let retried = until_taken(BACKOFF, deadline, pending, |pending: &[WriteRequest]| {
            // DynamoDB hands back the items it did not process: find them by key.
            let at: HashMap<(String, String), usize> =
                pending.iter().enumerate().filter_map(|(i, r)| Some((key_of(&r.put_request.as_ref()?.item), i))).collect();
            let request = self.client.batch_write_item().request_items(self.table, pending.to_vec());
            let what = &what;
            async move {
                match request.send().await {
                    Ok(output) => {
                        let unprocessed = output.unprocessed_items.and_then(|mut m| m.remove(self.table)).unwrap_or_default();
                        Answer::Left(unprocessed.iter().filter_map(|r| at.get(&key_of(&r.put_request.as_ref()?.item)).copied()).collect())
                    }
                    Err(err) => failed(&err, what),
                }
            }
        })
        .await;
        report.retries = retried.retries;
        report.written = sent - retried.left.len();
        for request in retried.left {
            if let Some(item) = request.put_request.map(|p| p.item) {
                report.failed.extend(records_of.get(&key_of(&item)).into_iter().flatten().copied());
            }
        }
        report
    }
}
