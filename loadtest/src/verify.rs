//! `--verify`: after the run, wait until the pipeline has processed what it accepted, then
//! check conservation over this run's events: every acknowledged event is stored or a bad row.
//!
//! How this run's events are found (see also the crate doc):
//! - every user id is `lt-<run id>-<n>` with `n < --users`, so the stored events of the run
//!   are exactly the pages of `GET /v1/users/{id}/events?limit=1000` of those users;
//! - every event's `event_id` is [`run_event_id`](pipeline::workload::run_event_id)`(run,
//!   index)`: it names the run and the event's index, survives the workload's mutations into
//!   invalid events, and keeps a resent event's id (the store overwrites the same item);
//! - bad rows carry the producer's bytes as `payload`; those holding `lt-<run id>-` are this
//!   run's, from `GET /v1/bad-rows?from=<run start>` (local mode) or the `bad-rows/` objects of
//!   `--bad-rows-bucket` (a deployed stack);
//! - with `--archive-dir` or `--archive-bucket`, every valid accepted event must also be in
//!   the archive ([`crate::archive`]).
//!
//! Found events are matched by index against the set of acknowledged ones, each counted once.
//! Local mode answers `fields=event_id` with pages of up to 100,000 ids, so the events of a
//! 60M-event run are read in about 600 requests; a target that does not (the query Lambda)
//! is read in pages of 1,000 whole events, the same check, slower.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use chrono::{DateTime, SecondsFormat, Utc};
use futures::StreamExt;
use hyper::StatusCode;
use serde::Deserialize;

use std::sync::{Arc, OnceLock};

use crate::archive::ArchiveReader;
use crate::bitset::Bitset;
use crate::producer::http::Api;
use crate::progress::Progress;
use crate::report::VerifyReport;

/// Users' event pages read at once.
const CONCURRENCY: usize = 8;
const PAGE: usize = 1_000;
/// Ids in one keys-only page (`fields=event_id`, local mode).
const ID_PAGE: usize = 100_000;

/// The user-id prefix of run `run`.
pub fn user_prefix(run: u64) -> String {
    format!("lt-{run:016x}-")
}

/// Where bad rows are read.
pub enum BadRowSource {
    /// `GET /v1/bad-rows` of the query API (local mode).
    Api,
    /// `<prefix>type=<type>/dt=<YYYY-MM-DD>/*.jsonl.gz` in an S3 bucket (a deployed stack).
    S3 {
        /// The client that reads it.
        client: aws_sdk_s3::Client,
        /// The bucket.
        bucket: String,
        /// The prefix of the bad rows.
        prefix: String,
    },
}

/// What the check found.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Found {
    /// Acknowledged events found stored / as bad rows.
    pub stored: u64,
    /// Acknowledged events found as bad rows and not stored.
    pub bad_rows: u64,
    /// Events of the run found although their acknowledgement was never seen.
    pub unacknowledged: u64,
    /// Valid events found as bad rows, plus invalid events found stored.
    pub misplaced: u64,
    /// With an archive to check: the valid accepted events, and those of them found in it.
    pub archive: Option<(u64, u64)>,
}

impl Found {
    /// Tallies the events found stored and as bad rows against the acknowledged and the
    /// intentionally invalid ones.
    pub fn tally(accepted: &Bitset, invalid: &Bitset, stored: &Bitset, bad: &Bitset) -> Self {
        let mut f = Found::default();
        for i in 0..accepted.len() {
            let (s, b) = (stored.contains(i), bad.contains(i));
            if !(s || b) {
                continue;
            }
            if accepted.contains(i) {
                f.stored += u64::from(s);
                f.bad_rows += u64::from(b && !s);
            } else {
                f.unacknowledged += 1;
            }
            f.misplaced += u64::from((s && invalid.contains(i)) || (b && !invalid.contains(i)));
        }
        f
    }

    /// Valid accepted events, and how many of them `archived` holds.
    pub fn archive_tally(accepted: &Bitset, invalid: &Bitset, archived: &Bitset) -> (u64, u64) {
        let (mut expected, mut found) = (0, 0);
        for i in 0..accepted.len() {
            if accepted.contains(i) && !invalid.contains(i) {
                expected += 1;
                found += u64::from(archived.contains(i));
            }
        }
        (expected, found)
    }
}

