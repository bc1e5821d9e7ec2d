//! `pipeline-aws replay`: the batches Lambda gave up on, written after all. Each message of
//! the on-failure queue names a skipped batch ([`crate::failure_record`]); its records are
//! read again from the stream ([`crate::shard_reader`]), run through the processor's own
//! batch flow and sinks (retrying from the lowest failed record, as Lambda would), and the
//! message is deleted only once every record of its batch is written.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use pipeline_aws::retry::describe;
use clap::Args;
use pipeline::flow::BatchFlow;
use pipeline::enrichments::lookup::TableBudget;
use pipeline::{CoreConfig, Record};
use pipeline_aws::{AwsSinks, DynamoAggregateStore, DynamoEventStore, FirehoseArchive, ProcessorConfig, S3BadRowStore};
use serde::Serialize;
use tokio::time::Instant;

use crate::failure_record::{self, FailureRecord};
use crate::shard_reader;

#[derive(Args)]
#[command(
    about = "Replay the Kinesis batches Lambda skipped, from the on-failure SQS queue",
    long_about = "Replay the Kinesis batches the processor's event source mapping gave up on (after \
maximum_retry_attempts or maximum_record_age). Each message of the on-failure queue names a batch \
(shard, first and last sequence number, size); its records are read again from the stream \
(GetShardIterator AT_SEQUENCE_NUMBER: only within the stream's retention), processed by the same \
batch flow and sinks as the processor (the events table, the archive streams, the bad-rows bucket, \
the partial aggregates), and the message is deleted once every record of the batch is written. \
A message whose records cannot all be read (past retention, a shard that is gone) is kept, and \
said so, unless --delete-incomplete. Writing the same batch twice stores the same events and \
the same partial aggregates.

The stack's resources come from the processor's environment names (EVENTS_TABLE, \
AGGREGATES_TABLE, ARCHIVE_STREAMS, BAD_ROWS_BUCKET, BAD_ROWS_PREFIX, EVENT_TTL_DAYS, \
GSI_WRITE_SHARDS, QUERY_EVENT_TYPES, SCHEMAS_DIR) or the flags below; AWS credentials, region and AWS_ENDPOINT_URL \
from the environment as for every AWS SDK client.

Exit status: 0 when every message was replayed and deleted, 1 when some were kept, 2 on a usage \
error or when the queue or the stream cannot be used."
)]
pub struct ReplayArgs {
    /// The on-failure queue: its URL, or its name (Terraform output processor_on_failure_queue).
    #[arg(long, value_name = "URL|NAME")]
    queue: String,
    /// The Kinesis stream the processor reads.
    #[arg(long, value_name = "NAME")]
    stream: String,
    /// The events table (EVENTS_TABLE; Terraform output events_table_name).
    #[arg(long, value_name = "TABLE", env = "EVENTS_TABLE")]
    events_table: Option<String>,
    /// The aggregates table (AGGREGATES_TABLE; Terraform output aggregates_table_name).
    #[arg(long, value_name = "TABLE", env = "AGGREGATES_TABLE")]
    aggregates_table: Option<String>,
    /// Firehose delivery stream names, comma-separated (ARCHIVE_STREAMS; Terraform output delivery_stream_names).
    #[arg(long, value_name = "NAMES", env = "ARCHIVE_STREAMS")]
    archive_streams: Option<String>,
    /// The bad-rows bucket (BAD_ROWS_BUCKET; Terraform output archive_bucket_name).
    #[arg(long, value_name = "BUCKET", env = "BAD_ROWS_BUCKET")]
    bad_rows_bucket: Option<String>,
    /// The bad rows' key prefix (BAD_ROWS_PREFIX; default bad-rows/).
    #[arg(long, value_name = "PREFIX", env = "BAD_ROWS_PREFIX")]
    bad_rows_prefix: Option<String>,
    /// Days events are kept (EVENT_TTL_DAYS; default 30).
    #[arg(long, value_name = "DAYS", env = "EVENT_TTL_DAYS")]
    event_ttl_days: Option<String>,
    /// Write shards of the per-type index, where it is on (GSI_WRITE_SHARDS).
    #[arg(long, value_name = "N", env = "GSI_WRITE_SHARDS")]
    gsi_write_shards: Option<String>,
    /// The event types kept for per-user queries, comma-separated (default: all).
    #[arg(long, value_name = "TYPES", env = "QUERY_EVENT_TYPES")]
    query_event_types: Option<String>,
    /// The processor's schemas directory, if it runs with one (SCHEMAS_DIR).
    #[arg(long = "schemas", value_name = "DIR", env = "SCHEMAS_DIR")]
    schemas: Option<String>,
    /// Messages taken at most (default: until the queue is empty).
    #[arg(long, value_name = "N")]
    max_messages: Option<usize>,
    /// How long a received message stays hidden from other readers while it is replayed.
    #[arg(long, value_name = "SECONDS", default_value_t = 600)]
    visibility_timeout: i32,
    /// Also delete a message whose records could only partly be read, once the rest is written.
    #[arg(long)]
    delete_incomplete: bool,
    /// Read and count each batch, and write and delete nothing.
    #[arg(long)]
    dry_run: bool,
    /// Write what happened to each message as JSON to FILE.
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
}

