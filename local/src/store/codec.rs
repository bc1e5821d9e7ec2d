//! The byte layout of index entries and key blocks: varints, keys of up to three byte
//! parts (prefix-compressed against the previous entry of the block), and a block's
//! checksum. Nothing here does I/O.
//!
//! An entry: for each key part, the length it shares with the previous entry's same part
//! and its remaining bytes; the key's `sub` number; its kind (an index into the section's
//! kinds table); its arrival (Unix seconds, as an offset from the section's first
//! arrival); and where its value is ([`ValueRef`]). A block: its entries, their count
//! (u32 LE) and a CRC-32 of everything before it (u32 LE).

use std::cmp::Ordering;
use std::sync::Arc;

/// Bytes of raw entries a key block holds before it is cut.
pub const KEY_BLOCK_BYTES: usize = 32 * 1024;

/// Where a stored item is: item `item` (a line) of the value block at `offset` (its
/// record's first byte) of shard `shard`'s value file in the partition.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ValueRef {
    /// The shard whose value file holds it.
    pub shard: u32,
    /// Where its record starts in that file.
    pub offset: u64,
    /// The record's compressed length.
    pub len: u32,
    /// The item's line in the decompressed block.
    pub item: u32,
}

/// A key: up to three byte parts compared in order, then `sub`. Events use
/// `[pk, sk, ""]`; bad rows `[failed_at, shard_id, sequence_number]` and the
/// sub-sequence number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Key<'a> {
    /// The parts, compared first.
    pub parts: [&'a [u8]; 3],
    /// Compared after the parts: a bad row's sub-sequence number, 0 for events.
    pub sub: u32,
}

impl Ord for Key<'_> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.parts.cmp(&other.parts).then(self.sub.cmp(&other.sub))
    }
}

impl PartialOrd for Key<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// A key that owns its bytes (block directories, cursors).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OwnedKey {
    bytes: Vec<u8>,
    ends: [usize; 3],
    /// As [`Key::sub`].
    pub sub: u32,
}

impl OwnedKey {
    /// A copy of `key`.
    pub fn new(key: Key<'_>) -> Self {
        let mut bytes = Vec::with_capacity(key.parts.iter().map(|p| p.len()).sum());
        let mut ends = [0; 3];
        for (i, part) in key.parts.iter().enumerate() {
            bytes.extend_from_slice(part);
            ends[i] = bytes.len();
        }
        Self { bytes, ends, sub: key.sub }
    }

    /// Becomes `key`, reusing its buffer (no allocation once it is large enough).
    pub fn assign(&mut self, key: Key<'_>) {
        self.bytes.clear();
        for (i, part) in key.parts.iter().enumerate() {
            self.bytes.extend_from_slice(part);
            self.ends[i] = self.bytes.len();
        }
        self.sub = key.sub;
    }

    /// The key, borrowed.
    pub fn key(&self) -> Key<'_> {
        Key { parts: [&self.bytes[..self.ends[0]], &self.bytes[self.ends[0]..self.ends[1]], &self.bytes[self.ends[1]..self.ends[2]]], sub: self.sub }
    }

    fn encode(&self, out: &mut Vec<u8>) {
        for part in self.key().parts {
            put_bytes(out, part);
        }
        put_varint(out, u64::from(self.sub));
    }

    fn decode(input: &mut &[u8]) -> Option<Self> {
        let parts = [get_bytes(input)?, get_bytes(input)?, get_bytes(input)?];
        let sub = u32::try_from(get_varint(input)?).ok()?;
        Some(Self::new(Key { parts, sub }))
    }
}

/// One index entry as stored: its key, kind, arrival and value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry<'a> {
    /// The entry's key.
    pub key: Key<'a>,
    /// The event type of an event, the bad-row type of a bad row.
    pub kind: &'a str,
    /// When the stream took the record (Unix seconds): retention counts from it.
    pub arrival: i64,
    /// Where its value is.
    pub value: ValueRef,
}

pub fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

pub fn get_varint(input: &mut &[u8]) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let (&b, rest) = input.split_first()?;
        *input = rest;
        v |= u64::from(b & 0x7f) << shift;
        if b < 0x80 {
            return Some(v);
        }
    }
    None
}

