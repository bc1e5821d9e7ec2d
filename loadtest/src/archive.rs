//! `--verify`'s archive check: reads the run's events back out of the archive, gzip
//! NDJSON under `events/event_type=.../dt=.../hr=.../` (DESIGN section 6), from a local
//! data directory's `archive/` (`--archive-dir`) or an S3 bucket (`--archive-bucket`).
//! Only files written since the run started are read, each once however often the check
//! runs, and each line is searched for its `event_id` without parsing the JSON: a run
//! of 60M events is about 45 GB of NDJSON.

use std::collections::HashSet;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::SystemTime;

use anyhow::Context;
use futures::StreamExt;
use memchr::memmem;
use pipeline::sync::MutexExt as _;

use crate::bitset::Bitset;

/// Where the archive is.
pub enum ArchiveSource {
    /// A local data directory's `archive/` (finished files only).
    Dir(PathBuf),
    /// An S3 bucket and the prefix of the events layout (`events/`).
    S3 {
        /// The client that reads it.
        client: aws_sdk_s3::Client,
        /// The bucket.
        bucket: String,
        /// The prefix of the events layout.
        prefix: String,
    },
}

/// Reads the run's event ids out of an archive, each file once.
pub struct ArchiveReader {
    /// Where the archive is.
    pub source: ArchiveSource,
    /// The run id whose events are looked for.
    pub run: u64,
    /// Files written before this are not read.
    pub since: SystemTime,
    read: Mutex<HashSet<String>>,
}

const ID_FIELD: &[u8] = b"\"event_id\":\"";
const UUID_LEN: usize = 36;

/// Marks in `found` the run's event indices of every line of a gzip NDJSON stream;
/// returns the lines read.
pub fn scan_gzip(reader: impl Read, run: u64, found: &Bitset) -> std::io::Result<u64> {
    let mut gz = flate2::read::MultiGzDecoder::new(reader);
    let finder = memmem::Finder::new(ID_FIELD);
    let mut buf = vec![0u8; 1 << 20];
    let (mut filled, mut lines) = (0usize, 0u64);
    loop {
        let n = gz.read(&mut buf[filled..])?;
        filled += n;
        // Whole lines only; the rest waits for the next read.
        let end = if n == 0 { filled } else { memchr::memrchr(b'\n', &buf[..filled]).map_or(0, |i| i + 1) };
        for line in buf[..end].split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            lines += 1;
            if let Some(at) = finder.find(line) {
                let id = line.get(at + ID_FIELD.len()..at + ID_FIELD.len() + UUID_LEN).and_then(|t| std::str::from_utf8(t).ok());
                if let Some(index) = id.and_then(|t| t.parse().ok()).and_then(|id| pipeline::workload::run_event_index(run, &id)) {
                    found.insert(index);
                }
            }
        }
        if n == 0 {
            return Ok(lines);
        }
        buf.copy_within(end..filled, 0);
        filled -= end;
        if filled == buf.len() {
            // A line longer than the buffer: grow it.
            buf.resize(buf.len() * 2, 0);
        }
    }
}

/// Finished archive files under `root/events/` last written at or after `since`.
fn local_files(root: &Path, since: SystemTime) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut dirs = vec![root.join("events")];
    while let Some(dir) = dirs.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        for entry in entries {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let meta = entry.metadata()?;
            if meta.is_dir() {
                dirs.push(entry.path());
            } else if name.ends_with(".jsonl.gz") && !name.starts_with('.') && meta.modified()? >= since {
                out.push(entry.path());
            }
        }
    }
    out.sort();
    Ok(out)
}

impl ArchiveReader {
    /// A reader of `source` for run `run`'s events in files written since `since`.
    pub fn new(source: ArchiveSource, run: u64, since: SystemTime) -> Self {
        Self { source, run, since, read: Mutex::new(HashSet::new()) }
    }

    fn take_new(&self, names: Vec<String>) -> Vec<String> {
        let mut read = self.read.lock_ignoring_poison();
        names.into_iter().filter(|n| read.insert(n.clone())).collect()
    }

    /// Reads the files not read yet; marks the run's events found in `found`. Returns the
    /// files read.
    pub async fn read_new(&self, found: &Arc<Bitset>) -> anyhow::Result<usize> {
        match &self.source {
            ArchiveSource::Dir(root) => {
                let files = local_files(root, self.since).with_context(|| format!("cannot list the archive in {}", root.display()))?;
                let files = self.take_new(files.into_iter().map(|p| p.to_string_lossy().into_owned()).collect());
                let n = files.len();
                let (run, found) = (self.run, Arc::clone(found));
                tokio::task::spawn_blocking(move || read_local(&files, run, &found)).await??;
                Ok(n)
            }
            ArchiveSource::S3 { client, bucket, prefix } => self.read_s3(client, bucket, prefix, found).await,
        }
    }

