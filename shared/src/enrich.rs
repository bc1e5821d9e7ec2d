//! Enrichment (DESIGN section 3): the producer's bytes are kept as they are and the added
//! fields are spliced in before the closing brace, instead of re-serialising the event.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::money::Money;
use crate::bad_row::{BadRowType, Rejection, Violation};
use crate::enrichments::EventEnrichments;
use crate::group::GroupValues;
use crate::json_text::push_json_str;
use crate::record::Record;
use crate::schema_registry::CompiledSchema;
use crate::time_format::{is_representable, parse_rfc3339, push_date, push_hour, push_millis};
use crate::user_agent::ua_json;
use crate::validation::Envelope;

/// Namespace of derived event ids: `event_id = UUIDv5(EVENT_ID_NAMESPACE, name)` where the
/// name is `<shard_id>/<sequence_number>` for a plain record (and the first user record of
/// a KPL aggregated record), `<shard_id>/<sequence_number>/<sub_sequence_number>` for the
/// other user records of an aggregated record. A Kinesis record is either plain or
/// aggregated, so no two records share a name.
pub const EVENT_ID_NAMESPACE: Uuid = Uuid::from_u128(0x5f0c_2b8e_93a1_4d67_9e2b_8c1d_4a7f_3e60);

/// The event id derived from a record's position, identical on every retry of the record
/// (and what `pipeline recover` writes into an event that had none).
pub fn derived_event_id(shard_id: &str, sequence_number: &str, sub_sequence_number: u32) -> Uuid {
    let mut name = Vec::with_capacity(shard_id.len() + 1 + sequence_number.len() + 11);
    name.extend_from_slice(shard_id.as_bytes());
    name.push(b'/');
    name.extend_from_slice(sequence_number.as_bytes());
    if sub_sequence_number > 0 {
        name.push(b'/');
        name.extend_from_slice(sub_sequence_number.to_string().as_bytes());
    }
    Uuid::new_v5(&EVENT_ID_NAMESPACE, &name)
}

/// The largest enriched event, newline included, that fits one archive record (Firehose
/// takes at most 1,000 KiB per record). A valid event near the 1 MiB record limit can grow
/// past it by enrichment; it becomes a `size_violation` bad row rather than an event that
/// can never be archived.
pub const MAX_ENRICHED_BYTES: usize = crate::limits::FIREHOSE_RECORD_BYTES_MAX - 1;

/// A valid, enriched event: the bytes every sink stores, and the keys the stores need.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnrichedEvent {
    /// The enriched event as JSON (no trailing newline).
    pub json: Vec<u8>,
    /// The event's `event_type`, shared with its schema.
    pub event_type: Arc<str>,
    /// `event_type/version`, e.g. `pageview/1-0-0`.
    pub schema: Arc<str>,
    /// `user_id` as text (integers in decimal).
    pub user_id: String,
    /// The event's own `event_id`, or the one derived from its record ([`derived_event_id`]).
    pub event_id: String,
    /// The event's time: its `timestamp`, else the record's arrival.
    pub event_time: DateTime<Utc>,
    /// When the stream took the record (Kinesis' approximate arrival): the events table's
    /// TTL counts from it, so a backfilled old event is kept as long as a new one.
    pub arrival: DateTime<Utc>,
    /// `<event time, UTC millis>#<event_id>`: the events table's sort key.
    pub sort_key: String,
    /// A purchase's amount, for the revenue aggregates.
    pub revenue: Option<Money>,
    /// The event's values of the fields aggregates are grouped by (from the enrichments).
    pub groups: GroupValues,
}

impl EnrichedEvent {
    /// `USER#<user_id>`: the events table's partition key.
    pub fn partition_key(&self) -> String {
        format!("USER#{}", self.user_id)
    }

    /// `YYYY-MM-DD` of the event time in UTC (the archive's `dt` partition).
    pub fn dt(&self) -> String {
        let mut dt = String::with_capacity(10);
        push_date(&mut dt, self.event_time);
        dt
    }