/// The `--verify` check of one run: where to look, and what was acknowledged.
pub struct Verifier<'a> {
    /// The pipeline's query API.
    pub api: &'a Api,
    /// Where the bad rows are: the query API, or the bad-rows bucket of a deployed stack.
    pub bad_rows: BadRowSource,
    /// The run's id, in its user ids and event ids.
    pub run: u64,
    /// `--users`: how many users the run's events came from (their pages are read).
    pub users: u64,
    /// Bad rows failed before this are not read.
    pub since: DateTime<Utc>,
    /// The events acknowledged.
    pub accepted: &'a Bitset,
    /// The events the generator made invalid (they must be bad rows).
    pub invalid: &'a Bitset,
    /// The archive to check too, and what was found in it so far (kept across counts:
    /// each archive file is read once).
    pub archive: Option<(ArchiveReader, Arc<Bitset>)>,
    /// Whether the target answers `fields=event_id` (probed once).
    pub ids_only: OnceLock<bool>,
}

#[derive(Deserialize)]
struct EventsPage {
    events: Vec<EventId>,
    next_cursor: Option<String>,
}

#[derive(Deserialize)]
struct EventId {
    #[serde(default)]
    event_id: Option<String>,
}

#[derive(Deserialize)]
struct BadRowsPage {
    bad_rows: Vec<BadRowPayload>,
    next_cursor: Option<String>,
}

#[derive(Deserialize)]
struct BadRowPayload {
    #[serde(default)]
    payload: Option<String>,
}

/// Percent-encodes a query value (cursors are opaque).
fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The run's event index in a producer payload (its `event_id`), if it is this run's.
pub fn payload_event(run: u64, marker: &str, payload: &str) -> Option<u64> {
    if !payload.contains(marker) {
        return None;
    }
    let at = payload.find("\"event_id\":\"")? + 12;
    let id: uuid::Uuid = payload.get(at..at + 36)?.parse().ok()?;
    pipeline::workload::run_event_index(run, &id)
}

