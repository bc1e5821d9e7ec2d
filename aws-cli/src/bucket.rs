//! The bad-rows bucket as recovery reads and marks it: the processor's bad-row objects
//! (`<prefix>type=<type>/dt=<day>/*.jsonl.gz`, read with `pipeline_aws::s3`), and the
//! manifests recovery writes next to them, one folder per run
//! (`<prefix>recovered/<run>/<part>.json`, each listing the bad rows whose events a batch put
//! back). Every key under the prefix must be one of the two: anything else means the
//! prefix is not a bad-rows prefix, and recovery stops before it writes anything.

use std::collections::{BTreeMap, HashMap};

use anyhow::{Context, bail};
use aws_sdk_s3::Client;
use pipeline_aws::retry::describe;
use aws_sdk_s3::primitives::ByteStream;
use chrono::{DateTime, Utc};
use futures::stream::{self, StreamExt, TryStreamExt};
use pipeline::bad_row::BadRowId;
use pipeline::{BadRow, BadRowType};
use pipeline_aws::s3::{decode, parse_key};
use serde::{Deserialize, Serialize};

/// The folder of the manifests, under the bad-rows prefix.
pub const MANIFESTS: &str = "recovered/";
/// Objects read at once.
const READS_IN_FLIGHT: usize = 16;
/// Foreign keys named in the error at most.
const FOREIGN_SHOWN: usize = 5;

/// A bad-row object found by the listing.
#[derive(Clone, Debug)]
pub struct RowsObject {
    pub key: String,
    pub kind: BadRowType,
    /// The failure day of its rows (`YYYY-MM-DD`).
    pub dt: String,
}

/// One manifest: the bad rows one batch of a run put back.
#[derive(Debug, Serialize, Deserialize)]
pub struct Manifest {
    pub run: String,
    /// The Kinesis stream the events went to.
    pub stream: String,
    pub recovered_at: String,
    pub bad_rows: Vec<BadRowId>,
}

pub struct BadRowBucket {
    client: Client,
    pub bucket: String,
    pub prefix: String,
}

impl BadRowBucket {
    pub fn new(client: Client, bucket: &str, prefix: &str) -> Self {
        let mut prefix = prefix.to_owned();
        if !prefix.is_empty() && !prefix.ends_with('/') {
            prefix.push('/');
        }
        Self { client, bucket: bucket.to_owned(), prefix }
    }

