//! `pipeline recover`: a local pipeline's bad rows back through its front door after a fix
//! (crate `pipeline-recover` does the selection, fixes and counting). Bad rows are read with
//! the read key (`GET /v1/bad-rows`), events posted with the ingest key (`POST /v1/events`),
//! and each batch's bad rows marked with the read key (`POST /v1/bad-rows/recovered`) once
//! the pipeline has acknowledged its events.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use clap::Args;
use pipeline::bad_row::BadRowId;
use pipeline::time_format::{format_seconds, parse_rfc3339};
use pipeline::{BadRow, BadRowType};
use pipeline_recover::{Attempt, BatchLimits, Destination, RecoverArgs, RecoveredEvent, Source, put_until_taken};
use serde_json::{Value, json};

#[derive(Args)]
#[command(
    about = "Put bad rows of a local pipeline back after a fix, each event once",
    long_about = "Put bad rows of a running `pipeline up` back through its ingest API after a fix, each event \
once. Rows are selected (--type, --from/--to on their failure time, --event-type, --schema, --limit), \
fixed in order (--patch FILE: an RFC 6902 JSON Patch; then checked against --schemas DIR, default the \
built-in schemas, exactly as the processor checks them), and the fixed events posted with the ingest key. \
Each event is sent with the event_id it would have had (its own, or the one derived from its record) and, \
where it had no timestamp, its arrival time, so it is stored under the same key however often it is \
recovered. Once the pipeline acknowledges a batch, its bad rows are marked recovered (they carry \
recovered_at) and later runs skip them (--again takes them too).

--dry-run counts per bad-row type what would be fixed, what still fails (with the first errors) and what \
the patch does not match, and sends nothing. The target must run with schemas that accept the events \
(`pipeline up --schemas DIR`); recover cannot check that from outside: an event the target refuses \
becomes a new bad row.

A run stopped between posting a batch and marking it posts that batch again next time: the events store \
is unchanged (same keys), the aggregates count those events twice (at least once, as for every retry).

Exit status: 0 when the run finished, 1 when it stopped early (what it recovered until then stays \
recovered), 2 on a usage error or when the target cannot be used (nothing written)."
)]
pub struct RecoverCmd {
    /// The pipeline's address (`pipeline up --listen`).
    #[arg(long, value_name = "URL", default_value = "http://127.0.0.1:8080")]
    target: String,
    /// The ingest key, for POST /v1/events (DATA_DIR/api_key of `pipeline up`).
    #[arg(long, value_name = "KEY", env = "PIPELINE_API_KEY", hide_env_values = true)]
    api_key: String,
    /// The read key, for GET /v1/bad-rows and marking rows recovered (DATA_DIR/read_key).
    #[arg(long, value_name = "KEY", env = "PIPELINE_READ_KEY", hide_env_values = true)]
    read_key: String,
    #[command(flatten)]
    options: RecoverArgs,
}

/// Bad rows asked for per page: a bad row holds its record, up to 1 MiB.
const PAGE: usize = 100;
/// The largest answer read: a page of the largest bad rows, as JSON.
const MAX_ANSWER_BYTES: u64 = 512 * 1024 * 1024;
/// The ingest API's limits (DESIGN section 4), with room for the array's brackets.
const MAX_EVENTS_PER_POST: usize = pipeline::limits::INGEST_EVENTS_PER_REQUEST_MAX;
const MAX_BODY_BYTES: usize = pipeline::limits::INGEST_BODY_BYTES_MAX - 16;
/// Time one request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

pub fn run(cmd: &RecoverCmd) -> anyhow::Result<ExitCode> {
    let api = Api::new(&cmd.target, &cmd.api_key, &cmd.read_key)?;
    let prepared = pipeline_recover::prepare(&cmd.options, format!("{}/v1/bad-rows", api.base), api.base.clone())?;
    api.check()?;
    let mut source = LocalSource::new(&api, &prepared.selection.listed_types(), &cmd.options);
    let outcome = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(pipeline_recover::execute(prepared, &cmd.options, &mut source, &api));
    match outcome {
        Ok(_) => Ok(ExitCode::SUCCESS),
        Err(e) => {
            eprintln!("error: {e:#}");
            Ok(ExitCode::from(1))
        }
    }
}

/// The pipeline's HTTP API as recovery uses it. Calls block: a run does one thing at a time.
struct Api {
    agent: ureq::Agent,
    base: String,
    ingest_key: String,
    read_key: String,
}

