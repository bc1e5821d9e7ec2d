//! The query API of local mode (DESIGN section 5): a user's events newest first, bad
//! rows (and marking them recovered), aggregates, and `/health`. Parameters, cursors and bodies are the shared ones of
//! [`pipeline::query`], as in the query Lambda.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use pipeline::BadRowType;
use pipeline::bad_row::BadRowId;
use pipeline::query::{AggregatesRequest, PageRequest, QueryError, aggregates_body, page_of, param};
use serde_json::{Value, json};

use crate::aggregates::read_rows;
use crate::http::{AppState, message};

type Params = Query<Vec<(String, String)>>;

/// A bad row with the columns its page cursor is made of.
struct BadRowCursorRow {
    failed_at: String,
    shard_id: String,
    sequence_number: String,
    sub_sequence_number: String,
    row: String,
    recovered_at: Option<String>,
}

fn bad_request(e: QueryError) -> Response {
    message(StatusCode::BAD_REQUEST, e.0)
}

fn busy(e: impl std::fmt::Display) -> Response {
    message(StatusCode::SERVICE_UNAVAILABLE, format!("the database is busy: {e}"))
}

pub async fn user_events(State(state): State<AppState>, Path(user_id): Path<String>, Query(q): Params) -> Response {
    let page = match PageRequest::parse(&q) {
        Ok(p) => p,
        Err(e) => return bad_request(e),
    };
    let before = match page.cursor_parts(1) {
        Ok(parts) => parts.map(|mut p| p.remove(0)),
        Err(e) => return bad_request(e),
    };
    let (limit, from, to_bound) = (page.limit, page.from_key(), page.to_key());
    let pk = match pipeline::query::user_partition_key(&user_id) {
        Ok(pk) => pk,
        Err(e) => return bad_request(e),
    };
    let result = state.db(move |conn| {
        let mut stmt = conn.prepare_cached(
            "SELECT sk, payload FROM events WHERE pk = ?1 AND sk >= ?2 AND sk < ?3 AND sk < ?4 ORDER BY sk DESC LIMIT ?5",
        )?;
        let rows = stmt.query_map(
            rusqlite::params![pk, from, to_bound, before.unwrap_or_else(|| "~".into()), (limit + 1) as i64],
            |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)),
        )?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
    });
    match result.await {
        Ok(rows) => {
            let (rows, next) = page_of(rows, limit, |(sk, _)| vec![sk]);
            let events: Vec<Value> = rows.iter().filter_map(|(_, p)| serde_json::from_str(p).ok()).collect();
            axum::Json(json!({"events": events, "next_cursor": next})).into_response()
        }
        Err(e) => busy(e),
    }
}

