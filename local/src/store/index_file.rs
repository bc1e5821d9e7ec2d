//! Index files (`i-<id>.idx`): one sorted run of a partition's index entries in two
//! sections, events by `(pk, sk)` and bad rows by `(failed_at, shard_id,
//! sequence_number, sub_sequence_number)`, each in key blocks (`codec`),
//! with a directory of the blocks (offset, length, entry count, first key) at the end.
//! Written once, read many times, replaced whole by a merge.
//!
//! Layout: magic `PLX1` and the format version (u32 LE); the blocks of section 0, then of
//! section 1; the directory; and a 20-byte trailer: the directory's offset (u64 LE),
//! length and CRC-32 (u32 LE each), and the magic again.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::codec::{BlockEncoder, Damaged, DecodedBlock, Entry, Key, OwnedKey, ValueRef, get_bytes, get_signed, get_varint, put_bytes, put_signed, put_varint};

const MAGIC: [u8; 4] = *b"PLX1";
const VERSION: u32 = 1;
const HEADER: u64 = 8;
const TRAILER: u64 = 20;

/// The two sections of an index file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Section {
    /// Events, keyed `USER#<user_id>`, `<time>#<event_id>`.
    Events = 0,
    /// Bad rows, keyed by their identity.
    BadRows = 1,
}

impl Section {
    /// Both sections, in file order.
    pub const ALL: [Section; 2] = [Section::Events, Section::BadRows];
}

