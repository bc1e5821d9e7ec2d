//! The ingest API (DESIGN section 4): `POST /v1/events` and `POST /v1/event`, checked for
//! shape only (JSON, objects, limits), appended durably to the stream, answered in
//! Kinesis' `PutRecords` / `PutRecord` shapes.

use std::io::Read;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;
use serde_json::value::RawValue;
use serde_json::{Value, json};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use crate::http::{AppState, linger, message};
use crate::shard::{shard_id, shard_of};
use crate::stream::{AppendError, NewRecord};

/// Events in one `POST /v1/events` (as `PutRecords`).
pub const MAX_EVENTS_PER_REQUEST: usize = pipeline::limits::INGEST_EVENTS_PER_REQUEST_MAX;
/// A request body's size, after decompression.
pub const MAX_BODY_BYTES: usize = pipeline::limits::INGEST_BODY_BYTES_MAX;
/// A gzip body's compressed size: gzip can make incompressible data slightly larger.
pub const MAX_COMPRESSED_BODY_BYTES: usize = MAX_BODY_BYTES + 64 * 1024;
/// One event's size (Kinesis' record limit).
pub const MAX_EVENT_BYTES: usize = pipeline::MAX_RECORD_BYTES;
/// Bytes of request bodies (as received, and once decompressed) held in memory at once
/// across all requests, by default: thousands of clients each sending a 5 MiB body must
/// not exhaust memory. A request waits for room, within its body timeout.
pub const BODY_BUDGET_BYTES: usize = 1024 * 1024 * 1024;
/// How long a client may take to send a request body, by default.
pub const BODY_TIMEOUT: Duration = Duration::from_secs(30);

/// The memory request bodies may hold at once, shared by every request: each byte read
/// (and each byte of a decompressed body) takes a permit until the request is answered.
#[derive(Clone, Debug)]
pub struct BodyBudget(Arc<Semaphore>);

impl BodyBudget {
    pub fn new(bytes: usize) -> Self {
        Self(Arc::new(Semaphore::new(bytes.min(Semaphore::MAX_PERMITS))))
    }

    /// Takes room for `bytes` more, waiting until `deadline` at most.
    async fn take(&self, bytes: usize, deadline: Instant) -> Result<OwnedSemaphorePermit, Response> {
        let n = u32::try_from(bytes).unwrap_or(u32::MAX);
        match tokio::time::timeout_at(deadline, Arc::clone(&self.0).acquire_many_owned(n)).await {
            Ok(Ok(permit)) => Ok(permit),
            _ => Err(retry_later(StatusCode::SERVICE_UNAVAILABLE, "the server holds too many request bodies: retry after a second")),
        }
    }
}

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

/// A request body in memory, with the budget it holds until the request is answered.
struct ReadBody {
    bytes: Vec<u8>,
    _held: Vec<OwnedSemaphorePermit>,
}

/// Reads the body within [`MAX_BODY_BYTES`] (decompressed when `Content-Encoding: gzip`),
/// the body timeout and the shared budget. An oversized body is refused as soon as its
/// `Content-Length`, or the bytes received, show it: the rest is never kept.
async fn read_body(state: &AppState, headers: &HeaderMap, body: Body) -> Result<ReadBody, Response> {
    let encoding = headers.get(header::CONTENT_ENCODING).and_then(|v| v.to_str().ok()).unwrap_or("identity");
    let gzip = match encoding.trim().to_ascii_lowercase().as_str() {
        "identity" | "" => false,
        "gzip" => true,
        other => {
            linger(body);
            return Err(message(
                StatusCode::BAD_REQUEST,
                format!("Content-Encoding {other:?} is not supported: send gzip or no encoding"),
            ));
        }
    };
    let limit = if gzip { MAX_COMPRESSED_BODY_BYTES } else { MAX_BODY_BYTES };
    let declared = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        linger(body);
        return Err(too_large());
    }
    let deadline = Instant::now() + state.body_timeout;
    let mut held = Vec::new();
    let mut raw = Vec::with_capacity(declared.map_or(0, |n| n as usize));
    let mut body = body;
    loop {
        let frame = match tokio::time::timeout_at(deadline, body.frame()).await {
            Err(_) => {
                return Err(message(
                    StatusCode::REQUEST_TIMEOUT,
                    format!("the body did not arrive within {} s: send it at once", state.body_timeout.as_secs()),
                ));
            }
            Ok(None) => break,
            Ok(Some(Err(e))) => return Err(message(StatusCode::BAD_REQUEST, format!("cannot read the body: {e}"))),
            Ok(Some(Ok(frame))) => frame,
        };
        let Ok(chunk) = frame.into_data() else { continue };
        if raw.len() + chunk.len() > limit {
            linger(body);
            return Err(too_large());
        }
        held.push(state.body_budget.take(chunk.len(), deadline).await?);
        raw.extend_from_slice(&chunk);
    }
    if !gzip {
        return Ok(ReadBody { bytes: raw, _held: held });
    }
    let mut out = Vec::new();
    let mut decoder = flate2::read::MultiGzDecoder::new(&raw[..]).take(MAX_BODY_BYTES as u64 + 1);
    decoder
        .read_to_end(&mut out)
        .map_err(|e| message(StatusCode::BAD_REQUEST, format!("the body is not valid gzip: {e}")))?;
    if out.len() > MAX_BODY_BYTES {
        return Err(too_large());
    }
    held.push(state.body_budget.take(out.len(), deadline).await?);
    drop(raw);
    Ok(ReadBody { bytes: out, _held: held })
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