/// Signed values as zigzag varints (arrival offsets may be negative after a merge).
pub fn put_signed(out: &mut Vec<u8>, v: i64) {
    put_varint(out, ((v << 1) ^ (v >> 63)) as u64);
}

pub fn get_signed(input: &mut &[u8]) -> Option<i64> {
    let v = get_varint(input)?;
    Some(((v >> 1) as i64) ^ -((v & 1) as i64))
}

pub fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

pub fn get_bytes<'a>(input: &mut &'a [u8]) -> Option<&'a [u8]> {
    let len = usize::try_from(get_varint(input)?).ok()?;
    if input.len() < len {
        return None;
    }
    let (bytes, rest) = input.split_at(len);
    *input = rest;
    Some(bytes)
}

/// Bytes `a` and `b` begin with in common, compared eight at a time.
fn shared_prefix(a: &[u8], b: &[u8]) -> usize {
    let n = a.len().min(b.len());
    let mut i = 0;
    while i + 8 <= n {
        let x = u64::from_le_bytes(a[i..i + 8].try_into().expect("8 bytes")) ^ u64::from_le_bytes(b[i..i + 8].try_into().expect("8 bytes"));
        if x != 0 {
            return i + (x.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    i + a[i..n].iter().zip(&b[i..n]).take_while(|(x, y)| x == y).count()
}

/// Builds key blocks from entries given in key order.
#[derive(Default)]
pub struct BlockEncoder {
    buf: Vec<u8>,
    count: u32,
    prev: OwnedKey,
    first: Option<OwnedKey>,
}

impl BlockEncoder {
    /// Appends `entry`; `kind` is its index in the section's kinds table and `base` the
    /// section's arrival base.
    pub fn push(&mut self, entry: &Entry<'_>, kind: u32, base: i64) {
        if self.first.is_none() {
            self.first = Some(OwnedKey::new(entry.key));
            self.prev.assign(Key { parts: [b"", b"", b""], sub: 0 });
            self.buf.reserve(KEY_BLOCK_BYTES + 1024);
        }
        let prev = self.prev.key();
        for (part, before) in entry.key.parts.iter().zip(prev.parts) {
            let shared = shared_prefix(part, before);
            put_varint(&mut self.buf, shared as u64);
            put_bytes(&mut self.buf, &part[shared..]);
        }
        put_varint(&mut self.buf, u64::from(entry.key.sub));
        put_varint(&mut self.buf, u64::from(kind));
        put_signed(&mut self.buf, entry.arrival - base);
        let v = entry.value;
        put_varint(&mut self.buf, u64::from(v.shard));
        put_varint(&mut self.buf, v.offset);
        put_varint(&mut self.buf, u64::from(v.len));
        put_varint(&mut self.buf, u64::from(v.item));
        self.prev.assign(entry.key);
        self.count += 1;
    }

    pub fn is_full(&self) -> bool {
        self.buf.len() >= KEY_BLOCK_BYTES
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The finished block (entries, count, checksum), its entry count and first key; the
    /// encoder is empty again.
    pub fn finish(&mut self) -> (Vec<u8>, u32, OwnedKey) {
        let mut block = std::mem::replace(&mut self.buf, Vec::with_capacity(KEY_BLOCK_BYTES + 1024));
        block.extend_from_slice(&self.count.to_le_bytes());
        let crc = crc32fast::hash(&block);
        block.extend_from_slice(&crc.to_le_bytes());
        let count = std::mem::take(&mut self.count);
        (block, count, self.first.take().unwrap_or_default())
    }
}

/// An entry of a decoded block: ranges into the block's arena.
#[derive(Clone, Copy, Debug)]
struct RawEntry {
    parts: [(u32, u32); 3],
    sub: u32,
    kind: u32,
    arrival: i64,
    value: ValueRef,
}

/// A key block decoded: its keys rebuilt into one arena.
#[derive(Debug, Default)]
pub struct DecodedBlock {
    arena: Vec<u8>,
    entries: Vec<RawEntry>,
}

/// Why a block cannot be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Damaged(pub &'static str);

impl DecodedBlock {
    /// Decodes a block written by [`BlockEncoder`], checking its checksum.
    pub fn decode(block: &[u8], base: i64) -> Result<Self, Damaged> {
        if block.len() < 8 {
            return Err(Damaged("a key block is too short"));
        }
        let (body, crc) = block.split_at(block.len() - 4);
        if crc32fast::hash(body) != u32::from_le_bytes(crc.try_into().expect("4 bytes")) {
            return Err(Damaged("a key block's checksum does not match"));
        }
        let (mut input, count) = body.split_at(body.len() - 4);
        let count = u32::from_le_bytes(count.try_into().expect("4 bytes")) as usize;
        let mut out = DecodedBlock { arena: Vec::with_capacity(block.len() * 2), entries: Vec::with_capacity(count) };
        let bad = Damaged("a key block's entries do not decode");
        let mut prev = [(0u32, 0u32); 3];
        for _ in 0..count {
            let mut parts = [(0u32, 0u32); 3];
            for (i, part) in parts.iter_mut().enumerate() {
                let shared = get_varint(&mut input).ok_or(bad)? as usize;
                let rest = get_bytes(&mut input).ok_or(bad)?;
                let (start, end) = prev[i];
                if shared > (end - start) as usize {
                    return Err(bad);
                }
                let at = out.arena.len() as u32;
                out.arena.extend_from_within(start as usize..start as usize + shared);
                out.arena.extend_from_slice(rest);
                *part = (at, out.arena.len() as u32);
            }
            prev = parts;
            let sub = u32::try_from(get_varint(&mut input).ok_or(bad)?).map_err(|_| bad)?;
            let kind = u32::try_from(get_varint(&mut input).ok_or(bad)?).map_err(|_| bad)?;
            let arrival = base + get_signed(&mut input).ok_or(bad)?;
            let mut small = || u32::try_from(get_varint(&mut input).ok_or(bad)?).map_err(|_| bad);
            let shard = small()?;
            let offset = get_varint(&mut input).ok_or(bad)?;
            let mut small = || u32::try_from(get_varint(&mut input).ok_or(bad)?).map_err(|_| bad);
            let (len, item) = (small()?, small()?);
            out.entries.push(RawEntry { parts, sub, kind, arrival, value: ValueRef { shard, offset, len, item } });
        }
        if !input.is_empty() {
            return Err(bad);
        }
        Ok(out)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Entry `i`, its kind named through `kinds`.
    pub fn entry<'a>(&'a self, i: usize, kinds: &'a [Arc<str>]) -> Entry<'a> {
        let raw = &self.entries[i];
        let part = |(s, e): (u32, u32)| &self.arena[s as usize..e as usize];
        Entry {
            key: Key { parts: [part(raw.parts[0]), part(raw.parts[1]), part(raw.parts[2])], sub: raw.sub },
            kind: kinds.get(raw.kind as usize).map_or("", |k| &**k),
            arrival: raw.arrival,
            value: raw.value,
        }
    }

    /// The key of entry `i`.
    pub fn key(&self, i: usize) -> Key<'_> {
        let raw = &self.entries[i];
        let part = |(s, e): (u32, u32)| &self.arena[s as usize..e as usize];
        Key { parts: [part(raw.parts[0]), part(raw.parts[1]), part(raw.parts[2])], sub: raw.sub }
    }

    /// The first entry whose key is not below `key`.
    pub fn lower_bound(&self, key: Key<'_>) -> usize {
        let (mut lo, mut hi) = (0, self.entries.len());
        while lo < hi {
            let mid = (lo + hi) / 2;
            if self.key(mid) < key {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }
}

/// Encodes a directory's block list (offset, length, count, first key).
pub fn encode_directory(out: &mut Vec<u8>, blocks: &[(u64, u32, u32, OwnedKey)]) {
    put_varint(out, blocks.len() as u64);
    for (offset, len, count, first) in blocks {
        put_varint(out, *offset);
        put_varint(out, u64::from(*len));
        put_varint(out, u64::from(*count));
        first.encode(out);
    }
}

pub fn decode_directory(input: &mut &[u8]) -> Option<Vec<(u64, u32, u32, OwnedKey)>> {
    let n = usize::try_from(get_varint(input)?).ok()?;
    let mut blocks = Vec::with_capacity(n.min(1 << 20));
    for _ in 0..n {
        let offset = get_varint(input)?;
        let len = u32::try_from(get_varint(input)?).ok()?;
        let count = u32::try_from(get_varint(input)?).ok()?;
        blocks.push((offset, len, count, OwnedKey::decode(input)?));
    }
    Some(blocks)
}

pub fn encode_key(out: &mut Vec<u8>, key: &OwnedKey) {
    key.encode(out);
}

pub fn decode_key(input: &mut &[u8]) -> Option<OwnedKey> {
    OwnedKey::decode(input)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry<'a>(pk: &'a str, sk: &'a str, kind: &'a str, arrival: i64, item: u32) -> Entry<'a> {
        Entry {
            key: Key { parts: [pk.as_bytes(), sk.as_bytes(), b""], sub: item % 3 },
            kind,
            arrival,
            value: ValueRef { shard: 2, offset: 1 << 40, len: 70_000, item },
        }
    }

    #[test]
    fn varints_round_trip_at_their_edges() {
        for v in [0, 1, 127, 128, 300, u64::from(u32::MAX), u64::MAX] {
            let mut out = Vec::new();
            put_varint(&mut out, v);
            assert_eq!(get_varint(&mut &out[..]), Some(v));
        }
        for v in [0i64, -1, 1, i64::MIN, i64::MAX, -1_000_000] {
            let mut out = Vec::new();
            put_signed(&mut out, v);
            assert_eq!(get_signed(&mut &out[..]), Some(v));
        }
        assert_eq!(get_varint(&mut &[0x80u8][..]), None, "a varint cut short");
    }

    #[test]
    fn blocks_round_trip_and_refuse_damage() {
        let kinds: Vec<Arc<str>> = vec!["pageview".into(), "click".into()];
        let entries = [
            entry("USER#a", "2026-11-27T12:00:00.000Z#1", "pageview", 100, 0),
            entry("USER#a", "2026-11-27T12:00:00.001Z#2", "click", 99, 1),
            entry("USER#ab", "2026-11-27T12:00:00.001Z#2", "click", 101, 2),
            entry("USER#b", "", "pageview", -5, 3),
        ];
        let mut enc = BlockEncoder::default();
        for e in &entries {
            enc.push(e, kinds.iter().position(|k| &**k == e.kind).unwrap() as u32, 100);
        }
        let (block, count, first) = enc.finish();
        assert_eq!((count, first.key()), (4, entries[0].key));
        let decoded = DecodedBlock::decode(&block, 100).unwrap();
        let back: Vec<Entry<'_>> = (0..decoded.len()).map(|i| decoded.entry(i, &kinds)).collect();
        assert_eq!(back, entries);
        assert_eq!(decoded.lower_bound(entries[2].key), 2);
        assert_eq!(decoded.lower_bound(Key { parts: [b"USER#a", b"2026", b""], sub: 0 }), 0);
        assert_eq!(decoded.lower_bound(Key { parts: [b"USER#c", b"", b""], sub: 0 }), 4);

        let mut damaged = block.clone();
        damaged[3] ^= 1;
        assert!(DecodedBlock::decode(&damaged, 100).is_err());
        assert!(DecodedBlock::decode(&block[..5], 100).is_err());
    }

    #[test]
    fn shared_prefixes_are_counted_to_the_byte() {
        for (a, b, n) in [("", "", 0), ("abc", "abd", 2), ("0123456789abcdef", "0123456789abcdeX", 15), ("0123456789", "0123456789", 10), ("01234567", "012345678", 8), ("x", "y", 0)] {
            assert_eq!(shared_prefix(a.as_bytes(), b.as_bytes()), n, "{a} {b}");
        }
    }

    #[test]
    fn keys_order_by_parts_then_sub() {
        let k = |a: &'static str, b: &'static str, sub| Key { parts: [a.as_bytes(), b.as_bytes(), b""], sub };
        assert!(k("a", "z", 9) < k("b", "a", 0));
        assert!(k("a", "b", 0) < k("a", "b", 1));
        assert!(k("a", "", 5) < k("a", "a", 0));
        assert_eq!(OwnedKey::new(k("x", "y", 3)).key(), k("x", "y", 3));
    }
}
