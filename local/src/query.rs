//! The query API of local mode (DESIGN section 5): a user's events newest first, one
//! event type's events newest first, bad
//! rows (and marking them recovered), aggregates, and `/health`. Parameters, cursors and
//! bodies are the shared ones of [`pipeline::query`], as in the query Lambda; stored
//! items are spliced into the answer as the JSON they are stored as.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use pipeline::BadRowType;
use pipeline::bad_row::BadRowId;
use pipeline::query::{AggregatesRequest, PageRequest, QueryError, TypeEventsRequest, aggregates_body, encode_cursor, page_of, param};
use pipeline::time_format::format_seconds;
use serde_json::{Value, json};

use crate::aggregates::read_rows;
use crate::http::{AppState, message};
use crate::store::read::{BadRowsQuery, EventsQuery, TypeEventsQuery, bad_row_id};
use crate::store::{Key, OwnedKey, StoreError};

type Params = Query<Vec<(String, String)>>;

/// Items of one keys-only page (`fields=event_id`) at most: `loadtest --verify` reads
/// every event id of a user in a few requests instead of thousands.
pub const MAX_ID_PAGE: usize = 100_000;
/// Bad rows one `POST /v1/bad-rows/recovered` may mark.
pub const MAX_MARKS_PER_REQUEST: usize = 10_000;

fn bad_request(e: QueryError) -> Response {
    message(StatusCode::BAD_REQUEST, e.0)
}

fn busy(e: impl std::fmt::Display) -> Response {
    message(StatusCode::SERVICE_UNAVAILABLE, format!("the store cannot answer now: {e}"))
}

