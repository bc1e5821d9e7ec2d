//! Value files: the stored events and bad rows themselves, as zstd-compressed blocks of
//! NDJSON (one item a line: enriched events and bad rows never hold a raw line break).
//! Each shard's consumer appends to its own file of the partition, `v-<shard>.val`, and
//! the catalog keeps the length its last committed unit of work left, so that after a
//! crash the file is cut back to it. A value file is never rewritten: merges rewrite only
//! the small index entries that point into it, and it goes with its partition.
//!
//! A record: magic `PLV1`, the raw length, the compressed length and a CRC-32 of the
//! compressed bytes (u32 LE each), then the compressed bytes (one zstd frame).

use std::fs::File;
use std::os::unix::fs::FileExt;

use super::codec::{Damaged, ValueRef};

/// Raw bytes a value block holds before it is cut (zstd finds about 12x on events in
/// blocks this size: 60 bytes an event, against 90 at 16 KiB).
pub const VALUE_BLOCK_BYTES: usize = 64 * 1024;
/// zstd's level: its fastest regular level (level 3 saves under 2 % here at 1.5x the time).
pub const ZSTD_LEVEL: i32 = 1;
const MAGIC: [u8; 4] = *b"PLV1";
/// Bytes before a record's compressed block: magic, raw length, compressed length, CRC-32.
pub const RECORD_HEADER: usize = 16;

/// Packs items into value blocks: compressed records ready to append, and where each item
/// went relative to the first record.
pub struct Packer {
    compressor: zstd::bulk::Compressor<'static>,
    raw: Vec<u8>,
    items: u32,
}

/// Where one packed item went: its record's offset in the `out` of [`Packer::pack`], the record's
/// compressed length and the item's line in the block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Packed {
    /// Where the item's record starts.
    pub offset: u64,
    /// The record's compressed length.
    pub len: u32,
    /// The item's line in the decompressed block.
    pub item: u32,
}

impl Packer {
    /// A packer with its zstd compressor.
    pub fn new() -> std::io::Result<Self> {
        Ok(Self { compressor: zstd::bulk::Compressor::new(ZSTD_LEVEL)?, raw: Vec::with_capacity(2 * VALUE_BLOCK_BYTES), items: 0 })
    }

    /// Adds one item; returns its line in the block being filled. The block's offset and
    /// length are known once it is cut: see [`Packer::cut`].
    pub fn push(&mut self, item: &[u8]) -> u32 {
        debug_assert!(!item.contains(&b'\n'), "a stored item holds a line break");
        self.raw.extend_from_slice(item);
        self.raw.push(b'\n');
        self.items += 1;
        self.items - 1
    }

    /// Adds one item serialised as JSON straight into the block (serde_json writes no raw
    /// line break); returns its line, or `None` if it does not serialise.
    pub fn push_json(&mut self, item: &impl serde::Serialize) -> Option<u32> {
        let mark = self.raw.len();
        if serde_json::to_writer(&mut self.raw, item).is_err() {
            self.raw.truncate(mark);
            return None;
        }
        self.raw.push(b'\n');
        self.items += 1;
        Some(self.items - 1)
    }

    /// Whether the block being filled should be cut.
    pub fn is_full(&self) -> bool {
        self.raw.len() >= VALUE_BLOCK_BYTES
    }

    /// Compresses the block being filled into a record appended to `out`; returns its
    /// offset and length in `out` (`None` when the block is empty).
    pub fn cut(&mut self, out: &mut Vec<u8>) -> std::io::Result<Option<(u64, u32)>> {
        if self.items == 0 {
            return Ok(None);
        }
        let offset = out.len() as u64;
        out.reserve(RECORD_HEADER + zstd::zstd_safe::compress_bound(self.raw.len()));
        out.extend_from_slice(&[0; RECORD_HEADER]);
        let start = out.len();
        // Compressed straight into `out`, behind room for the header.
        let len = self.compressor.compress_to_buffer(&self.raw, &mut WriteTail { start, out })?;
        let crc = crc32fast::hash(&out[start..start + len]);
        let head = &mut out[offset as usize..start];
        head[..4].copy_from_slice(&MAGIC);
        head[4..8].copy_from_slice(&(self.raw.len() as u32).to_le_bytes());
        head[8..12].copy_from_slice(&(len as u32).to_le_bytes());
        head[12..16].copy_from_slice(&crc.to_le_bytes());
        self.raw.clear();
        self.items = 0;
        Ok(Some((offset, len as u32)))
    }
}

/// The spare capacity at the end of a `Vec` (after `start` bytes) as zstd's output buffer.
struct WriteTail<'a> {
    start: usize,
    out: &'a mut Vec<u8>,
}

