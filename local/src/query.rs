//! The query API of local mode (DESIGN section 5): a user's events newest first and bad
//! rows, both with opaque cursors, and `/health`.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::AppState;
use crate::ingest::{authorised, message};

/// Items per page when `limit` is not given, and at most.
pub const DEFAULT_LIMIT: usize = 100;
pub const MAX_LIMIT: usize = 1_000;

#[derive(Deserialize)]
pub struct PageQuery {
    from: Option<String>,
    to: Option<String>,
    limit: Option<String>,
    cursor: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
}

fn bad_request(text: String) -> Response {
    message(StatusCode::BAD_REQUEST, text)
}

fn limit(q: &PageQuery) -> Result<usize, Response> {
    match &q.limit {
        None => Ok(DEFAULT_LIMIT),
        Some(text) => text
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| bad_request(format!("limit {text:?} must be a whole number from 1 to {MAX_LIMIT}"))),
    }
}

/// An RFC 3339 time as the stores' text form.
fn time(name: &str, text: &Option<String>) -> Result<Option<String>, Response> {
    match text {
        None => Ok(None),
        Some(t) => pipeline::time_format::parse_rfc3339(t)
            .map(|t| Some(pipeline::time_format::format_millis(t)))
            .ok_or_else(|| bad_request(format!("{name} {t:?} is not an RFC 3339 date-time, e.g. 2026-11-27T12:00:00Z"))),
    }
}

fn encode_cursor(parts: &[&str]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(parts).unwrap_or_default())
}

fn decode_cursor(text: &str, len: usize) -> Result<Vec<String>, Response> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text)
        .ok()
        .and_then(|bytes| serde_json::from_slice::<Vec<String>>(&bytes).ok())
        .filter(|parts| parts.len() == len)
        .ok_or_else(|| bad_request("cursor is not one this API returned: pass next_cursor unchanged".into()))
}

pub async fn user_events(State(state): State<AppState>, headers: HeaderMap, Path(user_id): Path<String>, Query(q): Query<PageQuery>) -> Response {
    if !authorised(&state, &headers) {
        return message(StatusCode::FORBIDDEN, "Forbidden");
    }
    let (limit, from, to) = match (limit(&q), time("from", &q.from), time("to", &q.to)) {
        (Ok(l), Ok(f), Ok(t)) => (l, f, t),
        (Err(r), _, _) | (_, Err(r), _) | (_, _, Err(r)) => return r,
    };
    let before = match &q.cursor {
        Some(c) => match decode_cursor(c, 1) {
            Ok(mut parts) => Some(parts.remove(0)),
            Err(r) => return r,
        },
        None => None,
    };
    let pk = format!("USER#{user_id}");
    let result = state.db(move |conn| {
        let mut stmt = conn.prepare_cached(
            "SELECT sk, payload FROM events WHERE pk = ?1 AND sk >= ?2 AND sk < ?3 AND sk < ?4 ORDER BY sk DESC LIMIT ?5",
        )?;
        let to_bound = to.map(|t| format!("{t}~")).unwrap_or_else(|| "~".into());
        let rows = stmt.query_map(
            rusqlite::params![pk, from.unwrap_or_default(), to_bound, before.unwrap_or_else(|| "~".into()), (limit + 1) as i64],
            |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)),
        )?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
    });
    match result.await {
        Ok(mut rows) => {
            let more = rows.len() > limit;
            rows.truncate(limit);
            let next = if more { rows.last().map(|(sk, _)| encode_cursor(&[sk])) } else { None };
            let events: Vec<Value> = rows.iter().filter_map(|(_, p)| serde_json::from_str(p).ok()).collect();
            axum::Json(json!({"events": events, "next_cursor": next})).into_response()
        }
        Err(e) => message(StatusCode::SERVICE_UNAVAILABLE, format!("the database is busy: {e}")),
    }
}

pub async fn bad_rows(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<PageQuery>) -> Response {
    if !authorised(&state, &headers) {
        return message(StatusCode::FORBIDDEN, "Forbidden");
    }
    let (limit, from, to) = match (limit(&q), time("from", &q.from), time("to", &q.to)) {
        (Ok(l), Ok(f), Ok(t)) => (l, f, t),
        (Err(r), _, _) | (_, Err(r), _) | (_, _, Err(r)) => return r,
    };
    if let Some(kind) = &q.kind {
        if !pipeline::BadRowType::ALL.iter().any(|k| k.as_str() == kind) {
            return bad_request(format!("type {kind:?} is not a bad-row type: one of malformed, size_violation, unknown_event_type, unknown_schema_version, schema_violation"));
        }
    }
    let after = match &q.cursor {
        Some(c) => match decode_cursor(c, 3) {
            Ok(parts) => parts,
            Err(r) => return r,
        },
        None => vec![String::new(), String::new(), String::new()],
    };
    let kind = q.kind.clone();
    // `failed_at` has second precision, so the range compares on that text form.
    let from = from.map(|f| f[..19].to_owned() + "Z").unwrap_or_default();
    let to = to.map(|t| t[..19].to_owned() + "Z~").unwrap_or_else(|| "~".into());
    let result = state.db(move |conn| {
        let mut stmt = conn.prepare_cached(
            "SELECT failed_at, shard_id, sequence_number, row FROM bad_rows
             WHERE (?1 IS NULL OR type = ?1) AND failed_at >= ?2 AND failed_at < ?3
               AND (failed_at, shard_id, sequence_number) > (?4, ?5, ?6)
             ORDER BY failed_at, shard_id, sequence_number LIMIT ?7",
        )?;
        let rows = stmt.query_map(
            rusqlite::params![kind, from, to, after[0], after[1], after[2], (limit + 1) as i64],
            |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, String>(3)?)),
        )?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
    });
    match result.await {
        Ok(mut rows) => {
            let more = rows.len() > limit;
            rows.truncate(limit);
            let next = if more { rows.last().map(|(a, b, c, _)| encode_cursor(&[a, b, c])) } else { None };
            let bad: Vec<Value> = rows.iter().filter_map(|(_, _, _, row)| serde_json::from_str(row).ok()).collect();
            axum::Json(json!({"bad_rows": bad, "next_cursor": next})).into_response()
        }
        Err(e) => message(StatusCode::SERVICE_UNAVAILABLE, format!("the database is busy: {e}")),
    }
}

pub async fn health(State(state): State<AppState>) -> Response {
    axum::Json(json!({"status": "ok", "lag": state.stream.counters.lag()})).into_response()
}