/// A status and JSON body (`Null` when the body is not JSON).
struct Answer {
    status: u16,
    body: Value,
    retry_after: Option<Duration>,
}

impl Api {
    fn new(target: &str, ingest_key: &str, read_key: &str) -> anyhow::Result<Self> {
        let base = target.trim_end_matches('/').to_owned();
        if !base.starts_with("http://") {
            bail!("--target {target:?} is not an http:// URL such as http://127.0.0.1:8080 (`pipeline up` serves plain HTTP)");
        }
        let agent = ureq::Agent::config_builder().http_status_as_error(false).timeout_global(Some(REQUEST_TIMEOUT)).build().into();
        Ok(Self { agent, base, ingest_key: ingest_key.to_owned(), read_key: read_key.to_owned() })
    }

    fn call(&self, method: &str, path: &str, key: &str, body: Option<&[u8]>) -> anyhow::Result<Answer> {
        let url = format!("{}{path}", self.base);
        let result = match body {
            Some(body) => self.agent.post(&url).header("x-api-key", key).header("content-type", "application/json").send(body),
            None => self.agent.get(&url).header("x-api-key", key).call(),
        };
        let mut response = result.map_err(|e| {
            anyhow::anyhow!("cannot reach the pipeline at {} ({method} {path}: {e}): is `pipeline up` running there? Pass its address as --target", self.base)
        })?;
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let status = response.status().as_u16();
        let text = response.body_mut().with_config().limit(MAX_ANSWER_BYTES).lossy_utf8(true).read_to_string().map_err(|e| {
            anyhow::anyhow!("{}: the answer to {method} {path} could not be read: {e}", self.base)
        })?;
        Ok(Answer { status, body: serde_json::from_str(&text).unwrap_or(Value::Null), retry_after })
    }

    /// Fails with what to do unless both keys are right and the pipeline can mark bad rows;
    /// writes nothing.
    fn check(&self) -> anyhow::Result<()> {
        let answer = self.call("POST", "/v1/events", &self.ingest_key, Some(b"[]"))?;
        match answer.status {
            403 => bail!("{} refused the ingest key: pass the key `pipeline up` printed (DATA_DIR/api_key) as --api-key", self.base),
            400 => {}
            status => bail!("{} is not a pipeline's ingest API (POST /v1/events answered {status}): check --target", self.base),
        }
        let answer = self.call("POST", "/v1/bad-rows/recovered", &self.read_key, Some(br#"{"bad_rows": []}"#))?;
        match answer.status {
            200 => Ok(()),
            403 => bail!("{} refused the read key: pass the read key `pipeline up` printed (DATA_DIR/read_key) as --read-key", self.base),
            404 | 405 => bail!("the pipeline at {} cannot mark bad rows recovered (it predates recovery): run this version's `pipeline up`", self.base),
            status => bail!("{}: POST /v1/bad-rows/recovered answered {status}: {}", self.base, answer.body),
        }
    }

    fn refused(&self, what: &str, answer: &Answer) -> anyhow::Error {
        let message = answer.body.get("message").and_then(Value::as_str).map_or_else(|| answer.body.to_string(), str::to_owned);
        anyhow::anyhow!("{}: {what} answered {}: {message}", self.base, answer.status)
    }
}

impl Api {
    /// One `POST /v1/events` of `pending`, and how it went.
    fn post_events(&self, pending: &[&RecoveredEvent]) -> anyhow::Result<Attempt> {
        let mut body = Vec::with_capacity(pending.iter().map(|e| e.data.len() + 1).sum::<usize>() + 2);
        body.push(b'[');
        for (i, e) in pending.iter().enumerate() {
            if i > 0 {
                body.push(b',');
            }
            body.extend_from_slice(&e.data);
        }
        body.push(b']');
        let answer = match self.call("POST", "/v1/events", &self.ingest_key, Some(&body)) {
            Ok(answer) => answer,
            Err(e) => {
                warn(&format!("{e:#}; retrying"));
                return Ok(Attempt::Again(None));
            }
        };
        match answer.status {
            200 => {
                let records = answer.body["Records"].as_array().cloned().unwrap_or_default();
                if records.len() != pending.len() {
                    bail!("{}: POST /v1/events answered {} records for {} events", self.base, records.len(), pending.len());
                }
                Ok(Attempt::Left(records.iter().enumerate().filter(|(_, r)| r.get("ErrorCode").is_some()).map(|(i, _)| i).collect()))
            }
            429 | 503 => Ok(Attempt::Again(answer.retry_after)),
            403 => bail!("{} refused the ingest key: pass the key `pipeline up` printed (DATA_DIR/api_key) as --api-key", self.base),
            _ => Err(self.refused("POST /v1/events", &answer)),
        }
    }
}

impl Destination for Api {
    fn limits(&self) -> BatchLimits {
        BatchLimits { records: MAX_EVENTS_PER_POST, bytes: MAX_BODY_BYTES, key_counts: false }
    }

    async fn put(&self, events: &[RecoveredEvent]) -> anyhow::Result<()> {
        // The local ingest API is called synchronously (a blocking client): each attempt's
        // answer is ready when its future is made.
        put_until_taken(events, &self.base, |pending: &[&RecoveredEvent]| std::future::ready(self.post_events(pending))).await
    }

    async fn mark(&self, rows: &[BadRowId]) -> anyhow::Result<()> {
        let body = serde_json::to_vec(&json!({ "bad_rows": rows }))?;
        let answer = self.call("POST", "/v1/bad-rows/recovered", &self.read_key, Some(&body))?;
        if answer.status != 200 {
            return Err(self.refused("POST /v1/bad-rows/recovered", &answer));
        }
        Ok(())
    }
}

fn warn(text: &str) {
    eprintln!("warning: {text}");
}

/// `GET /v1/bad-rows`, page by page, one listed type after the other.
struct LocalSource<'a> {
    api: &'a Api,
    /// Types still to list (`None`: every type in one listing).
    types: Vec<Option<BadRowType>>,
    cursor: Option<String>,
    again: bool,
    from: Option<DateTime<Utc>>,
    /// At most the run's start: what this run's own events turn into is not for this run.
    to: DateTime<Utc>,
    started: DateTime<Utc>,
}

impl<'a> LocalSource<'a> {
    fn new(api: &'a Api, types: &[BadRowType], args: &RecoverArgs) -> Self {
        let started = Utc::now();
        let types = if args.types.is_empty() { vec![None] } else { types.iter().rev().map(|t| Some(*t)).collect() };
        Self { api, types, cursor: None, again: args.again, from: args.from, to: args.to.map_or(started, |to| to.min(started)), started }
    }