    async fn read_s3(&self, client: &aws_sdk_s3::Client, bucket: &str, prefix: &str, found: &Arc<Bitset>) -> anyhow::Result<usize> {
        let since = self.since.duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
        let mut keys = Vec::new();
        let mut pages = client.list_objects_v2().bucket(bucket).prefix(prefix).into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| anyhow::anyhow!("cannot list s3://{bucket}/{prefix}: {}", aws_sdk_s3::error::DisplayErrorContext(&e)))?;
            for object in page.contents() {
                // A minute of slack: S3's times are the servers', not this machine's.
                if object.last_modified().is_none_or(|t| t.secs() >= since - 60) {
                    keys.extend(object.key().map(str::to_owned));
                }
            }
        }
        let keys = self.take_new(keys);
        let n = keys.len();
        let reads = futures::stream::iter(keys).map(|key| async move {
            let got = client
                .get_object()
                .bucket(bucket)
                .key(&key)
                .send()
                .await
                .map_err(|e| anyhow::anyhow!("cannot read s3://{bucket}/{key}: {}", aws_sdk_s3::error::DisplayErrorContext(&e)))?;
            let bytes = got.body.collect().await.with_context(|| format!("cannot read s3://{bucket}/{key}"))?.into_bytes();
            let (run, found, name) = (self.run, Arc::clone(found), format!("s3://{bucket}/{key}"));
            tokio::task::spawn_blocking(move || scan_gzip(&bytes[..], run, &found).with_context(|| format!("{name} is not gzip NDJSON"))).await?
        });
        let mut reads = reads.buffer_unordered(8);
        while let Some(r) = reads.next().await {
            r?;
        }
        Ok(n)
    }
}

/// Reads local files on as many threads as there are cores.
fn read_local(files: &[String], run: u64, found: &Bitset) -> anyhow::Result<()> {
    let next = AtomicUsize::new(0);
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get()).min(files.len().max(1));
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| -> anyhow::Result<()> {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(path) = files.get(i) else { return Ok(()) };
                        let file = std::fs::File::open(path).with_context(|| format!("cannot open {path}"))?;
                        scan_gzip(std::io::BufReader::with_capacity(1 << 20, file), run, found).with_context(|| format!("{path} is not gzip NDJSON"))?;
                    }
                })
            })
            .collect();
        handles.into_iter().try_for_each(|h| h.join().map_err(|_| anyhow::anyhow!("an archive reader thread panicked"))?)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use pipeline::workload::run_event_id;

    fn lines(run: u64, range: std::ops::Range<u64>) -> String {
        range.map(|i| format!("{{\"event_type\":\"click\",\"event_id\":\"{}\",\"pad\":\"{}\"}}\n", run_event_id(run, i), "x".repeat(i as usize % 300))).collect()
    }

    #[test]
    fn every_line_of_every_member_is_read_across_buffer_ends() {
        let run = 0xabcd;
        // Several gzip members, more than one buffer of text, another run's events mixed in.
        let text = [lines(run, 0..3000), lines(7, 0..50), lines(run, 3000..9000)];
        let gz: Vec<u8> = text.iter().flat_map(|t| crate::batches::gzip(t.as_bytes()).to_vec()).collect();
        let found = Bitset::new(10_000);
        assert_eq!(scan_gzip(&gz[..], run, &found).unwrap(), 9050);
        assert_eq!(found.count(), 9000);
        assert!(scan_gzip(&b"not gzip"[..], run, &found).is_err());
    }

    #[tokio::test]
    async fn local_files_are_read_once_and_open_ones_never() {
        let dir = tempfile::tempdir().unwrap();
        let run = 0x77;
        let part = dir.path().join("events/event_type=click/dt=2026-11-27/hr=12");
        std::fs::create_dir_all(&part).unwrap();
        std::fs::write(part.join("shardId-000000000000-1.jsonl.gz"), crate::batches::gzip(lines(run, 0..10).as_bytes())).unwrap();
        std::fs::write(part.join(".shardId-000000000000-2.jsonl.gz.open"), crate::batches::gzip(lines(run, 10..20).as_bytes())).unwrap();
        let reader = ArchiveReader::new(ArchiveSource::Dir(dir.path().to_path_buf()), run, SystemTime::UNIX_EPOCH);
        let found = Arc::new(Bitset::new(100));
        assert_eq!(reader.read_new(&found).await.unwrap(), 1);
        assert_eq!(found.count(), 10);
        assert_eq!(reader.read_new(&found).await.unwrap(), 0, "a file is read once");
    }

    #[tokio::test]
    #[ignore = "needs moto_server (AWS_ENDPOINT_URL): scripts/test.sh starts it and runs the ignored tests"]
    async fn the_archive_of_a_deployed_stack_is_read_from_its_bucket() {
        let config = pipeline_aws::sdk::load_from_env().await;
        let client = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&config).force_path_style(true).build());
        let bucket = format!("lt-archive-{}", uuid::Uuid::new_v4().simple());
        client.create_bucket().bucket(&bucket).send().await.unwrap();
        let run = 0x5151;
        let put = |key: String, text: String| {
            let client = client.clone();
            let bucket = bucket.clone();
            async move { client.put_object().bucket(bucket).key(key).body(crate::batches::gzip(text.as_bytes()).to_vec().into()).send().await.unwrap() }
        };
        put("events/event_type=click/dt=2026-11-27/hr=12/stream-1-2026-11-27-12-00-00-abc.gz".into(), lines(run, 0..40)).await;
        put("events/event_type=pageview/dt=2026-11-27/hr=13/stream-1-2026-11-27-13-00-00-def.gz".into(), lines(run, 40..100)).await;
        put("bad-rows/type=malformed/dt=2026-11-27/x.jsonl.gz".into(), lines(run, 100..110)).await;
        let source = ArchiveSource::S3 { client: client.clone(), bucket: bucket.clone(), prefix: "events/".into() };
        let reader = ArchiveReader::new(source, run, SystemTime::now() - std::time::Duration::from_secs(600));
        let found = Arc::new(Bitset::new(200));
        assert_eq!(reader.read_new(&found).await.unwrap(), 2, "only the events layout is read");
        assert_eq!(found.count(), 100);
        assert_eq!(reader.read_new(&found).await.unwrap(), 0);
    }
}
