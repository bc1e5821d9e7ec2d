//! The stream's description: `DescribeStreamSummary`, `DescribeStream`, `ListShards`,
//! `ListStreams`, and `CreateStream` (which only says the stream exists). Shards' hash-key
//! ranges are the ones the shard rule places records by ([`crate::shard::hash_range`]), so
//! a producer that predicts shards from `ListShards` (as the KPL does) predicts them right.

use axum::response::Response;
use base64::Engine as _;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ACCOUNT, Call, KinesisError, KinesisState, StreamRef, answer, input};
use crate::shard::{hash_range, shard_id};
use crate::stream::sequence_text;

/// Shards listed per `ListShards` call by default, and at most (Kinesis' own figures).
const LIST_SHARDS_DEFAULT: usize = 1_000;
const LIST_SHARDS_MAX: usize = 10_000;
/// Shards per `DescribeStream` by default and at most.
const DESCRIBE_SHARDS_MAX: usize = 100;

fn shard(index: u32, shards: u32) -> Value {
    let (start, end) = hash_range(index, shards);
    json!({
        "ShardId": shard_id(index),
        "HashKeyRange": {"StartingHashKey": start.to_string(), "EndingHashKey": end.to_string()},
        "SequenceNumberRange": {"StartingSequenceNumber": sequence_text(1)},
    })
}

/// The index of the shard after `id` (`shardId-000000000003` -> 4); shards sort by id.
fn after_shard(id: &str) -> usize {
    id.strip_prefix("shardId-").and_then(|n| n.parse::<usize>().ok()).map_or(0, |n| n + 1)
}

fn common(state: &KinesisState, region: &str) -> serde_json::Map<String, Value> {
    let Value::Object(map) = json!({
        "StreamName": &*state.name,
        "StreamARN": state.arn(region),
        "StreamStatus": "ACTIVE",
        "StreamModeDetails": {"StreamMode": "PROVISIONED"},
        "RetentionPeriodHours": 24,
        "StreamCreationTimestamp": state.created,
        "EnhancedMonitoring": [{"ShardLevelMetrics": []}],
        "EncryptionType": "NONE",
    }) else {
        unreachable!("a JSON object literal")
    };
    map
}

fn stream_of(call: &Call) -> Result<(), KinesisError> {
    let stream: StreamRef = input(&call.body.bytes)?;
    call.state.check_stream(&stream)
}

/// `DescribeStreamSummary`: the one stream's status and shard count.
pub fn describe_stream_summary(call: &Call) -> Result<Response, KinesisError> {
    stream_of(call)?;
    let mut summary = common(&call.state, &call.region);
    summary.insert("OpenShardCount".into(), call.state.shards.into());
    summary.insert("ConsumerCount".into(), 0.into());
    Ok(answer(&json!({"StreamDescriptionSummary": summary})))
}

#[derive(Deserialize)]
struct DescribeStreamInput {
    #[serde(rename = "Limit", default)]
    limit: Option<usize>,
    #[serde(rename = "ExclusiveStartShardId", default)]
    exclusive_start_shard_id: Option<String>,
}

/// `DescribeStream`: the stream and its shards, a page at a time (`Limit`, `ExclusiveStartShardId`).
pub fn describe_stream(call: &Call) -> Result<Response, KinesisError> {
    stream_of(call)?;
    let request: DescribeStreamInput = input(&call.body.bytes)?;
    let limit = request.limit.unwrap_or(DESCRIBE_SHARDS_MAX);
    if !(1..=10_000).contains(&limit) {
        return Err(KinesisError::validation(format!("Value '{limit}' at 'limit' failed to satisfy constraint: Member must be between 1 and 10000")));
    }
    let shards = call.state.shards;
    let from = request.exclusive_start_shard_id.as_deref().map_or(0, after_shard);
    let listed: Vec<Value> = (from..shards as usize).take(limit.min(DESCRIBE_SHARDS_MAX)).map(|i| shard(i as u32, shards)).collect();
    let more = from + listed.len() < shards as usize;
    let mut description = common(&call.state, &call.region);
    description.insert("Shards".into(), listed.into());
    description.insert("HasMoreShards".into(), more.into());
    Ok(answer(&json!({"StreamDescription": description})))
}

