//! The stream's files: an append-only log of *commits*, each holding checksummed *frames*.
//! A frame is one request's records of one shard, with consecutive sequence numbers; a
//! commit is what one group commit wrote with one write and one sync. Files are named by a
//! counter (`00000000000000000001.log`), rolled by size, and deleted whole once every frame
//! in them is processed. At start-up a commit torn by a crash (the last one of the last
//! file: it was never acknowledged) is cut off; damage anywhere else is corruption and
//! stops the start, naming the file and the offset.
//!
//! A commit: a 12-byte header (magic `PLC1`, length and CRC-32 of the frames that follow),
//! then its frames. A frame: a 36-byte header (magic `PLS1`, payload length, shard, record
//! count, first sequence number, arrival time in ms, CRC-32 of the header's other fields
//! and the payload), then per record: partition key length (u32 LE), key, data length
//! (u32 LE), data.

use std::fs::{File, OpenOptions};
use std::io::{BufReader, Read};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A log file is rolled once it holds this many bytes.
pub const ROLL_BYTES: u64 = 64 << 20;
/// Bytes before a frame's payload.
pub const HEADER_BYTES: usize = 36;
const MAGIC: [u8; 4] = *b"PLS1";
/// Bytes before a commit's frames.
pub const COMMIT_HEADER_BYTES: usize = 12;
const COMMIT_MAGIC: [u8; 4] = *b"PLC1";
/// A commit holds at most this many bytes of frames (the writer stops grouping requests
/// before it; one request alone may take it past, by at most one request's 5 MiB).
pub const MAX_COMMIT_BYTES: usize = 32 << 20;
/// A frame's payload is at most this long: a request's body is at most 5 MiB after
/// decompression, and a frame holds part of one request.
const MAX_PAYLOAD: usize = 64 << 20;

/// Why the log cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// A stream file could not be written, synced or read.
    #[error("stream file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    #[error(
        "stream file {path} is corrupt at byte {offset} ({why}): the records after it cannot be read. \
         Move the file away to start without them, or start with a new --data-dir"
    )]
    /// A stream file's bytes fail their checks.
    Corrupt {
        /// The file.
        path: PathBuf,
        /// Where the first bad frame starts.
        offset: u64,
        /// What check failed.
        why: &'static str,
    },
}

impl LogError {
    fn io(path: &Path) -> impl FnOnce(std::io::Error) -> LogError + '_ {
        move |source| LogError::Io { path: path.to_path_buf(), source }
    }
}

/// One open log file, shared by the writer and the readers.
#[derive(Debug)]
pub struct LogFile {
    pub number: u64,
    pub path: PathBuf,
    file: File,
}

impl LogFile {
    fn open(dir: &Path, number: u64, create: bool) -> Result<Self, LogError> {
        let path = dir.join(format!("{number:020}.log"));
        let file = OpenOptions::new().read(true).write(true).create_new(create).open(&path).map_err(LogError::io(&path))?;
        Ok(Self { number, path, file })
    }

    /// Creates file `number` in `dir`, durably (the directory entry is synced too). If that
    /// fails the file is removed again, so that the next attempt can create it.
    pub fn create(dir: &Path, number: u64) -> Result<Self, LogError> {
        let file = Self::open(dir, number, true)?;
        if let Err(e) = File::open(dir).and_then(|d| d.sync_all()) {
            let _ = std::fs::remove_file(&file.path);
            return Err(LogError::Io { path: dir.to_path_buf(), source: e });
        }
        Ok(file)
    }

    /// Writes `bytes` (a commit: see [`CommitWriter`]) at `offset` and syncs them to disk. A
    /// failed write is cut back off, durably, so that no partial commit stays ahead of later
    /// ones.
    pub fn append(&self, offset: u64, bytes: &[u8]) -> Result<(), AppendFailure> {
        if let Err(e) = self.file.write_all_at(bytes, offset) {
            return Err(match self.file.set_len(offset).and_then(|()| self.file.sync_all()) {
                Ok(()) => AppendFailure::Write(LogError::Io { path: self.path.clone(), source: e }),
                Err(_) => AppendFailure::Broken(LogError::Io { path: self.path.clone(), source: e }),
            });
        }
        // After a failed fsync the kernel's view of the file is unknown: stop writing it.
        self.file.sync_data().map_err(|e| AppendFailure::Broken(LogError::Io { path: self.path.clone(), source: e }))
    }

