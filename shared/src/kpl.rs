//! KPL aggregated records: the format of the Kinesis Producer Library
//! (awslabs/amazon-kinesis-producer, `aggregation-format.md`), decoded for the batch flow
//! and encoded for `loadtest --aggregate` and the tests.
//!
//! A Kinesis record holding several *user records* is the magic `F3 89 9A C2`, a protobuf
//! `AggregatedRecord` (proto2: a partition-key table, an explicit-hash-key table, and records
//! pointing into them) and the MD5 of the protobuf bytes. Data that starts with the magic is
//! never valid UTF-8 (`C2` is not a continuation byte), so an aggregated record cannot be
//! mistaken for a JSON event and the other way round.

use std::collections::HashMap;

use md5::{Digest, Md5};
use prost::Message;
use prost::encoding::encoded_len_varint;

/// The first four bytes of every aggregated record.
pub const MAGIC: [u8; 4] = [0xF3, 0x89, 0x9A, 0xC2];
/// The MD5 checksum after the protobuf message.
pub const DIGEST_BYTES: usize = 16;
/// Kinesis' limit on one record, counting its data and its partition key: what one
/// aggregated record may fill ([`Aggregator::new`]).
pub const MAX_AGGREGATED_BYTES: usize = crate::limits::KINESIS_RECORD_BYTES_MAX;

/// `AggregatedRecord` of the format document.
#[derive(Clone, PartialEq, Message)]
pub struct AggregatedRecord {
    /// Every partition key of the aggregate, once; user records name theirs by index.
    #[prost(string, repeated, tag = "1")]
    pub partition_key_table: Vec<String>,
    /// Every explicit hash key of the aggregate, once, named by index like the partition keys.
    #[prost(string, repeated, tag = "2")]
    pub explicit_hash_key_table: Vec<String>,
    /// The user records, in order: a record's index is its sub-sequence number.
    #[prost(message, repeated, tag = "3")]
    pub records: Vec<ProtoRecord>,
}

/// `Record` of the format document: one user record, its keys as indexes into the tables.
#[derive(Clone, PartialEq, Message)]
pub struct ProtoRecord {
    /// Where the user record's partition key is in `partition_key_table`.
    #[prost(uint64, required, tag = "1")]
    pub partition_key_index: u64,
    /// Where its explicit hash key is in `explicit_hash_key_table`, if it has one.
    #[prost(uint64, optional, tag = "2")]
    pub explicit_hash_key_index: Option<u64>,
    /// The user record's bytes: one event, as the producer sent it.
    #[prost(bytes = "vec", required, tag = "3")]
    pub data: Vec<u8>,
    /// Key-value tags (the KPL writes none).
    #[prost(message, repeated, tag = "4")]
    pub tags: Vec<Tag>,
}

/// `Tag` of the format document (the KPL writes none; read and ignored).
#[derive(Clone, PartialEq, Message)]
pub struct Tag {
    /// The tag's key (never read).
    #[prost(string, required, tag = "1")]
    pub key: String,
    /// The tag's value, if any (never read).
    #[prost(string, optional, tag = "2")]
    pub value: Option<String>,
}

/// One user record of an aggregated record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserRecord {
    /// The partition key the producer gave it (the shard was chosen by the aggregate's first).
    pub partition_key: String,
    /// The explicit hash key the producer gave it, if any.
    pub explicit_hash_key: Option<String>,
    /// The event's bytes, as sent.
    pub data: Vec<u8>,
}

/// Why data that starts with the magic is not a usable aggregated record.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DeaggregationError {
    /// Shorter than the magic and the checksum; holds the record's length.
    #[error("the record starts with the KPL magic bytes but is {0} bytes long, too short for the magic and an MD5 checksum (20 bytes): it is truncated")]
    TooShort(usize),
    /// The MD5 after the message is not the message's.
    #[error("the MD5 checksum of the KPL aggregated record does not match its protobuf message: the record is truncated or damaged")]
    Checksum,
    /// The message is not an `AggregatedRecord`; holds protobuf's reason.
    #[error("the protobuf message of the KPL aggregated record does not decode ({0}): the record is damaged or not from a KPL-compatible producer")]
    Protobuf(String),
    /// A user record names a partition key past the end of the table.
    #[error("user record {record} names partition key {index}, but the partition key table holds {table}: the aggregated record is inconsistent")]
    PartitionKeyIndex {
        /// The user record's index in the aggregate.
        record: usize,
        /// The partition key index it names.
        index: u64,
        /// How many the table holds.
        table: usize,
    },
    /// A user record names an explicit hash key past the end of the table.
    #[error("user record {record} names explicit hash key {index}, but the explicit hash key table holds {table}: the aggregated record is inconsistent")]
    ExplicitHashKeyIndex {
        /// The user record's index in the aggregate.
        record: usize,
        /// The explicit hash key index it names.
        index: u64,
        /// How many the table holds.
        table: usize,
    },
    /// An aggregate with no user record: nothing to process, so a bad row.
    #[error("the KPL aggregated record holds no user records")]
    Empty,
}

