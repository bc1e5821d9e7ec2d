//! A lookup table's rows in memory: every key and its pre-rendered columns side by side in
//! one buffer, found through an index of their places.
//!
//! The index is open addressing over 16-byte slots, at most half full, each holding a row's
//! place and 32 bits of its key's hash: a key is told apart from the others in its slot's
//! cache line, without reading any row; a key found costs that line and its row's.
//!
//! Before the index, a bitmap of eight bits per slot (a sixteenth of the index's size) has
//! one bit set per key: a key whose bit is clear is not in the table. Most keys looked up
//! are not (a table keyed by SKU holds a fraction of a shop's), and they are decided there
//! without reading the index. With 100,000 rows the index is 4 MiB, far from any cache, and
//! the bitmap 256 KiB, whose line can be asked for early ([`RowTable::prefetch`], before the
//! event is validated) and be there when the lookup runs. hashbrown's tables cannot say
//! where a key's place is before the search, which is all this needs beyond them.

use std::hash::BuildHasher;

/// One slot of the index: a row's place in [`RowTable::text`] and its key's hash bits.
#[derive(Clone, Copy, Debug, Default)]
struct Slot {
    /// The hash's high 32 bits with the lowest bit set; 0: the slot is empty.
    tag: u32,
    start: u32,
    key_len: u32,
    columns_len: u32,
}

impl Slot {
    fn key(self, text: &str) -> &str {
        &text[self.start as usize..(self.start + self.key_len) as usize]
    }

    fn columns(self, text: &str) -> &str {
        let start = (self.start + self.key_len) as usize;
        &text[start..start + self.columns_len as usize]
    }
}

/// The tag of a hash: never 0, so 0 marks an empty slot.
fn tag_of(hash: u64) -> u32 {
    (hash >> 32) as u32 | 1
}

/// Rows by key (each key once); the columns are one JSON object's text.
#[derive(Debug, Default)]
pub(crate) struct RowTable {
    keys: foldhash::fast::RandomState,
    /// A power of two of slots (or none), at most half of them used.
    slots: Vec<Slot>,
    /// [`FILTER_BITS_PER_SLOT`] bits per slot, one set for each key's hash.
    filter: Vec<u64>,
    len: usize,
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

/// Slots of a table with no room left: the first one gets this many.
const FIRST_SLOTS: usize = 16;

/// Bits of the filter per slot: with at most half the slots used, a key not in the table
/// finds its bit set less than one time in sixteen.
const FILTER_BITS_PER_SLOT: usize = 8;

/// An odd constant (2^64 divided by the golden ratio) whose product spreads every bit of a
/// hash into the product's high half.
const FILTER_MIX: u64 = 0x9e37_79b9_7f4a_7c15;

impl RowTable {
    pub(crate) fn len(&self) -> usize {
        self.len
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
        if (self.len + 1) * 2 > self.slots.len() {
            self.resize((self.slots.len() * 2).max(FIRST_SLOTS));
        }
        self.text.push_str(key);
        self.text.push_str(columns);
        let hash = self.keys.hash_one(key);
        let slot = Slot { tag: tag_of(hash), start: start as u32, key_len: key.len() as u32, columns_len: columns.len() as u32 };
        self.place(hash, slot);
        self.len += 1;
        Ok(())
    }

    /// The columns of `key`'s row.
    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        if self.slots.is_empty() {
            return None;
        }
        let hash = self.keys.hash_one(key);
        if !self.may_hold(hash) {
            return None;
        }
        let tag = tag_of(hash);
        let mask = self.slots.len() - 1;
        let mut at = self.home(hash);
        // Ends: at most half the slots are used, so an empty one comes.
        loop {
            let slot = self.slots[at];
            if slot.tag == 0 {
                return None;
            }
            if slot.tag == tag && slot.key(&self.text) == key {
                return Some(slot.columns(&self.text));
            }
            at = (at + 1) & mask;
        }
    }

    /// Starts loading the filter's cache line a [`get`](Self::get) of `key` reads first, so
    /// that a key not in the table is decided without waiting for memory (a hint: nothing is
    /// read).
    pub(crate) fn prefetch(&self, key: &str) {
        if self.slots.is_empty() {
            return;
        }
        // Only the filter's line: asking for the index's too, which most keys never read,
        // measured slower (the memory traffic), and reading the filter here would wait.
        let hash = self.keys.hash_one(key);
        prefetch_line(&self.filter[self.filter_bit(hash).0]);
    }

    /// Frees the room the text grew into (after loading).
    pub(crate) fn shrink_to_fit(&mut self) {
        self.text.shrink_to_fit();
    }

    /// The filter's word and bit for `hash` (the index has slots): the hash mixed again, so
    /// that the bit follows neither the slot (the low bits) nor the tag (the high ones), and
    /// a key that passes the filter by chance is still told apart by its tag.
    fn filter_bit(&self, hash: u64) -> (usize, u64) {
        let bit = (hash.wrapping_mul(FILTER_MIX) >> 32) as usize & (self.filter.len() * 64 - 1);
        (bit / 64, 1 << (bit % 64))
    }

