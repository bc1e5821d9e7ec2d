//! The Kinesis event Lambda sends, read record by record and tolerantly: odd metadata of one
//! record never fails the invocation's deserialisation (which would refuse every record of
//! the batch, and Lambda would retry it until it expired).
//!
//! `aws_lambda_events`' own `KinesisEvent` is not used to read: it parses
//! `approximateArrivalTimestamp` through a float-to-string split (`1764244800.4` read as 4 ms
//! past the second) and fails on more fractional digits (`1764244800.1239998`). Here each
//! field is read on its own, and one that is missing or odd gets a stated fallback:
//!
//! | field | fallback |
//! |---|---|
//! | `kinesis.approximateArrivalTimestamp` (epoch seconds, any number of decimals) | the invocation's start |
//! | `kinesis.partitionKey` | empty |
//! | `eventID` (`shardId-...:<sequence>`) | shard `shardId-unknown` |
//! | `kinesis.data` not base64 | its text as the data, which the core makes a bad row |
//! | a record that is not an object | its JSON text as the data (a bad row) |

use base64::Engine as _;
use chrono::{DateTime, TimeZone, Utc};
use pipeline::Record;
use serde::Deserialize;
use serde_json::value::RawValue;

/// The shard named when a record's `eventID` does not say.
pub const UNKNOWN_SHARD: &str = "shardId-unknown";

/// The invocation's payload: its records, each kept as raw JSON until it is read.
#[derive(Debug, Default, Deserialize)]
pub struct KinesisBatch {
    /// The Kinesis records, each read on its own ([`records_of`]).
    #[serde(rename = "Records", default)]
    pub records: Vec<Box<RawValue>>,
}

impl KinesisBatch {
    /// Parses a payload (the JSON Lambda sends).
    pub fn from_json(text: &str) -> serde_json::Result<Self> {
        serde_json::from_str(text)
    }
}

/// A record's fields, each as raw JSON so that one odd field fails only itself.
#[derive(Default, Deserialize)]
#[serde(default)]
struct RawRecord<'a> {
    #[serde(rename = "eventID", borrow)]
    event_id: Option<&'a RawValue>,
    #[serde(borrow)]
    kinesis: Option<&'a RawValue>,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct RawKinesis<'a> {
    #[serde(borrow)]
    data: Option<&'a RawValue>,
    #[serde(rename = "partitionKey", borrow)]
    partition_key: Option<&'a RawValue>,
    #[serde(rename = "sequenceNumber", borrow)]
    sequence_number: Option<&'a RawValue>,
    #[serde(rename = "approximateArrivalTimestamp", borrow)]
    arrival: Option<&'a RawValue>,
}

/// Core records from the payload, in order; `received` stands in for a missing or odd
/// arrival time.
pub fn records_of(batch: &KinesisBatch, received: DateTime<Utc>) -> Vec<Record> {
    batch.records.iter().map(|raw| record_of(raw, received)).collect()
}

fn record_of(raw: &RawValue, received: DateTime<Utc>) -> Record {
    let Ok(fields) = serde_json::from_str::<RawRecord<'_>>(raw.get()) else {
        tracing::warn!("a Kinesis record is not an object: kept as a bad row");
        return Record {
            data: raw.get().as_bytes().to_vec(),
            partition_key: String::new(),
            sequence_number: String::new(),
            sub_sequence_number: 0,
            shard_id: UNKNOWN_SHARD.to_owned(),
            arrival: received,
        };
    };
    let kinesis: RawKinesis<'_> = fields.kinesis.and_then(|k| serde_json::from_str(k.get()).ok()).unwrap_or_default();
    let event_id = fields.event_id.and_then(text);
    let shard_id = event_id
        .as_deref()
        .and_then(|id| id.split_once(':').map(|(shard, _)| shard.to_owned()))
        .unwrap_or_else(|| UNKNOWN_SHARD.to_owned());
    let sequence_number = kinesis
        .sequence_number
        .and_then(text)
        .or_else(|| event_id.as_deref().and_then(|id| id.split_once(':').map(|(_, seq)| seq.to_owned())))
        .unwrap_or_default();
    Record {
        data: kinesis.data.map(data_of).unwrap_or_default(),
        partition_key: kinesis.partition_key.and_then(text).unwrap_or_default(),
        sequence_number,
        sub_sequence_number: 0,
        shard_id,
        arrival: kinesis.arrival.and_then(arrival_of).unwrap_or(received),
    }
}