/// Messages asked for per `ReceiveMessage` (SQS' largest).
const RECEIVE_BATCH: i32 = 10;
/// Seconds a `ReceiveMessage` waits for messages (long polling).
const RECEIVE_WAIT_SECONDS: i32 = 2;
/// Empty receives in a row that mean the queue is drained (SQS may answer empty once while
/// messages wait elsewhere).
const EMPTY_RECEIVES: usize = 2;
/// Times a batch is run again from its lowest failed record before its message is kept.
const WRITE_ATTEMPTS: usize = 6;
/// Time one run of the batch flow may take.
const BATCH_DEADLINE: Duration = Duration::from_secs(300);

/// What happened to one message.
#[derive(Debug, Default, Serialize)]
pub struct MessageOutcome {
    pub message_id: String,
    pub shard_id: Option<String>,
    pub start_sequence_number: Option<String>,
    pub end_sequence_number: Option<String>,
    /// Why Lambda gave up (`RetryAttemptsExhausted`, `RecordAgeExceeded`, ...).
    pub condition: Option<String>,
    pub records: usize,
    pub events: usize,
    pub bad_rows: usize,
    /// What could not be read, written or understood (empty: the batch was replayed whole).
    pub problems: Vec<String>,
    pub deleted: bool,
}

type Flow = BatchFlow<DynamoEventStore, FirehoseArchive, S3BadRowStore, DynamoAggregateStore>;

impl ReplayArgs {
    /// The processor's configuration from the flags and environment.
    fn config(&self) -> anyhow::Result<ProcessorConfig> {
        let value = |name: &str| -> Option<String> {
            match name {
                "EVENTS_TABLE" => self.events_table.clone(),
                "AGGREGATES_TABLE" => self.aggregates_table.clone(),
                "ARCHIVE_STREAMS" => self.archive_streams.clone(),
                "BAD_ROWS_BUCKET" => self.bad_rows_bucket.clone(),
                "BAD_ROWS_PREFIX" => self.bad_rows_prefix.clone(),
                "EVENT_TTL_DAYS" => self.event_ttl_days.clone(),
                "GSI_WRITE_SHARDS" => self.gsi_write_shards.clone(),
                "QUERY_EVENT_TYPES" => self.query_event_types.clone(),
                "SCHEMAS_DIR" => self.schemas.clone(),
                _ => None,
            }
        };
        ProcessorConfig::from_lookup(value).context("the stack's resources (pass the flag or set the variable)")
    }
}

