//! A Kinesis-compatible endpoint for local mode (`pipeline up --kinesis-listen ADDR`): the
//! AWS JSON 1.1 protocol (`POST /` with `X-Amz-Target: Kinesis_20131202.<Operation>`) for one
//! stream, backed by the same durable stream log as the ingest API, with the same shard rule
//! and acknowledgement after fsync. Producers written for Kinesis (the KPL, an AWS SDK's
//! `PutRecords`) point their endpoint at it; aggregated records are deaggregated by the
//! consumers, as the processor Lambda does on AWS.
//!
//! Operations: `PutRecord`, `PutRecords` ([`put`]); `DescribeStreamSummary`,
//! `DescribeStream`, `ListShards`, `ListStreams` and `CreateStream` for the one stream
//! ([`describe`]). Errors are Kinesis' own: `{"__type": ..., "message": ...}` with
//! Kinesis' status codes. Signatures are not checked: any SigV4 signature (or none) is
//! accepted, so the endpoint binds loopback unless told otherwise.

pub mod describe;
pub mod put;

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde::Deserialize;
use serde_json::json;

use crate::body::{self, BodyBudget, BodyError, ReadBody};
use crate::body::linger;
use crate::stream::StreamWriter;

/// The `X-Amz-Target` prefix of Kinesis' operations.
pub const TARGET_PREFIX: &str = "Kinesis_20131202.";
/// The content type of requests and answers (AWS JSON 1.1).
pub const CONTENT_TYPE: &str = "application/x-amz-json-1.1";
/// The account named in ARNs and messages.
pub const ACCOUNT: &str = "000000000000";
/// The region named in ARNs when the request's signature names none.
pub const DEFAULT_REGION: &str = "us-east-1";
/// The largest request body read: 5 MiB of data in base64 (4/3 larger) plus 500 entries'
/// keys and JSON fit well within it; past it, no request can be valid.
pub const MAX_BODY_BYTES: usize = 10 * 1024 * 1024;
/// The stream name by default (`--stream-name`).
pub const DEFAULT_STREAM_NAME: &str = "events";

/// Checks a `--stream-name` against Kinesis' rule for stream names.
pub fn check_stream_name(name: &str) -> anyhow::Result<()> {
    if name.is_empty() || name.len() > 128 || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b)) {
        anyhow::bail!("--stream-name {name:?} is not a Kinesis stream name: use 1 to 128 of a-z, A-Z, 0-9, '_', '.', '-'");
    }
    Ok(())
}

/// What the endpoint's handlers share.
#[derive(Clone)]
pub struct KinesisState {
    /// The stream's writer, shared with the HTTP API.
    pub stream: StreamWriter,
    /// Shards of the stream (Kinesis' shard rule spreads hash keys over them).
    pub shards: u32,
    /// The one stream served.
    pub name: Arc<str>,
    /// When the endpoint started, in epoch seconds (the stream's creation time).
    pub created: f64,
    /// Kinesis records acknowledged (an aggregated record counts once).
    pub accepted: Arc<AtomicU64>,
    /// Bytes of request bodies held in memory at once, shared with the HTTP API.
    pub body_budget: BodyBudget,
    /// How long a client may take to send a request body.
    pub body_timeout: Duration,
}

/// Every request goes to `POST /`; the operation is in `X-Amz-Target`.
pub fn router(state: KinesisState) -> Router {
    Router::new().route("/", post(dispatch)).fallback(not_an_operation).with_state(state)
}

/// An error in Kinesis' shape.
#[derive(Debug)]
pub struct KinesisError {
    /// The HTTP status.
    pub status: StatusCode,
    /// The exception's name (`__type`), e.g. `ResourceNotFoundException`.
    pub kind: &'static str,
    /// The message.
    pub message: String,
}

impl KinesisError {
    /// An error of `status`, exception `kind` and `message`.
    pub fn new(status: StatusCode, kind: &'static str, message: impl Into<String>) -> Self {
        Self { status, kind, message: message.into() }
    }

    /// `400 ValidationException` ("1 validation error detected: ...").
    pub fn validation(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "ValidationException", format!("1 validation error detected: {}", message.into()))
    }

    /// `400 InvalidArgumentException`.
    pub fn invalid_argument(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "InvalidArgumentException", message)
    }

    /// `400 SerializationException`: the body is not the JSON the operation takes.
    pub fn serialization(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "SerializationException", message)
    }

    fn unknown_operation(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "UnknownOperationException", message)
    }
}

