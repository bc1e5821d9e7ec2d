//! `pipeline-aws recover`: bad rows from the stack's bad-rows bucket back into its Kinesis
//! stream after a fix (crate `pipeline-recover` does the selection, fixes and counting).
//! Every object under the prefix is listed and the selected ones read before anything is
//! written; each batch of fixed events goes out with `PutRecords` under its record's
//! original partition key, and once Kinesis has taken the whole batch, a manifest part
//! listing its bad rows is written next to them (`<prefix>recovered/<run>/<part>.json`).
//! Later runs skip the rows the manifests list, unless `--again`.

use std::cell::Cell;
use std::collections::HashMap;
use std::process::ExitCode;

use anyhow::bail;
use pipeline_aws::retry::describe;
use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::PutRecordsRequestEntry;
use chrono::Utc;
use clap::Args;
use pipeline::BadRow;
use pipeline::bad_row::BadRowId;
use pipeline::time_format::format_millis;
use pipeline_recover::{Attempt, BatchLimits, Destination, RecoverArgs, RecoveredEvent, Selection, Source, put_until_taken};

use crate::bucket::{BadRowBucket, Manifest, day_in_range};

#[derive(Args)]
#[command(
    about = "Put a deployed stack's bad rows back into its Kinesis stream after a fix, each event once",
    long_about = "Put the bad rows of a deployed stack (its bad-rows bucket) back into its Kinesis stream after a \
fix, each event once. Rows are selected (--type, --from/--to on their failure time, --event-type, --schema, \
--limit), fixed in order (--patch FILE: an RFC 6902 JSON Patch; then checked against --schemas DIR, default \
the built-in schemas, exactly as the processor checks them) and put with PutRecords under their original \
partition key. Each event carries the event_id it would have had (its own, or the one derived from its \
record) and, where it had no timestamp, its arrival time, so the processor stores it under the same key \
however often it is recovered. Once Kinesis takes a batch, a manifest part listing its bad rows is written \
next to them (<prefix>recovered/<run>/<part>.json); later runs skip those rows (--again takes them too).

Every object under the prefix is listed and the selected ones read before anything is written: a key that \
is not a bad-row object or a manifest stops the run (nothing written). --dry-run counts per bad-row type \
what would be fixed, what still fails (with the first errors) and what the patch does not match. The \
processor must run with schemas that accept the events (its SCHEMAS_DIR); recover cannot check that: an \
event the processor refuses becomes a new bad row.

A run stopped between PutRecords and its manifest puts that batch again next time: the events table is \
unchanged (same keys), the aggregates count those events twice (at least once, as for every retry).

AWS credentials, region and AWS_ENDPOINT_URL come from the environment. Exit status: 0 when the run \
finished, 1 when it stopped early (what it recovered until then stays recovered), 2 on a usage error or \
when the bucket or stream cannot be used (nothing written)."
)]
pub struct RecoverCmd {
    /// The stack's bad-rows bucket (BAD_ROWS_BUCKET).
    #[arg(long, value_name = "BUCKET", env = "BAD_ROWS_BUCKET")]
    bad_rows_bucket: String,
    /// The prefix of its bad rows (BAD_ROWS_PREFIX).
    #[arg(long, value_name = "PREFIX", env = "BAD_ROWS_PREFIX", default_value = "bad-rows/")]
    bad_rows_prefix: String,
    /// The Kinesis stream the processor reads.
    #[arg(long, value_name = "STREAM")]
    kinesis: String,
    #[command(flatten)]
    options: RecoverArgs,
}

/// PutRecords' limits: 500 records, 5 MiB counting data and partition keys.
const MAX_RECORDS_PER_PUT: usize = pipeline::limits::KINESIS_PUT_RECORDS_MAX;
const MAX_PUT_BYTES: usize = pipeline::limits::KINESIS_PUT_RECORDS_BYTES_MAX;
/// Rows handed to the run at a time.
const PAGE: usize = 1_000;

