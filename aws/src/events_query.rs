//! Reading a user's events from the events table, newest first, a page at a time (the
//! query Lambda's `GET /v1/users/{user_id}/events`). The cursor is the page's
//! `LastEvaluatedKey` (`pk`, `sk`), opaque to clients.

use std::collections::HashMap;
use std::io::Read;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use pipeline::query::{PageRequest, QueryError, encode_cursor};
use serde_json::{Value, json};

use crate::retry::describe;

/// A page of events and the cursor of the next one.
#[derive(Debug, Clone, PartialEq)]
pub struct EventsPage {
    /// The page's events, newest first, as the API returns them.
    pub events: Vec<Value>,
    /// The cursor of the next page; `None` after the last.
    pub next_cursor: Option<String>,
}

/// Why a page could not be read.
#[derive(Debug, thiserror::Error)]
pub enum EventsQueryError {
    /// The request's parameters are refused (a 400).
    #[error(transparent)]
    BadRequest(#[from] QueryError),
    /// The DynamoDB query failed (a 503: try again).
    #[error("DynamoDB Query on table {table} failed: {message}")]
    Dynamo {
        /// The table.
        table: String,
        /// What DynamoDB or the SDK said.
        message: String,
    },
}

/// One page of `user_id`'s events.
pub async fn user_events(client: &Client, table: &str, user_id: &str, page: &PageRequest) -> Result<EventsPage, EventsQueryError> {
    let pk = pipeline::query::user_partition_key(user_id)?;
    let start = page.cursor_parts(2)?.map(|parts| {
        HashMap::from([("pk".to_owned(), AttributeValue::S(parts[0].clone())), ("sk".to_owned(), AttributeValue::S(parts[1].clone()))])
    });
    if start.as_ref().is_some_and(|key| key.get("pk").and_then(|v| v.as_s().ok()) != Some(&pk)) {
        return Err(QueryError("cursor belongs to another user's events: pass next_cursor unchanged".into()).into());
    }
    let output = client
        .query()
        .table_name(table)
        .key_condition_expression("pk = :pk AND sk BETWEEN :from AND :to")
        .expression_attribute_values(":pk", AttributeValue::S(pk))
        .expression_attribute_values(":from", AttributeValue::S(page.from_key()))
        .expression_attribute_values(":to", AttributeValue::S(page.to_key()))
        .scan_index_forward(false)
        .limit(i32::try_from(page.limit).unwrap_or(i32::MAX))
        .set_exclusive_start_key(start)
        .send()
        .await
        .map_err(|e| EventsQueryError::Dynamo { table: table.to_owned(), message: describe(&e) })?;
    let events = output.items.unwrap_or_default().iter().map(event_of).collect();
    let next_cursor = output.last_evaluated_key.and_then(|key| {
        let text = |name: &str| key.get(name).and_then(|v| v.as_s().ok()).cloned();
        Some(encode_cursor(&[&text("pk")?, &text("sk")?]))
    });
    Ok(EventsPage { events, next_cursor })
}

/// The enriched event an item holds (`payload`, or gzip `payload_gz`); an event too big for
/// DynamoDB is only in the archive, and says so.
pub(crate) fn event_of(item: &HashMap<String, AttributeValue>) -> Value {
    if let Some(event) = item.get("payload").and_then(|v| v.as_s().ok()).and_then(|p| serde_json::from_str(p).ok()) {
        return event;
    }
    if let Some(packed) = item.get("payload_gz").and_then(|v| v.as_b().ok()) {
        let mut text = String::new();
        if flate2::read::GzDecoder::new(packed.as_ref()).read_to_string(&mut text).is_ok() {
            if let Ok(event) = serde_json::from_str(&text) {
                return event;
            }
        }
    }
    let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned();
    json!({"event_type": text("event_type"), "sort_key": text("sk"), "payload_in_archive": true})
}
