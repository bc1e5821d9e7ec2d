//! Bad rows: events that cannot be accepted, kept with the reason (DESIGN section 3).

use std::fmt;

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::record::Record;
use crate::time_format::{format_millis, format_seconds};
use chrono::{DateTime, Utc};

/// Why an event became a bad row.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BadRowType {
    /// Not JSON, not an object, invalid UTF-8, duplicate keys, or nesting deeper than 64.
    Malformed,
    /// The record is over 1 MiB.
    SizeViolation,
    /// No schema exists for the event's `event_type`.
    UnknownEventType,
    /// The event type exists, but not the requested `schema_version`.
    UnknownSchemaVersion,
    /// The event breaks its schema; every violation is listed.
    SchemaViolation,
    /// An enrichment configured as `required` failed for the event.
    EnrichmentFailure,
}

impl BadRowType {
    /// How many types there are: the length of per-type counters.
    pub const COUNT: usize = 6;

    /// Every type, in the order of the stores' and metrics' counters ([`BadRowType::index`]).
    pub const ALL: [BadRowType; Self::COUNT] = [
        BadRowType::Malformed,
        BadRowType::SizeViolation,
        BadRowType::UnknownEventType,
        BadRowType::UnknownSchemaVersion,
        BadRowType::SchemaViolation,
        BadRowType::EnrichmentFailure,
    ];

    /// Position in [`BadRowType::ALL`], for per-type counters.
    pub fn index(self) -> usize {
        self as usize
    }

    /// The type's name in bad rows, queries and metrics (`schema_violation`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            BadRowType::Malformed => "malformed",
            BadRowType::SizeViolation => "size_violation",
            BadRowType::UnknownEventType => "unknown_event_type",
            BadRowType::UnknownSchemaVersion => "unknown_schema_version",
            BadRowType::SchemaViolation => "schema_violation",
            BadRowType::EnrichmentFailure => "enrichment_failure",
        }
    }
}

impl fmt::Display for BadRowType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One reason an event was refused: where (a JSON pointer), which rule, and a message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Violation {
    /// Where in the event, as a JSON pointer (`/properties/price`); empty for the whole event.
    pub path: String,
    /// The rule that failed: a JSON Schema keyword (`required`) or the pipeline's own (`json`, `maxBytes`).
    pub keyword: String,
    /// What was wrong, for the person fixing the producer.
    pub message: String,
}

impl Violation {
    /// A violation at `path` of rule `keyword`.
    pub fn new(path: impl Into<String>, keyword: &str, message: impl Into<String>) -> Self {
        Self { path: path.into(), keyword: keyword.to_owned(), message: message.into() }
    }
}

/// Why a record was refused, before it is tied to its record (see [`BadRow`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    /// The bad row's type.
    pub kind: BadRowType,
    /// The event's `event_type`, where it had a readable one.
    pub event_type: Option<String>,
    /// The schema it was checked against (`pageview/1-0-0`), where one was found.
    pub schema: Option<String>,
    /// Every reason found, at least one.
    pub errors: Vec<Violation>,
}

impl Rejection {
    /// A rejection of type `kind` for one `violation`, before the event's type is known.
    pub fn new(kind: BadRowType, violation: Violation) -> Self {
        Self { kind, event_type: None, schema: None, errors: vec![violation] }
    }
}

/// A refused event as stored: the reason plus the record's untouched data.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BadRow {
    /// The bad row's type.
    #[serde(rename = "type")]
    pub kind: BadRowType,
    /// The event's `event_type`, where it had a readable one.
    pub event_type: Option<String>,
    /// The schema it was checked against (`pageview/1-0-0`), where one was found.
    pub schema: Option<String>,
    /// Every reason found, at least one.
    pub errors: Vec<Violation>,
    /// The record's data as UTF-8 text; absent when the data is not UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<String>,
    /// The record's data in base64, only when it is not valid UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload_base64: Option<String>,
    /// The shard the record came from.
    pub shard_id: String,
    /// The record's sequence number in its shard.
    pub sequence_number: String,
    /// The user record's index inside a KPL aggregated record; 0 for a plain record. With
    /// the shard and sequence number it identifies the bad row (DESIGN section 3).
    #[serde(default)]
    pub sub_sequence_number: u32,
    /// The record's partition key, so recovery can put the event back on the same shard.
    #[serde(default)]
    pub partition_key: String,
    /// When the stream took the record (RFC 3339, UTC, milliseconds): recovery writes it in
    /// as the `timestamp` of an event that had none, so the event keeps its store key.
    #[serde(default)]
    pub ingested_at: String,
    /// When the processor refused it (RFC 3339, UTC, milliseconds).
    pub failed_at: String,
    /// When `pipeline recover` put the event back (set by the bad-row store, not the core).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovered_at: Option<String>,
}

/// What identifies a bad row: its record's shard and sequence number, and its index inside
/// an aggregated record.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct BadRowId {
    /// The record's shard.
    pub shard_id: String,
    /// The record's sequence number in its shard.
    pub sequence_number: String,
    /// The user record's index in a KPL aggregated record; 0 for a plain record.
    #[serde(default)]
    pub sub_sequence_number: u32,
}

impl BadRow {
    /// The bad row of `record` for `rejection`, its data kept as text (or base64 when not UTF-8).
    pub fn new(rejection: Rejection, record: &Record, failed_at: DateTime<Utc>) -> Self {
        let (payload, payload_base64) = match simdutf8::basic::from_utf8(&record.data) {
            Ok(text) => (Some(text.to_owned()), None),
            Err(_) => (None, Some(base64::engine::general_purpose::STANDARD.encode(&record.data))),
        };
        Self {
            kind: rejection.kind,
            event_type: rejection.event_type,
            schema: rejection.schema,
            errors: rejection.errors,
            payload,
            payload_base64,
            shard_id: record.shard_id.clone(),
            sequence_number: record.sequence_number.clone(),
            sub_sequence_number: record.sub_sequence_number,
            partition_key: record.partition_key.clone(),
            ingested_at: format_millis(record.arrival),
            failed_at: format_seconds(failed_at),
            recovered_at: None,
        }
    }

    /// The bad row's identity (shard, sequence number, sub-sequence number).
    pub fn id(&self) -> BadRowId {
        BadRowId {
            shard_id: self.shard_id.clone(),
            sequence_number: self.sequence_number.clone(),
            sub_sequence_number: self.sub_sequence_number,
        }
    }

    /// The record's original bytes, recovered from `payload` or `payload_base64`.
    pub fn payload_bytes(&self) -> Option<Vec<u8>> {
        match (&self.payload, &self.payload_base64) {
            (Some(text), _) => Some(text.as_bytes().to_vec()),
            (None, Some(b64)) => base64::engine::general_purpose::STANDARD.decode(b64).ok(),
            (None, None) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_is_the_position_in_all() {
        for (i, kind) in BadRowType::ALL.iter().enumerate() {
            assert_eq!(kind.index(), i);
        }
    }
}