/// Why an index file cannot be written or read.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    /// The file could not be written or read.
    #[error("index file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file's bytes are not an index file's.
    #[error("index file {path} is damaged ({why}): move the data directory's store/ away to start without it")]
    Damaged {
        /// The file.
        path: PathBuf,
        /// What check failed.
        why: &'static str,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> IndexError + '_ {
    move |source| IndexError::Io { path: path.to_path_buf(), source }
}

/// A section being written.
#[derive(Default)]
struct SectionWriter {
    encoder: BlockEncoder,
    blocks: Vec<(u64, u32, u32, OwnedKey)>,
    kinds: Vec<Arc<str>>,
    entries: u64,
    /// Arrivals are stored as offsets from the section's first.
    base: Option<i64>,
    min_arrival: i64,
    max_arrival: i64,
    last: Option<OwnedKey>,
}

impl SectionWriter {
    fn kind_index(&mut self, kind: &str) -> u32 {
        match self.kinds.iter().position(|k| &**k == kind) {
            Some(i) => i as u32,
            None => {
                self.kinds.push(kind.into());
                (self.kinds.len() - 1) as u32
            }
        }
    }
}

/// Writes one index file; entries come in key order, section by section.
pub struct IndexWriter {
    path: PathBuf,
    out: BufWriter<File>,
    offset: u64,
    sections: [SectionWriter; 2],
    /// The section being written: entries of an earlier one can no longer come.
    at: usize,
}

impl IndexWriter {
    /// Starts a new file at `path`; fails if it exists.
    pub fn create(path: &Path) -> Result<Self, IndexError> {
        let file = OpenOptions::new().write(true).create_new(true).open(path).map_err(io(path))?;
        let mut out = BufWriter::with_capacity(256 * 1024, file);
        out.write_all(&MAGIC).and_then(|()| out.write_all(&VERSION.to_le_bytes())).map_err(io(path))?;
        Ok(Self { path: path.to_path_buf(), out, offset: HEADER, sections: Default::default(), at: 0 })
    }

    /// Adds an entry (after every entry of `section` so far, in key order).
    pub fn push(&mut self, section: Section, entry: &Entry<'_>) -> Result<(), IndexError> {
        let s = section as usize;
        assert!(s >= self.at, "index sections are written in order");
        while self.at < s {
            self.flush_block(self.at)?;
            self.at += 1;
        }
        let w = &mut self.sections[s];
        debug_assert!(w.last.as_ref().is_none_or(|last| last.key() < entry.key), "entries come in key order, once each");
        let kind = w.kind_index(entry.kind);
        let base = *w.base.get_or_insert(entry.arrival);
        if w.entries == 0 {
            (w.min_arrival, w.max_arrival) = (entry.arrival, entry.arrival);
        }
        w.min_arrival = w.min_arrival.min(entry.arrival);
        w.max_arrival = w.max_arrival.max(entry.arrival);
        w.encoder.push(entry, kind, base);
        w.entries += 1;
        match &mut w.last {
            Some(last) => last.assign(entry.key),
            None => w.last = Some(OwnedKey::new(entry.key)),
        }
        if w.encoder.is_full() {
            self.flush_block(s)?;
        }
        Ok(())
    }

    fn flush_block(&mut self, s: usize) -> Result<(), IndexError> {
        let w = &mut self.sections[s];
        if w.encoder.is_empty() {
            return Ok(());
        }
        let (block, count, first) = w.encoder.finish();
        self.out.write_all(&block).map_err(io(&self.path))?;
        w.blocks.push((self.offset, block.len() as u32, count, first));
        self.offset += block.len() as u64;
        Ok(())
    }

    /// Writes the directory and the trailer and syncs the file; returns its size.
    pub fn finish(mut self) -> Result<u64, IndexError> {
        for s in 0..self.sections.len() {
            self.flush_block(s)?;
        }
        let mut dir = Vec::new();
        for w in &self.sections {
            super::codec::encode_directory(&mut dir, &w.blocks);
            put_varint(&mut dir, w.kinds.len() as u64);
            for k in &w.kinds {
                put_bytes(&mut dir, k.as_bytes());
            }
            put_varint(&mut dir, w.entries);
            put_signed(&mut dir, w.base.unwrap_or(0));
            put_signed(&mut dir, w.min_arrival);
            put_signed(&mut dir, w.max_arrival);
            match &w.last {
                Some(last) => {
                    dir.push(1);
                    super::codec::encode_key(&mut dir, last);
                }
                None => dir.push(0),
            }
        }
        let mut trailer = Vec::with_capacity(TRAILER as usize);
        trailer.extend_from_slice(&self.offset.to_le_bytes());
        trailer.extend_from_slice(&(dir.len() as u32).to_le_bytes());
        trailer.extend_from_slice(&crc32fast::hash(&dir).to_le_bytes());
        trailer.extend_from_slice(&MAGIC);
        self.out.write_all(&dir).and_then(|()| self.out.write_all(&trailer)).map_err(io(&self.path))?;
        let file = self.out.into_inner().map_err(|e| IndexError::Io { path: self.path.clone(), source: e.into_error() })?;
        file.sync_data().map_err(io(&self.path))?;
        Ok(self.offset + dir.len() as u64 + TRAILER)
    }
}

/// A key block as the directory describes it.
#[derive(Clone, Debug)]
pub struct BlockInfo {
    /// Where the block starts in the file.
    pub offset: u64,
    /// Its length in bytes.
    pub len: u32,
    /// Entries it holds.
    pub count: u32,
    /// Its first key: blocks are found by binary search on it.
    pub first: OwnedKey,
}

/// One section of an open index file: its directory, in memory.
#[derive(Clone, Debug, Default)]
pub struct SectionIndex {
    /// The key blocks, in key order.
    pub blocks: Vec<BlockInfo>,
    /// The event or bad-row types the entries name, by index.
    pub kinds: Vec<Arc<str>>,
    /// Entries in the section.
    pub entries: u64,
    base: i64,
    /// The earliest arrival (Unix seconds) of its entries.
    pub min_arrival: i64,
    /// The latest arrival (Unix seconds) of its entries.
    pub max_arrival: i64,
    /// Its last key, if it has entries.
    pub last: Option<OwnedKey>,
}

impl SectionIndex {
    /// The block that holds `key` if any does: the last whose first key is not above it.
    pub fn block_for(&self, key: Key<'_>) -> Option<usize> {
        let after = self.blocks.partition_point(|b| b.first.key() <= key);
        after.checked_sub(1)
    }

    /// The first block that may hold keys at or after `key`.
    pub fn first_block_from(&self, key: Key<'_>) -> usize {
        self.block_for(key).unwrap_or(0)
    }
}

/// An index file's directory, read once when the file is opened.
#[derive(Debug)]
pub struct IndexFile {
    /// The file.
    pub path: PathBuf,
    /// Its size.
    pub bytes: u64,
    sections: [SectionIndex; 2],
}

impl IndexFile {
    /// Reads the directory of the file at `path`.
    pub fn open(path: &Path, file: &File) -> Result<Self, IndexError> {
        let damaged = |why| IndexError::Damaged { path: path.to_path_buf(), why };
        let bytes = file.metadata().map_err(io(path))?.len();
        if bytes < HEADER + TRAILER {
            return Err(damaged("it is too short"));
        }
        let mut trailer = [0u8; TRAILER as usize];
        file.read_exact_at(&mut trailer, bytes - TRAILER).map_err(io(path))?;
        if trailer[16..] != MAGIC {
            return Err(damaged("its trailer is missing"));
        }
        let dir_offset = u64::from_le_bytes(trailer[..8].try_into().expect("8 bytes"));
        let dir_len = u64::from(u32::from_le_bytes(trailer[8..12].try_into().expect("4 bytes")));
        if dir_offset < HEADER || dir_offset + dir_len + TRAILER != bytes {
            return Err(damaged("its directory is not where its trailer says"));
        }
        let mut dir = vec![0u8; dir_len as usize];
        file.read_exact_at(&mut dir, dir_offset).map_err(io(path))?;
        if crc32fast::hash(&dir) != u32::from_le_bytes(trailer[12..16].try_into().expect("4 bytes")) {
            return Err(damaged("its directory's checksum does not match"));
        }
        let mut input = &dir[..];
        let mut sections: [SectionIndex; 2] = Default::default();
        for section in &mut sections {
            *section = decode_section(&mut input).ok_or(damaged("its directory does not decode"))?;
        }
        Ok(Self { path: path.to_path_buf(), bytes, sections })
    }

    /// The directory of `section`.
    pub fn section(&self, section: Section) -> &SectionIndex {
        &self.sections[section as usize]
    }

    /// Reads and decodes block `i` of `section`.
    pub fn read_block(&self, file: &File, section: Section, i: usize) -> Result<DecodedBlock, IndexError> {
        let s = self.section(section);
        let info = &s.blocks[i];
        let mut block = vec![0u8; info.len as usize];
        file.read_exact_at(&mut block, info.offset).map_err(io(&self.path))?;
        let decoded = DecodedBlock::decode(&block, s.base).map_err(|Damaged(why)| IndexError::Damaged { path: self.path.clone(), why })?;
        if decoded.len() != info.count as usize {
            return Err(IndexError::Damaged { path: self.path.clone(), why: "a key block's entry count differs from the directory" });
        }
        Ok(decoded)
    }
}

fn decode_section(input: &mut &[u8]) -> Option<SectionIndex> {
    let blocks = super::codec::decode_directory(input)?
        .into_iter()
        .map(|(offset, len, count, first)| BlockInfo { offset, len, count, first })
        .collect();
    let n = usize::try_from(get_varint(input)?).ok()?;
    let mut kinds = Vec::with_capacity(n.min(1024));
    for _ in 0..n {
        kinds.push(Arc::from(std::str::from_utf8(get_bytes(input)?).ok()?));
    }
    let entries = get_varint(input)?;
    let (base, min_arrival, max_arrival) = (get_signed(input)?, get_signed(input)?, get_signed(input)?);
    let (&flag, rest) = input.split_first()?;
    *input = rest;
    let last = if flag == 1 { Some(super::codec::decode_key(input)?) } else { None };
    Some(SectionIndex { blocks, kinds, entries, base, min_arrival, max_arrival, last })
}

/// An index entry with its own bytes (query results, merge inputs held across blocks).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OwnedEntry {
    /// The entry's key.
    pub key: OwnedKey,
    /// Its type (event type or bad-row type).
    pub kind: Arc<str>,
    /// Unix seconds of its record's arrival.
    pub arrival: i64,
    /// Where its value is.
    pub value: ValueRef,
}

