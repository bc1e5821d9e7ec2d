//! What recovery does to one bad row ([`Fix::apply`]): the JSON Patch, then the identity the
//! event would have had (its `event_id`, or the one derived from its record; its
//! `timestamp`, or its arrival), then the processor's own checks against the schemas in
//! force. The verdict is a ready event, a row that still fails, or a row the patch is not for.

use std::path::Path;

use chrono::{DateTime, Utc};
use json_patch::{Patch, PatchErrorKind, PatchOperation};
use pipeline::bad_row::BadRowId;
use pipeline::enrich::derived_event_id;
use pipeline::time_format::parse_rfc3339;
use pipeline::{BadRow, BadRowType, BatchClock, CoreConfig, Outcome, Record, Violation, process_record};
use serde_json::Value;

/// A patch file that cannot be used; the message names the file and what to change.
#[derive(Debug, thiserror::Error)]
pub enum PatchFileError {
    /// The file could not be read.
    #[error("cannot read the patch file {path}: {source}")]
    Read {
        /// The file, as given.
        path: String,
        /// The read's error.
        source: std::io::Error,
    },
    #[error(
        "the patch file {path} is not an RFC 6902 JSON Patch ({reason}): it must be a JSON array of operations such as \
         [{{\"op\": \"test\", \"path\": \"/currency\", \"value\": \"usd\"}}, {{\"op\": \"replace\", \"path\": \"/currency\", \"value\": \"USD\"}}]"
    )]
    /// The file is not a JSON Patch.
    Invalid {
        /// The file, as given.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// Reads and checks an RFC 6902 patch file.
pub fn load_patch(path: &Path) -> Result<Patch, PatchFileError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| PatchFileError::Read { path: shown.clone(), source })?;
    let value: Value = serde_json::from_str(&text).map_err(|e| PatchFileError::Invalid { path: shown.clone(), reason: format!("not JSON: {e}") })?;
    let Value::Array(operations) = &value else {
        return Err(PatchFileError::Invalid { path: shown, reason: "not an array".into() });
    };
    if operations.is_empty() {
        return Err(PatchFileError::Invalid { path: shown, reason: "it has no operations".into() });
    }
    // One operation at a time, so that the message says which one is wrong.
    for (i, op) in operations.iter().enumerate() {
        serde_json::from_value::<json_patch::PatchOperation>(op.clone())
            .map_err(|e| PatchFileError::Invalid { path: shown.clone(), reason: format!("operation {i}: {e}") })?;
    }
    serde_json::from_value(value).map_err(|e| PatchFileError::Invalid { path: shown, reason: e.to_string() })
}

/// An event ready to go back into the pipeline, with the bad row it comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecoveredEvent {
    /// The bad row the event comes from, to mark once the event is acknowledged.
    pub row: BadRowId,
    /// The bad row's type, for the counts.
    pub kind: BadRowType,
    /// The event's bytes, with its `event_id` and `timestamp` written in where it had none.
    pub data: Vec<u8>,
    /// The original record's partition key (else the user id), for Kinesis.
    pub partition_key: String,
    /// The event's `event_id`: its own, or the one derived from its record.
    pub event_id: String,
    /// The events store's key the event will have (`USER#<user_id>`, `<time>#<event_id>`),
    /// the same however often it is recovered.
    pub store_key: (String, String),
}

/// What recovery makes of one bad row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The event passes the checks now: it goes back.
    Fixed(RecoveredEvent),
    /// Still refused: the type and errors the pipeline would give it now.
    StillFailing {
        /// The bad-row type it would have now.
        kind: BadRowType,
        /// Why it is refused.
        errors: Vec<Violation>,
    },
    /// A `test` operation of the patch failed: the fix is not for this row.
    NotMatching,
}

/// The fixes of a run: an optional patch, then the processor's checks with `core`
/// (schemas and enrichments).
pub struct Fix {
    core: CoreConfig,
    patch: Option<Patch>,
}

impl Fix {
    /// The fixes of `patch` (if any), checked with `core`.
    pub fn new(core: CoreConfig, patch: Option<Patch>) -> Self {
        Self { core, patch }
    }