// SAFETY: zstd writes only into the `capacity()` bytes from `as_mut_ptr()` (the `Vec`'s
// spare capacity) and reports how many it wrote; `filled_until` then extends the length
// over exactly those.
unsafe impl zstd::zstd_safe::WriteBuf for WriteTail<'_> {
    fn as_slice(&self) -> &[u8] {
        &self.out[self.start..]
    }
    fn capacity(&self) -> usize {
        self.out.capacity() - self.start
    }
    fn as_mut_ptr(&mut self) -> *mut u8 {
        // SAFETY: `start` is the Vec's length, within its allocation.
        unsafe { self.out.as_mut_ptr().add(self.start) }
    }
    unsafe fn filled_until(&mut self, n: usize) {
        // SAFETY: the caller (zstd) initialised the `n` bytes after `start`.
        unsafe { self.out.set_len(self.start + n) }
    }
}

impl Packer {
    /// Packs `items` in order into blocks appended to `out`; returns where each went.
    pub fn pack<'a>(&mut self, out: &mut Vec<u8>, items: impl Iterator<Item = &'a [u8]>) -> std::io::Result<Vec<Packed>> {
        let mut placed = Vec::new();
        let mut waiting = Vec::new();
        for item in items {
            waiting.push(self.push(item));
            if self.is_full() {
                self.cut_into(out, &mut waiting, &mut placed)?;
            }
        }
        self.cut_into(out, &mut waiting, &mut placed)?;
        Ok(placed)
    }

    /// Cuts the block and places the items waiting in it.
    pub fn cut_into(&mut self, out: &mut Vec<u8>, waiting: &mut Vec<u32>, placed: &mut Vec<Packed>) -> std::io::Result<()> {
        if let Some((offset, len)) = self.cut(out)? {
            placed.extend(waiting.drain(..).map(|item| Packed { offset, len, item }));
        }
        Ok(())
    }
}

/// Why a value cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum ValueError {
    /// The value file could not be read.
    #[error("cannot read a value block: {0}")]
    Io(#[from] std::io::Error),
    /// The block fails its checks (magic, lengths, CRC-32, zstd).
    #[error("a value block is damaged: {0}")]
    Damaged(#[from] Damaged),
}

/// Reads and decompresses the block of `value` from its value file.
pub fn read_block(file: &File, value: &ValueRef) -> Result<Vec<u8>, ValueError> {
    let mut record = vec![0u8; RECORD_HEADER + value.len as usize];
    file.read_exact_at(&mut record, value.offset)?;
    let u32_at = |at: usize| u32::from_le_bytes(record[at..at + 4].try_into().expect("4 bytes"));
    if record[..4] != MAGIC {
        return Err(Damaged("no value block starts where the index points").into());
    }
    let (raw_len, len, crc) = (u32_at(4) as usize, u32_at(8), u32_at(12));
    if len != value.len {
        return Err(Damaged("a value block's length differs from the index").into());
    }
    let compressed = &record[RECORD_HEADER..];
    if crc32fast::hash(compressed) != crc {
        return Err(Damaged("a value block's checksum does not match").into());
    }
    zstd::bulk::decompress(compressed, raw_len).map_err(|_| Damaged("a value block does not decompress").into())
}

/// Line `item` of a decompressed block.
pub fn line(block: &[u8], item: u32) -> Option<&[u8]> {
    block.split(|&b| b == b'\n').nth(item as usize)
}

/// The lines of a decompressed block, in order.
pub fn lines(block: &[u8]) -> impl Iterator<Item = &[u8]> {
    block.strip_suffix(b"\n").unwrap_or(block).split(|&b| b == b'\n')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_are_packed_into_checked_blocks_and_read_back() {
        let mut packer = Packer::new().unwrap();
        let items: Vec<String> = (0..3000).map(|i| format!("{{\"n\":{i},\"pad\":\"{}\"}}", "x".repeat(i % 50))).collect();
        let mut out = Vec::new();
        let placed = packer.pack(&mut out, items.iter().map(|i| i.as_bytes())).unwrap();
        assert!(placed.iter().any(|p| p.offset > 0), "several blocks");

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v-0.val");
        // Appended after 10 bytes of something else: offsets are relative to the append.
        std::fs::write(&path, [b"0123456789".as_slice(), &out].concat()).unwrap();
        let file = File::open(&path).unwrap();
        for (item, p) in items.iter().zip(&placed) {
            let v = ValueRef { shard: 0, offset: 10 + p.offset, len: p.len, item: p.item };
            let block = read_block(&file, &v).unwrap();
            assert_eq!(line(&block, p.item).unwrap(), item.as_bytes());
        }
        let first = ValueRef { shard: 0, offset: 10 + placed[0].offset, len: placed[0].len, item: 0 };
        assert!(matches!(read_block(&file, &ValueRef { offset: 11, ..first }), Err(ValueError::Damaged(_))));
        assert!(matches!(read_block(&file, &ValueRef { len: first.len - 1, ..first }), Err(ValueError::Damaged(_))));
        let block = read_block(&file, &first).unwrap();
        assert_eq!(lines(&block).count(), placed.iter().filter(|p| p.offset == placed[0].offset).count());
    }
}
