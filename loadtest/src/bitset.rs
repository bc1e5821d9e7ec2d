//! A fixed-size set of event indices, shared between threads without locks: which events were
//! acknowledged, which the generator made invalid, which verification found.

use std::sync::atomic::{AtomicU64, Ordering};

/// A set of indices below a fixed bound, one bit each.
pub struct Bitset {
    words: Vec<AtomicU64>,
    len: u64,
}

impl Bitset {
    /// An empty set of indices below `len`.
    pub fn new(len: u64) -> Self {
        Self { words: (0..len.div_ceil(64)).map(|_| AtomicU64::new(0)).collect(), len }
    }

    /// Indices it can hold.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether it can hold no index at all.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Adds `i`; true when it was not there yet. Out-of-range indices are ignored (false).
    pub fn insert(&self, i: u64) -> bool {
        if i >= self.len {
            return false;
        }
        let bit = 1u64 << (i % 64);
        self.words[(i / 64) as usize].fetch_or(bit, Ordering::Relaxed) & bit == 0
    }

    /// Whether `i` was inserted.
    pub fn contains(&self, i: u64) -> bool {
        i < self.len && self.words[(i / 64) as usize].load(Ordering::Relaxed) & (1 << (i % 64)) != 0
    }

    /// Indices inserted.
    pub fn count(&self) -> u64 {
        self.words.iter().map(|w| u64::from(w.load(Ordering::Relaxed).count_ones())).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::Bitset;

    #[test]
    fn inserts_once_and_counts() {
        let s = Bitset::new(130);
        assert!(s.insert(0) && s.insert(64) && s.insert(129));
        assert!(!s.insert(64), "second insert");
        assert!(!s.insert(130), "out of range");
        assert!(s.contains(129) && !s.contains(128) && !s.contains(1_000));
        assert_eq!(s.count(), 3);
    }
}