/// A JSON string's text, or a number's digits (a partition key sent as a number).
fn text(raw: &RawValue) -> Option<String> {
    match serde_json::from_str::<serde_json::Value>(raw.get()).ok()? {
        serde_json::Value::String(s) => Some(s),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The record's bytes: base64 as Kinesis sends them; anything else is kept as text.
fn data_of(raw: &RawValue) -> Vec<u8> {
    match serde_json::from_str::<&str>(raw.get()) {
        Ok(encoded) => base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .unwrap_or_else(|_| encoded.as_bytes().to_vec()),
        // An escaped string, or not a string at all.
        Err(_) => match serde_json::from_str::<String>(raw.get()) {
            Ok(encoded) => base64::engine::general_purpose::STANDARD.decode(&encoded).unwrap_or_else(|_| encoded.into_bytes()),
            Err(_) => raw.get().as_bytes().to_vec(),
        },
    }
}

/// Epoch seconds with any number of decimals (`1764244800.4` is 400 ms past the second),
/// as a JSON number or a string of one.
pub fn arrival_of(raw: &RawValue) -> Option<DateTime<Utc>> {
    let text = raw.get().trim();
    let text = text.strip_prefix('"').and_then(|t| t.strip_suffix('"')).unwrap_or(text);
    epoch_seconds(text)
}

/// Parses epoch seconds from their decimal text exactly (to the nanosecond), also in
/// exponent form (`1.7642448004E9`): no binary float rounds `.6` down to `.599`.
fn epoch_seconds(text: &str) -> Option<DateTime<Utc>> {
    let (mantissa, exponent) = match text.split_once(['e', 'E']) {
        Some((m, e)) => (m, e.strip_prefix('+').unwrap_or(e).parse::<i32>().ok()?),
        None => (text, 0),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if whole.is_empty() && fraction.is_empty() || !whole.bytes().chain(fraction.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    // All the digits, with the decimal point moved by the exponent.
    let digits = format!("{whole}{fraction}");
    let point = i32::try_from(whole.len()).ok()?.checked_add(exponent)?;
    let point = usize::try_from(point).ok()?;
    let digits = if digits.len() < point { format!("{digits:0<point$}") } else { digits };
    let (seconds, nanos) = digits.split_at(point);
    let seconds: i64 = if seconds.is_empty() { 0 } else { seconds.parse().ok()? };
    let nanos: String = nanos.chars().take(9).collect();
    let nanos: u32 = format!("{nanos:0<9}").parse().ok()?;
    Utc.timestamp_opt(seconds, nanos).single()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Option<String> {
        epoch_seconds(text).map(pipeline::time_format::format_millis)
    }

    #[test]
    fn arrival_fractions_are_read_as_decimals() {
        assert_eq!(at("1764244800.4").as_deref(), Some("2025-11-27T12:00:00.400Z"));
        assert_eq!(at("1764244800.004").as_deref(), Some("2025-11-27T12:00:00.004Z"));
        assert_eq!(at("1764244800.1239998").as_deref(), Some("2025-11-27T12:00:00.123Z"));
        assert_eq!(at("1764244800.12399981234567").as_deref(), Some("2025-11-27T12:00:00.123Z"));
        assert_eq!(at("1764244800").as_deref(), Some("2025-11-27T12:00:00.000Z"));
        assert_eq!(at("1.7642448004e9").as_deref(), Some("2025-11-27T12:00:00.400Z"));
        assert_eq!(at("1.7642448006E+9").as_deref(), Some("2025-11-27T12:00:00.600Z"));
        assert_eq!(at("17642448006e-1").as_deref(), Some("2025-11-27T12:00:00.600Z"));
        assert_eq!(at(".5").as_deref(), Some("1970-01-01T00:00:00.500Z"));
        assert_eq!(at("1e400"), None);
        assert_eq!(at("1e-400"), None);
        assert_eq!(at(""), None);
        assert_eq!(at("."), None);
        assert_eq!(at("-1"), None);
        assert_eq!(at("soon"), None);
        assert_eq!(at("99999999999999999999"), None);
    }

    #[test]
    fn odd_metadata_of_one_record_fails_only_that_field() {
        let received = Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap();
        let payload = r#"{"Records": [
            {"eventID": "shardId-000000000001:7", "kinesis": {"data": "e30=", "partitionKey": "u", "sequenceNumber": "7", "approximateArrivalTimestamp": 1764244800.1239998}},
            {"kinesis": {"data": "e30=", "partitionKey": 42, "sequenceNumber": "8", "approximateArrivalTimestamp": "1764244800.5"}},
            {"eventID": "shardId-000000000001:9", "kinesis": {"data": "not base64!", "approximateArrivalTimestamp": {"odd": true}}},
            {"eventID": 5, "kinesis": "nothing"},
            "not a record"
        ]}"#;
        let records = records_of(&KinesisBatch::from_json(payload).unwrap(), received);
        assert_eq!(records.len(), 5);
        assert_eq!((records[0].shard_id.as_str(), records[0].sequence_number.as_str(), records[0].data.as_slice()), ("shardId-000000000001", "7", &b"{}"[..]));
        assert_eq!(pipeline::time_format::format_millis(records[0].arrival), "2025-11-27T12:00:00.123Z");
        assert_eq!((records[1].partition_key.as_str(), records[1].shard_id.as_str()), ("42", UNKNOWN_SHARD));
        assert_eq!(pipeline::time_format::format_millis(records[1].arrival), "2025-11-27T12:00:00.500Z");
        assert_eq!((records[2].data.as_slice(), records[2].arrival, records[2].sequence_number.as_str()), (&b"not base64!"[..], received, "9"));
        assert_eq!((records[3].shard_id.as_str(), records[3].data.len()), (UNKNOWN_SHARD, 0));
        assert_eq!(records[4].data, b"\"not a record\"");
    }
}