    /// `HH` of the event time in UTC (the archive's `hr` partition).
    pub fn hr(&self) -> String {
        let mut hr = String::with_capacity(2);
        push_hour(&mut hr, self.event_time);
        hr
    }
}

/// Times shared by a whole batch, formatted once.
#[derive(Debug, Clone)]
pub struct BatchClock {
    /// When the batch was processed (`_pipeline.processed_at`).
    pub processed_at: DateTime<Utc>,
    processed_at_text: String,
}

impl BatchClock {
    /// The clock of a batch processed at `processed_at`.
    pub fn new(processed_at: DateTime<Utc>) -> Self {
        let mut processed_at_text = String::new();
        push_millis(&mut processed_at_text, processed_at);
        Self { processed_at, processed_at_text }
    }
}

/// Builds the enriched event for a validated record; `aggregated`: the record is a user
/// record of a KPL aggregated record, and `_pipeline` names its `sub_sequence_number`.
pub fn enrich(
    record: &Record,
    schema: &CompiledSchema,
    envelope: &Envelope<'_>,
    enrichments: EventEnrichments<'_>,
    clock: &BatchClock,
    aggregated: bool,
) -> Result<EnrichedEvent, Rejection> {
    let timestamp_violation = |message: String| Rejection {
        kind: BadRowType::SchemaViolation,
        event_type: Some(schema.event_type().to_owned()),
        schema: Some(schema.key().to_owned()),
        errors: vec![Violation::new("/timestamp", "format", message)],
    };
    let event_time = match envelope.timestamp {
        None => record.arrival,
        Some(text) => match parse_rfc3339(text) {
            None => return Err(timestamp_violation(format!("{text:?} is not an RFC 3339 date-time this pipeline can represent"))),
            // Keys, partitions and windows are four-digit years in UTC (DESIGN section 2).
            Some(t) if !is_representable(t) => {
                return Err(timestamp_violation(format!(
                    "{text:?} is {t} in UTC, outside 0001-01-01T00:00:00Z..9999-12-31T23:59:59.999Z: send the event's time in that range"
                )));
            }
            Some(t) => t,
        },
    };
    let event_id = match envelope.event_id {
        Some(id) => id.to_owned(),
        None => {
            let mut text = [0u8; uuid::fmt::Hyphenated::LENGTH];
            derived_event_id(&record.shard_id, &record.sequence_number, record.sub_sequence_number).hyphenated().encode_lower(&mut text).to_owned()
        }
    };
    let close = closing_brace(&record.data).ok_or_else(|| {
        Rejection::new(BadRowType::Malformed, Violation::new("", "json", "no closing brace".to_owned()))
    })?;

    let mut sort_key = String::with_capacity(64);
    push_millis(&mut sort_key, event_time);

    // Everything added after the producer's bytes is written first into a buffer each
    // thread reuses: the output is then allocated once, at its exact size.
    ADDED.with_borrow_mut(|added| {
        added.clear();
        let head = Head { event_id: &event_id, sort_key: &sort_key, event_time, aggregated };
        push_pipeline_head(added, record, schema, envelope, clock, head);
        let mut groups = GroupValues::default();
        enrichments.apply(envelope.event, schema.event_type(), added, &mut groups).map_err(|errors| Rejection {
            kind: BadRowType::EnrichmentFailure,
            event_type: Some(schema.event_type().to_owned()),
            schema: Some(schema.key().to_owned()),
            errors,
        })?;
        added.push_str("}}");
        assemble(record, schema, envelope, Output { close, event_id, event_time, sort_key, added, groups })
    })
}

thread_local! {
    static ADDED: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

/// What [`push_pipeline_head`] writes besides the record and its schema.
struct Head<'a> {
    event_id: &'a str,
    /// The event time's text.
    sort_key: &'a str,
    event_time: DateTime<Utc>,
    /// The record is a user record of a KPL aggregated record.
    aggregated: bool,
}