    /// The verdict on `row`; `now` stands in for a missing arrival time in the checks only.
    pub fn apply(&self, row: &BadRow, now: DateTime<Utc>) -> Verdict {
        let Some(original) = row.payload_bytes() else {
            return still(row.kind, "", "payload", "the bad row has no payload to recover");
        };
        let parsed = serde_json::from_slice::<Value>(&original).ok();
        let (mut data, object) = match (&self.patch, parsed) {
            (None, parsed) => (original, parsed),
            (Some(_), None) => return still(row.kind, "", "json", "the payload is not JSON, so a JSON Patch cannot apply to it"),
            (Some(patch), Some(mut value)) => match json_patch::patch(&mut value, patch) {
                Ok(()) => (serde_json::to_vec(&value).unwrap_or_default(), Some(value)),
                // A `test` that fails, or whose path the row does not have: not this row's fix.
                Err(e) if matches!(e.kind, PatchErrorKind::TestFailed) || matches!(patch.0.get(e.operation), Some(PatchOperation::Test(_))) => {
                    return Verdict::NotMatching;
                }
                Err(e) => return still(row.kind, &e.path.to_string(), "patch", &format!("the patch does not apply: {e}")),
            },
        };
        if let Some(Value::Object(fields)) = &object {
            let mut added = Vec::new();
            if !fields.contains_key("event_id") {
                let id = derived_event_id(&row.shard_id, &row.sequence_number, row.sub_sequence_number);
                added.push(("event_id", id.hyphenated().to_string()));
            }
            if !fields.contains_key("timestamp") {
                if parse_rfc3339(&row.ingested_at).is_none() {
                    return still(
                        row.kind,
                        "/timestamp",
                        "ingested_at",
                        "the event has no timestamp and the bad row no ingested_at (it predates that field): add a timestamp \
                         with --patch, so the event keeps one store key however often it is recovered",
                    );
                }
                added.push(("timestamp", row.ingested_at.clone()));
            }
            data = with_fields(&data, fields.is_empty(), &added);
        }
        self.check(row, data, now)
    }

    /// The processor's verdict on `data` as the record `row` came from.
    fn check(&self, row: &BadRow, data: Vec<u8>, now: DateTime<Utc>) -> Verdict {
        let record = Record {
            data,
            partition_key: row.partition_key.clone(),
            sequence_number: row.sequence_number.clone(),
            sub_sequence_number: row.sub_sequence_number,
            shard_id: row.shard_id.clone(),
            arrival: parse_rfc3339(&row.ingested_at).unwrap_or(now),
        };
        match process_record(&self.core, &record, &BatchClock::new(now)) {
            Outcome::Bad(bad) => Verdict::StillFailing { kind: bad.kind, errors: bad.errors },
            Outcome::Event(event) => {
                let partition_key = match row.partition_key.len() {
                    1..=256 => row.partition_key.clone(),
                    _ => event.user_id.clone(),
                };
                Verdict::Fixed(RecoveredEvent {
                    row: row.id(),
                    kind: row.kind,
                    partition_key,
                    event_id: event.event_id.clone(),
                    store_key: (event.partition_key(), event.sort_key.clone()),
                    data: record.data,
                })
            }
        }
    }
}

fn still(kind: BadRowType, path: &str, keyword: &str, message: &str) -> Verdict {
    Verdict::StillFailing { kind, errors: vec![Violation::new(path, keyword, message)] }
}