pub async fn run(cmd: &RecoverCmd) -> anyhow::Result<ExitCode> {
    let aws = crate::sdk_config().await;
    let bucket = BadRowBucket::new(aws_sdk_s3::Client::new(&aws), &cmd.bad_rows_bucket, &cmd.bad_rows_prefix);
    let source_name = format!("s3://{}/{}", bucket.bucket, bucket.prefix);
    let prepared = pipeline_recover::prepare(&cmd.options, source_name, format!("kinesis:{}", cmd.kinesis))?;
    let kinesis = aws_sdk_kinesis::Client::new(&aws);
    crate::check_stream(&kinesis, &cmd.kinesis).await?;
    let mut source = BucketSource::load(&bucket, &prepared.selection).await?;
    let run = format!("{}-{}", Utc::now().format("%Y%m%dT%H%M%SZ"), &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let target = KinesisTarget { client: kinesis, stream: cmd.kinesis.clone(), bucket: &bucket, run, part: Cell::new(0) };
    if !cmd.options.dry_run {
        // An empty first part: the bucket takes the run's manifests before any event is put.
        target.mark(&[]).await?;
    }
    match pipeline_recover::execute(prepared, &cmd.options, &mut source, &target).await {
        Ok(_) => Ok(ExitCode::SUCCESS),
        Err(e) => {
            eprintln!("error: {e:#}");
            Ok(ExitCode::from(1))
        }
    }
}

/// The selected objects' bad rows, read whole before the run, with the manifests' marks.
struct BucketSource {
    rows: Vec<BadRow>,
    total: u64,
}

impl BucketSource {
    async fn load(bucket: &BadRowBucket, selection: &Selection) -> anyhow::Result<Self> {
        let (objects, manifests) = bucket.list().await?;
        let wanted: Vec<_> = objects
            .into_iter()
            .filter(|o| selection.types.is_empty() || selection.types.contains(&o.kind))
            .filter(|o| day_in_range(&o.dt, selection.from, selection.to))
            .collect();
        let recovered: HashMap<BadRowId, String> = bucket.recovered(&manifests).await?;
        let mut rows = bucket.read_rows(&wanted).await?;
        for row in &mut rows {
            if let Some(at) = recovered.get(&row.id()) {
                row.recovered_at = Some(at.clone());
            }
        }
        rows.reverse();
        Ok(Self { total: rows.len() as u64, rows })
    }
}

impl Source for BucketSource {
    async fn next_page(&mut self) -> anyhow::Result<Option<Vec<BadRow>>> {
        if self.rows.is_empty() {
            return Ok(None);
        }
        let take = self.rows.len().min(PAGE);
        Ok(Some(self.rows.split_off(self.rows.len() - take).into_iter().rev().collect()))
    }

    fn len_hint(&self) -> Option<u64> {
        Some(self.total)
    }
}

/// The stream events go to, and the bucket the run's manifest parts go to.
struct KinesisTarget<'a> {
    client: aws_sdk_kinesis::Client,
    stream: String,
    bucket: &'a BadRowBucket,
    run: String,
    part: Cell<u32>,
}

impl Destination for KinesisTarget<'_> {
    fn limits(&self) -> BatchLimits {
        BatchLimits { records: MAX_RECORDS_PER_PUT, bytes: MAX_PUT_BYTES, key_counts: true }
    }

    async fn put(&self, events: &[RecoveredEvent]) -> anyhow::Result<()> {
        let target = format!("Kinesis stream {}", self.stream);
        put_until_taken(events, &target, |pending: &[&RecoveredEvent]| {
            let entries = pending
                .iter()
                .map(|e| PutRecordsRequestEntry::builder().data(Blob::new(e.data.clone())).partition_key(&e.partition_key).build())
                .collect::<Result<Vec<_>, _>>();
            let (sent, stream) = (pending.len(), &self.stream);
            let request = self.client.put_records().stream_name(stream);
            async move {
                let request = request.set_records(Some(entries?));
                match request.send().await {
                    Ok(out) => {
                        let answers = out.records();
                        if answers.len() != sent {
                            bail!("PutRecords to {stream} answered {} records for {sent}", answers.len());
                        }
                        Ok(Attempt::Left(answers.iter().enumerate().filter(|(_, a)| a.error_code().is_some()).map(|(i, _)| i).collect()))
                    }
                    Err(e) => match e.as_service_error() {
                        Some(s) if s.is_resource_not_found_exception() || s.is_access_denied_exception() || s.is_invalid_argument_exception() => {
                            bail!("PutRecords to {stream} was refused: {}", describe(&e))
                        }
                        _ => {
                            eprintln!("warning: PutRecords to {stream}: {}; retrying", describe(&e));
                            Ok(Attempt::Again(None))
                        }
                    },
                }
            }
        })
        .await
    }

    async fn mark(&self, rows: &[BadRowId]) -> anyhow::Result<()> {
        let part = self.part.get();
        let manifest = Manifest { run: self.run.clone(), stream: self.stream.clone(), recovered_at: format_millis(Utc::now()), bad_rows: rows.to_vec() };
        self.bucket.write_manifest(&manifest, part).await?;
        self.part.set(part + 1);
        Ok(())
    }
}
