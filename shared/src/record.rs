//! A stream record: what Kinesis (or the local stream) carries for one event.

use chrono::{DateTime, Utc};
use md5::{Digest, Md5};

/// The largest record accepted: Kinesis' own limit on a record's data.
pub const MAX_RECORD_BYTES: usize = crate::limits::KINESIS_RECORD_BYTES_MAX;

/// One record of a shard, as the batch flow receives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// One event's bytes, exactly as the producer sent them.
    pub data: Vec<u8>,
    /// The producer's partition key: it chose the shard.
    pub partition_key: String,
    /// The record's position in its shard (decimal text, as Kinesis gives it).
    pub sequence_number: String,
    /// The user record's index inside a KPL aggregated record; 0 for a plain record.
    pub sub_sequence_number: u32,
    /// The shard the record was read from (`shardId-000000000000`).
    pub shard_id: String,
    /// When the stream accepted the record (Kinesis' approximate arrival timestamp).
    pub arrival: DateTime<Utc>,
}

/// Kinesis' hash key of a partition key: its MD5 as a 128-bit big-endian integer. The shard
/// whose hash-key range holds it takes the record (unless an explicit hash key is given).
pub fn hash_key(partition_key: &str) -> u128 {
    u128::from_be_bytes(Md5::digest(partition_key.as_bytes()).into())
}
