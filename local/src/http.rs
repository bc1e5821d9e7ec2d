//! What every HTTP route of local mode shares: the handlers' state, the two API keys and
//! the routes each one opens (DESIGN section 4), and the JSON error body.
//!
//! | routes | key |
//! |---|---|
//! | `GET /health`, `/metrics`, `/v1/stats`, `/`, `/openapi.yaml` | none |
//! | `POST /v1/events`, `POST /v1/event` | the ingest key ([`Role::Ingest`]) |
//! | every other `/v1` route | the read key ([`Role::Read`]) |
//!
//! The key is checked by a middleware before the handler runs, so an unauthenticated
//! upload is answered 403 without its body being read.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use pipeline::SchemaRegistry;
use serde_json::json;
use subtle::ConstantTimeEq;

use crate::aggregates::MergeStats;
use crate::consumer::ConsumerStats;
use crate::body::{BodyBudget, linger};
use crate::stats_history::StatsHistory;
use crate::store::Store;
use crate::stream::StreamWriter;

/// What the HTTP handlers share.
#[derive(Clone)]
pub struct AppState {
    /// The stream's writer: the ingest routes append through it.
    pub stream: StreamWriter,
    /// The events and bad-row store.
    pub store: Arc<Store>,
    /// The data directory's size by part, as last measured.
    pub disk: Arc<crate::disk::DiskUsage>,
    /// How long finished archive files are kept (`None`: for ever).
    pub archive_retention: Option<Duration>,
    /// The ingest and read keys.
    pub keys: ApiKeys,
    /// Shards of the stream (the shard rule of the ingest routes).
    pub shards: u32,
    /// Events the ingest API acknowledged since start.
    pub accepted: Arc<AtomicU64>,
    /// The consumers' counts, for `/health`, `/metrics` and `/v1/stats`.
    pub stats: Arc<ConsumerStats>,
    /// The aggregate merges' counts, for `/metrics` and `/v1/stats`.
    pub merges: Arc<MergeStats>,
    /// `pipeline.db`, which the query routes open for each request ([`AppState::db`]).
    pub db_path: Arc<Path>,
    /// The schemas in force: `GET /v1/aggregates` and `GET /v1/events` list their event types.
    pub registry: Arc<SchemaRegistry>,
    /// Bytes of request bodies held in memory at once, across all requests.
    pub body_budget: BodyBudget,
    /// How long a client may take to send a request body.
    pub body_timeout: Duration,
    /// Records acknowledged by the Kinesis endpoint (an aggregated record counts once).
    pub kinesis_accepted: Arc<AtomicU64>,
    /// The counts' history for `GET /v1/stats`.
    pub history: Arc<StatsHistory>,
    /// Turns of `GET /v1/events` (each reads every retained event's index entry): one at a
    /// time per pipeline ([`crate::query::TYPE_SCANS_AT_ONCE`]).
    pub type_scans: Arc<tokio::sync::Semaphore>,
    /// When the pipeline started (`uptime_seconds`).
    pub started: std::time::Instant,
}

impl AppState {
    /// Runs `f` on a fresh read connection to `pipeline.db`, off the async threads.
    pub async fn db<T: Send + 'static, E: Into<anyhow::Error>>(
        &self,
        f: impl FnOnce(&rusqlite::Connection) -> Result<T, E> + Send + 'static,
    ) -> anyhow::Result<T> {
        let path = self.db_path.to_path_buf();
        tokio::task::spawn_blocking(move || {
            let conn = rusqlite::Connection::open_with_flags(
                &path,
                rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY
                    | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )?;
            conn.busy_timeout(Duration::from_secs(5))?;
            f(&conn).map_err(Into::into)
        })
        .await?
    }
}

impl AppState {
    /// Runs `f` on a fresh read-write connection to `pipeline.db`, off the async threads
    /// (for the few writes of the query API: SQLite serialises them with the consumers').
    pub async fn db_write<T: Send + 'static, E: Into<anyhow::Error>>(
        &self,
        f: impl FnOnce(&mut rusqlite::Connection) -> Result<T, E> + Send + 'static,
    ) -> anyhow::Result<T> {
        let path = self.db_path.to_path_buf();
        tokio::task::spawn_blocking(move || {
            let mut conn = crate::sqlite::open(&path, false)?;
            f(&mut conn).map_err(Into::into)
        })
        .await?
    }
}

/// The two keys: producers hold the ingest key (it ships inside apps and trackers), the
/// operator holds the read key. Neither opens the other's routes.
#[derive(Clone)]
pub struct ApiKeys {
    /// The key of the POST routes.
    pub ingest: Arc<str>,
    /// The key of the query routes.
    pub read: Arc<str>,
}

/// Which key a route wants.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// The POST routes: the producers' key.
    Ingest,
    /// The query routes: the operator's key.
    Read,
}

impl ApiKeys {
    /// Whether `given` is the key of `role`, compared in constant time.
    pub fn admits(&self, role: Role, given: Option<&[u8]>) -> bool {
        let key = match role {
            Role::Ingest => &self.ingest,
            Role::Read => &self.read,
        };
        given.is_some_and(|given| bool::from(given.ct_eq(key.as_bytes())))
    }
}