pub async fn bad_rows(State(state): State<AppState>, Query(q): Params) -> Response {
    let page = match PageRequest::parse(&q) {
        Ok(p) => p,
        Err(e) => return bad_request(e),
    };
    let kind = param(&q, "type").map(str::to_owned);
    if let Some(kind) = &kind {
        if !BadRowType::ALL.iter().any(|k| k.as_str() == kind) {
            let known: Vec<&str> = BadRowType::ALL.iter().map(|k| k.as_str()).collect();
            return bad_request(QueryError(format!("type {kind:?} is not a bad-row type: one of {}", known.join(", "))));
        }
    }
    let recovered = match param(&q, "recovered") {
        None => None,
        Some("true") => Some(true),
        Some("false") => Some(false),
        Some(other) => return bad_request(QueryError(format!("recovered {other:?} is not true or false"))),
    };
    let after = match page.cursor_parts(4) {
        Ok(parts) => parts.unwrap_or_else(|| vec![String::new(), String::new(), String::new(), "-1".into()]),
        Err(e) => return bad_request(e),
    };
    let newest_first = match param(&q, "order") {
        None | Some("oldest") => false,
        Some("newest") => true,
        Some(other) => return bad_request(QueryError(format!("order {other:?} is not oldest or newest"))),
    };
    let after = if page.cursor.is_none() && newest_first {
        // Before everything, from the end: `~` sorts after every time and shard id.
        vec!["~".into(), "~".into(), "~".into(), i64::MAX.to_string()]
    } else {
        after
    };
    let Ok(after_sub) = after[3].parse::<i64>() else {
        return bad_request(QueryError("cursor is not one this API returned: pass next_cursor unchanged".into()));
    };
    let limit = page.limit;
    // `failed_at` has second precision, so the range compares on that text form.
    let from = page.from.map(|f| pipeline::time_format::format_seconds(f)).unwrap_or_default();
    let to = page.to.map(|t| pipeline::time_format::format_seconds(t) + "~").unwrap_or_else(|| "~".into());
    let result = state.db(move |conn| {
        let mut stmt = conn.prepare_cached(if newest_first {
            "SELECT failed_at, shard_id, sequence_number, sub_sequence_number, row, recovered_at FROM bad_rows
             WHERE (?1 IS NULL OR type = ?1) AND failed_at >= ?2 AND failed_at < ?3
               AND (failed_at, shard_id, sequence_number, sub_sequence_number) < (?4, ?5, ?6, ?7)
               AND (?9 IS NULL OR (recovered_at IS NOT NULL) = ?9)
             ORDER BY failed_at DESC, shard_id DESC, sequence_number DESC, sub_sequence_number DESC LIMIT ?8"
        } else {
            "SELECT failed_at, shard_id, sequence_number, sub_sequence_number, row, recovered_at FROM bad_rows
             WHERE (?1 IS NULL OR type = ?1) AND failed_at >= ?2 AND failed_at < ?3
               AND (failed_at, shard_id, sequence_number, sub_sequence_number) > (?4, ?5, ?6, ?7)
               AND (?9 IS NULL OR (recovered_at IS NOT NULL) = ?9)
             ORDER BY failed_at, shard_id, sequence_number, sub_sequence_number LIMIT ?8"
        })?;
        let rows = stmt.query_map(
            rusqlite::params![kind, from, to, after[0], after[1], after[2], after_sub, (limit + 1) as i64, recovered],
            |r| {
                Ok(BadRowCursorRow {
                    failed_at: r.get(0)?,
                    shard_id: r.get(1)?,
                    sequence_number: r.get(2)?,
                    sub_sequence_number: r.get::<_, i64>(3)?.to_string(),
                    row: r.get(4)?,
                    recovered_at: r.get(5)?,
                })
            },
        )?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
    });
    match result.await {
        Ok(rows) => {
            let (rows, next) =
                page_of(rows, limit, |r| vec![&r.failed_at, &r.shard_id, &r.sequence_number, &r.sub_sequence_number]);
            let bad: Vec<Value> = rows
                .iter()
                .filter_map(|r| {
                    let mut row: Value = serde_json::from_str(&r.row).ok()?;
                    if let (Some(at), Some(fields)) = (&r.recovered_at, row.as_object_mut()) {
                        fields.insert("recovered_at".into(), Value::from(at.as_str()));
                    }
                    Some(row)
                })
                .collect();
            axum::Json(json!({"bad_rows": bad, "next_cursor": next})).into_response()
        }
        Err(e) => busy(e),
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
/// Answers `{"marked": <rows found>, "not_found": <ids that name no bad row>}`.
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
    if ids.len() > crate::store::MAX_MARKED_PER_REQUEST {
        return bad_request(QueryError(format!("{} bad rows in one request: at most {}", ids.len(), crate::store::MAX_MARKED_PER_REQUEST)));
    }
    let at = pipeline::time_format::format_millis(Utc::now());
    let total = ids.len();
    match state.db_write(move |conn| crate::store::mark_recovered(conn, &ids, &at)).await {
        Ok(found) => axum::Json(json!({"marked": found, "not_found": total - found})).into_response(),
        Err(e) => busy(e),
    }
}

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

pub async fn health(State(state): State<AppState>) -> Response {
    axum::Json(json!({"status": "ok", "lag": state.stream.counters.lag()})).into_response()
}