/// Whether `data` is (or claims to be) an aggregated record.
#[inline]
pub fn is_aggregated(data: &[u8]) -> bool {
    data.starts_with(&MAGIC)
}

/// The user records of an aggregated record, in order (their index is their sub-sequence
/// number). `data` must start with [`MAGIC`].
pub fn deaggregate(data: &[u8]) -> Result<Vec<UserRecord>, DeaggregationError> {
    if data.len() < MAGIC.len() + DIGEST_BYTES {
        return Err(DeaggregationError::TooShort(data.len()));
    }
    let (message, digest) = data[MAGIC.len()..].split_at(data.len() - MAGIC.len() - DIGEST_BYTES);
    if Md5::digest(message).as_slice() != digest {
        return Err(DeaggregationError::Checksum);
    }
    let aggregated = AggregatedRecord::decode(message).map_err(|e| DeaggregationError::Protobuf(e.to_string()))?;
    if aggregated.records.is_empty() {
        return Err(DeaggregationError::Empty);
    }
    let AggregatedRecord { partition_key_table: keys, explicit_hash_key_table: hash_keys, records } = aggregated;
    let lookup = |table: &[String], index: u64| usize::try_from(index).ok().and_then(|i| table.get(i)).cloned();
    records
        .into_iter()
        .enumerate()
        .map(|(record, r)| {
            let partition_key = lookup(&keys, r.partition_key_index).ok_or(DeaggregationError::PartitionKeyIndex {
                record,
                index: r.partition_key_index,
                table: keys.len(),
            })?;
            let explicit_hash_key = match r.explicit_hash_key_index {
                None => None,
                Some(index) => Some(lookup(&hash_keys, index).ok_or(DeaggregationError::ExplicitHashKeyIndex {
                    record,
                    index,
                    table: hash_keys.len(),
                })?),
            };
            Ok(UserRecord { partition_key, explicit_hash_key, data: r.data })
        })
        .collect()
}

/// Frames a protobuf message as an aggregated record: magic, message, MD5.
pub fn frame(message: &AggregatedRecord) -> Vec<u8> {
    let mut out = Vec::with_capacity(MAGIC.len() + message.encoded_len() + DIGEST_BYTES);
    out.extend_from_slice(&MAGIC);
    message.encode(&mut out).expect("a Vec grows as needed");
    let digest = Md5::digest(&out[MAGIC.len()..]);
    out.extend_from_slice(&digest);
    out
}

/// An aggregated record ready to put: the Kinesis record's partition key, explicit hash key
/// and data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KinesisRecord {
    /// The first user record's partition key, which picks the shard.
    pub partition_key: String,
    /// The first user record's explicit hash key, if it had one.
    pub explicit_hash_key: Option<String>,
    /// The aggregated record (magic, message, MD5), or a lone user record's own bytes.
    pub data: Vec<u8>,
    /// How many user records it holds (1 for a record sent as it is).
    pub user_records: usize,
}

/// Packs user records into aggregated records the way the KPL does: the Kinesis record's
/// partition key (and explicit hash key) are its first user record's; keys repeated within
/// one aggregate are stored once in the tables; a record is full when one more user record
/// would take its data plus partition key past `max_bytes` (exact protobuf sizes, not an
/// estimate); and a lone user record is sent as it is, not aggregated.
///
/// Which user records share an aggregate is the caller's choice: the KPL aggregates only
/// records bound for one shard, so each aggregate lands where its user records would have.
#[derive(Debug)]
pub struct Aggregator {
    max_bytes: usize,
    message: AggregatedRecord,
    keys: HashMap<String, u64>,
    hash_keys: HashMap<String, u64>,
    /// The protobuf message's encoded length so far.
    message_len: usize,
    /// The first user record's explicit hash key.
    first_hash_key: Option<String>,
}

impl Aggregator {
    /// An empty aggregate of at most `max_bytes` (data plus partition key), e.g.
    /// [`MAX_AGGREGATED_BYTES`].
    pub fn new(max_bytes: usize) -> Self {
        Self {
            max_bytes,
            message: AggregatedRecord::default(),
            keys: HashMap::new(),
            hash_keys: HashMap::new(),
            message_len: 0,
            first_hash_key: None,
        }
    }

