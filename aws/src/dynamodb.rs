//! The events table on DynamoDB, and the batch writer the aggregates store shares:
//! `BatchWriteItem` in chunks of 25, several in flight, `UnprocessedItems` and throttles
//! retried with backoff until the deadline.
//!
//! Item keys (`pk = USER#<user_id>`, `sk = <time>#<event_id>`) come from the event, so
//! writing an event again writes the same item.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
use futures::stream::{self, StreamExt};
use pipeline::EnrichedEvent;
use pipeline::gzip::{Compression, gzip};
use pipeline::sink::{EventStore, Indexed, SinkReport};
use tokio::time::Instant;

use crate::retry::{Backoff, describe, is_retryable};

/// Items per `BatchWriteItem` (DynamoDB's limit).
pub const MAX_ITEMS_PER_REQUEST: usize = 25;
/// Bytes per `BatchWriteItem` request (DynamoDB's limit is 16 MB; kept under it).
pub const MAX_REQUEST_BYTES: usize = 15 * 1024 * 1024;
/// Largest item DynamoDB stores (400 KB, names and values).
pub const MAX_ITEM_BYTES: usize = 400 * 1024;
/// An event bigger than this is stored gzip-compressed in `payload_gz` instead of `payload`.
pub const COMPRESS_PAYLOAD_OVER: usize = 350 * 1024;
/// `BatchWriteItem` requests in flight at once per batch.
pub const REQUESTS_IN_FLIGHT: usize = 8;

/// Writes enriched events to the events table.
#[derive(Clone, Debug)]
pub struct DynamoEventStore {
    client: Client,
    table: String,
    ttl_days: u32,
    gsi_write_shards: u32,
}

impl DynamoEventStore {
    pub fn new(client: Client, table: impl Into<String>, ttl_days: u32, gsi_write_shards: u32) -> Self {
        Self { client, table: table.into(), ttl_days, gsi_write_shards: gsi_write_shards.max(1) }
    }

    /// The item stored for `event`.
    pub fn item(&self, event: &EnrichedEvent) -> HashMap<String, AttributeValue> {
        let ttl = event.arrival.timestamp() + i64::from(self.ttl_days) * 86_400;
        let shard = gsi_shard(&event.event_id, self.gsi_write_shards);
        let mut item = HashMap::from([
            ("pk".to_owned(), AttributeValue::S(event.partition_key())),
            ("sk".to_owned(), AttributeValue::S(event.sort_key.clone())),
            ("event_type".to_owned(), AttributeValue::S(event.event_type.to_string())),
            ("ttl".to_owned(), AttributeValue::N(ttl.to_string())),
            ("gsi1pk".to_owned(), AttributeValue::S(format!("TYPE#{}#{shard}", event.event_type))),
            ("gsi1sk".to_owned(), AttributeValue::S(event.sort_key.clone())),
        ]);
        if event.json.len() <= COMPRESS_PAYLOAD_OVER {
            let text = String::from_utf8_lossy(&event.json).into_owned();
            item.insert("payload".to_owned(), AttributeValue::S(text));
        } else {
            // Rare (events near the 1 MiB record limit): compressed JSON usually fits; the
            // archive keeps the event whole either way.
            let packed = gzip(&event.json, Compression::fast());
            if packed.len() < MAX_ITEM_BYTES - 4096 {
                item.insert("payload_gz".to_owned(), AttributeValue::B(Blob::new(packed)));
            } else {
                item.insert("payload_in_archive".to_owned(), AttributeValue::Bool(true));
            }
        }
        item
    }
}

/// The index shard of an event: stable for the event (so a retry writes the same key) and
/// spread evenly (so no index partition takes a whole event type).
pub fn gsi_shard(event_id: &str, shards: u32) -> u32 {
    (stable_hash(event_id) % u64::from(shards.max(1))) as u32
}

/// FNV-1a: small, stable across releases and platforms (std's hasher is neither), so keys
/// derived from it are the same in every process.
pub fn stable_hash(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3))
}

fn key_of(item: &HashMap<String, AttributeValue>) -> (String, String) {
    let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
    (text("pk"), text("sk"))
}

fn item_size(item: &HashMap<String, AttributeValue>) -> usize {
    item.iter()
        .map(|(k, v)| {
            k.len()
                + match v {
                    AttributeValue::S(s) | AttributeValue::N(s) => s.len(),
                    AttributeValue::B(b) => b.as_ref().len(),
                    _ => 1,
                }
        })
        .sum()
}

impl EventStore for DynamoEventStore {
    async fn put_events(&self, events: &[Indexed<'_, EnrichedEvent>], deadline: Instant) -> SinkReport {
        let items = events.iter().map(|e| (self.item(e.item), vec![e.record]));
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
        let mut chunks: Vec<Vec<ItemOf>> = Vec::new();
        let mut bytes = 0;
        for key in order {
            let Some(entry) = by_key.remove(&key) else { continue };
            let size = item_size(&entry.0);
            let full = chunks.last().is_none_or(|c| c.len() == MAX_ITEMS_PER_REQUEST || bytes + size > MAX_REQUEST_BYTES);
            if full {
                chunks.push(Vec::new());
                bytes = 0;
            }
            bytes += size;
            if let Some(chunk) = chunks.last_mut() {
                chunk.push(entry);
            }
        }
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
        let mut backoff = Backoff::until(deadline);
        loop {
            let sent = pending.len();
            let result = self
                .client
                .batch_write_item()
                .request_items(self.table, pending.clone())
                .send()
                .await;
            match result {
                Ok(output) => {
                    let unprocessed = output
                        .unprocessed_items
                        .and_then(|mut m| m.remove(self.table))
                        .unwrap_or_default();
                    report.written += sent - unprocessed.len();
                    pending = unprocessed;
                }
                Err(err) if is_retryable(&err) => {
                    tracing::warn!(error = %describe(&err), items = sent, "BatchWriteItem failed; retrying");
                }
                Err(err) => {
                    tracing::error!(error = %describe(&err), items = sent, table = %self.table, "BatchWriteItem refused; not retrying");
                    break;
                }
            }
            if pending.is_empty() || !backoff.wait().await {
                break;
            }
            report.retries += 1;
        }
        for request in pending {
            if let Some(item) = request.put_request.map(|p| p.item) {
                report.failed.extend(records_of.get(&key_of(&item)).into_iter().flatten().copied());
            }
        }
        report
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_shards_are_stable_and_spread() {
        assert_eq!(gsi_shard("0b9f3f0e-52a8-4c57-9c5a-3a1d1e4b2f10", 32), gsi_shard("0b9f3f0e-52a8-4c57-9c5a-3a1d1e4b2f10", 32));
        let mut counts = [0u32; 8];
        for i in 0..8_000 {
            counts[gsi_shard(&format!("event-{i}"), 8) as usize] += 1;
        }
        assert!(counts.iter().all(|&c| (800..1200).contains(&c)), "{counts:?}");
    }
}
