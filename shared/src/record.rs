//! A stream record: what Kinesis (or the local stream) carries for one event.

use chrono::{DateTime, Utc};

/// The largest record accepted: Kinesis' own limit on a record's data.
pub const MAX_RECORD_BYTES: usize = crate::limits::KINESIS_RECORD_BYTES_MAX;

/// One record of a shard, as the batch flow receives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// One event's bytes, exactly as the producer sent them.
    pub data: Vec<u8>,
    pub partition_key: String,
    pub sequence_number: String,
    /// The user record's index inside a KPL aggregated record; 0 for a plain record.
    pub sub_sequence_number: u32,
    pub shard_id: String,
    /// When the stream accepted the record (Kinesis' approximate arrival timestamp).
    pub arrival: DateTime<Utc>,
}