#[derive(Deserialize)]
struct ListShardsInput {
    #[serde(rename = "StreamName", default)]
    name: Option<String>,
    #[serde(rename = "StreamARN", default)]
    arn: Option<String>,
    #[serde(rename = "NextToken", default)]
    next_token: Option<String>,
    #[serde(rename = "MaxResults", default)]
    max_results: Option<usize>,
    #[serde(rename = "ExclusiveStartShardId", default)]
    exclusive_start_shard_id: Option<String>,
}

/// A `ListShards` continuation: the stream and the next shard's index, opaque to clients.
fn next_token(stream: &str, next: usize) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("{stream}\n{next}"))
}

fn read_token(token: &str) -> Option<(String, usize)> {
    let text = String::from_utf8(base64::engine::general_purpose::STANDARD.decode(token).ok()?).ok()?;
    let (stream, next) = text.split_once('\n')?;
    Some((stream.to_owned(), next.parse().ok()?))
}

/// `ListShards`: the shards and their hash-key ranges, a page at a time (`MaxResults`, `NextToken`).
pub fn list_shards(call: &Call) -> Result<Response, KinesisError> {
    let request: ListShardsInput = input(&call.body.bytes)?;
    let limit = request.max_results.unwrap_or(LIST_SHARDS_DEFAULT);
    if !(1..=LIST_SHARDS_MAX).contains(&limit) {
        return Err(KinesisError::validation(format!("Value '{limit}' at 'maxResults' failed to satisfy constraint: Member must be between 1 and 10000")));
    }
    let from = match &request.next_token {
        Some(token) => {
            if request.name.is_some() || request.arn.is_some() {
                return Err(KinesisError::invalid_argument("NextToken and StreamName cannot be provided together."));
            }
            let (stream, next) = read_token(token).ok_or_else(|| KinesisError::invalid_argument("Invalid ShardId in NextToken (it is not one this endpoint gave)"))?;
            call.state.check_stream(&StreamRef { name: Some(stream), arn: None })?;
            next
        }
        None => {
            call.state.check_stream(&StreamRef { name: request.name, arn: request.arn })?;
            request.exclusive_start_shard_id.as_deref().map_or(0, after_shard)
        }
    };
    let shards = call.state.shards as usize;
    let listed: Vec<Value> = (from..shards).take(limit).map(|i| shard(i as u32, shards as u32)).collect();
    let next = from + listed.len();
    let mut body = json!({"Shards": listed});
    if next < shards {
        body["NextToken"] = next_token(&call.state.name, next).into();
    }
    Ok(answer(&body))
}

/// `ListStreams`: the one stream.
pub fn list_streams(call: &Call) -> Result<Response, KinesisError> {
    let state = &call.state;
    let summary = json!({
        "StreamName": &*state.name,
        "StreamARN": state.arn(&call.region),
        "StreamStatus": "ACTIVE",
        "StreamModeDetails": {"StreamMode": "PROVISIONED"},
        "StreamCreationTimestamp": state.created,
    });
    Ok(answer(&json!({"StreamNames": [&*state.name], "HasMoreStreams": false, "StreamSummaries": [summary]})))
}

/// The stream exists from the start: creating it again is Kinesis' "in use"; another name
/// cannot be served.
pub fn create_stream(call: &Call) -> Result<Response, KinesisError> {
    let stream: StreamRef = input(&call.body.bytes)?;
    let name = stream.name.unwrap_or_default();
    if name == *call.state.name {
        return Err(KinesisError::new(
            axum::http::StatusCode::BAD_REQUEST,
            "ResourceInUseException",
            format!("Stream {name} under account {ACCOUNT} already exists."),
        ));
    }
    Err(KinesisError::new(
        axum::http::StatusCode::BAD_REQUEST,
        "LimitExceededException",
        format!("pipeline up serves one stream, {:?}; it cannot create {name:?}: start it with --stream-name {name}", call.state.name),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_and_shard_ids_continue_where_they_stopped() {
        assert_eq!(read_token(&next_token("events", 3)), Some(("events".into(), 3)));
        assert_eq!(read_token("garbage"), None);
        assert_eq!(after_shard("shardId-000000000003"), 4);
        assert_eq!(after_shard("nonsense"), 0);
        assert_eq!(shard(1, 2)["HashKeyRange"]["StartingHashKey"], (1u128 << 127).to_string());
    }
}
