//! A lookup table's rows in memory: every key and its pre-rendered columns side by side in
//! one buffer, found through a hash table of their places. A map of boxed strings costs two
//! allocations a row and three cache misses a hit (slot, key, columns); this costs two
//! allocations a table and two misses a hit (slot, then key and columns together).

use std::hash::BuildHasher;

use hashbrown::HashTable;

/// Where one row is in [`RowTable::text`]: its key, then its columns.
#[derive(Clone, Copy, Debug)]
struct RowAt {
    start: u32,
    key_len: u32,
    columns_len: u32,
}

impl RowAt {
    fn key(self, text: &str) -> &str {
        &text[self.start as usize..(self.start + self.key_len) as usize]
    }

    fn columns(self, text: &str) -> &str {
        let start = (self.start + self.key_len) as usize;
        &text[start..start + self.columns_len as usize]
    }
}

/// Rows by key (each key once); the columns are one JSON object's text.
#[derive(Debug, Default)]
pub(crate) struct RowTable {
    keys: foldhash::fast::RandomState,
    /// The rows' places, by the hash of their key.
    index: HashTable<RowAt>,
    text: String,
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
        self.index.len()
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
        self.text.push_str(key);
        self.text.push_str(columns);
        let Self { keys, index, text } = self;
        index.insert_unique(keys.hash_one(key), at, |at| keys.hash_one(at.key(text)));
        Ok(())
    }

    /// The columns of `key`'s row.
    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        let at = self.index.find(self.keys.hash_one(key), |at| at.key(&self.text) == key)?;
        Some(at.columns(&self.text))
    }

    /// Frees the room the text grew into (after loading).
    pub(crate) fn shrink_to_fit(&mut self) {
        let Self { keys, index, text } = self;
        text.shrink_to_fit();
        index.shrink_to_fit(|at| keys.hash_one(at.key(text)));
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
        // A row of key "a" filed under the hash of "b": "b" must still be found as itself.
        let mut table = RowTable { index: HashTable::with_capacity(4), ..RowTable::default() };
        let hash_of_b = table.keys.hash_one("b");
        table.index.insert_unique(hash_of_b, RowAt { start: 0, key_len: 1, columns_len: 2 }, |_| hash_of_b);
        table.text.push_str("a{}");
        table.insert("b", "{\"b\":1}").unwrap();
        assert_eq!(table.get("b"), Some("{\"b\":1}"), "a key whose hash's slot holds another key");
        assert_eq!(table.insert("b", "{}"), Err(Refused::Duplicate));
        assert_eq!(table.get("a"), None, "a key is found by its own hash only");
    }
}
