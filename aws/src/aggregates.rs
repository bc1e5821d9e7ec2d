//! The aggregates table on DynamoDB: the processor's partials ([`DynamoAggregateStore`]) and
//! the table the aggregator merges and the query Lambda reads ([`DynamoAggregateTable`]).
//!
//! Items (`pk`, `sk` strings, DESIGN section 6):
//! - partial: `PARTIAL#<event_type>#<minute>` / `<shard_id>#<sequence number>` of the first
//!   record it counts (`#<sub-sequence number>` after it inside a KPL aggregated record):
//!   a retry, resumed or bisected, overwrites the partials of its failed attempts
//!   ([`pipeline::aggregate::batch_partials`]). Expires [`PARTIAL_RETENTION_DAYS`] after
//!   its minute.
//! - touched minute: `DIRTY#<n>` / `<minute>#<event_type>`, `n` a stable hash of the
//!   window modulo [`DIRTY_PARTITIONS`], so the markers of one busy minute spread over
//!   partitions; `token` changes on every touch.
//! - row: `AGG#<granularity>#<event_type>` / `<window start>`, with `count`,
//!   `unique_users`, `users` (the sketch), `revenue`, `version`.
//!
//! A group of an enrichment field ([`pipeline::group`]) is a series of its own in place of
//! `<event_type>` (`purchase/campaign.source`), its value after the sort key
//! (`<first record>|<value>`, `<window start>|<value>`, and in `group` on rows), so one
//! Query reads every value of a minute's partials or of a range of rows.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Duration, Utc};
use futures::stream::{self, StreamExt, TryStreamExt};
use pipeline::aggregate::{AggregateError, EncodedAggregate, Granularity, PartialAggregate};
use pipeline::group::{grouped_key, split_grouped_key};
use pipeline::rollup::{AggregateRow, AggregateTable, DirtyWindow, DirtyWindows, StoredPartial};
use pipeline::sink::{AggregateStore, SinkReport};
use pipeline::time_format::{format_seconds, parse_rfc3339};
use tokio::time::Instant;

use crate::dynamodb::{BatchWriter, ItemOf};
use crate::event_item::stable_hash;
use crate::retry::describe;

/// Days a partial is kept after its minute: late events up to this age still merge into
/// rows that keep their earlier partials (rows themselves do not expire).
pub const PARTIAL_RETENTION_DAYS: i64 = 35;
/// Partitions the touched-minute markers are spread over.
pub const DIRTY_PARTITIONS: u64 = 16;
/// Conditional deletes of markers in flight at once.
const DELETES_IN_FLIGHT: usize = 16;