    /// Cuts the file back to `len` (what its last good commit left) and syncs that: what a
    /// failed append may have left after it goes, and the file ends with a whole commit.
    pub fn cut_back(&self, len: u64) -> Result<(), LogError> {
        self.file.set_len(len).and_then(|()| self.file.sync_all()).map_err(LogError::io(&self.path))
    }

    /// The frame whose header starts at `offset` with a payload of `len` bytes, checked.
    pub fn read_frame(&self, offset: u64, len: u32) -> Result<Frame, LogError> {
        let mut bytes = vec![0; HEADER_BYTES + len as usize];
        self.file.read_exact_at(&mut bytes, offset).map_err(LogError::io(&self.path))?;
        let corrupt = |why| LogError::Corrupt { path: self.path.clone(), offset, why };
        let header = Header::parse(&bytes[..HEADER_BYTES]).map_err(corrupt)?;
        if header.payload_len != len {
            return Err(corrupt("the frame is not where the index says"));
        }
        header.check(&bytes[HEADER_BYTES..]).map_err(corrupt)?;
        bytes.drain(..HEADER_BYTES);
        Ok(Frame { header, payload: bytes })
    }
}

/// Why an append failed.
#[derive(Debug)]
pub enum AppendFailure {
    /// Nothing was written; the file can take the next append.
    Write(LogError),
    /// The file's state is unknown: no further append may go to it.
    Broken(LogError),
}

/// A frame's header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    pub payload_len: u32,
    pub shard: u32,
    pub count: u32,
    pub first_seq: u64,
    pub arrival_ms: i64,
    crc: u32,
}

impl Header {
    fn parse(bytes: &[u8]) -> Result<Self, &'static str> {
        if bytes.len() < HEADER_BYTES || bytes[..4] != MAGIC {
            return Err("no frame starts here");
        }
        let u32_at = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"));
        let u64_at = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"));
        let header = Header {
            payload_len: u32_at(4),
            shard: u32_at(8),
            count: u32_at(12),
            first_seq: u64_at(16),
            arrival_ms: u64_at(24) as i64,
            crc: u32_at(32),
        };
        if header.payload_len as usize > MAX_PAYLOAD || header.count == 0 {
            return Err("the header is damaged");
        }
        Ok(header)
    }

    /// The last sequence number in the frame.
    pub fn last_seq(&self) -> u64 {
        self.first_seq + u64::from(self.count) - 1
    }

    fn check(&self, payload: &[u8]) -> Result<(), &'static str> {
        if checksum(&self.fields(), payload) == self.crc { Ok(()) } else { Err("its checksum does not match") }
    }

    /// The header's bytes after the magic and before the checksum.
    fn fields(&self) -> [u8; 28] {
        let mut out = [0; 28];
        out[0..4].copy_from_slice(&self.payload_len.to_le_bytes());
        out[4..8].copy_from_slice(&self.shard.to_le_bytes());
        out[8..12].copy_from_slice(&self.count.to_le_bytes());
        out[12..20].copy_from_slice(&self.first_seq.to_le_bytes());
        out[20..28].copy_from_slice(&self.arrival_ms.to_le_bytes());
        out
    }
}

fn checksum(fields: &[u8], payload: &[u8]) -> u32 {
    let mut crc = crc32fast::Hasher::new();
    crc.update(fields);
    crc.update(payload);
    crc.finalize()
}

/// A frame read back: its header and its encoded records.
#[derive(Debug)]
pub struct Frame {
    pub header: Header,
    payload: Vec<u8>,
}

impl Frame {
    /// The records in order: (partition key, data).
    pub fn records(&self) -> Option<Vec<(String, Vec<u8>)>> {
        let mut blob = &self.payload[..];
        let mut out = Vec::with_capacity(self.header.count as usize);
        let take = |blob: &mut &[u8]| -> Option<Vec<u8>> {
            let len = u32::from_le_bytes(blob.get(..4)?.try_into().ok()?) as usize;
            let bytes = blob.get(4..4 + len)?.to_vec();
            *blob = &blob[4 + len..];
            Some(bytes)
        };
        while !blob.is_empty() {
            let key = String::from_utf8(take(&mut blob)?).ok()?;
            let data = take(&mut blob)?;
            out.push((key, data));
        }
        (out.len() == self.header.count as usize).then_some(out)
    }
}