/// The fields added before the enrichments': a derived `event_id` and `timestamp`, then
/// `_pipeline` up to its `ua` (left open for the enrichments' members).
fn push_pipeline_head(out: &mut String, record: &Record, schema: &CompiledSchema, envelope: &Envelope<'_>, clock: &BatchClock, head: Head<'_>) {
    if envelope.event_id.is_none() {
        out.push_str(",\"event_id\":\"");
        out.push_str(head.event_id);
        out.push('"');
    }
    if envelope.timestamp.is_none() {
        out.push_str(",\"timestamp\":\"");
        out.push_str(head.sort_key);
        out.push('"');
    }
    out.push_str(",\"_pipeline\":{\"schema\":");
    push_json_str(out, schema.key());
    out.push_str(",\"ingested_at\":\"");
    push_millis(out, record.arrival);
    out.push_str("\",\"processed_at\":\"");
    out.push_str(&clock.processed_at_text);
    out.push_str("\",\"shard_id\":");
    push_json_str(out, &record.shard_id);
    out.push_str(",\"sequence_number\":");
    push_json_str(out, &record.sequence_number);
    if head.aggregated {
        out.push_str(",\"sub_sequence_number\":");
        out.push_str(&record.sub_sequence_number.to_string());
    }
    out.push_str(",\"dt\":\"");
    push_date(out, head.event_time);
    out.push_str("\",\"hr\":\"");
    push_hour(out, head.event_time);
    out.push('"');
    if let Some(ua) = envelope.user_agent {
        out.push_str(",\"ua\":");
        ua_json(ua, out);
    }
}

/// What [`assemble`] puts together, beyond the record and its schema.
struct Output<'f> {
    /// Index of the producer's closing brace.
    close: usize,
    event_id: String,
    event_time: DateTime<Utc>,
    /// The event time's text; the store's sort key once the id is appended.
    sort_key: String,
    /// Every byte added after the producer's (to the closing braces).
    added: &'f str,
    groups: GroupValues,
}

/// The enriched event's bytes: the producer's, then the added fields.
fn assemble(record: &Record, schema: &CompiledSchema, envelope: &Envelope<'_>, output: Output<'_>) -> Result<EnrichedEvent, Rejection> {
    let Output { close, event_id, event_time, mut sort_key, added, groups } = output;
    let mut document = String::with_capacity(close + added.len());
    // Decoding proved the bytes UTF-8, so this check does not fail.
    document.push_str(simdutf8::basic::from_utf8(&record.data[..close]).map_err(|_| {
        Rejection::new(BadRowType::Malformed, Violation::new("", "utf8", "invalid UTF-8".to_owned()))
    })?);
    document.push_str(added);
    // One event per line in the archive (NDJSON): line breaks in valid JSON can only be
    // white space between tokens (inside strings they are escaped), so spaces replace them.
    // Only the producer's bytes can hold one: every added byte is written escaped.
    debug_assert!(memchr::memchr2(b'\n', b'\r', added.as_bytes()).is_none(), "an added field holds a line break: {added}");
    if memchr::memchr2(b'\n', b'\r', &record.data[..close]).is_some() {
        document = document.replace(['\n', '\r'], " ");
    }

    if document.len() > MAX_ENRICHED_BYTES {
        return Err(Rejection {
            kind: BadRowType::SizeViolation,
            event_type: Some(schema.event_type().to_owned()),
            schema: Some(schema.key().to_owned()),
            errors: vec![Violation::new(
                "",
                "maxBytes",
                format!(
                    "the enriched event would be {} bytes; the archive takes at most {MAX_ENRICHED_BYTES}: \
                     keep events under 1,000 KiB",
                    document.len()
                ),
            )],
        });
    }
    sort_key.push('#');
    sort_key.push_str(&event_id);
    Ok(EnrichedEvent {
        json: document.into_bytes(),
        event_type: schema.event_type_shared(),
        schema: schema.key_shared(),
        user_id: envelope.user_id.to_string(),
        event_id,
        event_time,
        arrival: record.arrival,
        sort_key,
        revenue: envelope.revenue.and_then(|(currency, amount)| Money::new(currency, amount)),
        groups,
    })
}

/// Index of the object's closing `}`: the last byte that is not JSON white space.
fn closing_brace(data: &[u8]) -> Option<usize> {
    let at = data.iter().rposition(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'))?;
    (data[at] == b'}').then_some(at)
}

