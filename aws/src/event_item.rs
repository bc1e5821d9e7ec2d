//! The events table's item for an enriched event (DESIGN section 6), and item sizes as
//! DynamoDB counts them for write units.
//!
//! An item is `pk`, `sk`, `event_type`, `ttl` (arrival + `EVENT_TTL_DAYS`), the per-type
//! index keys `gsi1pk`/`gsi1sk` only where the index is on (`GSI_WRITE_SHARDS` set), and the
//! payload: the enriched JSON as text, or gzip-compressed in `payload_gz` where that makes
//! the item take fewer 1 KB write units (an event of ~600 B enriches to an item just over
//! 1 KB: compressed, it is one unit instead of two). Events over [`COMPRESS_PAYLOAD_OVER`]
//! are always compressed; one that still does not fit the 400 KB item limit is stored
//! without its payload and marked `payload_in_archive`. The query side reads all three forms
//! ([`crate::events_query`]).

use std::collections::HashMap;

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use pipeline::EnrichedEvent;
use pipeline::gzip::{Compression, gzip};

/// Bytes one write request unit (or write capacity unit) covers: 1 KB (DynamoDB developer
/// guide, "Read/write capacity mode").
pub const WRITE_UNIT_BYTES: usize = 1024;
/// Largest item DynamoDB stores (400 KB, names and values; DynamoDB service quotas).
pub const MAX_ITEM_BYTES: usize = pipeline::limits::DYNAMODB_ITEM_BYTES_MAX;
/// An event bigger than this is always stored gzip-compressed in `payload_gz`.
pub const COMPRESS_PAYLOAD_OVER: usize = 350 * 1024;
/// The per-type index (terraform/modules/storage `events_gsi_name`).
pub const EVENTS_INDEX: &str = "gsi1";

/// What the items of one deployment look like.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventItems {
    /// Days an item lives after its event arrived (the table's `ttl` attribute).
    pub ttl_days: u32,
    /// Write shards of the per-type index key; `None`: the index is off (no index keys).
    pub gsi_write_shards: Option<u32>,
}

impl EventItems {
    /// The item stored for `event`.
    pub fn item(&self, event: &EnrichedEvent) -> HashMap<String, AttributeValue> {
        let ttl = event.arrival.timestamp() + i64::from(self.ttl_days) * 86_400;
        let mut item = HashMap::from([
            ("pk".to_owned(), AttributeValue::S(event.partition_key())),
            ("sk".to_owned(), AttributeValue::S(event.sort_key.clone())),
            ("event_type".to_owned(), AttributeValue::S(event.event_type.to_string())),
            ("ttl".to_owned(), AttributeValue::N(ttl.to_string())),
        ]);
        if let Some(shards) = self.gsi_write_shards {
            let shard = gsi_shard(&event.event_id, shards);
            item.insert("gsi1pk".to_owned(), AttributeValue::S(index_key(&event.event_type, shard)));
            item.insert("gsi1sk".to_owned(), AttributeValue::S(event.sort_key.clone()));
        }
        let (name, value) = payload(&item, &event.json);
        item.insert(name.to_owned(), value);
        item
    }
}

/// The payload attribute for `json` in an item that holds `rest`: text, or gzip where that
/// saves a write unit (or is needed to fit).
fn payload(rest: &HashMap<String, AttributeValue>, json: &[u8]) -> (&'static str, AttributeValue) {
    let base = item_bytes(rest);
    if json.len() <= COMPRESS_PAYLOAD_OVER {
        let as_text = base + "payload".len() + json.len();
        if write_units(as_text) > 1 {
            let packed = gzip(json, Compression::fast());
            if write_units(base + "payload_gz".len() + packed.len()) < write_units(as_text) {
                return ("payload_gz", AttributeValue::B(Blob::new(packed)));
            }
        }
        return ("payload", AttributeValue::S(String::from_utf8_lossy(json).into_owned()));
    }
    // Rare (events near the 1 MiB record limit): compressed JSON usually fits; the archive
    // keeps the event whole either way.
    let packed = gzip(json, Compression::fast());
    if base + "payload_gz".len() + packed.len() <= MAX_ITEM_BYTES {
        ("payload_gz", AttributeValue::B(Blob::new(packed)))
    } else {
        ("payload_in_archive", AttributeValue::Bool(true))
    }
}

/// `TYPE#<event_type>#<shard>`: the per-type index's partition key.
pub fn index_key(event_type: &str, shard: u32) -> String {
    format!("TYPE#{event_type}#{shard}")
}

/// The index shard of an event: stable for the event (so a retry writes the same key) and
/// spread evenly (so no index partition takes a whole event type).
pub fn gsi_shard(event_id: &str, shards: u32) -> u32 {
    (stable_hash(event_id) % u64::from(shards.max(1))) as u32
}

/// FNV-1a: small, stable across releases and platforms (std's hasher is neither), so keys
/// derived from it are the same in every process.
pub fn stable_hash(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3))
}

/// An item's size as DynamoDB counts it: each attribute's name and value (DynamoDB developer
/// guide, "Item sizes and formats": strings and binaries by their bytes, numbers about one
/// byte per two significant digits plus one, booleans and nulls one byte).
pub fn item_bytes(item: &HashMap<String, AttributeValue>) -> usize {
    item.iter().map(|(name, value)| name.len() + value_bytes(value)).sum()
}