impl IntoResponse for KinesisError {
    fn into_response(self) -> Response {
        let body = json!({"__type": self.kind, "message": self.message}).to_string();
        let mut response = (self.status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
        headers.insert("x-amzn-ErrorType", HeaderValue::from_static(self.kind));
        headers.insert("x-amzn-RequestId", request_id());
        response
    }
}

fn request_id() -> HeaderValue {
    HeaderValue::from_str(&uuid::Uuid::new_v4().to_string()).unwrap_or(HeaderValue::from_static("0"))
}

/// A `200` answer with a JSON body.
pub fn answer(body: &impl serde::Serialize) -> Response {
    let text = serde_json::to_string(body).unwrap_or_else(|_| "{}".into());
    let mut response = (StatusCode::OK, text).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    headers.insert("x-amzn-RequestId", request_id());
    response
}

const OPERATIONS: &str = "PutRecord, PutRecords, DescribeStreamSummary, DescribeStream, ListShards, ListStreams, CreateStream";

async fn not_an_operation(body: Body) -> Response {
    linger(body);
    KinesisError::unknown_operation(format!("this is a Kinesis endpoint: send POST / with X-Amz-Target: {TARGET_PREFIX}<operation> ({OPERATIONS})"))
        .into_response()
}

/// The operations served.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Operation {
    PutRecord,
    PutRecords,
    DescribeStreamSummary,
    DescribeStream,
    ListShards,
    ListStreams,
    CreateStream,
}

fn operation(headers: &HeaderMap) -> Result<Operation, KinesisError> {
    let target = headers.get("x-amz-target").map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let Some(target) = target else {
        return Err(KinesisError::unknown_operation(format!("the request has no X-Amz-Target header: send {TARGET_PREFIX}<operation> ({OPERATIONS})")));
    };
    let name = target.strip_prefix(TARGET_PREFIX).ok_or_else(|| {
        KinesisError::unknown_operation(format!("X-Amz-Target {target:?} is not a Kinesis operation: send {TARGET_PREFIX}<operation> ({OPERATIONS})"))
    })?;
    Ok(match name {
        "PutRecord" => Operation::PutRecord,
        "PutRecords" => Operation::PutRecords,
        "DescribeStreamSummary" => Operation::DescribeStreamSummary,
        "DescribeStream" => Operation::DescribeStream,
        "ListShards" => Operation::ListShards,
        "ListStreams" => Operation::ListStreams,
        "CreateStream" => Operation::CreateStream,
        other => {
            return Err(KinesisError::unknown_operation(format!(
                "{other} is not served by pipeline up's Kinesis endpoint; it serves {OPERATIONS} (read the events from the query API)"
            )));
        }
    })
}

/// What the handlers of one request get: the state, the region its signature names, its body.
pub struct Call {
    /// The endpoint's shared state.
    pub state: KinesisState,
    /// The region of the request's signature (echoed in ARNs).
    pub region: String,
    /// The request body, read within the budget.
    pub body: ReadBody,
}

async fn dispatch(State(state): State<KinesisState>, headers: HeaderMap, body: Body) -> Response {
    let op = match operation(&headers) {
        Ok(op) => op,
        Err(e) => {
            linger(body);
            return e.into_response();
        }
    };
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if content_type.contains("cbor") {
        linger(body);
        return KinesisError::serialization(
            "CBOR is not supported: this endpoint speaks AWS JSON 1.1 (application/x-amz-json-1.1); turn CBOR off in the client (e.g. AWS_CBOR_DISABLE=true for the Java SDK and the KPL)",
        )
        .into_response();
    }
    let body = match body::read_body(&state.body_budget, state.body_timeout, MAX_BODY_BYTES, &headers, body).await {
        Ok(b) => b,
        Err(e) => return body_error(e).into_response(),
    };
    let call = Call { region: signed_region(&headers).unwrap_or_else(|| DEFAULT_REGION.to_owned()), state, body };
    let result = match op {
        Operation::PutRecord => put::put_record(call).await,
        Operation::PutRecords => put::put_records(call).await,
        Operation::DescribeStreamSummary => describe::describe_stream_summary(&call),
        Operation::DescribeStream => describe::describe_stream(&call),
        Operation::ListShards => describe::list_shards(&call),
        Operation::ListStreams => describe::list_streams(&call),
        Operation::CreateStream => describe::create_stream(&call),
    };
    result.unwrap_or_else(IntoResponse::into_response)
}

