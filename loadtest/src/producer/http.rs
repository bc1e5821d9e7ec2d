//! The pipeline's HTTP API as loadtest uses it: `POST /v1/events` (DESIGN section 4) and the
//! query API's GETs for `--verify` (section 5). One hyper client with a pool of keep-alive
//! connections (HTTP/1.1; https through rustls with the system's roots).

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{CONTENT_ENCODING, CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use hyper::{Method, Request, StatusCode, Uri};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use serde::Deserialize;
use serde::de::IgnoredAny;

use super::{Attempt, error_chain};
use crate::batches::Batch;

/// The API at `--target`.
pub struct Api {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    base: String,
    events: Uri,
    key: HeaderValue,
    timeout: Duration,
}

/// A response: status, the `Retry-After` header, body.
pub struct Answer {
    /// The HTTP status.
    pub status: StatusCode,
    /// The wait a `Retry-After` header asked for, if any.
    pub retry_after: Option<Duration>,
    /// The body, as received.
    pub body: Bytes,
}

impl Answer {
    /// The `message` of a JSON error body, else the start of the body.
    pub fn message(&self) -> String {
        #[derive(Deserialize)]
        struct Message {
            message: String,
        }
        match serde_json::from_slice::<Message>(&self.body) {
            Ok(m) => m.message,
            Err(_) => String::from_utf8_lossy(&self.body[..self.body.len().min(200)]).into_owned(),
        }
    }
}

#[derive(Deserialize)]
struct PutRecordsOutput {
    #[serde(rename = "FailedRecordCount", default)]
    failed: u64,
    #[serde(rename = "Records")]
    records: Vec<PutRecordsEntry>,
}

#[derive(Deserialize)]
struct PutRecordsEntry {
    #[serde(rename = "SequenceNumber", default)]
    sequence_number: Option<IgnoredAny>,
    #[serde(rename = "ErrorCode", default)]
    error_code: Option<IgnoredAny>,
}

/// Per-event results of a `200` answer to `POST /v1/events`: acknowledged (has a
/// `SequenceNumber` and no `ErrorCode`) or throttled.
pub fn parse_put_records(body: &[u8]) -> Result<Vec<bool>, String> {
    let out: PutRecordsOutput = serde_json::from_slice(body).map_err(|e| format!("the 200 response is not PutRecords JSON: {e}"))?;
    if out.failed == 0 {
        return Ok(out.records.iter().map(|r| r.sequence_number.is_some()).collect());
    }
    Ok(out.records.iter().map(|r| r.sequence_number.is_some() && r.error_code.is_none()).collect())
}

/// `Retry-After` in seconds (an HTTP date counts as one second).
fn retry_after(value: Option<&HeaderValue>) -> Option<Duration> {
    let text = value?.to_str().ok()?.trim();
    Some(text.parse::<f64>().ok().filter(|s| s.is_finite() && *s >= 0.0).map_or(Duration::from_secs(1), |s| Duration::from_secs_f64(s.min(60.0))))
}

impl Api {
    /// A client for `target` (`http://` or `https://` base URL) with up to `connections`
    /// kept-alive connections.
    pub fn new(target: &str, api_key: &str, connections: usize, timeout: Duration) -> anyhow::Result<Self> {
        let base = target.trim().trim_end_matches('/').to_owned();
        let uri: Uri = base.parse().with_context(|| format!("--target {target:?} is not a URL: write e.g. http://127.0.0.1:8080"))?;
        let https = match uri.scheme_str() {
            Some("http") => false,
            Some("https") => true,
            _ => bail!("--target {target:?} must start with http:// or https://, e.g. http://127.0.0.1:8080"),
        };
        if uri.host().is_none() {
            bail!("--target {target:?} has no host: write e.g. http://127.0.0.1:8080");
        }
        let events: Uri = format!("{base}/v1/events").parse().with_context(|| format!("--target {target:?} is not a URL"))?;
        let key = HeaderValue::from_str(api_key).context("--api-key holds characters a header cannot carry")?;

        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(timeout));
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = hyper_rustls::HttpsConnectorBuilder::new();
        let builder = if https {
            builder
                .with_provider_and_native_roots(provider)
                .context("no usable CA certificates on this machine for https: install the system's CA bundle (ca-certificates)")?
        } else {
            // Plain http: no certificates to load.
            let tls = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .context("TLS setup")?
                .with_root_certificates(rustls::RootCertStore::empty())
                .with_no_client_auth();
            builder.with_tls_config(tls)
        };
        let connector = builder.https_or_http().enable_http1().wrap_connector(http);
        let client = Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(connections)
            .build(connector);
        Ok(Self { client, base, events, key, timeout })
    }

    /// The target's base URL (`http://127.0.0.1:8080`).
    pub fn base(&self) -> &str {
        &self.base
    }

    async fn call(&self, method: Method, uri: Uri, body: Bytes, gzip: bool, timeout: Duration) -> Result<Answer, String> {
        let mut req = Request::builder().method(method).uri(uri).header("x-api-key", self.key.clone());
        if !body.is_empty() {
            req = req.header(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        }
        if gzip {
            req = req.header(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        }
        let req = req.body(Full::new(body)).map_err(|e| e.to_string())?;
        let exchange = async {
            let resp = self.client.request(req).await.map_err(|e| error_chain(&e))?;
            let status = resp.status();
            let retry_after = retry_after(resp.headers().get(RETRY_AFTER));
            let body = resp.into_body().collect().await.map_err(|e| error_chain(&e))?.to_bytes();
            Ok(Answer { status, retry_after, body })
        };
        match tokio::time::timeout(timeout, exchange).await {
            Ok(result) => result,
            Err(_) => Err(format!("no answer within {}", humantime::format_duration(timeout))),
        }
    }

    /// `POST /v1/events` with the pending events of `batch`.
    pub async fn post_events(&self, batch: &Batch, pending: &[u32]) -> Attempt {
        let body = batch.body_of(pending);
        match self.call(Method::POST, self.events.clone(), body, batch.gzip, self.timeout).await {
            Err(e) => Attempt::Retry(format!("POST {}: {e}", self.events)),
            Ok(a) => match a.status {
                StatusCode::OK => match parse_put_records(&a.body) {
                    Ok(results) => Attempt::Records(results),
                    Err(e) => Attempt::Retry(e),
                },
                StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE => Attempt::Throttled { retry_after: a.retry_after },
                StatusCode::FORBIDDEN => Attempt::Fatal(self.forbidden()),
                StatusCode::NOT_FOUND => Attempt::Fatal(self.not_found()),
                StatusCode::PAYLOAD_TOO_LARGE => Attempt::Refused(format!("413 from {}: {}: lower --batch-size", self.events, a.message())),
                s if s.is_client_error() => Attempt::Refused(format!("{s} from {}: {}", self.events, a.message())),
                s => Attempt::Retry(format!("{s} from {}: {}", self.events, a.message())),
            },
        }
    }

    fn forbidden(&self) -> String {
        format!(
            "{} refused the API key (403 Forbidden): pass the key `pipeline up` printed (stored in <data-dir>/api_key) with --api-key or PIPELINE_API_KEY",
            self.base
        )
    }

    fn not_found(&self) -> String {
        format!("{} has no /v1/events (404): --target must be the pipeline API's base URL, e.g. http://127.0.0.1:8080", self.base)
    }

    /// Checks before the run that the target answers and takes the key, with an empty batch
    /// (which the ingest API refuses with a 400 after checking the key; nothing is stored).
    pub async fn preflight(&self) -> anyhow::Result<()> {
        let answer = self
            .call(Method::POST, self.events.clone(), Bytes::from_static(b"[]"), false, self.timeout)
            .await
            .map_err(|e| anyhow::anyhow!("cannot reach {} ({e}): is the pipeline running (`pipeline up`) and is --target right?", self.base))?;
        match answer.status {
            StatusCode::FORBIDDEN => bail!(self.forbidden()),
            StatusCode::NOT_FOUND => bail!(self.not_found()),
            _ => Ok(()),
        }
    }

    /// `GET base + path_and_query` with the key (the query API).
    pub async fn get(&self, path_and_query: &str) -> anyhow::Result<Answer> {
        let uri: Uri = format!("{}{path_and_query}", self.base).parse().with_context(|| format!("bad query URL {path_and_query}"))?;
        self.call(Method::GET, uri, Bytes::new(), false, self.timeout.max(Duration::from_secs(60)))
            .await
            .map_err(|e| anyhow::anyhow!("GET {}{path_and_query}: {e}", self.base))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_records_answers_say_which_events_were_acknowledged() {
        let ok = br#"{"FailedRecordCount":0,"Records":[{"SequenceNumber":"1","ShardId":"shardId-000000000000"},{"SequenceNumber":"2","ShardId":"s"}]}"#;
        assert_eq!(parse_put_records(ok), Ok(vec![true, true]));
        let partial = br#"{"FailedRecordCount":1,"Records":[{"SequenceNumber":"1","ShardId":"s"},{"ErrorCode":"ProvisionedThroughputExceededException","ErrorMessage":"slow down"}]}"#;
        assert_eq!(parse_put_records(partial), Ok(vec![true, false]));
        assert!(parse_put_records(b"<html>").is_err());
    }

    #[test]
    fn retry_after_is_read_in_seconds() {
        assert_eq!(retry_after(Some(&HeaderValue::from_static("2"))), Some(Duration::from_secs(2)));
        assert_eq!(retry_after(Some(&HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"))), Some(Duration::from_secs(1)));
        assert_eq!(retry_after(None), None);
    }

    #[test]
    fn targets_must_be_http_urls() {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let _guard = rt.enter();
        assert!(Api::new("http://127.0.0.1:8080/", "k", 4, Duration::from_secs(1)).is_ok());
        let e = Api::new("127.0.0.1:8080", "k", 4, Duration::from_secs(1)).err().unwrap().to_string();
        assert!(e.contains("http://"), "{e}");
        let e = Api::new("ftp://x", "k", 4, Duration::from_secs(1)).err().unwrap().to_string();
        assert!(e.contains("must start with http://"), "{e}");
    }
}