impl OwnedEntry {
    /// A copy of `entry`, its kind shared from `kinds` where it is there.
    pub fn new(entry: &Entry<'_>, kinds: &[Arc<str>]) -> Self {
        let kind = kinds.iter().find(|k| &***k == entry.kind).cloned().unwrap_or_else(|| entry.kind.into());
        Self { key: OwnedKey::new(entry.key), kind, arrival: entry.arrival, value: entry.value }
    }

    /// The entry, borrowed.
    pub fn entry(&self) -> Entry<'_> {
        Entry { key: self.key.key(), kind: &self.kind, arrival: self.arrival, value: self.value }
    }
}

/// Reads one section of one file forward from a key: block by block, never more than one
/// decoded block in memory.
pub struct SectionCursor<'f> {
    index: &'f IndexFile,
    file: Arc<File>,
    section: Section,
    block: usize,
    decoded: DecodedBlock,
    pos: usize,
}

impl<'f> SectionCursor<'f> {
    /// A cursor at the first entry not below `from` (the section's first entry for `None`).
    pub fn new(index: &'f IndexFile, file: Arc<File>, section: Section, from: Option<Key<'_>>) -> Result<Self, IndexError> {
        let s = index.section(section);
        let block = from.map_or(0, |k| s.first_block_from(k));
        let mut cursor = Self { index, file, section, block, decoded: DecodedBlock::default(), pos: 0 };
        if block < s.blocks.len() {
            cursor.decoded = index.read_block(&cursor.file, section, block)?;
            cursor.pos = from.map_or(0, |k| cursor.decoded.lower_bound(k));
        }
        cursor.settle()?;
        Ok(cursor)
    }

