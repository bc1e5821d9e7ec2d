//! A lookup table's rows in memory: every key and its pre-rendered columns side by side in
//! one buffer, found through a hash index of the keys. A map of boxed strings costs two
//! allocations a row and three cache misses a hit (slot, key, columns); this costs two
//! allocations a table and two misses a hit (slot, then key and columns together).

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};

/// Where one row is in [`RowTable::text`]: its key, then its columns.
#[derive(Clone, Copy, Debug)]
struct RowAt {
    start: u32,
    key_len: u32,
    columns_len: u32,
}

/// Rows by key (each key once); the columns are one JSON object's text.
#[derive(Debug, Default)]
pub(crate) struct RowTable {
    keys: foldhash::fast::RandomState,
    /// Keys by their hash (already mixed: the index does not hash it again).
    index: HashMap<u64, RowAt, BuildHasherDefault<HashIsKey>>,
    /// Rows whose key's hash is another key's (rare: 64-bit hashes of different keys).
    collided: HashMap<Box<str>, Box<str>, foldhash::fast::RandomState>,
    text: String,
}

/// Hashing a `u64` that is a hash already.
#[derive(Default)]
struct HashIsKey(u64);

impl Hasher for HashIsKey {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `u64`s are hashed here; fold anything else in all the same.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// Why a row was not added.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Refused {
    /// The key is in the table already.
    Duplicate,
    /// The table's text would pass [`MAX_TABLE_TEXT_BYTES`].
    TooLarge,
}

/// The largest table text the offsets can address.
pub(crate) const MAX_TABLE_TEXT_BYTES: usize = u32::MAX as usize;

impl RowTable {
    pub(crate) fn len(&self) -> usize {
        self.index.len() + self.collided.len()
    }

    /// Adds a row (the caller's budget refuses tables long before they are too large).
    pub(crate) fn insert(&mut self, key: &str, columns: &str) -> Result<(), Refused> {
        if self.get(key).is_some() {
            return Err(Refused::Duplicate);
        }
        let start = self.text.len();
        if start + key.len() + columns.len() > MAX_TABLE_TEXT_BYTES {
            return Err(Refused::TooLarge);
        }
        let at = RowAt { start: start as u32, key_len: key.len() as u32, columns_len: columns.len() as u32 };
        match self.index.entry(self.keys.hash_one(key)) {
            Entry::Vacant(slot) => {
                self.text.push_str(key);
                self.text.push_str(columns);
                slot.insert(at);
            }
            Entry::Occupied(_) => {
                self.collided.insert(key.into(), columns.into());
            }
        }
        Ok(())
    }

    /// The columns of `key`'s row.
    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        if let Some(at) = self.index.get(&self.keys.hash_one(key)) {
            let start = at.start as usize;
            let key_end = start + at.key_len as usize;
            if self.text.get(start..key_end) == Some(key) {
                return self.text.get(key_end..key_end + at.columns_len as usize);
            }
        }
        if self.collided.is_empty() {
            return None;
        }
        self.collided.get(key).map(|c| &**c)
    }

    /// Frees the room the text grew into (after loading).
    pub(crate) fn shrink_to_fit(&mut self) {
        self.text.shrink_to_fit();
        self.index.shrink_to_fit();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_found_by_key_and_keys_are_kept_once() {
        let mut table = RowTable::default();
        for i in 0..10_000 {
            table.insert(&format!("k{i}"), &format!("{{\"n\":{i}}}")).unwrap();
        }
        assert_eq!(table.insert("k7", "{}"), Err(Refused::Duplicate));
        table.insert("", "{\"empty\":true}").unwrap();
        table.insert("é✓", "{}").unwrap();
        table.shrink_to_fit();
        assert_eq!(table.len(), 10_002);
        assert_eq!(table.get("k9999"), Some("{\"n\":9999}"));
        assert_eq!(table.get("k0"), Some("{\"n\":0}"));
        assert_eq!(table.get(""), Some("{\"empty\":true}"));
        assert_eq!(table.get("é✓"), Some("{}"));
        assert_eq!(table.get("k10000"), None);
        assert_eq!(table.get("k"), None);
    }

    #[test]
    fn keys_whose_hashes_collide_are_told_apart() {
        // Every key hashes alike: all but the first go to the collided rows.
        let mut table = RowTable { keys: foldhash::fast::RandomState::default(), ..RowTable::default() };
        table.index.insert(table.keys.hash_one("b"), RowAt { start: 0, key_len: 1, columns_len: 2 });
        table.text.push_str("a{}");
        table.insert("b", "{\"b\":1}").unwrap();
        assert_eq!(table.get("b"), Some("{\"b\":1}"), "a key whose hash's slot holds another key");
        assert_eq!(table.insert("b", "{}"), Err(Refused::Duplicate));
        assert_eq!(table.get("a"), None, "a key is found by its own hash only");
    }
}