/// Builds one commit in a buffer: [`CommitWriter::begin`], its frames, then
/// [`CommitWriter::seal`].
pub struct CommitWriter;

impl CommitWriter {
    /// Clears `out` and leaves room for the commit's header.
    pub fn begin(out: &mut Vec<u8>) {
        out.clear();
        out.extend_from_slice(&[0; COMMIT_HEADER_BYTES]);
    }

    /// Fills in the header of the commit in `out`.
    pub fn seal(out: &mut [u8]) {
        let (head, frames) = out.split_at_mut(COMMIT_HEADER_BYTES);
        head[..4].copy_from_slice(&COMMIT_MAGIC);
        head[4..8].copy_from_slice(&(frames.len() as u32).to_le_bytes());
        head[8..].copy_from_slice(&crc32fast::hash(frames).to_le_bytes());
    }
}

/// Builds frames into a commit's buffer: [`FrameWriter::begin`], then
/// [`FrameWriter::record`] per record, then [`FrameWriter::finish`].
pub struct FrameWriter<'a> {
    out: &'a mut Vec<u8>,
    start: usize,
    count: u32,
}

impl<'a> FrameWriter<'a> {
    pub fn begin(out: &'a mut Vec<u8>) -> Self {
        let start = out.len();
        out.extend_from_slice(&[0; HEADER_BYTES]);
        Self { out, start, count: 0 }
    }

    pub fn record(&mut self, partition_key: &str, data: &[u8]) {
        self.out.extend_from_slice(&(partition_key.len() as u32).to_le_bytes());
        self.out.extend_from_slice(partition_key.as_bytes());
        self.out.extend_from_slice(&(data.len() as u32).to_le_bytes());
        self.out.extend_from_slice(data);
        self.count += 1;
    }

    /// Fills in the header; returns it and the frame's offset in the buffer.
    pub fn finish(self, shard: u32, first_seq: u64, arrival_ms: i64) -> (Header, usize) {
        let payload = &self.out[self.start + HEADER_BYTES..];
        let mut header =
            Header { payload_len: payload.len() as u32, shard, count: self.count, first_seq, arrival_ms, crc: 0 };
        let fields = header.fields();
        header.crc = checksum(&fields, payload);
        let head = &mut self.out[self.start..self.start + HEADER_BYTES];
        head[..4].copy_from_slice(&MAGIC);
        head[4..32].copy_from_slice(&fields);
        head[32..].copy_from_slice(&header.crc.to_le_bytes());
        (header, self.start)
    }
}

/// Where a frame is: found at start-up or just written, and what readers read through.
#[derive(Clone, Debug)]
pub struct FrameRef {
    pub header: Header,
    pub file: Arc<LogFile>,
    pub offset: u64,
}

/// What start-up found in the log directory: the files in order, and their frames.
pub struct Recovered {
    pub files: Vec<Arc<LogFile>>,
    pub frames: Vec<FrameRef>,
}

/// Reads every log file in `dir` (created if missing) and checks every commit and frame.
pub fn recover(dir: &Path) -> Result<Recovered, LogError> {
    std::fs::create_dir_all(dir).map_err(LogError::io(dir))?;
    let mut numbers = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(LogError::io(dir))? {
        let name = entry.map_err(LogError::io(dir))?.file_name();
        let name = name.to_string_lossy();
        if let Some(number) = name.strip_suffix(".log").and_then(|n| n.parse::<u64>().ok()) {
            numbers.push(number);
        }
    }
    numbers.sort_unstable();
    let mut recovered = Recovered { files: Vec::new(), frames: Vec::new() };
    for (i, &number) in numbers.iter().enumerate() {
        let file = Arc::new(LogFile::open(dir, number, false)?);
        let Scanned { frames, torn_at } = scan(&file)?;
        if let Some(torn) = torn_at {
            if i + 1 < numbers.len() {
                return Err(LogError::Corrupt { path: file.path.clone(), offset: torn, why: "a commit is incomplete" });
            }
            // Only the last commit can be torn, and it was never acknowledged.
            tracing::warn!(file = %file.path.display(), at = torn, "cutting off a commit torn by a crash");
            file.file.set_len(torn).and_then(|()| file.file.sync_all()).map_err(LogError::io(&file.path))?;
        }
        recovered.frames.extend(frames.into_iter().map(|(header, offset)| FrameRef { header, file: Arc::clone(&file), offset }));
        recovered.files.push(file);
    }
    Ok(recovered)
}