/// A JSON body made of stored items spliced in as they are (they are JSON already).
fn items_body(field: &str, items: &[Vec<u8>], next: Option<String>) -> Response {
    let mut body = Vec::with_capacity(items.iter().map(|i| i.len() + 1).sum::<usize>() + 64);
    body.extend_from_slice(format!("{{\"{field}\":[").as_bytes());
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            body.push(b',');
        }
        body.extend_from_slice(item);
    }
    body.extend_from_slice(b"],\"next_cursor\":");
    body.extend_from_slice(serde_json::to_string(&next).unwrap_or_else(|_| "null".into()).as_bytes());
    body.push(b'}');
    ([(axum::http::header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// `fields=event_id`: only each event's id, with pages of up to [`MAX_ID_PAGE`].
fn ids_only(q: &[(String, String)]) -> Result<Option<usize>, QueryError> {
    match param(q, "fields") {
        None => Ok(None),
        Some("event_id") => match param(q, "limit") {
            None => Ok(Some(MAX_ID_PAGE)),
            Some(text) => text
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=MAX_ID_PAGE).contains(n))
                .map(Some)
                .ok_or_else(|| QueryError(format!("limit {text:?} must be a whole number from 1 to {MAX_ID_PAGE} with fields=event_id"))),
        },
        Some(other) => Err(QueryError(format!("fields {other:?} is not supported: leave it out for whole events, or fields=event_id for their ids"))),
    }
}

/// `GET /v1/users/{user_id}/events?from=&to=&limit=&cursor=`: one user's events, newest first.
pub async fn user_events(State(state): State<AppState>, Path(user_id): Path<String>, Query(mut q): Params) -> Response {
    let ids = match ids_only(&q) {
        Ok(ids) => ids,
        Err(e) => return bad_request(e),
    };
    if ids.is_some() {
        q.retain(|(k, _)| k != "limit");
    }
    let page = match PageRequest::parse(&q) {
        Ok(p) => p,
        Err(e) => return bad_request(e),
    };
    let before = match page.cursor_parts(1) {
        Ok(parts) => parts.map(|mut p| p.remove(0)),
        Err(e) => return bad_request(e),
    };
    let limit = ids.unwrap_or(page.limit);
    let (from, mut to) = (page.from_key(), page.to_key());
    if let Some(before) = before.filter(|b| *b < to) {
        to = before;
    }
    let pk = match pipeline::query::user_partition_key(&user_id) {
        Ok(pk) => pk,
        Err(e) => return bad_request(e),
    };
    let store = Arc::clone(&state.store);
    let read = tokio::task::spawn_blocking(move || {
        let query = EventsQuery { pk: &pk, from: &from, to: &to, limit: limit + 1 };
        let found = store.user_events(&query, Utc::now().timestamp())?;
        let (mut found, next) = page_of(found, limit, |f| vec![std::str::from_utf8(f.sk()).unwrap_or_default()]);
        let items = match ids {
            Some(_) => found.iter().map(|f| id_item(f.sk())).collect(),
            None => store.load(&mut found)?,
        };
        Ok::<_, StoreError>((items, next))
    });
    match read.await {
        Ok(Ok((items, next))) => items_body("events", &items, next),
        Ok(Err(e)) => busy(e),
        Err(e) => busy(e),
    }
}

/// `GET /v1/events?event_type=`: one type's events newest first, a page at a time (as the
/// query Lambda's, over the store instead of the per-type index; see
/// [`crate::store::Store::type_events`] for what it costs).
pub async fn type_events(State(state): State<AppState>, Query(q): Params) -> Response {
    let request = match TypeEventsRequest::parse(&q, &state.registry.event_types()) {
        Ok(r) => r,
        Err(e) => return bad_request(e),
    };
    // Each of these reads every retained event's index entry: one at a time, so that they
    // take at most one core from the consumers.
    let Ok(Ok(turn)) = tokio::time::timeout(TYPE_SCAN_WAIT, Arc::clone(&state.type_scans).acquire_owned()).await else {
        return busy(format!("another GET /v1/events has been reading for over {} s; retry later", TYPE_SCAN_WAIT.as_secs()));
    };
    let store = Arc::clone(&state.store);
    let read = tokio::task::spawn_blocking(move || {
        let _turn = turn;
        let (from, to) = (request.page.from_key(), request.page.to_key());
        let before = request.after.as_ref().map(|(sk, pk)| (sk.as_str(), pk.as_str()));
        let limit = request.page.limit;
        let query = TypeEventsQuery { event_type: &request.event_type, from: &from, to: &to, before, limit: limit + 1 };
        let mut found = store.type_events(&query, Utc::now().timestamp())?;
        let more = found.len() > limit;
        found.truncate(limit);
        let next = found.last().filter(|_| more).map(|last| {
            let [pk, sk, _] = last.entry.key.key().parts;
            request.cursor_after(&String::from_utf8_lossy(sk), &String::from_utf8_lossy(pk))
        });
        Ok::<_, StoreError>((store.load(&mut found)?, next))
    });
    match read.await {
        Ok(Ok((items, next))) => items_body("events", &items, next),
        Ok(Err(e)) => busy(e),
        Err(e) => busy(e),
    }
}

/// `GET /v1/events` reads at a time, and how long one waits for its turn before a 503.
pub const TYPE_SCANS_AT_ONCE: usize = 1;
const TYPE_SCAN_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// `{"event_id": "<id>"}` of a sort key `<time>#<id>`.
fn id_item(sk: &[u8]) -> Vec<u8> {
    let id = sk.iter().position(|&b| b == b'#').map_or(sk, |at| &sk[at + 1..]);
    serde_json::to_vec(&json!({"event_id": String::from_utf8_lossy(id)})).unwrap_or_default()
}

/// The bad-row query of a request, or the 400 to answer.
fn bad_rows_query(q: &[(String, String)]) -> Result<(BadRowsQuery, usize), QueryError> {
    let page = PageRequest::parse(q)?;
    let kind = param(q, "type").map(str::to_owned);
    if let Some(kind) = &kind {
        if !BadRowType::ALL.iter().any(|k| k.as_str() == kind) {
            let known: Vec<&str> = BadRowType::ALL.iter().map(|k| k.as_str()).collect();
            return Err(QueryError(format!("type {kind:?} is not a bad-row type: one of {}", known.join(", "))));
        }
    }
    let recovered = match param(q, "recovered") {
        None => None,
        Some("true") => Some(true),
        Some("false") => Some(false),
        Some(other) => return Err(QueryError(format!("recovered {other:?} is not true or false"))),
    };
    let newest_first = match param(q, "order") {
        None | Some("oldest") => false,
        Some("newest") => true,
        Some(other) => return Err(QueryError(format!("order {other:?} is not oldest or newest"))),
    };
    let after = match page.cursor_parts(4)? {
        None => None,
        Some(parts) => {
            let sub = parts[3].parse::<u32>().map_err(|_| QueryError("cursor is not one this API returned: pass next_cursor unchanged".into()))?;
            Some(OwnedKey::new(Key { parts: [parts[0].as_bytes(), parts[1].as_bytes(), parts[2].as_bytes()], sub }))
        }
    };
    // `failed_at` has second precision, so the range compares on that text form.
    let from = page.from.map(format_seconds).unwrap_or_default();
    let to = page.to.map(|t| format_seconds(t) + "~").unwrap_or_else(|| "~".into());
    Ok((BadRowsQuery { kind, from, to, after, recovered, newest_first, limit: page.limit + 1 }, page.limit))
}

/// `GET /v1/bad-rows?type=&from=&to=&limit=&cursor=&recovered=&order=`: the bad rows, oldest first unless `order=newest`.
pub async fn bad_rows(State(state): State<AppState>, Query(q): Params) -> Response {
    let (query, limit) = match bad_rows_query(&q) {
        Ok(q) => q,
        Err(e) => return bad_request(e),
    };
    let store = Arc::clone(&state.store);
    let read = tokio::task::spawn_blocking(move || {
        let mut found = store.bad_rows(&query, Utc::now().timestamp())?;
        let more = found.len() > limit;
        found.truncate(limit);
        let next = more.then(|| found.last()).flatten().map(|f| {
            let k = f.entry.key.key();
            let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
            encode_cursor(&[&text(k.parts[0]), &text(k.parts[1]), &text(k.parts[2]), &k.sub.to_string()])
        });
        let mut items = store.load(&mut found)?;
        for (item, f) in items.iter_mut().zip(&found) {
            if let Some(at) = store.recovered_at(&bad_row_id(&f.entry.key.key())) {
                with_recovered_at(item, &at);
            }
        }
        Ok::<_, StoreError>((items, next))
    });
    match read.await {
        Ok(Ok((items, next))) => items_body("bad_rows", &items, next),
        Ok(Err(e)) => busy(e),
        Err(e) => busy(e),
    }
}

/// Adds `"recovered_at"` to a stored bad row's JSON object.
fn with_recovered_at(row: &mut Vec<u8>, at: &str) {
    if row.last() == Some(&b'}') {
        row.pop();
        row.extend_from_slice(format!(",\"recovered_at\":{}}}", serde_json::to_string(at).unwrap_or_default()).as_bytes());
    }
}

/// The body of `POST /v1/bad-rows/recovered`.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MarkRecovered {
    bad_rows: Vec<MarkedId>,
}