/// A failure of the aggregates table.
#[derive(Debug, thiserror::Error)]
pub enum AggregateTableError {
    /// A DynamoDB call failed.
    #[error("DynamoDB {operation} on table {table} failed: {message}")]
    Dynamo {
        /// The API call (`Query`, `BatchWriteItem`, ...).
        operation: &'static str,
        /// The table.
        table: String,
        /// What DynamoDB or the SDK said.
        message: String,
    },
    /// An item of the table that cannot be read back.
    #[error("table {table}: item {pk}/{sk} is unreadable: {reason}")]
    Item {
        /// The table.
        table: String,
        /// The item's partition key.
        pk: String,
        /// The item's sort key.
        sk: String,
        /// What is missing or wrong.
        reason: String,
    },
    /// A stored aggregate does not decode.
    #[error(transparent)]
    Data(#[from] AggregateError),
}

fn partial_pk(event_type: &str, minute: DateTime<Utc>) -> String {
    format!("PARTIAL#{event_type}#{}", format_seconds(minute))
}

fn row_pk(granularity: Granularity, event_type: &str) -> String {
    format!("AGG#{granularity}#{event_type}")
}

fn dirty_pk(event_type: &str, minute: &str) -> String {
    format!("DIRTY#{}", stable_hash(&format!("{event_type}#{minute}")) % DIRTY_PARTITIONS)
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn encoded_attributes(item: &mut HashMap<String, AttributeValue>, a: &EncodedAggregate) {
    item.insert("count".into(), n(a.count));
    item.insert("users".into(), AttributeValue::B(Blob::new(a.users.clone())));
    item.insert("revenue".into(), s(a.revenue.clone()));
}

/// The items of `partials` and their touched-minute markers: one marker per series and
/// minute (a grouped series has a partial per value; a request must not name a key twice),
/// standing for the records of all its partials.
pub fn partial_items(partials: &[PartialAggregate], now: DateTime<Utc>) -> Vec<ItemOf> {
    let mut items = Vec::with_capacity(partials.len() * 2);
    let mut markers: Vec<(HashMap<String, AttributeValue>, Vec<usize>)> = Vec::new();
    let mut marker_of: HashMap<(&str, DateTime<Utc>), usize> = HashMap::new();
    for partial in partials {
        let key = &partial.window;
        let minute = format_seconds(key.minute);
        let ttl = (key.minute + Duration::days(PARTIAL_RETENTION_DAYS)).timestamp();
        let mut item = HashMap::from([
            ("pk".to_owned(), s(partial_pk(&key.event_type, key.minute))),
            ("sk".to_owned(), s(partial.key.clone())),
            ("ttl".to_owned(), n(ttl)),
        ]);
        encoded_attributes(&mut item, &partial.aggregate.encode());
        // A partial stands for the records it counts: they fail together if it does.
        items.push((item, partial.records.clone()));
        if let Some(&at) = marker_of.get(&(&*key.event_type, key.minute)) {
            markers[at].1.extend(&partial.records);
            continue;
        }
        let token = format!("{}@{}", partial.key, now.timestamp_nanos_opt().unwrap_or_default());
        let marker = HashMap::from([
            ("pk".to_owned(), s(dirty_pk(&key.event_type, &minute))),
            ("sk".to_owned(), s(format!("{minute}#{}", key.event_type))),
            ("event_type".to_owned(), s(key.event_type.to_string())),
            ("minute".to_owned(), s(minute)),
            ("token".to_owned(), s(token)),
            ("ttl".to_owned(), n(ttl)),
        ]);
        marker_of.insert((&key.event_type, key.minute), markers.len());
        markers.push((marker, partial.records.clone()));
    }
    items.extend(markers);
    items
}

/// Writes each batch's partial aggregates (the processor's [`AggregateStore`]).
#[derive(Clone, Debug)]
pub struct DynamoAggregateStore {
    client: Client,
    table: String,
}

impl DynamoAggregateStore {
    /// A store writing to `table` with `client`.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }
}

impl AggregateStore for DynamoAggregateStore {
    async fn put_partials(&self, partials: &[PartialAggregate], deadline: Instant) -> SinkReport {
        let items = partial_items(partials, Utc::now());
        let mut report = BatchWriter::new(&self.client, &self.table).write(items, deadline).await;
        report.failed.sort_unstable();
        report.failed.dedup();
        report
    }
}

/// The aggregates table as the merge and the query API see it.
#[derive(Clone, Debug)]
pub struct DynamoAggregateTable {
    client: Client,
    table: String,
}

impl DynamoAggregateTable {
    /// The table `table`, read and written with `client`.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }

    fn error<E: ProvideErrorMetadata + std::error::Error + 'static>(&self, operation: &'static str) -> impl Fn(SdkError<E, HttpResponse>) -> AggregateTableError + '_ {
        move |e| AggregateTableError::Dynamo { operation, table: self.table.clone(), message: describe(&e) }
    }

    /// Every item of a key condition, following pages.
    async fn query(
        &self,
        key_condition: &str,
        values: HashMap<String, AttributeValue>,
    ) -> Result<Vec<HashMap<String, AttributeValue>>, AggregateTableError> {
        let mut items = Vec::new();
        let mut start: Option<HashMap<String, AttributeValue>> = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression(key_condition)
                .set_expression_attribute_values(Some(values.clone()))
                .consistent_read(true)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(self.error("Query"))?;
            items.extend(page.items.unwrap_or_default());
            match page.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => return Ok(items),
            }
        }
    }

    fn unreadable(&self, item: &HashMap<String, AttributeValue>, reason: &str) -> AggregateTableError {
        let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
        AggregateTableError::Item { table: self.table.clone(), pk: text("pk"), sk: text("sk"), reason: reason.to_owned() }
    }

    fn encoded(&self, item: &HashMap<String, AttributeValue>) -> Result<EncodedAggregate, AggregateTableError> {
        let count = item.get("count").and_then(|v| v.as_n().ok()).and_then(|v| v.parse().ok());
        let users = item.get("users").and_then(|v| v.as_b().ok()).map(|b| b.as_ref().to_vec());
        let revenue = item.get("revenue").and_then(|v| v.as_s().ok()).cloned();
        match (count, users, revenue) {
            (Some(count), Some(users), Some(revenue)) => Ok(EncodedAggregate { count, users, revenue }),
            _ => Err(self.unreadable(item, "count, users or revenue is missing")),
        }
    }
}