    /// Whether no user record was added yet (nothing to put).
    pub fn is_empty(&self) -> bool {
        self.message.records.is_empty()
    }

    /// User records added so far.
    pub fn len(&self) -> usize {
        self.message.records.len()
    }

    /// The size the Kinesis record would have now: aggregated data plus partition key.
    pub fn size(&self) -> usize {
        self.size_with(self.message_len)
    }

    fn size_with(&self, message_len: usize) -> usize {
        let key = self.message.partition_key_table.first().map_or(0, String::len);
        MAGIC.len() + message_len + DIGEST_BYTES + key
    }

    /// The bytes one more user record would add to the message.
    fn added_len(&self, partition_key: &str, explicit_hash_key: Option<&str>, data_len: usize) -> usize {
        let string_entry = |s: &str| 1 + encoded_len_varint(s.len() as u64) + s.len();
        let mut table = 0;
        let key_index = match self.keys.get(partition_key) {
            Some(&i) => i,
            None => {
                table += string_entry(partition_key);
                self.keys.len() as u64
            }
        };
        let mut record = 1 + encoded_len_varint(key_index) + 1 + encoded_len_varint(data_len as u64) + data_len;
        if let Some(hash_key) = explicit_hash_key {
            let index = match self.hash_keys.get(hash_key) {
                Some(&i) => i,
                None => {
                    table += string_entry(hash_key);
                    self.hash_keys.len() as u64
                }
            };
            record += 1 + encoded_len_varint(index);
        }
        table + 1 + encoded_len_varint(record as u64) + record
    }

    /// Adds a user record if it fits; `false` (nothing added) when the aggregate is full:
    /// take it with [`Aggregator::finish`] and add the record to a new one. An empty
    /// aggregate takes any record.
    pub fn try_add(&mut self, partition_key: &str, explicit_hash_key: Option<&str>, data: &[u8]) -> bool {
        let added = self.added_len(partition_key, explicit_hash_key, data.len());
        if !self.is_empty() && self.size_with(self.message_len + added) > self.max_bytes {
            return false;
        }
        self.message_len += added;
        let next = self.keys.len() as u64;
        let partition_key_index = *self.keys.entry(partition_key.to_owned()).or_insert_with(|| {
            self.message.partition_key_table.push(partition_key.to_owned());
            next
        });
        let explicit_hash_key_index = explicit_hash_key.map(|hash_key| {
            let next = self.hash_keys.len() as u64;
            *self.hash_keys.entry(hash_key.to_owned()).or_insert_with(|| {
                self.message.explicit_hash_key_table.push(hash_key.to_owned());
                next
            })
        });
        if self.is_empty() {
            self.first_hash_key = explicit_hash_key.map(str::to_owned);
        }
        self.message.records.push(ProtoRecord { partition_key_index, explicit_hash_key_index, data: data.to_vec(), tags: Vec::new() });
        true
    }

    /// The Kinesis record of what was added (`None` when nothing was), leaving the aggregator
    /// empty for the next one.
    pub fn finish(&mut self) -> Option<KinesisRecord> {
        let message = std::mem::take(&mut self.message);
        let first_hash_key = self.first_hash_key.take();
        self.keys.clear();
        self.hash_keys.clear();
        let message_len = std::mem::take(&mut self.message_len);
        let partition_key = message.partition_key_table.first()?.clone();
        let user_records = message.records.len();
        let data = if user_records == 1 {
            message.records.into_iter().next().map(|r| r.data).unwrap_or_default()
        } else {
            debug_assert_eq!(message.encoded_len(), message_len, "the tracked size is the encoded size");
            frame(&message)
        };
        Some(KinesisRecord { partition_key, explicit_hash_key: first_hash_key, data, user_records })
    }
}

