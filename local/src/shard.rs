//! Kinesis' shard rule: the MD5 of the partition key, read as a 128-bit big-endian integer,
//! falls in exactly one shard's hash-key range; N shards split the range evenly.

use md5::{Digest, Md5};

/// The hash key of a partition key.
pub fn hash_key(partition_key: &str) -> u128 {
    u128::from_be_bytes(Md5::digest(partition_key.as_bytes()).into())
}

/// The shard (0-based) of `partition_key` among `shards` evenly split ranges.
pub fn shard_of(partition_key: &str, shards: u32) -> u32 {
    if shards <= 1 {
        return 0;
    }
    // Each range is 2^128 / N wide (exactly, for powers of two).
    let width = u128::MAX / u128::from(shards) + 1;
    let index = hash_key(partition_key) / width;
    index.min(u128::from(shards - 1)) as u32
}

/// `shardId-000000000003`, Kinesis' shard id format.
pub fn shard_id(shard: u32) -> String {
    format!("shardId-{shard:012}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn md5_ranges() {
        // MD5("") = d41d8cd98f00b204e9800998ecf8427e: top two bits 11 -> shard 3 of 4.
        assert_eq!(hash_key(""), 0xd41d8cd98f00b204e9800998ecf8427e);
        assert_eq!(shard_of("", 4), 3);
        // MD5("123") = 202cb962ac59075b964b07152d234b70: top bits 00 -> shard 0 of 4.
        assert_eq!(shard_of("123", 4), 0);
        assert_eq!(shard_of("anything", 1), 0);
        let mut counts = [0u32; 4];
        for i in 0..4_000 {
            counts[shard_of(&format!("user-{i}"), 4) as usize] += 1;
        }
        assert!(counts.iter().all(|&c| (850..1150).contains(&c)), "{counts:?}");
        assert_eq!(shard_id(3), "shardId-000000000003");
    }
}