impl AggregateTable for DynamoAggregateTable {
    type Error = AggregateTableError;

    fn is_bad_data(error: &AggregateTableError) -> bool {
        matches!(error, AggregateTableError::Item { .. } | AggregateTableError::Data(_))
    }

    async fn dirty_windows(&self, limit: usize) -> Result<DirtyWindows, AggregateTableError> {
        // The partitions are independent: read them all at once.
        let pages: Vec<Vec<HashMap<String, AttributeValue>>> = stream::iter(0..DIRTY_PARTITIONS)
            .map(|partition| self.query("pk = :pk", HashMap::from([(":pk".to_owned(), s(format!("DIRTY#{partition}")))])))
            .buffered(DIRTY_PARTITIONS as usize)
            .try_collect()
            .await?;
        let mut windows = Vec::new();
        let mut unreadable = Vec::new();
        for items in pages {
            for item in items {
                let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned();
                let (Some(event_type), Some(minute), Some(token)) = (text("event_type"), text("minute"), text("token")) else {
                    unreadable.push(self.drop_marker(&item, "event_type, minute or token is missing").await?);
                    continue;
                };
                let Some(minute) = parse_rfc3339(&minute) else {
                    unreadable.push(self.drop_marker(&item, "minute is not a time").await?);
                    continue;
                };
                windows.push(DirtyWindow { event_type, minute, token });
            }
        }
        windows.sort();
        windows.truncate(limit);
        Ok(DirtyWindows { windows, unreadable })
    }

    async fn partials(&self, event_type: &str, minute: DateTime<Utc>) -> Result<Vec<StoredPartial>, AggregateTableError> {
        let items = self.query("pk = :pk", HashMap::from([(":pk".to_owned(), s(partial_pk(event_type, minute)))])).await?;
        items
            .iter()
            .map(|item| {
                let key = item.get("sk").and_then(|v| v.as_s().ok()).cloned().ok_or_else(|| self.unreadable(item, "sk is missing"))?;
                Ok(StoredPartial { key, aggregate: self.encoded(item)?.decode()? })
            })
            .collect()
    }

    async fn rows(&self, granularity: Granularity, event_type: &str, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Vec<AggregateRow>, AggregateTableError> {
        // Window starts are whole seconds: [from, to) is from..=to - 1 s, and a group's
        // `<start>|<value>` sorts before `<start>~`.
        let last = to - Duration::seconds(1);
        if last < from {
            return Ok(Vec::new());
        }
        let items = self
            .query(
                "pk = :pk AND sk BETWEEN :from AND :to",
                HashMap::from([
                    (":pk".to_owned(), s(row_pk(granularity, event_type))),
                    (":from".to_owned(), s(format_seconds(from))),
                    (":to".to_owned(), s(format!("{}~", format_seconds(last)))),
                ]),
            )
            .await?;
        items
            .iter()
            .map(|item| {
                let sk = item.get("sk").and_then(|v| v.as_s().ok()).map(|t| split_grouped_key(t));
                let window_start = sk
                    .and_then(|(start, _)| parse_rfc3339(start))
                    .ok_or_else(|| self.unreadable(item, "sk is not a window start"))?;
                let group = sk.and_then(|(_, group)| group).map(str::to_owned);
                let version = item.get("version").and_then(|v| v.as_n().ok()).and_then(|v| v.parse().ok()).unwrap_or(0);
                let aggregate = self.encoded(item)?.decode()?;
                Ok(AggregateRow { granularity, event_type: event_type.to_owned(), window_start, group, aggregate, version })
            })
            .collect()
    }

    async fn put_row(&self, row: &AggregateRow) -> Result<bool, AggregateTableError> {
        let mut item = HashMap::from([
            ("pk".to_owned(), s(row_pk(row.granularity, &row.event_type))),
            ("sk".to_owned(), s(grouped_key(&format_seconds(row.window_start), row.group.as_deref()))),
            ("granularity".to_owned(), s(row.granularity.as_str())),
            ("event_type".to_owned(), s(row.event_type.clone())),
            ("unique_users".to_owned(), n(row.aggregate.unique_users())),
            ("version".to_owned(), n(row.version)),
        ]);
        if let Some(group) = &row.group {
            item.insert("group".into(), s(group.clone()));
        }
        encoded_attributes(&mut item, &row.aggregate.encode());
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(version) OR version <= :v")
            .expression_attribute_values(":v", n(row.version))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if e.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => Ok(false),
            Err(e) => Err(self.error("PutItem")(e)),
        }
    }