/// Packs `records` (partition key, explicit hash key, data) into as few Kinesis records as
/// fit `max_bytes` each, in order (see [`Aggregator`]).
pub fn aggregate<'a>(
    records: impl IntoIterator<Item = (&'a str, Option<&'a str>, &'a [u8])>,
    max_bytes: usize,
) -> Vec<KinesisRecord> {
    let mut out = Vec::new();
    let mut aggregator = Aggregator::new(max_bytes);
    for (key, hash_key, data) in records {
        if !aggregator.try_add(key, hash_key, data) {
            out.extend(aggregator.finish());
            aggregator.try_add(key, hash_key, data);
        }
    }
    out.extend(aggregator.finish());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(key: &str, data: &str) -> UserRecord {
        UserRecord { partition_key: key.into(), explicit_hash_key: None, data: data.as_bytes().to_vec() }
    }

    #[test]
    fn what_is_aggregated_comes_back_with_its_keys_in_order() {
        let records = [("a", None, &b"{\"n\":0}"[..]), ("b", Some("42"), b"{\"n\":1}"), ("a", None, b"{\"n\":2}")];
        let out = aggregate(records, MAX_AGGREGATED_BYTES);
        assert_eq!(out.len(), 1);
        let r = &out[0];
        assert_eq!((r.partition_key.as_str(), r.explicit_hash_key.as_deref(), r.user_records), ("a", None, 3));
        assert!(is_aggregated(&r.data));
        let users = deaggregate(&r.data).unwrap();
        assert_eq!(users[0], user("a", "{\"n\":0}"));
        assert_eq!(users[1], UserRecord { explicit_hash_key: Some("42".into()), ..user("b", "{\"n\":1}") });
        assert_eq!(users[2], user("a", "{\"n\":2}"));
        // The repeated key is stored once.
        let message = AggregatedRecord::decode(&r.data[4..r.data.len() - 16]).unwrap();
        assert_eq!(message.partition_key_table, ["a", "b"]);
    }

    #[test]
    fn aggregates_fill_up_to_the_limit_exactly_and_a_lone_record_goes_as_it_is() {
        let data: Vec<Vec<u8>> = (0..200).map(|i| format!("{{\"user_id\":\"u{i}\",\"pad\":\"{}\"}}", "x".repeat(i % 50)).into_bytes()).collect();
        let keys: Vec<String> = (0..200).map(|i| format!("u{}", i % 7)).collect();
        for limit in [300, 1000, 4096] {
            let out = aggregate(keys.iter().zip(&data).map(|(k, d)| (k.as_str(), None, d.as_slice())), limit);
            let mut n = 0;
            for r in &out {
                if r.user_records > 1 {
                    assert!(r.data.len() + r.partition_key.len() <= limit, "{} > {limit}", r.data.len());
                    let users = deaggregate(&r.data).unwrap();
                    for u in &users {
                        assert_eq!((u.partition_key.as_str(), u.data.as_slice()), (keys[n].as_str(), data[n].as_slice()));
                        n += 1;
                    }
                } else {
                    assert_eq!(r.data, data[n]);
                    n += 1;
                }
            }
            assert_eq!(n, 200);
        }
        // The size the aggregator tracks is the real size.
        let mut a = Aggregator::new(MAX_AGGREGATED_BYTES);
        for (k, d) in keys.iter().zip(&data).take(50) {
            assert!(a.try_add(k, Some("170141183460469231731687303715884105728"), d));
        }
        let size = a.size();
        let r = a.finish().unwrap();
        assert_eq!(size, r.data.len() + r.partition_key.len());
        assert!(a.is_empty() && a.finish().is_none());
    }

    #[test]
    fn damaged_aggregates_say_why() {
        let good = aggregate([("a", None, &b"{}"[..]), ("b", None, b"{}")], MAX_AGGREGATED_BYTES).remove(0).data;
        assert!(matches!(deaggregate(&good[..10]), Err(DeaggregationError::TooShort(10))));
        assert!(matches!(deaggregate(&good[..good.len() - 1]), Err(DeaggregationError::Checksum)));
        let mut flipped = good.clone();
        flipped[6] ^= 1;
        assert_eq!(deaggregate(&flipped), Err(DeaggregationError::Checksum));

        let bad_index = AggregatedRecord {
            partition_key_table: vec!["a".into()],
            explicit_hash_key_table: vec![],
            records: vec![ProtoRecord { partition_key_index: 1, explicit_hash_key_index: None, data: b"{}".to_vec(), tags: vec![] }],
        };
        assert!(matches!(deaggregate(&frame(&bad_index)), Err(DeaggregationError::PartitionKeyIndex { record: 0, index: 1, table: 1 })));
        let bad_hash = AggregatedRecord {
            records: vec![ProtoRecord { partition_key_index: 0, explicit_hash_key_index: Some(0), ..bad_index.records[0].clone() }],
            ..bad_index.clone()
        };
        assert!(matches!(deaggregate(&frame(&bad_hash)), Err(DeaggregationError::ExplicitHashKeyIndex { .. })));
        assert_eq!(deaggregate(&frame(&AggregatedRecord::default())), Err(DeaggregationError::Empty));

        // A protobuf that is not an AggregatedRecord, with a right checksum.
        let mut junk = MAGIC.to_vec();
        junk.extend_from_slice(&[0x1A, 0x7F, 0x01]);
        let digest = Md5::digest(&junk[4..]);
        junk.extend_from_slice(&digest);
        assert!(matches!(deaggregate(&junk), Err(DeaggregationError::Protobuf(_))));
    }
}
