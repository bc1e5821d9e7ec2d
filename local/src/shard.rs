//! Kinesis' shard rule: the MD5 of the partition key, read as a 128-bit big-endian integer
//! (or an explicit hash key, given in decimal), falls in exactly one shard's hash-key range;
//! N shards split the range evenly.

pub use pipeline::record::hash_key;

/// Width of each of `shards` ranges (2^128 / N, exactly for powers of two); `None` for one
/// shard, whose range is the whole space.
fn range_width(shards: u32) -> Option<u128> {
    (shards > 1).then(|| u128::MAX / u128::from(shards) + 1)
}

/// The shard (0-based) of `partition_key` among `shards` evenly split ranges.
pub fn shard_of(partition_key: &str, shards: u32) -> u32 {
    shard_of_hash(hash_key(partition_key), shards)
}

/// The shard (0-based) whose range holds `hash`.
pub fn shard_of_hash(hash: u128, shards: u32) -> u32 {
    match range_width(shards) {
        None => 0,
        Some(width) => (hash / width).min(u128::from(shards - 1)) as u32,
    }
}

/// Shard `shard`'s hash-key range, both ends included (as `ListShards` reports it).
pub fn hash_range(shard: u32, shards: u32) -> (u128, u128) {
    match range_width(shards) {
        None => (0, u128::MAX),
        Some(width) => {
            let start = width * u128::from(shard);
            let end = if shard + 1 >= shards { u128::MAX } else { start + width - 1 };
            (start, end)
        }
    }
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

    #[test]
    fn ranges_cover_the_hash_space_and_hold_their_keys() {
        for shards in [1, 2, 3, 4, 7, 64, 1024] {
            let ranges: Vec<(u128, u128)> = (0..shards).map(|s| hash_range(s, shards)).collect();
            assert_eq!(ranges[0].0, 0);
            assert_eq!(ranges[shards as usize - 1].1, u128::MAX);
            for pair in ranges.windows(2) {
                assert_eq!(pair[0].1 + 1, pair[1].0, "{shards} shards: no gap, no overlap");
            }
            for (s, &(start, end)) in ranges.iter().enumerate() {
                for hash in [start, end, start / 2 + end / 2] {
                    assert_eq!(shard_of_hash(hash, shards), s as u32, "{shards} shards, hash {hash}");
                }
            }
            for i in 0..200 {
                let key = format!("user-{i}");
                let (start, end) = ranges[shard_of(&key, shards) as usize];
                assert!((start..=end).contains(&hash_key(&key)));
            }
        }
    }
}
