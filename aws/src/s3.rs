//! Bad rows on S3: one gzip NDJSON object per batch and bad-row type, at
//! `<prefix>type=<type>/dt=<YYYY-MM-DD>/<shard>-<first sequence>.jsonl.gz`. The key depends
//! only on the batch, so a replayed batch overwrites its own objects.

use std::collections::BTreeMap;

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use futures::future::join_all;
use pipeline::sink::{BadRowStore, BatchKey, Indexed, SinkReport};
use pipeline::gzip::{Compression, gzip};
use pipeline::{BadRow, BadRowType};
use tokio::time::Instant;

use crate::retry::{Backoff, describe, is_retryable};

/// Stores bad rows in a bucket.
#[derive(Clone, Debug)]
pub struct S3BadRowStore {
    client: Client,
    bucket: String,
    prefix: String,
}

impl S3BadRowStore {
    pub fn new(client: Client, bucket: impl Into<String>, prefix: impl Into<String>) -> Self {
        Self { client, bucket: bucket.into(), prefix: prefix.into() }
    }

    /// The object key for `batch`'s bad rows of `kind`, dated by `dt` (`YYYY-MM-DD`).
    pub fn key(&self, kind: BadRowType, dt: &str, batch: &BatchKey) -> String {
        format!("{}type={kind}/dt={dt}/{}-{}.jsonl.gz", self.prefix, batch.shard_id, batch.first_sequence_number)
    }
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
        let mut backoff = Backoff::until(deadline);
        loop {
            let result = self
                .client
                .put_object()
                .bucket(&self.bucket)
                .key(&key)
                .content_type("application/x-ndjson")
                .content_encoding("gzip")
                .body(ByteStream::from(body.clone()))
                .send()
                .await;
            match result {
                Ok(_) => {
                    report.written = rows.len();
                    return report;
                }
                Err(err) if is_retryable(&err) => {
                    tracing::warn!(error = %describe(&err), key = %key, "PutObject failed; retrying");
                }
                Err(err) => {
                    tracing::error!(error = %describe(&err), bucket = %self.bucket, key = %key, "PutObject refused; not retrying");
                    break;
                }
            }
            if !backoff.wait().await {
                break;
            }
            report.retries += 1;
        }
        report.failed = records;
        report
    }
}
