//! `PutRecord` and `PutRecords`: checked with Kinesis' limits (500 records; 1 MiB per record
//! and 5 MiB per request, each counting decoded data plus partition key; partition keys of
//! 1 to 256 characters; explicit hash keys in 0..2^128), placed by the shard rule, appended
//! durably, and answered only after the fsync. A full stream is Kinesis' throttle: every
//! record of a `PutRecords` carries `ProvisionedThroughputExceededException`.

use std::borrow::Cow;
use std::sync::atomic::Ordering;

use axum::http::StatusCode;
use axum::response::Response;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use super::{Call, KinesisError, StreamRef, answer, input};
use crate::shard::{shard_id, shard_of, shard_of_hash};
use crate::stream::{AppendError, Appended, NewRecord};

/// Records in one `PutRecords`.
pub const MAX_RECORDS_PER_REQUEST: usize = pipeline::limits::KINESIS_PUT_RECORDS_MAX;
/// One record: decoded data plus partition key.
pub const MAX_RECORD_BYTES: usize = pipeline::limits::KINESIS_RECORD_BYTES_MAX;
/// One `PutRecords`: decoded data plus partition keys of every record.
pub const MAX_REQUEST_BYTES: usize = pipeline::limits::KINESIS_PUT_RECORDS_BYTES_MAX;
/// A partition key's length, in characters.
pub const MAX_PARTITION_KEY_CHARS: usize = 256;

// No `#[serde(flatten)]`: it would buffer the whole request as a tree before reading it.
#[derive(Deserialize)]
struct PutRecordsInput<'a> {
    #[serde(rename = "StreamName", default)]
    stream_name: Option<String>,
    #[serde(rename = "StreamARN", default)]
    stream_arn: Option<String>,
    #[serde(rename = "Records", default, borrow)]
    records: Option<Vec<Entry<'a>>>,
}

#[derive(Deserialize)]
struct PutRecordInput<'a> {
    #[serde(rename = "StreamName", default)]
    stream_name: Option<String>,
    #[serde(rename = "StreamARN", default)]
    stream_arn: Option<String>,
    #[serde(rename = "Data", default, borrow)]
    data: Option<Cow<'a, str>>,
    #[serde(rename = "PartitionKey", default, borrow)]
    partition_key: Option<Cow<'a, str>>,
    #[serde(rename = "ExplicitHashKey", default, borrow)]
    explicit_hash_key: Option<Cow<'a, str>>,
}

/// One record as sent: base64 data, partition key, optional explicit hash key.
#[derive(Deserialize)]
struct Entry<'a> {
    #[serde(rename = "Data", default, borrow)]
    data: Option<Cow<'a, str>>,
    #[serde(rename = "PartitionKey", default, borrow)]
    partition_key: Option<Cow<'a, str>>,
    #[serde(rename = "ExplicitHashKey", default, borrow)]
    explicit_hash_key: Option<Cow<'a, str>>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct PutRecordsOutput {
    failed_record_count: usize,
    records: Vec<ResultEntry>,
    encryption_type: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct PutRecordOutput {
    shard_id: String,
    sequence_number: String,
    encryption_type: &'static str,
}