    async fn clear_dirty(&self, windows: &[DirtyWindow]) -> Result<(), AggregateTableError> {
        stream::iter(windows.iter().cloned())
            .map(|w| self.clear_one(w))
            .buffer_unordered(DELETES_IN_FLIGHT)
            .try_collect::<Vec<()>>()
            .await?;
        Ok(())
    }
}

impl DynamoAggregateTable {
    /// Deletes a touched-minute marker that can never be merged; says which and why.
    async fn drop_marker(&self, item: &HashMap<String, AttributeValue>, reason: &str) -> Result<String, AggregateTableError> {
        let why = self.unreadable(item, reason).to_string();
        let (Some(pk), Some(sk)) = (item.get("pk"), item.get("sk")) else { return Ok(why) };
        self.client
            .delete_item()
            .table_name(&self.table)
            .key("pk", pk.clone())
            .key("sk", sk.clone())
            .send()
            .await
            .map_err(self.error("DeleteItem"))?;
        Ok(why)
    }

    /// Deletes a touched-minute marker if its token is still `w.token`.
    async fn clear_one(&self, w: DirtyWindow) -> Result<(), AggregateTableError> {
        let minute = format_seconds(w.minute);
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(dirty_pk(&w.event_type, &minute)))
            .key("sk", s(format!("{minute}#{}", w.event_type)))
            .condition_expression("#token = :token")
            .expression_attribute_names("#token", "token")
            .expression_attribute_values(":token", s(w.token))
            .send()
            .await;
        match result {
            // Touched again since it was read: the next run merges it.
            Err(e) if e.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => Ok(()),
            Err(e) => Err(self.error("DeleteItem")(e)),
            Ok(_) => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::sync::Arc;

    use pipeline::aggregate::{Aggregate, WindowKey};

    use super::*;

    fn partial(series: &str, minute: &str, key: &str, records: Vec<usize>) -> PartialAggregate {
        let window = WindowKey { event_type: Arc::from(series), minute: parse_rfc3339(minute).unwrap() };
        PartialAggregate { window, key: key.into(), aggregate: Aggregate::default(), records }
    }

    #[test]
    fn a_grouped_series_writes_one_marker_per_minute_for_all_its_values() {
        let partials = [
            partial("pageview", "2026-11-27T12:00:00Z", "s#1", vec![0, 1, 2]),
            partial("pageview/referer.medium", "2026-11-27T12:00:00Z", "s#1|search", vec![0]),
            partial("pageview/referer.medium", "2026-11-27T12:00:00Z", "s#2|social", vec![1, 2]),
            partial("pageview/referer.medium", "2026-11-27T12:01:00Z", "s#3|social", vec![3]),
        ];
        let items = partial_items(&partials, Utc::now());
        let key = |item: &HashMap<String, AttributeValue>| (item["pk"].as_s().unwrap().clone(), item["sk"].as_s().unwrap().clone());
        let keys: BTreeSet<_> = items.iter().map(|(item, _)| key(item)).collect();
        assert_eq!(keys.len(), items.len(), "no key twice in one write: {keys:?}");
        let markers: Vec<_> = items.iter().filter(|(item, _)| item["pk"].as_s().unwrap().starts_with("DIRTY#")).collect();
        assert_eq!(markers.len(), 3, "one per series and minute");
        let grouped = markers.iter().find(|(item, _)| item["sk"].as_s().unwrap() == "2026-11-27T12:00:00Z#pageview/referer.medium").unwrap();
        assert_eq!(grouped.1, [0, 1, 2], "the marker stands for every record of the minute's values");
    }
}
