//! One event type's events from the per-type index, newest first, a page at a time (the
//! query Lambda's `GET /v1/events?event_type=&from=&to=&limit=&cursor=`, served where the
//! index is on).
//!
//! The index key is write-sharded (`gsi1pk = TYPE#<event_type>#<0..N-1>`, so that no index
//! partition takes a whole type), so a page queries the N keys at once, each for up to
//! `limit + 1` entries between `from` and the cursor, and merges them by `gsi1sk`
//! (`<time>#<event_id>`, then `pk`) descending. A merged entry is certain only down to the
//! highest last entry of a key that may hold more (its horizon); the page is cut there, so
//! no entry is skipped or repeated across pages. The cursor is the last entry's (`sk`,
//! `pk`). The index projects keys only by default: the items are then read from the table
//! with `BatchGetItem`.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};
use futures::stream::{self, StreamExt, TryStreamExt};
use pipeline::query::TypeEventsRequest;

use crate::event_item::{EVENTS_INDEX, index_key};
use crate::events_query::{EventsPage, EventsQueryError, event_of};
use crate::retry::describe;

/// Index keys queried at once.
const QUERIES_IN_FLIGHT: usize = 16;
/// Keys per `BatchGetItem` (DynamoDB's limit).
const MAX_KEYS_PER_BATCH_GET: usize = 100;
/// `BatchGetItem` rounds for the keys DynamoDB leaves unprocessed.
const BATCH_GET_ROUNDS: usize = 5;

type Item = HashMap<String, AttributeValue>;

fn text<'a>(item: &'a Item, name: &str) -> &'a str {
    item.get(name).and_then(|v| v.as_s().ok()).map_or("", String::as_str)
}

/// An index entry's place in the order: (`gsi1sk`, `pk`), compared descending.
fn position(item: &Item) -> (String, String) {
    (text(item, "gsi1sk").to_owned(), text(item, "pk").to_owned())
}

/// What one index key gave: its entries (newest first) and whether it may hold more.
struct Shard {
    entries: Vec<Item>,
    more: bool,
}

/// One page of `event_type`'s events over an index of `shards` write shards.
pub async fn type_events(
    client: &Client,
    table: &str,
    shards: u32,
    request: &TypeEventsRequest,
) -> Result<EventsPage, EventsQueryError> {
    let (event_type, page, after) = (request.event_type.as_str(), &request.page, &request.after);
    let upper = after.as_ref().map_or_else(|| page.to_key(), |(sk, _)| sk.clone());
    let fetched: Vec<Shard> = stream::iter(0..shards)
        .map(|shard| query_shard(client, table, index_key(event_type, shard), page.from_key(), upper.clone(), page.limit + 1))
        .buffer_unordered(QUERIES_IN_FLIGHT)
        .try_collect()
        .await?;

    // Certain down to the highest last entry of any key that may hold more.
    let horizon = fetched.iter().filter(|s| s.more).filter_map(|s| s.entries.last().map(position)).max();
    let mut entries: Vec<Item> = fetched
        .into_iter()
        .flat_map(|s| s.entries)
        .filter(|e| after.as_ref().is_none_or(|a| position(e) < *a))
        .filter(|e| horizon.as_ref().is_none_or(|h| position(e) >= *h))
        .collect();
    entries.sort_by_key(|e| std::cmp::Reverse(position(e)));
    let more = entries.len() > page.limit || horizon.is_some();
    entries.truncate(page.limit);
    let next_cursor = if more {
        entries.last().map(|last| {
            let (sk, pk) = position(last);
            request.cursor_after(&sk, &pk)
        })
    } else {
        None
    };
    let items = with_payloads(client, table, entries).await?;
    Ok(EventsPage { events: items.iter().map(event_of).collect(), next_cursor })
}

/// Up to `limit` entries of one index key between `from` and `to`, newest first.
async fn query_shard(client: &Client, table: &str, key: String, from: String, to: String, limit: usize) -> Result<Shard, EventsQueryError> {
    let mut entries = Vec::new();
    let mut start: Option<Item> = None;
    loop {
        let output = client
            .query()
            .table_name(table)
            .index_name(EVENTS_INDEX)
            .key_condition_expression("gsi1pk = :pk AND gsi1sk BETWEEN :from AND :to")
            .expression_attribute_values(":pk", AttributeValue::S(key.clone()))
            .expression_attribute_values(":from", AttributeValue::S(from.clone()))
            .expression_attribute_values(":to", AttributeValue::S(to.clone()))
            .scan_index_forward(false)
            .limit(i32::try_from(limit - entries.len()).unwrap_or(i32::MAX))
            .set_exclusive_start_key(start.take())
            .send()
            .await
            .map_err(|e| EventsQueryError::Dynamo { table: format!("{table} (index {EVENTS_INDEX})"), message: describe(&e) })?;
        entries.extend(output.items.unwrap_or_default());
        match output.last_evaluated_key.filter(|k| !k.is_empty()) {
            // A page of 1 MB ended before `limit` entries: read on.
            Some(key) if entries.len() < limit => start = Some(key),
            Some(_) => return Ok(Shard { entries, more: true }),
            None => return Ok(Shard { more: entries.len() >= limit, entries }),
        }
    }
}

/// The entries' items with their payloads: as they are where the index projects them,
/// else read from the table (in the entries' order; an item gone since, e.g. expired by
/// TTL, is left out).
async fn with_payloads(client: &Client, table: &str, entries: Vec<Item>) -> Result<Vec<Item>, EventsQueryError> {
    let projected = |e: &Item| e.contains_key("payload") || e.contains_key("payload_gz") || e.contains_key("payload_in_archive");
    if entries.iter().all(projected) {
        return Ok(entries);
    }
    let mut found: HashMap<(String, String), Item> = HashMap::new();
    for chunk in entries.chunks(MAX_KEYS_PER_BATCH_GET) {
        let mut keys: Vec<Item> = chunk
            .iter()
            .map(|e| HashMap::from([("pk".to_owned(), AttributeValue::S(text(e, "pk").to_owned())), ("sk".to_owned(), AttributeValue::S(text(e, "sk").to_owned()))]))
            .collect();
        for _ in 0..BATCH_GET_ROUNDS {
            if keys.is_empty() {
                break;
            }
            let request = KeysAndAttributes::builder().set_keys(Some(keys.clone())).build().map_err(|e| EventsQueryError::Dynamo {
                table: table.to_owned(),
                message: e.to_string(),
            })?;
            let output = client
                .batch_get_item()
                .request_items(table, request)
                .send()
                .await
                .map_err(|e| EventsQueryError::Dynamo { table: table.to_owned(), message: describe(&e) })?;
            for item in output.responses.and_then(|mut r| r.remove(table)).unwrap_or_default() {
                found.insert((text(&item, "pk").to_owned(), text(&item, "sk").to_owned()), item);
            }
            keys = output.unprocessed_keys.and_then(|mut u| u.remove(table)).map(|k| k.keys).unwrap_or_default();
        }
        if !keys.is_empty() {
            return Err(EventsQueryError::Dynamo { table: table.to_owned(), message: "BatchGetItem left keys unprocessed; try again".into() });
        }
    }
    Ok(entries.iter().filter_map(|e| found.remove(&(text(e, "pk").to_owned(), text(e, "sk").to_owned()))).collect())
}