/// What [`scan`] found in one file: its frames (header, offset) and where a torn last
/// commit starts, if there is one.
struct Scanned {
    frames: Vec<(Header, u64)>,
    torn_at: Option<u64>,
}

/// The frames of `file`, and a torn last commit. A damaged commit with more of the file
/// after it is corruption.
fn scan(file: &LogFile) -> Result<Scanned, LogError> {
    let size = file.file.metadata().map_err(LogError::io(&file.path))?.len();
    let mut reader = BufReader::with_capacity(1 << 20, &file.file);
    let mut frames = Vec::new();
    let mut offset = 0u64;
    let mut head = [0u8; COMMIT_HEADER_BYTES];
    let mut commit = Vec::new();
    let corrupt = |offset, why| LogError::Corrupt { path: file.path.clone(), offset, why };
    loop {
        if offset == size {
            return Ok(Scanned { frames, torn_at: None });
        }
        if !read_full(&mut reader, &mut head).map_err(LogError::io(&file.path))? {
            return Ok(Scanned { frames, torn_at: Some(offset) });
        }
        if head[..4] != COMMIT_MAGIC {
            // A crash can leave a file longer than what reached it, the rest zeros.
            return if zeros_to_end(&mut reader, &head).map_err(LogError::io(&file.path))? {
                Ok(Scanned { frames, torn_at: Some(offset) })
            } else {
                Err(corrupt(offset, "no commit starts here"))
            };
        }
        let len = u32::from_le_bytes(head[4..8].try_into().expect("4 bytes")) as u64;
        let end = offset + COMMIT_HEADER_BYTES as u64 + len;
        if end > size {
            return Ok(Scanned { frames, torn_at: Some(offset) });
        }
        commit.resize(len as usize, 0);
        reader.read_exact(&mut commit).map_err(LogError::io(&file.path))?;
        if crc32fast::hash(&commit) != u32::from_le_bytes(head[8..].try_into().expect("4 bytes")) {
            return if end == size { Ok(Scanned { frames, torn_at: Some(offset) }) } else { Err(corrupt(offset, "a commit's checksum does not match")) };
        }
        // A commit whose checksum matches was written whole: its frames must all be good.
        let mut at = 0usize;
        while at < commit.len() {
            let frame_offset = offset + (COMMIT_HEADER_BYTES + at) as u64;
            let header = Header::parse(&commit[at..]).map_err(|why| corrupt(frame_offset, why))?;
            let payload = commit
                .get(at + HEADER_BYTES..at + HEADER_BYTES + header.payload_len as usize)
                .ok_or_else(|| corrupt(frame_offset, "a frame runs past its commit"))?;
            header.check(payload).map_err(|why| corrupt(frame_offset, why))?;
            frames.push((header, frame_offset));
            at += HEADER_BYTES + payload.len();
        }
        offset = end;
    }
}