/// A bad row's id as sent: the sub-sequence number may be any JSON integer, `3.0` included,
/// and may be left out (0); `null` is refused.
#[derive(serde::Deserialize)]
struct MarkedId {
    shard_id: String,
    sequence_number: String,
    #[serde(default = "no_sub_sequence_number")]
    sub_sequence_number: Value,
}

fn no_sub_sequence_number() -> Value {
    Value::from(0)
}

impl MarkedId {
    fn id(self) -> Option<BadRowId> {
        let Value::Number(n) = self.sub_sequence_number else { return None };
        let sub = match (n.as_u64(), n.as_f64()) {
            (Some(n), _) => u32::try_from(n).ok()?,
            (None, Some(f)) if f.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(&f) => f as u32,
            _ => return None,
        };
        Some(BadRowId { shard_id: self.shard_id, sequence_number: self.sequence_number, sub_sequence_number: sub })
    }
}

/// Bytes of a `POST /v1/bad-rows/recovered` body at most (room for the most ids allowed).
pub const MARK_BODY_BYTES: usize = 5 * 1024 * 1024;

/// `POST /v1/bad-rows/recovered`: marks bad rows recovered (`pipeline recover` calls it
/// once their events are acknowledged). Idempotent: a row marked again keeps its first time.
/// Answers `{"marked": <ids that name a bad row>, "not_found": <ids that name none>}`.
pub async fn mark_recovered(State(state): State<AppState>, request: axum::extract::Request) -> Response {
    let read = tokio::time::timeout(state.body_timeout, axum::body::to_bytes(request.into_body(), MARK_BODY_BYTES));
    let body = match read.await {
        Err(_) => return message(StatusCode::REQUEST_TIMEOUT, "the request body did not arrive in time"),
        Ok(Err(_)) => return message(StatusCode::PAYLOAD_TOO_LARGE, format!("the body is over {MARK_BODY_BYTES} bytes: send fewer bad rows at once")),
        Ok(Ok(body)) => body,
    };
    let ids = match serde_json::from_slice::<MarkRecovered>(&body) {
        Ok(m) => match m.bad_rows.into_iter().map(MarkedId::id).collect::<Option<Vec<_>>>() {
            Some(ids) => ids,
            None => return bad_request(QueryError("a sub_sequence_number of bad_rows is not a whole number from 0 to 4294967295".into())),
        },
        Err(e) => {
            return bad_request(QueryError(format!(
                "the body must be {{\"bad_rows\": [{{\"shard_id\": ..., \"sequence_number\": ..., \"sub_sequence_number\": ...}}]}}: {e}"
            )));
        }
    };
    if ids.len() > MAX_MARKS_PER_REQUEST {
        return bad_request(QueryError(format!("{} bad rows in one request: at most {MAX_MARKS_PER_REQUEST}", ids.len())));
    }
    let store = Arc::clone(&state.store);
    let at = pipeline::time_format::format_millis(Utc::now());
    match state.db_write(move |conn| store.mark_recovered(conn, &ids, &at)).await {
        Ok(report) => axum::Json(report).into_response(),
        Err(e) => busy(e),
    }
}

/// `GET /v1/aggregates?event_type=&granularity=&from=&to=&by=`: merged rows per window.
pub async fn aggregates(State(state): State<AppState>, Query(q): Params) -> Response {
    let request = match AggregatesRequest::parse(&q, Utc::now()) {
        Ok(r) => r,
        Err(e) => return bad_request(e),
    };
    let types: Vec<String> = match &request.event_type {
        Some(t) => vec![t.clone()],
        None => state.registry.event_types().into_iter().map(str::to_owned).collect(),
    };
    let result = state
        .db(move |conn| {
            let mut rows = Vec::new();
            for t in &types {
                rows.extend(read_rows(conn, request.granularity, &request.series(t), request.from, request.until)?);
            }
            Ok::<_, anyhow::Error>(rows)
        })
        .await;
    match result {
        Ok(mut rows) => axum::Json(aggregates_body(&mut rows)).into_response(),
        Err(e) => busy(e),
    }
}

/// `GET /health` (no key): `{"status": "ok", "lag": N}`, N the records accepted and not yet processed.
pub async fn health(State(state): State<AppState>) -> Response {
    axum::Json(json!({"status": "ok", "lag": state.stream.counters.lag()})).into_response()
}
