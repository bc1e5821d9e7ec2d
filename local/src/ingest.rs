//! The ingest API (DESIGN section 4): `POST /v1/events` and `POST /v1/event`, checked for
//! shape only (JSON, objects, limits), appended durably to the stream, answered in
//! Kinesis' `PutRecords` / `PutRecord` shapes.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::value::RawValue;
use serde_json::{Value, json};

use crate::body::{self, BodyError, ReadBody};
use crate::http::{AppState, message};
use crate::shard::{shard_id, shard_of};
use crate::stream::{AppendError, NewRecord};

/// Events in one `POST /v1/events` (as `PutRecords`).
pub const MAX_EVENTS_PER_REQUEST: usize = pipeline::limits::INGEST_EVENTS_PER_REQUEST_MAX;
/// A request body's size, after decompression.
pub const MAX_BODY_BYTES: usize = pipeline::limits::INGEST_BODY_BYTES_MAX;
/// A gzip body's compressed size: gzip can make incompressible data slightly larger.
pub const MAX_COMPRESSED_BODY_BYTES: usize = MAX_BODY_BYTES + body::GZIP_SLACK_BYTES;
/// One event's size (Kinesis' record limit).
pub const MAX_EVENT_BYTES: usize = pipeline::MAX_RECORD_BYTES;
fn too_large() -> Response {
    message(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("the body is over {MAX_BODY_BYTES} bytes (5 MiB, after decompression): send fewer events per request"),
    )
}

fn retry_later(status: StatusCode, text: &str) -> Response {
    let mut response = message(status, text);
    response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    response
}

/// Reads the body within [`MAX_BODY_BYTES`] (decompressed when `Content-Encoding: gzip`),
/// the body timeout and the shared budget ([`crate::body`]).
async fn read_body(state: &AppState, headers: &HeaderMap, body: Body) -> Result<ReadBody, Response> {
    body::read_body(&state.body_budget, state.body_timeout, MAX_BODY_BYTES, headers, body).await.map_err(|e| match e {
        BodyError::TooLarge(_) => too_large(),
        BodyError::Timeout(_) => message(StatusCode::REQUEST_TIMEOUT, e.to_string()),
        BodyError::Busy => retry_later(StatusCode::SERVICE_UNAVAILABLE, &e.to_string()),
        BodyError::UnsupportedEncoding(_) | BodyError::Unreadable(_) | BodyError::NotGzip(_) => message(StatusCode::BAD_REQUEST, e.to_string()),
    })
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
    let status = match err {
        AppendError::Lagging(_) => StatusCode::TOO_MANY_REQUESTS,
        AppendError::QueueFull | AppendError::Closed | AppendError::Storage(_) => StatusCode::SERVICE_UNAVAILABLE,
    };
    retry_later(status, &format!("{err}: retry after a second"))
}

/// `POST /v1/events` (the ingest key was checked before the body is read).
pub async fn put_events(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    let body = match read_body(&state, &headers, body).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let events: Vec<&RawValue> = match serde_json::from_slice(&body.bytes) {
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

/// `POST /v1/event` (the ingest key was checked before the body is read).
pub async fn put_event(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    let body = match read_body(&state, &headers, body).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let event: &RawValue = match serde_json::from_slice(&body.bytes) {
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