/// `data` (a JSON object) with `fields` written in before its closing brace, keeping the
/// producer's bytes as they are.
fn with_fields(data: &[u8], empty: bool, fields: &[(&str, String)]) -> Vec<u8> {
    if fields.is_empty() {
        return data.to_vec();
    }
    let Some(close) = data.iter().rposition(|&b| b == b'}') else { return data.to_vec() };
    let mut out = Vec::with_capacity(data.len() + 96);
    out.extend_from_slice(&data[..close]);
    for (i, (name, value)) in fields.iter().enumerate() {
        if !(empty && i == 0) {
            out.push(b',');
        }
        out.extend_from_slice(serde_json::to_string(name).unwrap_or_default().as_bytes());
        out.push(b':');
        out.extend_from_slice(serde_json::to_string(value).unwrap_or_default().as_bytes());
    }
    out.extend_from_slice(&data[close..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(kind: BadRowType, payload: &str) -> BadRow {
        BadRow {
            kind,
            event_type: None,
            schema: None,
            errors: Vec::new(),
            payload: Some(payload.into()),
            payload_base64: None,
            shard_id: "shardId-000000000002".into(),
            sequence_number: "49650000000000000000000000000000000000000000000000000007".into(),
            sub_sequence_number: 0,
            partition_key: "42".into(),
            ingested_at: "2026-11-27T11:59:59.120Z".into(),
            failed_at: "2026-11-27T12:00:00Z".into(),
            recovered_at: None,
        }
    }

    fn patch(json: &str) -> Option<Patch> {
        Some(serde_json::from_str(json).unwrap())
    }

    fn fix(patch: Option<Patch>) -> Fix {
        Fix::new(CoreConfig::embedded().unwrap(), patch)
    }

    const PURCHASE: &str = r#"{"event_type": "purchase", "user_id": 42, "order_id": "o-1", "amount": 12.5, "currency": "usd", "items": [{"sku": "s", "quantity": 1, "price": 12.5}]}"#;
    const UPPER: &str = r#"[{"op": "test", "path": "/currency", "value": "usd"}, {"op": "replace", "path": "/currency", "value": "USD"}]"#;

    #[test]
    fn a_patch_fixes_and_the_event_keeps_the_identity_it_would_have_had() {
        let now = Utc::now();
        let bad = row(BadRowType::SchemaViolation, PURCHASE);
        let Verdict::Fixed(event) = fix(patch(UPPER)).apply(&bad, now) else { panic!("not fixed") };
        let value: Value = serde_json::from_slice(&event.data).unwrap();
        assert_eq!(value["currency"], "USD");
        let derived = derived_event_id(&bad.shard_id, &bad.sequence_number, 0).to_string();
        assert_eq!((value["event_id"].as_str(), value["timestamp"].as_str()), (Some(derived.as_str()), Some("2026-11-27T11:59:59.120Z")));
        assert_eq!(event.store_key, ("USER#42".to_owned(), format!("2026-11-27T11:59:59.120Z#{derived}")));
        assert_eq!(event.partition_key, "42");
        // Again, later: the same bytes and the same key.
        let Verdict::Fixed(again) = fix(patch(UPPER)).apply(&bad, now + chrono::Duration::hours(5)) else { panic!() };
        assert_eq!(again, event);
    }

    #[test]
    fn a_failing_test_operation_means_not_this_row_and_other_failures_still_fail() {
        let now = Utc::now();
        let other = PURCHASE.replace("\"usd\"", "\"eur\"");
        assert_eq!(fix(patch(UPPER)).apply(&row(BadRowType::SchemaViolation, &other), now), Verdict::NotMatching);
        let no_currency = r#"{"event_type": "click", "user_id": 1, "element_id": "b", "page_url": "https://x.example/", "button": 1}"#;
        assert_eq!(fix(patch(UPPER)).apply(&row(BadRowType::SchemaViolation, no_currency), now), Verdict::NotMatching);
        // Without a patch the row is checked as it is: still a violation, with the reason.
        let Verdict::StillFailing { kind, errors } = fix(None).apply(&row(BadRowType::SchemaViolation, PURCHASE), now) else { panic!() };
        assert_eq!((kind, errors[0].path.as_str()), (BadRowType::SchemaViolation, "/currency"));
        // A patch whose operation cannot apply, and a payload that is not JSON.
        let missing = patch(r#"[{"op": "replace", "path": "/nothing", "value": 1}]"#);
        let Verdict::StillFailing { errors, .. } = fix(missing).apply(&row(BadRowType::SchemaViolation, PURCHASE), now) else { panic!() };
        assert!(errors[0].message.contains("does not apply"), "{errors:?}");
        let Verdict::StillFailing { errors, .. } = fix(patch(UPPER)).apply(&row(BadRowType::Malformed, "{not json"), now) else { panic!() };
        assert_eq!(errors[0].keyword, "json");
        let Verdict::StillFailing { kind, .. } = fix(None).apply(&row(BadRowType::Malformed, "{not json"), now) else { panic!() };
        assert_eq!(kind, BadRowType::Malformed);
    }

    #[test]
    fn an_unpatched_event_keeps_its_bytes_and_its_own_id_and_time() {
        let own = r#"{"event_type":"pageview","user_id":"u-1","event_id":"0b9f3f0e-52a8-4c57-9c5a-3a1d1e4b2f10","timestamp":"2026-11-01T00:00:00Z"}"#;
        let Verdict::Fixed(event) = fix(None).apply(&row(BadRowType::UnknownEventType, own), Utc::now()) else { panic!() };
        assert_eq!(event.data, own.as_bytes());
        assert_eq!(event.event_id, "0b9f3f0e-52a8-4c57-9c5a-3a1d1e4b2f10");
        let bare = "{\"event_type\": \"pageview\", \"user_id\": 7}\n";
        let Verdict::Fixed(event) = fix(None).apply(&row(BadRowType::UnknownEventType, bare), Utc::now()) else { panic!() };
        assert!(event.data.starts_with(b"{\"event_type\": \"pageview\", \"user_id\": 7,\"event_id\":"), "{}", String::from_utf8_lossy(&event.data));
        assert!(event.data.ends_with(b"\"timestamp\":\"2026-11-27T11:59:59.120Z\"}\n"));
        let mut old = row(BadRowType::UnknownEventType, bare);
        old.ingested_at = String::new();
        assert!(matches!(fix(None).apply(&old, Utc::now()), Verdict::StillFailing { .. }));
    }

    #[test]
    fn patch_files_are_checked_and_the_message_says_what_is_wrong() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, text).unwrap();
            path
        };
        assert!(load_patch(&write("ok.json", UPPER)).is_ok());
        for (text, expected) in [
            ("{not json", "not JSON"),
            (r#"{"op": "replace"}"#, "not an array"),
            ("[]", "no operations"),
            (r#"[{"op": "repalce", "path": "/a", "value": 1}]"#, "operation 0"),
            (r#"[{"op": "add", "path": "/a", "value": 1}, {"op": "replace", "value": 1}]"#, "operation 1"),
            (r#"[{"op": "replace", "path": "currency", "value": "USD"}]"#, "operation 0"),
        ] {
            let err = load_patch(&write("bad.json", text)).unwrap_err().to_string();
            assert!(err.contains(expected) && err.contains("bad.json"), "{text}: {err}");
        }
        assert!(load_patch(&dir.path().join("missing.json")).unwrap_err().to_string().contains("cannot read"));
    }
}