impl Verifier<'_> {
    async fn get_ok(&self, path: &str) -> anyhow::Result<bytes::Bytes> {
        let mut tries = 0;
        loop {
            match self.api.get(path).await {
                Ok(a) if a.status == StatusCode::OK => return Ok(a.body),
                Ok(a) if a.status == StatusCode::FORBIDDEN => bail!("the query API at {} refused the read key (403): pass it with --read-key", self.api.base()),
                Ok(a) if a.status == StatusCode::NOT_FOUND => {
                    bail!("{}{path} answered 404: --verify needs the pipeline's query API at --target ({})", self.api.base(), a.message())
                }
                Ok(a) if a.status.is_client_error() => bail!("{}{path} answered {}: {}", self.api.base(), a.status, a.message()),
                Ok(a) if tries >= 5 => bail!("{}{path} answered {}: {}", self.api.base(), a.status, a.message()),
                Err(e) if tries >= 5 => return Err(e),
                // A busy server (5xx) or a lost connection: try again.
                _ => {
                    tries += 1;
                    tokio::time::sleep(Duration::from_millis(500 * tries)).await;
                }
            }
        }
    }

    /// Whether the target answers keys-only pages (`fields=event_id`): local mode does,
    /// the query Lambda refuses the larger limit (400) or ignores the field.
    async fn probe_ids_only(&self) -> bool {
        if let Some(&known) = self.ids_only.get() {
            return known;
        }
        let path = format!("/v1/users/{}0/events?fields=event_id&limit={ID_PAGE}", user_prefix(self.run));
        let supported = matches!(self.api.get(&path).await, Ok(a) if a.status == StatusCode::OK);
        *self.ids_only.get_or_init(|| supported)
    }

    /// Reads every page of one user's events; marks the run's event indices in `found`.
    async fn user_events(&self, user: u64, found: &Bitset) -> anyhow::Result<u64> {
        let page = if self.probe_ids_only().await { format!("fields=event_id&limit={ID_PAGE}") } else { format!("limit={PAGE}") };
        let base = format!("/v1/users/{}{user}/events?{page}", user_prefix(self.run));
        let mut cursor: Option<String> = None;
        let mut n = 0;
        loop {
            let path = match &cursor {
                Some(c) => format!("{base}&cursor={}", encode(c)),
                None => base.clone(),
            };
            let body = self.get_ok(&path).await?;
            let page: EventsPage = serde_json::from_slice(&body).with_context(|| format!("{path}: not the events page JSON of the query API"))?;
            for e in &page.events {
                let index = e.event_id.as_deref().and_then(|id| id.parse().ok()).and_then(|id| pipeline::workload::run_event_index(self.run, &id));
                if let Some(i) = index {
                    found.insert(i);
                }
                n += 1;
            }
            match page.next_cursor {
                Some(c) if !page.events.is_empty() => cursor = Some(c),
                _ => return Ok(n),
            }
        }
    }

    async fn api_bad_rows(&self, found: &Bitset) -> anyhow::Result<()> {
        let marker = user_prefix(self.run);
        let base = format!("/v1/bad-rows?limit={PAGE}&from={}", encode(&self.since.to_rfc3339_opts(SecondsFormat::Secs, true)));
        let mut cursor: Option<String> = None;
        loop {
            let path = match &cursor {
                Some(c) => format!("{base}&cursor={}", encode(c)),
                None => base.clone(),
            };
            let body = match self.get_ok(&path).await {
                Err(e) if e.to_string().contains("answered 404") => {
                    bail!("{e}. A deployed stack keeps bad rows in S3: pass --bad-rows-bucket BUCKET")
                }
                other => other?,
            };
            let page: BadRowsPage = serde_json::from_slice(&body).with_context(|| format!("{path}: not the bad-rows page JSON of the query API"))?;
            for row in &page.bad_rows {
                if let Some(i) = row.payload.as_deref().and_then(|p| payload_event(self.run, &marker, p)) {
                    found.insert(i);
                }
            }
            match page.next_cursor {
                Some(c) if !page.bad_rows.is_empty() => cursor = Some(c),
                _ => return Ok(()),
            }
        }
    }

    async fn s3_bad_rows(&self, client: &aws_sdk_s3::Client, bucket: &str, prefix: &str, found: &Bitset) -> anyhow::Result<()> {
        use std::io::BufRead;
        let marker = user_prefix(self.run);
        let since = self.since.timestamp();
        let mut days = Vec::new();
        let mut day = self.since.date_naive();
        while day <= Utc::now().date_naive() {
            days.push(day.format("%Y-%m-%d").to_string());
            day = day.succ_opt().unwrap_or(day);
            if days.len() > 31 {
                break;
            }
        }
        for kind in pipeline::BadRowType::ALL {
            for dt in &days {
                let key_prefix = format!("{prefix}type={}/dt={dt}/", kind.as_str());
                let mut pages = client.list_objects_v2().bucket(bucket).prefix(&key_prefix).into_paginator().send();
                while let Some(page) = pages.next().await {
                    let page = page.map_err(|e| anyhow::anyhow!("cannot list s3://{bucket}/{key_prefix}: {}", aws_sdk_s3::error::DisplayErrorContext(&e)))?;
                    for object in page.contents() {
                        if object.last_modified().is_some_and(|t| t.secs() < since) {
                            continue;
                        }
                        let Some(key) = object.key() else { continue };
                        let got = client
                            .get_object()
                            .bucket(bucket)
                            .key(key)
                            .send()
                            .await
                            .map_err(|e| anyhow::anyhow!("cannot read s3://{bucket}/{key}: {}", aws_sdk_s3::error::DisplayErrorContext(&e)))?;
                        let bytes = got.body.collect().await.with_context(|| format!("cannot read s3://{bucket}/{key}"))?.into_bytes();
                        let reader = std::io::BufReader::new(flate2::read::MultiGzDecoder::new(&bytes[..]));
                        for line in reader.lines() {
                            let line = line.with_context(|| format!("s3://{bucket}/{key} is not gzip NDJSON"))?;
                            if !line.contains(&marker) {
                                continue;
                            }
                            let row: BadRowPayload = serde_json::from_str(&line).with_context(|| format!("s3://{bucket}/{key}: a line is not a bad row"))?;
                            if let Some(i) = row.payload.as_deref().and_then(|p| payload_event(self.run, &marker, p)) {
                                found.insert(i);
                            }
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Reads what the pipeline holds of this run, once.
    pub async fn count(&self, progress: &Progress) -> anyhow::Result<Found> {
        let total = self.accepted.len();
        let (stored, bad) = (Bitset::new(total), Bitset::new(total));
        let read = futures::stream::iter(0..self.users)
            .map(|user| {
                let stored = &stored;
                async move { self.user_events(user, stored).await }
            })
            .buffer_unordered(CONCURRENCY);
        futures::pin_mut!(read);
        let mut users = 0;
        while let Some(result) = read.next().await {
            result?;
            users += 1;
            if users % 50 == 0 {
                progress.show(format!("verify: read the events of {users} of {} users", self.users));
            }
        }
        progress.show("verify: reading bad rows".into());
        match &self.bad_rows {
            BadRowSource::Api => self.api_bad_rows(&bad).await?,
            BadRowSource::S3 { client, bucket, prefix } => self.s3_bad_rows(client, bucket, prefix, &bad).await?,
        }
        let mut found = Found::tally(self.accepted, self.invalid, &stored, &bad);
        if let Some((reader, archived)) = &self.archive {
            progress.show("verify: reading the archive".into());
            reader.read_new(archived).await?;
            found.archive = Some(Found::archive_tally(self.accepted, self.invalid, archived));
        }
        Ok(found)
    }

    /// Local mode's `/health` lag (records accepted but not processed), if the target has it.
    async fn lag(&self) -> Option<u64> {
        #[derive(Deserialize)]
        struct Health {
            lag: u64,
        }
        let a = self.api.get("/health").await.ok()?;
        if a.status != StatusCode::OK {
            return None;
        }
        serde_json::from_slice::<Health>(&a.body).ok().map(|h| h.lag)
    }

    /// Waits for the pipeline (until `/health` shows no lag, where the target has it), then
    /// counts, and counts again while the count grows and is short of `accepted`. Gives up
    /// after `idle` without progress.
    pub async fn wait_and_check(&self, idle: Duration, progress: &Progress) -> anyhow::Result<(VerifyReport, Found)> {
        let accepted = self.accepted.count();
        let mut best = u64::MAX;
        let mut moved = Instant::now();
        while let Some(lag) = self.lag().await {
            if lag == 0 {
                break;
            }
            if lag < best {
                (best, moved) = (lag, Instant::now());
            }
            if moved.elapsed() >= idle {
                progress.println(&format!("verify: the pipeline's lag stayed at {lag} records for {}; checking what is there", humantime::format_duration(idle)));
                break;
            }
            progress.show(format!("verify: waiting for the pipeline to process what it accepted: {lag} records to go"));
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        let mut best = 0;
        let mut moved = Instant::now();
        loop {
            let found = self.count(progress).await?;
            let archived = found.archive.map_or(0, |(_, n)| n);
            let there = found.stored + found.bad_rows + archived;
            let complete = found.stored + found.bad_rows >= accepted && found.archive.is_none_or(|(expected, n)| n >= expected);
            if complete || (there <= best && moved.elapsed() >= idle) {
                let mut report = VerifyReport::new(accepted, found.stored, found.bad_rows);
                if let Some((expected, n)) = found.archive {
                    report = report.with_archive(expected, n);
                }
                return Ok((report, found));
            }
            if there > best {
                (best, moved) = (there, Instant::now());
            }
            let archive = found.archive.map(|(e, n)| format!(", {n} of {e} in the archive")).unwrap_or_default();
            progress.show(format!("verify: found {} of {accepted} accepted events{archive}; waiting for the rest", found.stored + found.bad_rows));
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pipeline::workload::run_event_id;

    #[test]
    fn bad_row_payloads_of_this_run_give_their_event_index() {
        let run = 0xfeed;
        let marker = user_prefix(run);
        let payload = format!(r#"{{"event_type":"checkout_started_v2","user_id":"{marker}3","event_id":"{}"}}"#, run_event_id(run, 42));
        assert_eq!(payload_event(run, &marker, &payload), Some(42));
        let other = payload.replace(&marker, &user_prefix(7));
        assert_eq!(payload_event(run, &marker, &other), None, "another run's user");
        let without_id = format!(r#"{{"user_id":"{marker}3"}}"#);
        assert_eq!(payload_event(run, &marker, &without_id), None);
    }

    #[test]
    fn the_tally_counts_each_acknowledged_event_once() {
        let sets = || (0..4).map(|_| Bitset::new(10)).collect::<Vec<_>>();
        let s = sets();
        let (accepted, invalid, stored, bad) = (&s[0], &s[1], &s[2], &s[3]);
        for i in 0..8 {
            accepted.insert(i);
        }
        invalid.insert(1);
        invalid.insert(2);
        for i in [0, 3, 4, 5, 6, 9] {
            stored.insert(i);
        }
        bad.insert(1);
        bad.insert(2);
        // 7 accepted but found nowhere; 9 stored but never acknowledged.
        let f = Found::tally(accepted, invalid, stored, bad);
        assert_eq!(f, Found { stored: 5, bad_rows: 2, unacknowledged: 1, misplaced: 0, archive: None });
        // Valid accepted: 0, 3, 4, 5, 6, 7; the archive holds 0, 4 and an unacknowledged 9.
        let archived = Bitset::new(10);
        for i in [0, 4, 9] {
            archived.insert(i);
        }
        assert_eq!(Found::archive_tally(accepted, invalid, &archived), (6, 2));
        assert_eq!(VerifyReport::new(accepted.count(), f.stored, f.bad_rows).missing, 1);
        bad.insert(4);
        assert_eq!(Found::tally(accepted, invalid, stored, bad).misplaced, 1);
    }

    #[tokio::test]
    #[ignore = "needs moto_server (AWS_ENDPOINT_URL): scripts/test.sh starts it and runs the ignored tests"]
    async fn bad_rows_are_read_from_the_bucket_of_a_deployed_stack() {
        let config = pipeline_aws::sdk::load_from_env().await;
        let client = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&config).force_path_style(true).build());
        let bucket = format!("lt-bad-{}", uuid::Uuid::new_v4().simple());
        client.create_bucket().bucket(&bucket).send().await.unwrap();
        let run = 0xabc;
        let marker = user_prefix(run);
        let row = |index: u64, user: &str| {
            let payload = format!(r#"{{"event_type":"nope","user_id":"{user}","event_id":"{}"}}"#, run_event_id(run, index));
            serde_json::json!({"type": "unknown_event_type", "payload": payload, "shard_id": "shardId-000000000000"}).to_string()
        };
        let lines = [row(3, &format!("{marker}1")), row(5, &format!("{marker}2")), row(6, "someone-else")].join("\n") + "\n";
        let dt = Utc::now().format("%Y-%m-%d");
        let key = format!("bad-rows/type=unknown_event_type/dt={dt}/shardId-000000000000-1.jsonl.gz");
        let body = crate::batches::gzip(lines.as_bytes());
        client.put_object().bucket(&bucket).key(&key).body(body.to_vec().into()).send().await.unwrap();

        let (accepted, invalid) = (Bitset::new(10), Bitset::new(10));
        let api = Api::new("http://127.0.0.1:9", "k", 1, Duration::from_secs(1)).unwrap();
        let source = BadRowSource::S3 { client: client.clone(), bucket: bucket.clone(), prefix: "bad-rows/".into() };
        let since = Utc::now() - chrono::Duration::minutes(1);
        let v = Verifier { api: &api, bad_rows: source, run, users: 1, since, accepted: &accepted, invalid: &invalid, archive: None, ids_only: OnceLock::new() };
        let found = Bitset::new(10);
        v.s3_bad_rows(&client, &bucket, "bad-rows/", &found).await.unwrap();
        assert_eq!((found.count(), found.contains(3), found.contains(5)), (2, true, true));
    }

    #[test]
    fn cursors_are_percent_encoded() {
        assert_eq!(encode("ab-_9"), "ab-_9");
        assert_eq!(encode("a+b/c="), "a%2Bb%2Fc%3D");
        assert_eq!(encode("2026-11-27T12:00:00Z"), "2026-11-27T12%3A00%3A00Z");
    }
}
