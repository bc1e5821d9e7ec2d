//! Reading a request body within bounds, shared by the ingest API and the Kinesis endpoint:
//! a size limit (checked against `Content-Length` first, then as bytes arrive; gzip bodies
//! after decompression too), a time limit, and one memory budget for the bodies of every
//! request at once. A body refused for its size is drained in the background ([`linger`]) so
//! the client gets the answer; the rest of it is never kept.

use std::io::Read;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderMap, header};
use http_body_util::BodyExt;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;


/// Bytes of request bodies (as received, and once decompressed) held in memory at once
/// across all requests, by default: thousands of clients each sending a 5 MiB body must
/// not exhaust memory. A request waits for room, within its body timeout.
pub const BODY_BUDGET_BYTES: usize = 1024 * 1024 * 1024;
/// How long a client may take to send a request body, by default.
pub const BODY_TIMEOUT: Duration = Duration::from_secs(30);
/// How much larger than its limit a gzip body may be as sent: gzip can make incompressible
/// data slightly larger.
pub const GZIP_SLACK_BYTES: usize = 64 * 1024;

/// The memory request bodies may hold at once, shared by every request: each byte read
/// (and each byte of a decompressed body) takes a permit until the request is answered.
#[derive(Clone, Debug)]
pub struct BodyBudget(Arc<Semaphore>);

impl BodyBudget {
    /// A budget of `bytes`.
    pub fn new(bytes: usize) -> Self {
        Self(Arc::new(Semaphore::new(bytes.min(Semaphore::MAX_PERMITS))))
    }

    /// Takes room for `bytes` more, waiting until `deadline` at most.
    pub async fn take(&self, bytes: usize, deadline: Instant) -> Result<OwnedSemaphorePermit, BodyError> {
        let n = u32::try_from(bytes).unwrap_or(u32::MAX);
        match tokio::time::timeout_at(deadline, Arc::clone(&self.0).acquire_many_owned(n)).await {
            Ok(Ok(permit)) => Ok(permit),
            _ => Err(BodyError::Busy),
        }
    }
}

/// Why a body was not read; each API answers it in its own error shape.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    /// A `Content-Encoding` other than gzip (or none).
    #[error("Content-Encoding {0:?} is not supported: send gzip or no encoding")]
    UnsupportedEncoding(String),
    /// Over the route's limit (after decompression).
    #[error("the body is over {0} bytes")]
    TooLarge(usize),
    /// The client took longer than the body timeout.
    #[error("the body did not arrive within {} s: send it at once", .0.as_secs())]
    Timeout(Duration),
    /// The connection failed while the body was read.
    #[error("cannot read the body: {0}")]
    Unreadable(String),
    /// `Content-Encoding: gzip` with a body that is not gzip.
    #[error("the body is not valid gzip: {0}")]
    NotGzip(String),
    /// The bodies in memory already take the whole [`BodyBudget`].
    #[error("the server holds too many request bodies: retry after a second")]
    Busy,
}

/// A request body in memory, with the budget it holds until the request is answered.
pub struct ReadBody {
    /// The body, decompressed.
    pub bytes: Vec<u8>,
    held: Vec<OwnedSemaphorePermit>,
}

impl ReadBody {
    /// A body already in memory, holding no budget (tests).
    #[cfg(test)]
    pub fn in_memory(bytes: Vec<u8>) -> Self {
        Self { bytes, held: Vec::new() }
    }

    /// Takes budget for `bytes` more that the request holds while it is handled (e.g. the
    /// records decoded from the body), until `deadline` at most.
    pub async fn hold(&mut self, budget: &BodyBudget, bytes: usize, deadline: Instant) -> Result<(), BodyError> {
        self.held.push(budget.take(bytes, deadline).await?);
        Ok(())
    }
}

/// Reads `body` within `max_bytes` (decompressed when `Content-Encoding: gzip`), `timeout`
/// and `budget`.
pub async fn read_body(budget: &BodyBudget, timeout: Duration, max_bytes: usize, headers: &HeaderMap, body: Body) -> Result<ReadBody, BodyError> {
    let encoding = headers.get(header::CONTENT_ENCODING).and_then(|v| v.to_str().ok()).unwrap_or("identity");
    let gzip = match encoding.trim().to_ascii_lowercase().as_str() {
        "identity" | "" => false,
        "gzip" => true,
        other => {
            linger(body);
            return Err(BodyError::UnsupportedEncoding(other.to_owned()));
        }
    };
    let limit = if gzip { max_bytes + GZIP_SLACK_BYTES } else { max_bytes };
    let declared = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        linger(body);
        return Err(BodyError::TooLarge(max_bytes));
    }
    let deadline = Instant::now() + timeout;
    let mut held = Vec::new();
    let mut raw = Vec::with_capacity(declared.map_or(0, |n| n as usize));
    let mut body = body;
    loop {
        let frame = match tokio::time::timeout_at(deadline, body.frame()).await {
            Err(_) => return Err(BodyError::Timeout(timeout)),
            Ok(None) => break,
            Ok(Some(Err(e))) => return Err(BodyError::Unreadable(e.to_string())),
            Ok(Some(Ok(frame))) => frame,
        };
        let Ok(chunk) = frame.into_data() else { continue };
        if raw.len() + chunk.len() > limit {
            linger(body);
            return Err(BodyError::TooLarge(max_bytes));
        }
        held.push(budget.take(chunk.len(), deadline).await?);
        raw.extend_from_slice(&chunk);
    }
    if !gzip {
        return Ok(ReadBody { bytes: raw, held });
    }
    let mut out = Vec::new();
    let mut decoder = flate2::read::MultiGzDecoder::new(&raw[..]).take(max_bytes as u64 + 1);
    decoder.read_to_end(&mut out).map_err(|e| BodyError::NotGzip(e.to_string()))?;
    if out.len() > max_bytes {
        return Err(BodyError::TooLarge(max_bytes));
    }
    held.push(budget.take(out.len(), deadline).await?);
    drop(raw);
    Ok(ReadBody { bytes: out, held })
}

/// Bytes of a refused request's body read and thrown away at most, so that a client that
/// sends its whole body before it reads the answer still gets the answer (closing at once
/// would reset the connection under it). Nothing is kept; past this the connection closes.
pub const LINGER_BYTES: usize = 32 * 1024 * 1024;
/// How long a refused request's body is read and thrown away at most.
pub const LINGER_TIME: Duration = Duration::from_secs(10);

/// Reads and discards what is left of a refused request's body, within [`LINGER_BYTES`]
/// and [`LINGER_TIME`], while the answer goes out (a "lingering close").
pub fn linger(body: Body) {
    let declared = http_body::Body::size_hint(&body).exact();
    if declared.is_some_and(|n| n > LINGER_BYTES as u64) {
        return;
    }
    tokio::spawn(async move {
        let mut body = body;
        let mut read = 0usize;
        let deadline = tokio::time::Instant::now() + LINGER_TIME;
        while read <= LINGER_BYTES {
            match tokio::time::timeout_at(deadline, body.frame()).await {
                Ok(Some(Ok(frame))) => read += frame.data_ref().map_or(0, |d| d.len()),
                _ => return,
            }
        }
    });
}
