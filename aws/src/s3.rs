//! Bad rows on S3: one gzip NDJSON object per batch and bad-row type, at
//! `<prefix>type=<type>/dt=<YYYY-MM-DD>/<shard>-<first sequence>.jsonl.gz`. The key depends
//! only on the batch, so a replayed batch overwrites its own objects. [`parse_key`] and
//! [`decode`] read them back (recovery).

use std::collections::BTreeMap;

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use futures::future::join_all;
use pipeline::sink::{BadRowStore, BatchKey, Indexed, SinkReport};
use pipeline::gzip::{Compression, gzip};
use pipeline::{BadRow, BadRowType};
use tokio::time::Instant;

use crate::retry::{BACKOFF, failed};
use pipeline::retry::{Answer, until_taken};

/// Stores bad rows in a bucket.
#[derive(Clone, Debug)]
pub struct S3BadRowStore {
    client: Client,
    bucket: String,
    prefix: String,
}

impl S3BadRowStore {
    /// Bad rows under `prefix` in `bucket`.
    pub fn new(client: Client, bucket: impl Into<String>, prefix: impl Into<String>) -> Self {
        Self { client, bucket: bucket.into(), prefix: prefix.into() }
    }

    /// The object key for `batch`'s bad rows of `kind`, dated by `dt` (`YYYY-MM-DD`).
    pub fn key(&self, kind: BadRowType, dt: &str, batch: &BatchKey) -> String {
        format!("{}type={kind}/dt={dt}/{}-{}.jsonl.gz", self.prefix, batch.shard_id, batch.first_sequence_number)
    }
}

/// What a key under the bad-rows prefix names: the type and failure day of a bad-row object
/// (`<prefix>type=<type>/dt=<YYYY-MM-DD>/<name>.jsonl.gz`); `None` for any other key.
pub fn parse_key(prefix: &str, key: &str) -> Option<(BadRowType, String)> {
    let rest = key.strip_prefix(prefix)?.strip_prefix("type=")?;
    let (kind, rest) = rest.split_once("/dt=")?;
    let (dt, name) = rest.split_once('/')?;
    let kind = BadRowType::ALL.into_iter().find(|k| k.as_str() == kind)?;
    let day_like = dt.len() == 10 && chrono::NaiveDate::parse_from_str(dt, "%Y-%m-%d").is_ok();
    let file_like = name.len() > ".jsonl.gz".len() && name.ends_with(".jsonl.gz") && !name.contains('/');
    (day_like && file_like).then(|| (kind, dt.to_owned()))
}

/// The bad rows of an object written by [`encode`] (gzip NDJSON, one bad row a line); the
/// error says what is wrong where.
pub fn decode(bytes: &[u8]) -> Result<Vec<BadRow>, String> {
    use std::io::BufRead;
    let reader = std::io::BufReader::new(flate2::read::MultiGzDecoder::new(bytes));
    let mut rows = Vec::new();
    for (n, line) in reader.lines().enumerate() {
        let line = line.map_err(|e| format!("not gzip NDJSON ({e})"))?;
        if line.trim().is_empty() {
            continue;
        }
        rows.push(serde_json::from_str(&line).map_err(|e| format!("line {} is not a bad row ({e})", n + 1))?);
    }
    Ok(rows)
}

/// Gzip NDJSON of `rows`.
pub fn encode(rows: &[&BadRow]) -> std::io::Result<Vec<u8>> {
    // Serialise first, compress once: the encoder handles one large write far better than
    // the many small ones a serializer makes.
    let mut text = Vec::new();
    for row in rows {
        serde_json::to_writer(&mut text, row)?;
        text.push(b'\n');
    }
    Ok(gzip(&text, Compression::default()))
}

impl BadRowStore for S3BadRowStore {
    async fn put_bad_rows(&self, batch: &BatchKey, rows: &[Indexed<'_, BadRow>], deadline: Instant) -> SinkReport {
        let mut by_kind: BTreeMap<BadRowType, Vec<&Indexed<'_, BadRow>>> = BTreeMap::new();
        for row in rows {
            by_kind.entry(row.item.kind).or_default().push(row);
        }
        // Dated by the batch's first bad row's failure day: a replay on another day writes a
        // new object; readers dedupe on shard_id + sequence_number (DESIGN: at least once).
        let writes = by_kind.into_iter().map(|(kind, group)| async move {
            let dt = group[0].item.failed_at.get(..10).unwrap_or("unknown").to_owned();
            let key = self.key(kind, &dt, batch);
            let items: Vec<&BadRow> = group.iter().map(|r| r.item).collect();
            let records: Vec<usize> = group.iter().map(|r| r.record).collect();
            self.put_object(key, &items, records, deadline).await
        });
        join_all(writes).await.into_iter().collect()
    }
}

impl S3BadRowStore {
    async fn put_object(&self, key: String, rows: &[&BadRow], records: Vec<usize>, deadline: Instant) -> SinkReport {
        let mut report = SinkReport::default();
        let body = match encode(rows) {
            Ok(body) => body,
            Err(e) => {
                tracing::error!(error = %e, key = %key, "cannot encode bad rows");
                report.failed = records;
                return report;
            }
        };
        let what = format!("PutObject s3://{}/{key}", self.bucket);
        let retried = until_taken(BACKOFF, deadline, vec![()], |_: &[()]| {
            let request = self
                .client
                .put_object()
                .bucket(&self.bucket)
                .key(&key)
                .content_type("application/x-ndjson")
                .content_encoding("gzip")
                .body(ByteStream::from(body.clone()));
            let what = &what;
            async move {
                match request.send().await {
                    Ok(_) => Answer::Left(Vec::new()),
                    Err(err) => failed(&err, what),
                }
            }
        })
        .await;
        report.retries = retried.retries;
        if retried.all_taken() {
            report.written = rows.len();
        } else {
            report.failed = records;
        }
        report
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_objects_read_back() {
        let kind = BadRowType::SchemaViolation;
        let key = "bad-rows/type=schema_violation/dt=2026-11-27/shardId-000000000001-4965.jsonl.gz";
        assert_eq!(parse_key("bad-rows/", key), Some((kind, "2026-11-27".to_owned())));
        for foreign in [
            "bad-rows/notes.txt",
            "bad-rows/type=schema_violation/notes.txt",
            "bad-rows/type=bogus/dt=2026-11-27/a.jsonl.gz",
            "bad-rows/type=schema_violation/dt=2026-13-27/a.jsonl.gz",
            "bad-rows/type=schema_violation/dt=2026-11-27/a.json",
            "bad-rows/type=schema_violation/dt=2026-11-27/x/a.jsonl.gz",
            "events/type=schema_violation/dt=2026-11-27/a.jsonl.gz",
        ] {
            assert_eq!(parse_key("bad-rows/", foreign), None, "{foreign}");
        }
        let record = pipeline::Record {
            data: b"{}".to_vec(),
            partition_key: "k".into(),
            sequence_number: "7".into(),
            sub_sequence_number: 0,
            shard_id: "shardId-000000000001".into(),
            arrival: chrono::Utc::now(),
        };
        let row = BadRow::new(
            pipeline::bad_row::Rejection::new(kind, pipeline::Violation::new("", "type", "x")),
            &record,
            chrono::Utc::now(),
        );
        assert_eq!(decode(&encode(&[&row, &row]).unwrap()).unwrap(), vec![row.clone(), row]);
        assert!(decode(b"not gzip").unwrap_err().contains("gzip"));
        assert!(decode(&gzip(b"{\"type\": 1}\n", Compression::default())).unwrap_err().contains("line 1"));
    }
}