/// Whether `head` and the rest of `reader` are all zero bytes.
fn zeros_to_end(reader: &mut impl Read, head: &[u8]) -> std::io::Result<bool> {
    if head.iter().any(|&b| b != 0) {
        return Ok(false);
    }
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match reader.read(&mut buf) {
            Ok(0) => return Ok(true),
            Ok(n) if buf[..n].iter().any(|&b| b != 0) => return Ok(false),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// Fills `buf`; false if the file ends first.
fn read_full(reader: &mut impl Read, buf: &mut [u8]) -> std::io::Result<bool> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => return Ok(false),
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One commit of frames, each `(shard, first_seq, records)`; the frames' offsets in it.
    fn commit(frames: &[(u32, u64, &[(&str, &[u8])])]) -> (Vec<u8>, Vec<(Header, usize)>) {
        let mut buf = Vec::new();
        CommitWriter::begin(&mut buf);
        let mut at = Vec::new();
        for (shard, first_seq, records) in frames {
            let mut frame = FrameWriter::begin(&mut buf);
            for (key, data) in *records {
                frame.record(key, data);
            }
            at.push(frame.finish(*shard, *first_seq, 1_700_000_000_000));
        }
        CommitWriter::seal(&mut buf);
        (buf, at)
    }

    fn shards_and_seqs(recovered: &Recovered) -> Vec<(u64, u32, u64)> {
        recovered.frames.iter().map(|f| (f.file.number, f.header.shard, f.header.first_seq)).collect()
    }

    #[test]
    fn frames_round_trip_and_refuse_damage() {
        let dir = tempfile::tempdir().unwrap();
        let file = LogFile::create(dir.path(), 1).unwrap();
        let (buf, at) = commit(&[(0, 1, &[("user-1", b"{\"a\":1}"), ("", b""), ("k", &[0xff, 0x00])]), (3, 10, &[("u", b"{}")])]);
        file.append(0, &buf).unwrap();

        let (second, offset) = at[1];
        let read = file.read_frame(offset as u64, second.payload_len).unwrap();
        assert_eq!((read.header.shard, read.header.first_seq, read.header.last_seq()), (3, 10, 10));
        assert_eq!(read.records().unwrap(), [("u".to_string(), b"{}".to_vec())]);
        let first = file.read_frame(at[0].1 as u64, at[0].0.payload_len).unwrap();
        assert_eq!(
            first.records().unwrap(),
            [("user-1".into(), b"{\"a\":1}".to_vec()), (String::new(), Vec::new()), ("k".into(), vec![0xff, 0x00])]
        );
        assert_eq!(shards_and_seqs(&recover(dir.path()).unwrap()), [(1, 0, 1), (1, 3, 10)]);

        // One flipped byte in the payload is caught by the checksum.
        file.file.write_all_at(b"X", (offset + HEADER_BYTES) as u64).unwrap();
        assert!(matches!(file.read_frame(offset as u64, second.payload_len), Err(LogError::Corrupt { .. })));
    }

    #[test]
    fn recovery_cuts_a_torn_last_commit_and_refuses_damage_before_it() {
        let dir = tempfile::tempdir().unwrap();
        let (one, _) = commit(&[(0, 1, &[("a", b"1"), ("b", b"2")]), (1, 1, &[("c", b"3")])]);
        let (two, _) = commit(&[(0, 3, &[("d", b"4")])]);
        let file = LogFile::create(dir.path(), 1).unwrap();
        file.append(0, &one).unwrap();
        let whole = one.len() as u64;
        let size = || std::fs::metadata(&file.path).unwrap().len();

        // Torn in three ways: cut short, damaged in its last bytes, or zeros where it was to go.
        for torn in [two[..two.len() - 1].to_vec(), [&two[..two.len() - 1], b"X"].concat(), vec![0; 100]] {
            file.append(whole, &torn).unwrap();
            let recovered = recover(dir.path()).unwrap();
            assert_eq!(shards_and_seqs(&recovered), [(1, 0, 1), (1, 1, 1)]);
            assert_eq!(size(), whole, "the torn commit is cut off");
        }

        // Damage in a commit with another after it: corruption, and nothing is cut.
        file.append(whole, &two).unwrap();
        let (three, _) = commit(&[(1, 2, &[("e", b"5")])]);
        file.append(whole + two.len() as u64, &three).unwrap();
        assert_eq!(shards_and_seqs(&recover(dir.path()).unwrap()), [(1, 0, 1), (1, 1, 1), (1, 0, 3), (1, 1, 2)]);
        file.file.write_all_at(b"X", whole + COMMIT_HEADER_BYTES as u64 + HEADER_BYTES as u64).unwrap();
        let full = size();
        match recover(dir.path()) {
            Err(LogError::Corrupt { path, offset, .. }) => assert_eq!((path, offset), (file.path.clone(), whole)),
            other => panic!("expected corruption, got {:?}", other.map(|r| r.frames.len())),
        }
        assert_eq!(size(), full);

        // A torn commit at the end of a file that is not the last is corruption too.
        file.file.set_len(whole + 5).unwrap();
        LogFile::create(dir.path(), 2).unwrap();
        assert!(matches!(recover(dir.path()), Err(LogError::Corrupt { offset, .. }) if offset == whole));
    }
}