pub async fn run(args: &ReplayArgs) -> anyhow::Result<std::process::ExitCode> {
    let config = args.config()?;
    let aws = crate::sdk_config().await;
    // The processor's schemas and enrichments (SCHEMAS_DIR, ENRICHMENTS_DIR): a replayed
    // batch is enriched as the processor would have enriched it.
    let core = CoreConfig::load(config.schemas_dir.as_deref(), config.enrichments_dir.as_deref(), TableBudget::local())
        .context("loading the schemas and enrichments")?;
    config.check_query_event_types(&core.schemas.event_types())?;
    let sinks: AwsSinks = pipeline_aws::sinks(&config, &aws);
    let flow: Flow = BatchFlow::new(Arc::new(core), sinks);
    let kinesis = aws_sdk_kinesis::Client::new(&aws);
    crate::check_stream(&kinesis, &args.stream).await?;
    let sqs = aws_sdk_sqs::Client::new(&aws);
    let queue = queue_url(&sqs, &args.queue).await?;
    sqs.get_queue_attributes()
        .queue_url(&queue)
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("cannot use the queue {queue}: {}. Pass the on-failure queue's URL or name as --queue", describe(&e)))?;

    let mut outcomes = Vec::new();
    let mut seen = HashSet::new();
    let mut empty = 0;
    while empty < EMPTY_RECEIVES && args.max_messages.is_none_or(|max| outcomes.len() < max) {
        let want = args.max_messages.map_or(RECEIVE_BATCH, |max| (max - outcomes.len()).min(RECEIVE_BATCH as usize) as i32);
        let received = sqs
            .receive_message()
            .queue_url(&queue)
            .max_number_of_messages(want)
            .wait_time_seconds(RECEIVE_WAIT_SECONDS)
            .visibility_timeout(args.visibility_timeout)
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("ReceiveMessage on {}: {}", queue, describe(&e)))?;
        let messages = received.messages.unwrap_or_default();
        empty = if messages.is_empty() { empty + 1 } else { 0 };
        for message in messages {
            let id = message.message_id.clone().unwrap_or_default();
            if !seen.insert(id.clone()) {
                // Back again after its visibility timeout: this run has been round the queue.
                empty = EMPTY_RECEIVES;
                continue;
            }
            let mut outcome = replay_message(args, &flow, &kinesis, message.body.as_deref().unwrap_or_default()).await;
            outcome.message_id = id;
            let complete = outcome.problems.is_empty() || (args.delete_incomplete && outcome.records > 0 && outcome.problems.iter().all(|p| p.starts_with("could not read")));
            if complete && !args.dry_run {
                if let Some(handle) = &message.receipt_handle {
                    match sqs.delete_message().queue_url(&queue).receipt_handle(handle).send().await {
                        Ok(_) => outcome.deleted = true,
                        Err(e) => outcome.problems.push(format!("DeleteMessage failed: {}", describe(&e))),
                    }
                }
            }
            println!("{}", line_of(&outcome, args.dry_run));
            outcomes.push(outcome);
        }
    }
    finish(args, &outcomes)
}

/// `queue` itself when it is a URL, else the URL of the queue of that name.
async fn queue_url(sqs: &aws_sdk_sqs::Client, queue: &str) -> anyhow::Result<String> {
    if queue.starts_with("https://") || queue.starts_with("http://") {
        return Ok(queue.to_owned());
    }
    let out = sqs.get_queue_url().queue_name(queue).send().await.map_err(|e| {
        anyhow::anyhow!("there is no queue named {queue:?}: {}. Pass the on-failure queue's URL or name as --queue", describe(&e))
    })?;
    out.queue_url.ok_or_else(|| anyhow::anyhow!("GetQueueUrl gave no URL for {queue:?}"))
}

/// Replays one message's batch (or counts it, in a dry run).
async fn replay_message(args: &ReplayArgs, flow: &Flow, kinesis: &aws_sdk_kinesis::Client, body: &str) -> MessageOutcome {
    let mut outcome = MessageOutcome::default();
    let record: FailureRecord = match failure_record::parse(body) {
        Ok(r) if r.batch.end_sequence_number.is_some() || r.batch.batch_size.is_some() => r,
        Ok(_) => {
            outcome.problems.push("the record names neither the batch's last sequence number nor its size: kept".into());
            return outcome;
        }
        Err(why) => {
            outcome.problems.push(format!("{why}: kept"));
            return outcome;
        }
    };
    let batch = &record.batch;
    outcome.shard_id = Some(batch.shard_id.clone());
    outcome.start_sequence_number = Some(batch.start_sequence_number.clone());
    outcome.end_sequence_number = batch.end_sequence_number.clone();
    outcome.condition = record.request_context.as_ref().and_then(|c| c.condition.clone());
    if let Some(name) = batch.stream_name().filter(|name| *name != args.stream) {
        outcome.problems.push(format!("the batch is of stream {name}, not --stream {}: kept", args.stream));
        return outcome;
    }
    let fetched = shard_reader::fetch(kinesis, &args.stream, batch).await;
    outcome.records = fetched.records.len();
    outcome.problems.extend(fetched.missing.iter().map(|m| format!("could not read {m}")));
    if let Some(size) = batch.batch_size.filter(|size| fetched.records.len() as u64 > *size) {
        // A mapping with a parallelization factor above 1 splits a shard into concurrent
        // batches by partition key: the range holds other batches' records too.
        tracing::warn!(records = fetched.records.len(), batch_size = size, "the range holds more records than the batch: other concurrent batches' records are replayed too");
    }
    if fetched.records.is_empty() {
        return outcome;
    }
    if args.dry_run {
        let outcomes = pipeline::process_batch(flow.core(), &fetched.records, chrono::Utc::now());
        let counts = pipeline::OutcomeCounts::of(&outcomes);
        (outcome.events, outcome.bad_rows) = (counts.valid, counts.bad_total());
        return outcome;
    }
    if let Err(problem) = write(flow, &fetched.records, &mut outcome).await {
        outcome.problems.push(problem);
    }
    outcome
}