    fn path(&self, kind: Option<BadRowType>) -> String {
        let mut path = format!("/v1/bad-rows?limit={PAGE}&to={}", format_seconds(self.to));
        if let Some(kind) = kind {
            path.push_str(&format!("&type={kind}"));
        }
        if let Some(from) = self.from {
            path.push_str(&format!("&from={}", format_seconds(from)));
        }
        if !self.again {
            path.push_str("&recovered=false");
        }
        if let Some(cursor) = &self.cursor {
            path.push_str(&format!("&cursor={cursor}"));
        }
        path
    }
}

impl Source for LocalSource<'_> {
    async fn next_page(&mut self) -> anyhow::Result<Option<Vec<BadRow>>> {
        let Some(&kind) = self.types.last() else { return Ok(None) };
        if self.from.is_some_and(|from| from > self.to) {
            return Ok(None);
        }
        let path = self.path(kind);
        let answer = self.api.call("GET", &path, &self.api.read_key, None)?;
        match answer.status {
            200 => {}
            403 => bail!("{} refused the read key: pass the read key `pipeline up` printed (DATA_DIR/read_key) as --read-key", self.api.base),
            _ => return Err(self.api.refused(&format!("GET {path}"), &answer)),
        }
        let page = answer.body["bad_rows"].as_array().with_context(|| format!("{}: GET {path} did not answer a bad-rows page", self.api.base))?;
        let mut rows = Vec::with_capacity(page.len());
        for value in page {
            let row: BadRow = serde_json::from_value(value.clone()).with_context(|| format!("{}: a bad row of GET {path} does not read: {value}", self.api.base))?;
            // Rows made from events that arrived after this run began are not for it.
            if parse_rfc3339(&row.ingested_at).is_none_or(|at| at < self.started) {
                rows.push(row);
            }
        }
        match answer.body["next_cursor"].as_str() {
            Some(cursor) if !page.is_empty() => self.cursor = Some(cursor.to_owned()),
            _ => {
                self.types.pop();
                self.cursor = None;
            }
        }
        Ok(Some(rows))
    }
}