    fn at(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.bucket)
    }

    /// Every bad-row object and manifest under the prefix; an error naming the keys that are
    /// neither.
    pub async fn list(&self) -> anyhow::Result<(Vec<RowsObject>, Vec<String>)> {
        let (mut rows, mut manifests, mut foreign) = (Vec::new(), Vec::new(), Vec::new());
        let mut pages = self.client.list_objects_v2().bucket(&self.bucket).prefix(&self.prefix).into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| {
                anyhow::anyhow!("cannot list {}: {}. Check --bad-rows-bucket, AWS credentials and AWS_REGION", self.at(&self.prefix), describe(&e))
            })?;
            for object in page.contents() {
                let key = object.key().unwrap_or_default();
                let manifest = key.strip_prefix(&self.prefix).and_then(|k| k.strip_prefix(MANIFESTS));
                if let Some((kind, dt)) = parse_key(&self.prefix, key) {
                    rows.push(RowsObject { key: key.to_owned(), kind, dt });
                } else if manifest.is_some_and(|m| m.ends_with(".json") && m.matches('/').count() == 1) {
                    manifests.push(key.to_owned());
                } else if !(key.ends_with('/') && object.size().unwrap_or_default() == 0) {
                    // (A zero-byte "folder" made by a console is no data.)
                    foreign.push(key.to_owned());
                }
            }
        }
        if !foreign.is_empty() {
            let shown: Vec<String> = foreign.iter().take(FOREIGN_SHOWN).map(|k| self.at(k)).collect();
            bail!(
                "{} objects under {} are not bad rows ({}{}): the prefix must hold only the processor's bad rows \
                 (<prefix>type=<type>/dt=<YYYY-MM-DD>/<shard>-<sequence>.jsonl.gz). Pass the stack's BAD_ROWS_PREFIX \
                 as --bad-rows-prefix, or move those objects; nothing was written",
                foreign.len(),
                self.at(&self.prefix),
                shown.join(", "),
                if foreign.len() > FOREIGN_SHOWN { ", ..." } else { "" }
            );
        }
        Ok((rows, manifests))
    }

    async fn get(&self, key: &str) -> anyhow::Result<Vec<u8>> {
        let object = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("cannot read {}: {}", self.at(key), describe(&e)))?;
        let bytes = object.body.collect().await.with_context(|| format!("cannot read {}", self.at(key)))?;
        Ok(bytes.into_bytes().to_vec())
    }

    /// The bad rows of `objects`, each once (a replayed batch writes its rows again), in
    /// failure order; an error naming an object that does not read as bad rows.
    pub async fn read_rows(&self, objects: &[RowsObject]) -> anyhow::Result<Vec<BadRow>> {
        // Reading comes before the run's own bar: a bar of its own on a terminal.
        let bar = indicatif::ProgressBar::with_draw_target(Some(objects.len() as u64), indicatif::ProgressDrawTarget::stderr())
            .with_style(
                indicatif::ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} bad-row objects read")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
        let pages: Vec<Vec<BadRow>> = stream::iter(objects)
            .map(|object| async {
                let bytes = self.get(&object.key).await?;
                bar.inc(1);
                decode(&bytes).map_err(|why| {
                    anyhow::anyhow!("{} is not a bad-rows object: {why}. Check --bad-rows-prefix; nothing was written", self.at(&object.key))
                })
            })
            .buffer_unordered(READS_IN_FLIGHT)
            .try_collect()
            .await?;
        bar.finish_and_clear();
        let mut rows: BTreeMap<(String, BadRowId), BadRow> = BTreeMap::new();
        for row in pages.into_iter().flatten() {
            rows.entry((row.failed_at.clone(), row.id())).or_insert(row);
        }
        let mut seen = std::collections::HashSet::new();
        Ok(rows.into_values().filter(|r| seen.insert(r.id())).collect())
    }

    /// The bad rows the manifests list, with when each was first recovered.
    pub async fn recovered(&self, manifests: &[String]) -> anyhow::Result<HashMap<BadRowId, String>> {
        let read: Vec<Manifest> = stream::iter(manifests)
            .map(|key| async move {
                let bytes = self.get(key).await?;
                serde_json::from_slice::<Manifest>(&bytes).map_err(|e| anyhow::anyhow!("{} is not a recovery manifest ({e}): move it away", self.at(key)))
            })
            .buffer_unordered(READS_IN_FLIGHT)
            .try_collect()
            .await?;
        let mut recovered: HashMap<BadRowId, String> = HashMap::new();
        for manifest in read {
            for id in manifest.bad_rows {
                let at = recovered.entry(id).or_insert_with(|| manifest.recovered_at.clone());
                if manifest.recovered_at < *at {
                    *at = manifest.recovered_at.clone();
                }
            }
        }
        Ok(recovered)
    }

    /// Writes part `part` of run `run`'s manifest.
    pub async fn write_manifest(&self, manifest: &Manifest, part: u32) -> anyhow::Result<()> {
        let key = format!("{}{MANIFESTS}{}/{part:05}.json", self.prefix, manifest.run);
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(&key)
            .content_type("application/json")
            .body(ByteStream::from(serde_json::to_vec(manifest)?))
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("cannot write the manifest {}: {}", self.at(&key), describe(&e)))?;
        Ok(())
    }
}

/// Whether an object of failure day `dt` can hold rows failed within `[from, to]`.
pub fn day_in_range(dt: &str, from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>>) -> bool {
    let day = |t: DateTime<Utc>| t.format("%Y-%m-%d").to_string();
    from.is_none_or(|from| dt >= day(from).as_str()) && to.is_none_or(|to| dt <= day(to).as_str())
}