    /// Moves past exhausted blocks.
    fn settle(&mut self) -> Result<(), IndexError> {
        let blocks = self.index.section(self.section).blocks.len();
        while self.pos >= self.decoded.len() && self.block + 1 < blocks {
            self.block += 1;
            self.decoded = self.index.read_block(&self.file, self.section, self.block)?;
            self.pos = 0;
        }
        Ok(())
    }

    /// The entry under the cursor, `None` at the end.
    pub fn peek(&self) -> Option<Entry<'_>> {
        (self.pos < self.decoded.len()).then(|| self.decoded.entry(self.pos, &self.index.section(self.section).kinds))
    }

    /// The key under the cursor (cheaper than [`SectionCursor::peek`]).
    pub fn peek_key(&self) -> Option<Key<'_>> {
        (self.pos < self.decoded.len()).then(|| self.decoded.key(self.pos))
    }

    /// Moves to the next entry.
    pub fn advance(&mut self) -> Result<(), IndexError> {
        self.pos += 1;
        self.settle()
    }

    /// The section's types, which entries name by index.
    pub fn kinds(&self) -> &[Arc<str>] {
        &self.index.section(self.section).kinds
    }
}

/// Up to `limit` entries of `section` with `lo <= key < hi` that `keep` takes, highest first.
pub fn range_desc(
    index: &IndexFile,
    file: &File,
    section: Section,
    lo: Key<'_>,
    hi: Key<'_>,
    limit: usize,
    keep: impl Fn(&Entry<'_>) -> bool,
) -> Result<Vec<OwnedEntry>, IndexError> {
    let s = index.section(section);
    let mut out = Vec::new();
    let Some(mut block) = s.block_for(hi) else { return Ok(out) };
    loop {
        let decoded = index.read_block(file, section, block)?;
        let end = decoded.lower_bound(hi);
        for i in (0..end).rev() {
            let entry = decoded.entry(i, &s.kinds);
            if entry.key < lo {
                return Ok(out);
            }
            if !keep(&entry) {
                continue;
            }
            out.push(OwnedEntry::new(&entry, &s.kinds));
            if out.len() >= limit {
                return Ok(out);
            }
        }
        if block == 0 || s.blocks[block].first.key() < lo {
            return Ok(out);
        }
        block -= 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key<'a>(pk: &'a str, sk: &'a str) -> Key<'a> {
        Key { parts: [pk.as_bytes(), sk.as_bytes(), b""], sub: 0 }
    }

    fn write(path: &Path, users: u32, per_user: u32) -> Vec<(String, String)> {
        let mut w = IndexWriter::create(path).unwrap();
        let mut keys = Vec::new();
        for u in 0..users {
            for n in 0..per_user {
                keys.push((format!("USER#u{u:05}"), format!("2026-11-27T12:00:{:02}.{n:03}Z#{n}", n % 60)));
            }
        }
        keys.sort();
        for (i, (pk, sk)) in keys.iter().enumerate() {
            let kind = if i % 3 == 0 { "click" } else { "pageview" };
            let entry = Entry { key: key(pk, sk), kind, arrival: 1_000 + i as i64 % 7, value: ValueRef { shard: 1, offset: i as u64 * 10, len: 9, item: i as u32 % 100 } };
            w.push(Section::Events, &entry).unwrap();
        }
        let bad = Entry { key: Key { parts: [b"2026-11-27T12:00:00Z", b"shardId-000000000001", b"00000000000000000007"], sub: 2 }, kind: "malformed", arrival: 5, value: ValueRef { shard: 1, offset: 0, len: 1, item: 0 } };
        w.push(Section::BadRows, &bad).unwrap();
        w.finish().unwrap();
        keys
    }

    #[test]
    fn a_written_file_reads_back_by_cursor_and_by_range() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("i-1.idx");
        let keys = write(&path, 300, 40);
        let file = File::open(&path).unwrap();
        let index = IndexFile::open(&path, &file).unwrap();
        let events = index.section(Section::Events);
        assert_eq!(events.entries, keys.len() as u64);
        assert!(events.blocks.len() > 5, "{} blocks", events.blocks.len());
        assert_eq!((events.min_arrival, events.max_arrival), (1_000, 1_006));
        assert_eq!(index.section(Section::BadRows).entries, 1);

        // Forward from the middle of a user.
        let file = Arc::new(file);
        let (pk, sk) = &keys[4_321];
        let mut cursor = SectionCursor::new(&index, Arc::clone(&file), Section::Events, Some(key(pk, sk))).unwrap();
        let mut seen = Vec::new();
        while let Some(e) = cursor.peek() {
            seen.push((String::from_utf8(e.key.parts[0].to_vec()).unwrap(), String::from_utf8(e.key.parts[1].to_vec()).unwrap()));
            cursor.advance().unwrap();
        }
        assert_eq!(seen, keys[4_321..]);

        // One user, newest first, within bounds and a limit.
        let user = "USER#u00123";
        let mine: Vec<&(String, String)> = keys.iter().filter(|(p, _)| p == user).collect();
        let got = range_desc(&index, &file, Section::Events, key(user, ""), key(user, "~"), 1000, |_| true).unwrap();
        let got: Vec<String> = got.iter().map(|e| String::from_utf8(e.key.key().parts[1].to_vec()).unwrap()).collect();
        let want: Vec<String> = mine.iter().rev().map(|(_, s)| s.clone()).collect();
        assert_eq!(got, want);
        let some = range_desc(&index, &file, Section::Events, key(user, ""), key(user, &mine[10].1), 3, |_| true).unwrap();
        assert_eq!(some.len(), 3);
        assert_eq!(some[0].key.key().parts[1], mine[9].1.as_bytes());
        assert!(range_desc(&index, &file, Section::Events, key("USER#zz", ""), key("USER#zz", "~"), 10, |_| true).unwrap().is_empty());
        assert!(range_desc(&index, &file, Section::Events, key("USER#", ""), key("USER#", "~"), 10, |_| true).unwrap().is_empty());
    }

    #[test]
    fn a_damaged_file_is_refused_with_its_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("i-2.idx");
        write(&path, 10, 10);
        let mut bytes = std::fs::read(&path).unwrap();
        let n = bytes.len();
        bytes[n - 30] ^= 0xff;
        std::fs::write(&path, &bytes).unwrap();
        let err = IndexFile::open(&path, &File::open(&path).unwrap()).unwrap_err().to_string();
        assert!(err.contains("i-2.idx") && err.contains("damaged"), "{err}");
        std::fs::write(&path, &bytes[..n - 1]).unwrap();
        assert!(IndexFile::open(&path, &File::open(&path).unwrap()).is_err());
    }
}