#[derive(Serialize)]
#[serde(untagged)]
enum ResultEntry {
    #[serde(rename_all = "PascalCase")]
    Stored { sequence_number: String, shard_id: String },
    #[serde(rename_all = "PascalCase")]
    Failed { error_code: &'static str, error_message: String },
}

/// Where a request's fields sit, for Kinesis' validation messages: `records.3.member.` or
/// nothing (PutRecord).
fn position(index: Option<usize>) -> String {
    index.map(|i| format!("records.{}.member.", i + 1)).unwrap_or_default()
}

/// Checks one entry's fields and decodes its data (not yet the size limits).
fn decode(entry: &Entry<'_>, shards: u32, index: Option<usize>) -> Result<NewRecord, KinesisError> {
    let at = position(index);
    let null = |field: &str| KinesisError::validation(format!("Value null at '{at}{field}' failed to satisfy constraint: Member must not be null"));
    let data = entry.data.as_deref().ok_or_else(|| null("data"))?;
    let key = entry.partition_key.as_deref().ok_or_else(|| null("partitionKey"))?;
    let chars = key.chars().count();
    if chars == 0 || chars > MAX_PARTITION_KEY_CHARS {
        let bound = if chars == 0 { "greater than or equal to 1" } else { "less than or equal to 256" };
        return Err(KinesisError::validation(format!("Value at '{at}partitionKey' failed to satisfy constraint: Member must have length {bound}")));
    }
    let data = base64::engine::general_purpose::STANDARD
        .decode(data)
        .map_err(|e| KinesisError::serialization(format!("{at}Data is not base64 ({e}): send the record's bytes base64-encoded, as the AWS SDKs do")))?;
    if data.len() > MAX_RECORD_BYTES {
        return Err(too_big(&at));
    }
    let shard = match entry.explicit_hash_key.as_deref() {
        None => shard_of(key, shards),
        Some(text) => shard_of_hash(explicit_hash_key(text, &at)?, shards),
    };
    Ok(NewRecord { shard, partition_key: key.to_owned(), data })
}

fn too_big(at: &str) -> KinesisError {
    KinesisError::validation(format!(
        "Value at '{at}data' failed to satisfy constraint: Member must have length less than or equal to {MAX_RECORD_BYTES} \
         (the record's data plus its partition key may be at most 1 MiB)"
    ))
}

/// An explicit hash key: a decimal integer in 0..2^128.
fn explicit_hash_key(text: &str, at: &str) -> Result<u128, KinesisError> {
    let pattern_ok = text == "0" || (matches!(text.as_bytes().first(), Some(b'1'..=b'9')) && text.len() <= 39 && text.bytes().all(|b| b.is_ascii_digit()));
    if !pattern_ok {
        return Err(KinesisError::validation(format!(
            "Value '{text}' at '{at}explicitHashKey' failed to satisfy constraint: Member must satisfy regular expression pattern: 0|([1-9]\\d{{0,38}})"
        )));
    }
    text.parse::<u128>().map_err(|_| {
        KinesisError::invalid_argument(format!("Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. Specified value was {text}"))
    })
}

/// Appends `records`, holding their bytes against the body budget meanwhile.
async fn append(call: &mut Call, records: Vec<NewRecord>) -> Result<Vec<Appended>, AppendError> {
    let bytes = records.iter().map(|r| r.data.len()).sum();
    let deadline = Instant::now() + call.state.body_timeout;
    if call.body.hold(&call.state.body_budget, bytes, deadline).await.is_err() {
        return Err(AppendError::QueueFull);
    }
    let n = records.len() as u64;
    let appended = call.state.stream.append(records).await?;
    call.state.accepted.fetch_add(n, Ordering::Relaxed);
    Ok(appended)
}

/// Kinesis' per-record error for a refused append: a throttle when the stream is full.
fn failure(err: &AppendError, shard: u32, stream: &str) -> (&'static str, String) {
    match err {
        AppendError::QueueFull | AppendError::Lagging(_) => (
            "ProvisionedThroughputExceededException",
            format!("Rate exceeded for shard {} in stream {stream} under account {} ({err}): retry with backoff", shard_id(shard), super::ACCOUNT),
        ),
        AppendError::Closed | AppendError::Storage(_) => ("InternalFailure", format!("the record was not stored ({err}): retry it")),
    }
}

/// `PutRecords`: up to 500 records appended to the stream; each entry answers its record.
pub async fn put_records(mut call: Call) -> Result<Response, KinesisError> {
    let body = std::mem::take(&mut call.body.bytes);
    let request: PutRecordsInput<'_> = input(&body)?;
    let entries = request
        .records
        .as_deref()
        .ok_or_else(|| KinesisError::validation("Value null at 'records' failed to satisfy constraint: Member must not be null"))?;
    if entries.is_empty() || entries.len() > MAX_RECORDS_PER_REQUEST {
        let bound = if entries.is_empty() { "greater than or equal to 1" } else { "less than or equal to 500" };
        return Err(KinesisError::validation(format!("Value at 'records' failed to satisfy constraint: Member must have length {bound}")));
    }
    let shards = call.state.shards;
    let records = entries.iter().enumerate().map(|(i, e)| decode(e, shards, Some(i))).collect::<Result<Vec<_>, _>>()?;
    call.state.check_stream(&StreamRef { name: request.stream_name.clone(), arn: request.stream_arn.clone() })?;
    let sizes: Vec<usize> = records.iter().map(|r| r.data.len() + r.partition_key.len()).collect();
    if sizes.iter().sum::<usize>() > MAX_REQUEST_BYTES {
        return Err(KinesisError::invalid_argument(
            "Records size exceeds 5 MB limit (the records' data plus partition keys may be at most 5 MiB per request): send fewer records per request",
        ));
    }
    if let Some(i) = sizes.iter().position(|&n| n > MAX_RECORD_BYTES) {
        return Err(too_big(&position(Some(i))));
    }
    drop(request);
    drop(body);
    let shards_of: Vec<u32> = records.iter().map(|r| r.shard).collect();
    let entries = match append(&mut call, records).await {
        Ok(appended) => {
            let stored = appended.into_iter().map(|a| ResultEntry::Stored { sequence_number: a.sequence_number, shard_id: shard_id(a.shard) });
            return Ok(answer(&PutRecordsOutput { failed_record_count: 0, records: stored.collect(), encryption_type: "NONE" }));
        }
        Err(e) => shards_of
            .iter()
            .map(|&shard| {
                let (error_code, error_message) = failure(&e, shard, &call.state.name);
                ResultEntry::Failed { error_code, error_message }
            })
            .collect::<Vec<_>>(),
    };
    Ok(answer(&PutRecordsOutput { failed_record_count: entries.len(), records: entries, encryption_type: "NONE" }))
}

/// `PutRecord`: one record appended.
pub async fn put_record(mut call: Call) -> Result<Response, KinesisError> {
    let body = std::mem::take(&mut call.body.bytes);
    let request: PutRecordInput<'_> = input(&body)?;
    let entry = Entry { data: request.data, partition_key: request.partition_key, explicit_hash_key: request.explicit_hash_key };
    let record = decode(&entry, call.state.shards, None)?;
    call.state.check_stream(&StreamRef { name: request.stream_name, arn: request.stream_arn })?;
    if record.data.len() + record.partition_key.len() > MAX_RECORD_BYTES {
        return Err(too_big(""));
    }
    drop(entry);
    drop(body);
    let shard = record.shard;
    match append(&mut call, vec![record]).await {
        Ok(mut appended) => {
            let a = appended.remove(0);
            Ok(answer(&PutRecordOutput { shard_id: shard_id(a.shard), sequence_number: a.sequence_number, encryption_type: "NONE" }))
        }
        Err(e) => {
            let (kind, message) = failure(&e, shard, &call.state.name);
            let status = if kind == "InternalFailure" { StatusCode::INTERNAL_SERVER_ERROR } else { StatusCode::BAD_REQUEST };
            Err(KinesisError::new(status, kind, message))
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;
    use crate::body::{BodyBudget, ReadBody};
    use crate::kinesis::KinesisState;

    async fn body_of(response: Response) -> (StatusCode, serde_json::Value) {
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    #[tokio::test]
    async fn a_full_stream_throttles_every_record_and_stores_none() {
        let dir = tempfile::tempdir().unwrap();
        let (writer, reader) = crate::stream::start(dir.path(), 2, &[]).unwrap();
        let state = KinesisState {
            stream: writer.clone(),
            shards: 2,
            name: "events".into(),
            created: 0.0,
            accepted: Arc::default(),
            body_budget: BodyBudget::new(1 << 20),
            body_timeout: Duration::from_secs(5),
        };
        let call = |body: serde_json::Value| Call { state: state.clone(), region: "us-east-1".into(), body: ReadBody::in_memory(body.to_string().into_bytes()) };
        let records = serde_json::json!({"StreamName": "events", "Records": [{"Data": "e30=", "PartitionKey": "a"}, {"Data": "e30=", "PartitionKey": "b"}]});
        let (status, ok) = body_of(put_records(call(records.clone())).await.unwrap()).await;
        assert_eq!((status, ok["FailedRecordCount"].as_u64()), (StatusCode::OK, Some(0)));

        // Past the backlog limit, as when the consumers fall far behind.
        writer.counters.add_appended(0, crate::stream::MAX_LAG_RECORDS + 1);
        let (status, throttled) = body_of(put_records(call(records)).await.unwrap()).await;
        assert_eq!((status, throttled["FailedRecordCount"].as_u64()), (StatusCode::OK, Some(2)));
        for r in throttled["Records"].as_array().unwrap() {
            assert_eq!(r["ErrorCode"], "ProvisionedThroughputExceededException");
            assert!(r["ErrorMessage"].as_str().unwrap().contains("Rate exceeded for shard"), "{r}");
            assert!(r.get("SequenceNumber").is_none());
        }
        let one = serde_json::json!({"StreamName": "events", "Data": "e30=", "PartitionKey": "a"});
        let e = put_record(call(one)).await.unwrap_err();
        assert_eq!((e.status, e.kind), (StatusCode::BAD_REQUEST, "ProvisionedThroughputExceededException"));
        assert_eq!(state.accepted.load(Ordering::Relaxed), 2, "only the first request's records");
        assert_eq!(reader.read(0, 0, 100).unwrap().len() + reader.read(1, 0, 100).unwrap().len(), 2);
    }

    fn entry<'a>(data: &'a str, key: &'a str, hash: Option<&'a str>) -> Entry<'a> {
        Entry { data: Some(data.into()), partition_key: Some(key.into()), explicit_hash_key: hash.map(Into::into) }
    }

    #[test]
    fn entries_are_checked_as_kinesis_checks_them() {
        let r = decode(&entry("e30=", "user-1", None), 4, Some(0)).unwrap();
        assert_eq!((r.data.as_slice(), r.shard), (b"{}".as_slice(), shard_of("user-1", 4)));
        // The explicit hash key decides the shard, whatever the partition key.
        assert_eq!(decode(&entry("e30=", "user-1", Some("0")), 4, None).unwrap().shard, 0);
        let top = u128::MAX.to_string();
        assert_eq!(decode(&entry("e30=", "user-1", Some(&top)), 4, None).unwrap().shard, 3);
        let over = "340282366920938463463374607431768211456"; // 2^128
        assert_eq!(decode(&entry("e30=", "k", Some(over)), 4, None).err().unwrap().kind, "InvalidArgumentException");
        for bad in ["01", "-1", "1.5", "", "12345678901234567890123456789012345678901"] {
            let e = decode(&entry("e30=", "k", Some(bad)), 4, Some(2)).err().unwrap();
            assert_eq!(e.kind, "ValidationException", "{bad}");
            assert!(e.message.contains("records.3.member.explicitHashKey"), "{}", e.message);
        }
        let e = decode(&entry("e30=", "", None), 4, None).err().unwrap();
        assert!(e.message.contains("'partitionKey'") && e.message.contains("greater than or equal to 1"), "{}", e.message);
        let long = "é".repeat(257);
        assert_eq!(decode(&entry("e30=", &long, None), 4, None).err().unwrap().kind, "ValidationException");
        assert!(decode(&entry("e30=", &"é".repeat(256), None), 4, None).is_ok(), "256 characters are allowed, whatever their bytes");
        assert_eq!(decode(&entry("not base64!", "k", None), 4, None).err().unwrap().kind, "SerializationException");
        let missing = Entry { data: None, partition_key: Some("k".into()), explicit_hash_key: None };
        assert!(decode(&missing, 4, Some(0)).err().unwrap().message.contains("Value null at 'records.1.member.data'"));
    }
}