/// `{"message": text}` with `status`: the error body of every route.
pub fn message(status: StatusCode, text: impl Into<String>) -> Response {
    (status, axum::Json(json!({"message": text.into()}))).into_response()
}

/// Bytes of a non-JSON error body (an extractor's refusal) carried into its JSON message.
const MAX_REWRAPPED_ERROR: usize = 4096;

/// Middleware: every error answer is `{"message": ...}`, also the plain-text refusals of
/// axum's extractors (a query string or path that does not decode).
pub async fn json_errors(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, MAX_REWRAPPED_ERROR).await.unwrap_or_default();
    let text = String::from_utf8_lossy(&text);
    let text = if text.trim().is_empty() { parts.status.canonical_reason().unwrap_or("error").to_owned() } else { text.trim().to_owned() };
    let mut json = message(parts.status, text);
    for (name, value) in &parts.headers {
        if name != axum::http::header::CONTENT_TYPE && name != axum::http::header::CONTENT_LENGTH {
            json.headers_mut().insert(name.clone(), value.clone());
        }
    }
    json
}

/// `404 {"message": ...}` for a path no route has.
pub async fn not_found(request: Request) -> Response {
    message(StatusCode::NOT_FOUND, format!("no route {} {}: see GET /openapi.yaml", request.method(), request.uri().path()))
}

/// `405 {"message": ...}` for a route asked with a method it does not take.
pub async fn method_not_allowed(request: Request) -> Response {
    message(StatusCode::METHOD_NOT_ALLOWED, format!("{} {} is not allowed: see GET /openapi.yaml", request.method(), request.uri().path()))
}

/// `403 {"message": "Forbidden"}`, as API Gateway answers a missing or wrong key.
pub fn forbidden() -> Response {
    message(StatusCode::FORBIDDEN, "Forbidden")
}

/// Middleware: lets the request through only with the ingest key in `x-api-key`.
pub async fn require_ingest_key(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    require(&state, Role::Ingest, request, next).await
}

/// Middleware: lets the request through only with the read key in `x-api-key`.
pub async fn require_read_key(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    require(&state, Role::Read, request, next).await
}

async fn require(state: &AppState, role: Role, request: Request, next: Next) -> Response {
    let given = request.headers().get("x-api-key").map(|v| v.as_bytes());
    if state.keys.admits(role, given) {
        return next.run(request).await;
    }
    linger(request.into_body());
    forbidden()
}

/// The key from the flag or environment, else the one stored in `data_dir/<file>`, else a
/// new one, stored readable by its owner only. The second value says whether it was just
/// made.
pub fn stored_key(
    data_dir: &Path,
    file: &str,
    given: Option<String>,
) -> anyhow::Result<(String, bool)> {
    use anyhow::Context;
    if let Some(key) = given.filter(|k| !k.is_empty()) {
        return Ok((key, false));
    }
    let path = data_dir.join(file);
    match std::fs::read_to_string(&path) {
        Ok(key) if !key.trim().is_empty() => {
            restrict_to_owner(&path)
                .with_context(|| format!("cannot make {} private", path.display()))?;
            Ok((key.trim().to_owned(), false))
        }
        _ => {
            let key = uuid::Uuid::new_v4().simple().to_string();
            write_private(&path, key.as_bytes())
                .with_context(|| format!("cannot store the key in {}", path.display()))?;
            Ok((key, true))
        }
    }
}

/// Writes `bytes` to a new file `path` that only its owner can read (0600 on Unix).
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    restrict_to_owner(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Takes group and other permissions off `path` (a key file written by an older version,
/// or by hand).
fn restrict_to_owner(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)?.permissions().mode();
        if mode & 0o077 != 0 {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode & 0o700))?;
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_key_opens_only_its_routes() {
        let keys = ApiKeys {
            ingest: "in".into(),
            read: "out".into(),
        };
        assert!(keys.admits(Role::Ingest, Some(b"in")));
        assert!(keys.admits(Role::Read, Some(b"out")));
        assert!(!keys.admits(Role::Ingest, Some(b"out")));
        assert!(!keys.admits(Role::Read, Some(b"in")));
        assert!(!keys.admits(Role::Read, None));
        assert!(!keys.admits(Role::Ingest, Some(b"")));
    }

    #[cfg(unix)]
    #[test]
    fn a_made_key_is_private_and_kept() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let (key, new) = stored_key(dir.path(), "api_key", None).unwrap();
        assert!(new);
        let mode = std::fs::metadata(dir.path().join("api_key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(
            stored_key(dir.path(), "api_key", None).unwrap(),
            (key, false)
        );
        // A key file left readable by others is made private at the next start.
        std::fs::set_permissions(
            dir.path().join("api_key"),
            std::fs::Permissions::from_mode(0o644),
        )
        .unwrap();
        stored_key(dir.path(), "api_key", None).unwrap();
        let mode = std::fs::metadata(dir.path().join("api_key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