    /// Whether a key of `hash` may be in the table (its filter bit is set).
    fn may_hold(&self, hash: u64) -> bool {
        let (word, bit) = self.filter_bit(hash);
        self.filter[word] & bit != 0
    }

    /// The slot where the search for a key of `hash` starts (the index has slots).
    fn home(&self, hash: u64) -> usize {
        hash as usize & (self.slots.len() - 1)
    }

    /// Moves every row into `slots` new slots (a power of two, more than twice the rows).
    fn resize(&mut self, slots: usize) {
        let old = std::mem::replace(&mut self.slots, vec![Slot::default(); slots]);
        self.filter = vec![0; slots * FILTER_BITS_PER_SLOT / 64];
        for slot in old.into_iter().filter(|s| s.tag != 0) {
            self.place(self.keys.hash_one(slot.key(&self.text)), slot);
        }
    }

    /// Puts `slot` into the first empty slot from its hash's on.
    fn place(&mut self, hash: u64, slot: Slot) {
        let (word, bit) = self.filter_bit(hash);
        self.filter[word] |= bit;
        let mask = self.slots.len() - 1;
        let mut at = self.home(hash);
        while self.slots[at].tag != 0 {
            at = (at + 1) & mask;
        }
        self.slots[at] = slot;
    }
}

/// Asks the processor to bring `item`'s cache line in (where it has such a hint; elsewhere
/// nothing happens and the look-up waits as it would have).
fn prefetch_line<T>(item: &T) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        // SAFETY: a prefetch is a hint: it reads nothing into the program and cannot fault,
        // whatever the address; SSE, which it needs, is in every x86-64 processor.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(std::ptr::from_ref(item).cast()) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = item;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_found_by_key_and_keys_are_kept_once() {
        let mut table = RowTable::default();
        assert_eq!(table.get("k0"), None, "an empty table");
        table.prefetch("k0");
        for i in 0..10_000 {
            table.insert(&format!("k{i}"), &format!("{{\"n\":{i}}}")).unwrap();
        }
        assert_eq!(table.insert("k7", "{}"), Err(Refused::Duplicate));
        table.insert("", "{\"empty\":true}").unwrap();
        table.insert("é✓", "{}").unwrap();
        table.shrink_to_fit();
        assert_eq!(table.len(), 10_002);
        for i in (0..10_000).step_by(7) {
            let key = format!("k{i}");
            table.prefetch(&key);
            assert_eq!(table.get(&key), Some(format!("{{\"n\":{i}}}").as_str()));
        }
        assert_eq!(table.get("k9999"), Some("{\"n\":9999}"));
        assert_eq!(table.get("k0"), Some("{\"n\":0}"));
        assert_eq!(table.get(""), Some("{\"empty\":true}"));
        assert_eq!(table.get("é✓"), Some("{}"));
        assert_eq!(table.get("k10000"), None);
        assert_eq!(table.get("k"), None);
        assert!(table.slots.len().is_power_of_two() && table.slots.len() >= 2 * table.len(), "at most half full");
        // Keys not in the table: most are told apart by the filter, before the index.
        let passed = (0..100_000).filter(|i| table.may_hold(table.keys.hash_one(format!("x{i}")))).count();
        assert!(passed < 100_000 / 16, "{passed} of 100,000 keys not in the table passed the filter");
    }

    #[test]
    fn keys_whose_hashes_collide_are_told_apart() {
        // A row of key "a" filed under the slot and tag of "b": "b" must still be found as itself.
        let mut table = RowTable::default();
        table.resize(FIRST_SLOTS);
        table.text.push_str("a{}");
        let hash_of_b = table.keys.hash_one("b");
        table.place(hash_of_b, Slot { tag: tag_of(hash_of_b), start: 0, key_len: 1, columns_len: 2 });
        table.len = 1;
        table.insert("b", "{\"b\":1}").unwrap();
        assert_eq!(table.get("b"), Some("{\"b\":1}"), "a key whose slot and tag hold another key");
        assert_eq!(table.insert("b", "{}"), Err(Refused::Duplicate));
        assert_eq!(table.get("a"), None, "a key is found by its own hash only");
    }

    #[test]
    fn keys_that_share_a_slot_are_all_found_after_the_table_grows() {
        // Every key starts at the same slot of a small table; growing moves them apart.
        let mut table = RowTable::default();
        let mut keys = Vec::new();
        let home = |table: &RowTable, key: &str| table.keys.hash_one(key) as usize & (FIRST_SLOTS - 1);
        let target = home(&table, "seed");
        for i in 0.. {
            let key = format!("c{i}");
            if home(&table, &key) == target {
                keys.push(key);
                if keys.len() == 7 {
                    break;
                }
            }
        }
        for (n, key) in keys.iter().enumerate() {
            table.insert(key, &format!("[{n}]")).unwrap();
        }
        for _ in 0..100 {
            let filler = format!("f{}", table.len());
            table.insert(&filler, "{}").unwrap();
        }
        for (n, key) in keys.iter().enumerate() {
            assert_eq!(table.get(key), Some(format!("[{n}]").as_str()), "{key}");
        }
    }
}