fn value_bytes(value: &AttributeValue) -> usize {
    match value {
        AttributeValue::S(s) => s.len(),
        AttributeValue::N(n) => number_bytes(n),
        AttributeValue::B(b) => b.as_ref().len(),
        AttributeValue::Ss(v) => v.iter().map(String::len).sum(),
        AttributeValue::Ns(v) => v.iter().map(|n| number_bytes(n)).sum(),
        AttributeValue::Bs(v) => v.iter().map(|b| b.as_ref().len()).sum(),
        // Lists and maps: 3 bytes plus their elements (names included for maps).
        AttributeValue::L(v) => 3 + v.iter().map(|e| 1 + value_bytes(e)).sum::<usize>(),
        AttributeValue::M(m) => 3 + m.iter().map(|(k, e)| 1 + k.len() + value_bytes(e)).sum::<usize>(),
        _ => 1,
    }
}

fn number_bytes(text: &str) -> usize {
    let digits: String = text.chars().filter(char::is_ascii_digit).collect();
    let significant = digits.trim_start_matches('0').trim_end_matches('0').len().max(1);
    significant.div_ceil(2) + 1
}

/// Write units an item of `bytes` takes: one per started kilobyte.
pub fn write_units(bytes: usize) -> usize {
    bytes.div_ceil(WRITE_UNIT_BYTES).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn event(json_bytes: usize) -> EnrichedEvent {
        let filler = "x".repeat(json_bytes.saturating_sub(40));
        EnrichedEvent {
            json: format!(r#"{{"event_type":"pageview","filler":"{filler}"}}"#).into_bytes(),
            event_type: "pageview".into(),
            schema: "pageview/1-0-0".into(),
            user_id: "123".into(),
            event_id: "0b9f3f0e-52a8-4c57-9c5a-3a1d1e4b2f10".into(),
            event_time: Utc::now(),
            arrival: Utc::now(),
            sort_key: "2026-11-27T12:00:00.000Z#0b9f3f0e-52a8-4c57-9c5a-3a1d1e4b2f10".into(),
            revenue: None,
            groups: Default::default(),
        }
    }

    #[test]
    fn sizes_follow_dynamodbs_rules() {
        assert_eq!(number_bytes("1795780800"), 5, "8 significant digits: 4 + 1");
        assert_eq!(number_bytes("0"), 2);
        assert_eq!(number_bytes("-12.5"), 3);
        let item = HashMap::from([("pk".to_owned(), AttributeValue::S("USER#1".into())), ("n".to_owned(), AttributeValue::N("12".into()))]);
        assert_eq!(item_bytes(&item), 2 + 6 + 1 + 2);
        assert_eq!((write_units(1), write_units(1024), write_units(1025), write_units(0)), (1, 1, 2, 1));
    }

    #[test]
    fn index_keys_only_where_the_index_is_on() {
        let off = EventItems { ttl_days: 7, gsi_write_shards: None }.item(&event(300));
        assert!(!off.contains_key("gsi1pk") && !off.contains_key("gsi1sk"));
        let on = EventItems { ttl_days: 7, gsi_write_shards: Some(8) }.item(&event(300));
        let key = on["gsi1pk"].as_s().unwrap();
        assert!(key.starts_with("TYPE#pageview#") && key[14..].parse::<u32>().unwrap() < 8, "{key}");
        assert_eq!(on["gsi1sk"], on["sk"]);
    }

    #[test]
    fn payloads_are_compressed_exactly_where_that_saves_a_write_unit() {
        let items = EventItems { ttl_days: 30, gsi_write_shards: None };
        for size in [200, 800, 900, 1_000, 1_100, 2_000, 5_000, 50_000] {
            let e = event(size);
            let item = items.item(&e);
            let mut as_text = item.clone();
            as_text.remove("payload_gz");
            as_text.insert("payload".into(), AttributeValue::S(String::from_utf8(e.json.clone()).unwrap()));
            let text_units = write_units(item_bytes(&as_text));
            let units = write_units(item_bytes(&item));
            if item.contains_key("payload_gz") {
                assert!(units < text_units, "{size} B: compressed only when it saves a unit");
                let packed = item["payload_gz"].as_b().unwrap().as_ref();
                let mut text = String::new();
                std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(packed), &mut text).unwrap();
                assert_eq!(text.as_bytes(), e.json, "{size} B: the payload decompresses to the event");
            } else {
                assert!(item.contains_key("payload"));
                assert_eq!(units, text_units);
                let packed_units = write_units(item_bytes(&as_text) - "payload".len() - e.json.len() + "payload_gz".len() + gzip(&e.json, Compression::fast()).len());
                assert!(packed_units >= text_units, "{size} B: compressing would have saved a unit");
            }
        }
        assert!(items.item(&event(200)).contains_key("payload"), "a one-unit item stays text");
        assert!(items.item(&event(1_100)).contains_key("payload_gz"), "filler compresses well: one unit instead of two");
    }

    #[test]
    fn index_shards_are_stable_and_spread() {
        assert_eq!(gsi_shard("0b9f3f0e-52a8-4c57-9c5a-3a1d1e4b2f10", 32), gsi_shard("0b9f3f0e-52a8-4c57-9c5a-3a1d1e4b2f10", 32));
        let mut counts = [0u32; 8];
        for i in 0..8_000 {
            counts[gsi_shard(&format!("event-{i}"), 8) as usize] += 1;
        }
        assert!(counts.iter().all(|&c| (800..1200).contains(&c)), "{counts:?}");
    }
}