fn body_error(e: BodyError) -> KinesisError {
    match e {
        BodyError::TooLarge(limit) => KinesisError::invalid_argument(format!(
            "the request body is over {limit} bytes: a request holds at most 5 MiB of data and partition keys (500 records); send fewer records per request"
        )),
        BodyError::Timeout(_) => KinesisError::new(StatusCode::REQUEST_TIMEOUT, "RequestTimeoutException", e.to_string()),
        BodyError::Busy => KinesisError::new(StatusCode::SERVICE_UNAVAILABLE, "ServiceUnavailableException", e.to_string()),
        BodyError::UnsupportedEncoding(_) | BodyError::Unreadable(_) | BodyError::NotGzip(_) => KinesisError::serialization(e.to_string()),
    }
}

/// The region of the SigV4 credential scope (`Credential=KEY/DATE/REGION/kinesis/aws4_request`).
fn signed_region(headers: &HeaderMap) -> Option<String> {
    let auth = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let scope = auth.split("Credential=").nth(1)?.split([',', ' ']).next()?;
    let region = scope.split('/').nth(2)?;
    (!region.is_empty() && region.len() <= 32 && region.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')).then(|| region.to_owned())
}

/// The stream a request names, by `StreamName` or `StreamARN`.
#[derive(Debug, Default, Deserialize)]
pub struct StreamRef {
    /// `StreamName`, if given.
    #[serde(rename = "StreamName", default)]
    pub name: Option<String>,
    /// `StreamARN`, if given.
    #[serde(rename = "StreamARN", default)]
    pub arn: Option<String>,
}

impl KinesisState {
    /// `arn:aws:kinesis:<region>:<account>:stream/<name>`.
    pub fn arn(&self, region: &str) -> String {
        format!("arn:aws:kinesis:{region}:{ACCOUNT}:stream/{}", self.name)
    }

    /// Checks that `stream` names the stream served.
    pub fn check_stream(&self, stream: &StreamRef) -> Result<(), KinesisError> {
        let name = match (&stream.name, &stream.arn) {
            (Some(name), _) => name.as_str(),
            (None, Some(arn)) => arn.rsplit_once(":stream/").map(|(_, name)| name).ok_or_else(|| {
                KinesisError::invalid_argument(format!("StreamARN {arn:?} is not a stream ARN (arn:aws:kinesis:REGION:ACCOUNT:stream/NAME)"))
            })?,
            (None, None) => return Err(KinesisError::invalid_argument("Either StreamName or StreamARN should be provided.")),
        };
        if name.is_empty() || name.len() > 128 || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b)) {
            return Err(KinesisError::validation(format!(
                "Value '{name}' at 'streamName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+ (1 to 128 characters)"
            )));
        }
        if name != &*self.name {
            return Err(KinesisError::new(
                StatusCode::BAD_REQUEST,
                "ResourceNotFoundException",
                format!("Stream {name} under account {ACCOUNT} not found. (pipeline up serves one stream, {:?}: --stream-name)", self.name),
            ));
        }
        Ok(())
    }
}

/// Parses a request body as `T`, with Kinesis' error for a body that is not the operation's
/// input.
pub fn input<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> Result<T, KinesisError> {
    let bytes = if bytes.iter().all(u8::is_ascii_whitespace) { b"{}".as_slice() } else { bytes };
    serde_json::from_slice(bytes).map_err(|e| KinesisError::serialization(format!("the request body is not the operation's JSON input: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_region_comes_from_the_signature() {
        let mut h = HeaderMap::new();
        assert_eq!(signed_region(&h), None);
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("AWS4-HMAC-SHA256 Credential=test/20261201/eu-west-1/kinesis/aws4_request, SignedHeaders=host, Signature=abc"),
        );
        assert_eq!(signed_region(&h).as_deref(), Some("eu-west-1"));
    }

    #[test]
    fn targets_name_the_operation() {
        let mut h = HeaderMap::new();
        assert!(operation(&h).unwrap_err().message.contains("no X-Amz-Target"));
        h.insert("x-amz-target", HeaderValue::from_static("Kinesis_20131202.PutRecords"));
        assert_eq!(operation(&h).unwrap(), Operation::PutRecords);
        h.insert("x-amz-target", HeaderValue::from_static("DynamoDB_20120810.PutItem"));
        assert_eq!(operation(&h).unwrap_err().kind, "UnknownOperationException");
        h.insert("x-amz-target", HeaderValue::from_static("Kinesis_20131202.GetRecords"));
        let e = operation(&h).unwrap_err();
        assert!(e.message.contains("GetRecords is not served"), "{e:?}");
    }
}