/// Runs the batch flow over `records`, from the lowest failed record again until all are
/// written (as Lambda retries a partial batch response).
async fn write(flow: &Flow, records: &[Record], outcome: &mut MessageOutcome) -> Result<(), String> {
    let mut from = 0;
    let mut wait = Duration::from_secs(1);
    for attempt in 1..=WRITE_ATTEMPTS {
        let report = flow.run(&records[from..], Instant::now() + BATCH_DEADLINE).await;
        if attempt == 1 {
            (outcome.events, outcome.bad_rows) = (report.counts.valid, report.counts.bad_total());
        }
        let Some(retry_from) = report.retry_from else { return Ok(()) };
        from = records.iter().position(|r| r.sequence_number == retry_from).unwrap_or(from);
        if attempt < WRITE_ATTEMPTS {
            tracing::warn!(%retry_from, attempt, "writes failed; running the batch again from the lowest failed record");
            tokio::time::sleep(wait).await;
            wait *= 2;
        }
    }
    Err(format!("writes still failed after {WRITE_ATTEMPTS} attempts (from {}): kept", records[from].sequence_number))
}

fn line_of(o: &MessageOutcome, dry_run: bool) -> String {
    let what = match (&o.shard_id, &o.start_sequence_number) {
        (Some(shard), Some(start)) => format!("{shard} {start}..{}", o.end_sequence_number.as_deref().unwrap_or("?")),
        _ => format!("message {}", o.message_id),
    };
    let done = if dry_run {
        "would replay".to_owned()
    } else if o.deleted {
        "replayed; message deleted".to_owned()
    } else {
        "message kept".to_owned()
    };
    let why = o.condition.as_deref().map(|c| format!(" (skipped: {c})")).unwrap_or_default();
    let mut line = format!("{what}{why}: {} records ({} events, {} bad rows): {done}", o.records, o.events, o.bad_rows);
    for problem in &o.problems {
        line.push_str(&format!("\n  {problem}"));
    }
    line
}

fn finish(args: &ReplayArgs, outcomes: &[MessageOutcome]) -> anyhow::Result<std::process::ExitCode> {
    let kept = outcomes.iter().filter(|o| !o.deleted).count();
    let records: usize = outcomes.iter().map(|o| o.records).sum();
    if args.dry_run {
        println!("dry run: {} messages, {records} records read; nothing written or deleted", outcomes.len());
    } else {
        println!("{} messages: {} replayed and deleted, {kept} kept; {records} records read", outcomes.len(), outcomes.len() - kept);
    }
    if let Some(path) = &args.report {
        let json = serde_json::to_vec_pretty(&serde_json::json!({ "dry_run": args.dry_run, "messages": outcomes }))?;
        std::fs::write(path, json).with_context(|| format!("cannot write the report to {}", path.display()))?;
    }
    if kept > 0 && !args.dry_run {
        return Ok(std::process::ExitCode::from(1));
    }
    if outcomes.iter().any(|o| !o.problems.is_empty()) && args.dry_run {
        return Ok(std::process::ExitCode::from(1));
    }
    Ok(std::process::ExitCode::SUCCESS)
}
