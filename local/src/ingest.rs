//! The ingest API (DESIGN section 4): `POST /v1/events` and `POST /v1/event`, checked for
//! shape only (JSON, objects, limits), appended durably to the stream, answered in
//! Kinesis' `PutRecords` / `PutRecord` shapes.

use std::io::Read;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::value::RawValue;
use serde_json::{Value, json};
use subtle::ConstantTimeEq;

use crate::AppState;
use crate::shard::{shard_id, shard_of};
use crate::stream::{AppendError, NewRecord};

/// Events in one `POST /v1/events` (as `PutRecords`).
pub const MAX_EVENTS_PER_REQUEST: usize = 500;
/// A request body's size, after decompression.
pub const MAX_BODY_BYTES: usize = 5 * 1024 * 1024;
/// Bytes of a request body read at most; more is refused by the server with a bare 413.
pub const MAX_READ_BYTES: usize = 16 * 1024 * 1024;
/// One event's size (Kinesis' record limit).
pub const MAX_EVENT_BYTES: usize = pipeline::MAX_RECORD_BYTES;

pub(crate) fn message(status: StatusCode, text: impl Into<String>) -> Response {
    (status, axum::Json(json!({"message": text.into()}))).into_response()
}

fn forbidden() -> Response {
    message(StatusCode::FORBIDDEN, "Forbidden")
}

/// Checks `x-api-key` in constant time.
pub(crate) fn authorised(state: &AppState, headers: &HeaderMap) -> bool {
    headers
        .get("x-api-key")
        .is_some_and(|key| bool::from(key.as_bytes().ct_eq(state.api_key.as_bytes())))
}

/// The body, decompressed when `Content-Encoding: gzip`, within [`MAX_BODY_BYTES`].
fn body(headers: &HeaderMap, raw: Bytes) -> Result<Vec<u8>, Response> {
    let too_large = || message(StatusCode::PAYLOAD_TOO_LARGE, format!("the body is over {MAX_BODY_BYTES} bytes (5 MiB): send fewer events per request"));
    let encoding = headers.get(header::CONTENT_ENCODING).and_then(|v| v.to_str().ok()).unwrap_or("identity");
    match encoding.trim().to_ascii_lowercase().as_str() {
        "identity" | "" => {
            if raw.len() > MAX_BODY_BYTES {
                return Err(too_large());
            }
            Ok(raw.to_vec())
        }
        "gzip" => {
            let mut out = Vec::new();
            let mut decoder = flate2::read::MultiGzDecoder::new(&raw[..]).take(MAX_BODY_BYTES as u64 + 1);
            decoder
                .read_to_end(&mut out)
                .map_err(|e| message(StatusCode::BAD_REQUEST, format!("the body is not valid gzip: {e}")))?;
            if out.len() > MAX_BODY_BYTES {
                return Err(too_large());
            }
            Ok(out)
        }
        other => Err(message(StatusCode::BAD_REQUEST, format!("Content-Encoding {other:?} is not supported: send gzip or no encoding"))),
    }
}

/// The partition key: `user_id` as text, else a random key.
fn partition_key(event: &RawValue) -> String {
    #[derive(serde::Deserialize)]
    struct Key {
        #[serde(default)]
        user_id: Option<Value>,
    }
    match serde_json::from_str::<Key>(event.get()).ok().and_then(|k| k.user_id) {
        Some(Value::String(s)) if !s.is_empty() => s,
        Some(Value::Number(n)) => n.to_string(),
        _ => uuid::Uuid::new_v4().to_string(),
    }
}

/// Validates one event's shape and makes its stream record.
fn record(event: &RawValue, shards: u32, index: Option<usize>) -> Result<NewRecord, Response> {
    let at = index.map(|i| format!("event {i}")).unwrap_or_else(|| "the event".into());
    let text = event.get();
    if !text.starts_with('{') {
        return Err(message(StatusCode::BAD_REQUEST, format!("{at} is not a JSON object")));
    }
    if text.len() > MAX_EVENT_BYTES {
        return Err(message(
            StatusCode::BAD_REQUEST,
            format!("{at} is {} bytes; one event may be at most {MAX_EVENT_BYTES} bytes (1 MiB)", text.len()),
        ));
    }
    let key = partition_key(event);
    Ok(NewRecord { shard: shard_of(&key, shards), partition_key: key, data: text.as_bytes().to_vec() })
}

fn unavailable(err: AppendError) -> Response {
    let (status, retry) = match err {
        AppendError::Lagging(_) => (StatusCode::TOO_MANY_REQUESTS, "1"),
        AppendError::QueueFull | AppendError::Closed | AppendError::Storage(_) => (StatusCode::SERVICE_UNAVAILABLE, "1"),
    };
    let mut response = message(status, format!("{err}: retry after a second"));
    response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static(retry));
    response
}

pub async fn put_events(State(state): State<AppState>, headers: HeaderMap, raw: Bytes) -> Response {
    if !authorised(&state, &headers) {
        return forbidden();
    }
    let body = match body(&headers, raw) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let events: Vec<&RawValue> = match serde_json::from_slice(&body) {
        Ok(events) => events,
        Err(e) if e.is_data() => return message(StatusCode::BAD_REQUEST, "the body must be a JSON array of event objects"),
        Err(e) => return message(StatusCode::BAD_REQUEST, format!("the body is not valid JSON: {e}")),
    };
    if events.is_empty() || events.len() > MAX_EVENTS_PER_REQUEST {
        return message(
            StatusCode::BAD_REQUEST,
            format!("the body holds {} events; send 1 to {MAX_EVENTS_PER_REQUEST} per request", events.len()),
        );
    }
    let mut records = Vec::with_capacity(events.len());
    for (i, event) in events.iter().enumerate() {
        match record(event, state.shards, Some(i)) {
            Ok(r) => records.push(r),
            Err(response) => return response,
        }
    }
    let n = records.len() as u64;
    match state.stream.append(records).await {
        Ok(appended) => {
            state.accepted.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
            let records: Vec<Value> = appended
                .into_iter()
                .map(|a| json!({"SequenceNumber": a.sequence_number, "ShardId": shard_id(a.shard)}))
                .collect();
            axum::Json(json!({"FailedRecordCount": 0, "Records": records})).into_response()
        }
        Err(e) => unavailable(e),
    }
}

pub async fn put_event(State(state): State<AppState>, headers: HeaderMap, raw: Bytes) -> Response {
    if !authorised(&state, &headers) {
        return forbidden();
    }
    let body = match body(&headers, raw) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let event: &RawValue = match serde_json::from_slice(&body) {
        Ok(event) => event,
        Err(e) => return message(StatusCode::BAD_REQUEST, format!("the body is not valid JSON: {e}")),
    };
    let record = match record(event, state.shards, None) {
        Ok(r) => r,
        Err(response) => return response,
    };
    match state.stream.append(vec![record]).await {
        Ok(mut appended) => {
            state.accepted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let a = appended.remove(0);
            axum::Json(json!({"SequenceNumber": a.sequence_number, "ShardId": shard_id(a.shard)})).into_response()
        }
        Err(e) => unavailable(e),
    }
}
