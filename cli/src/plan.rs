//! `pipeline plan`: sizes an AWS deployment of the pipeline for an event rate and size.
//!
//! [`plan`] is the arithmetic, pure and unit-tested against the worked examples of
//! docs/DEPLOY.md; [`sections`] turns a plan into figures with one line of reasoning each,
//! printed as text or as Markdown tables; [`tfvars`] writes the Terraform variables the plan
//! sizes, only ones that terraform/variables.tf declares. Every limit, quota and price is a
//! named constant below saying where it comes from; quotas and prices change, so they are
//! dated ([`PRICES_AS_OF`]) and the output says so.

use std::fmt::Write as _;
use std::fs;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};

// ---------------------------------------------------------------------------------------
// Dates, headroom, units
// ---------------------------------------------------------------------------------------

/// When the quotas and prices below were read (AWS documentation and us-east-1 price list).
pub const PRICES_AS_OF: &str = "2026-11";
/// Hours in a billing month, as AWS's price examples count them.
pub const HOURS_PER_MONTH: f64 = 730.0;
const SECONDS_PER_MONTH: f64 = HOURS_PER_MONTH * 3600.0;
/// Capacity planned over the computed need, for bursts and uneven partition keys.
pub const HEADROOM: f64 = 1.25;
/// Billing gigabyte: decimal, which slightly overstates where AWS bills binary GB.
const GB: f64 = 1e9;
const MIB: f64 = 1_048_576.0;

/// The region planned when `--region` is not given (and the one the prices are from).
pub const DEFAULT_REGION: &str = "us-east-1";
/// Regions with the larger default Kinesis shard quota and Firehose Direct PUT quota
/// (Kinesis Data Streams and Amazon Data Firehose quota pages, as of [`PRICES_AS_OF`]).
pub const LARGE_QUOTA_REGIONS: [&str; 3] = ["us-east-1", "us-west-2", "eu-west-1"];

// ---------------------------------------------------------------------------------------
// Ingest: API Gateway (REST) and the ingest contract (DESIGN.md section 4)
// ---------------------------------------------------------------------------------------

/// Events per `POST /v1/events` assumed when `--batch-size` is not given.
pub const API_EVENTS_PER_REQUEST_DEFAULT: u64 = 250;
/// Most events one `POST /v1/events` may carry (DESIGN.md section 4; PutRecords' 500 records).
pub const API_EVENTS_PER_REQUEST_MAX: u64 = 500;
/// Most bytes of records in one request: PutRecords takes 5 MiB (and the ingest body <= 5 MiB).
pub const API_REQUEST_BYTES_MAX: u64 = 5 * 1024 * 1024;
/// API Gateway's default steady-state requests/s per account and region (API Gateway quotas).
pub const API_ACCOUNT_REQUESTS_PER_S: f64 = 10_000.0;
/// API Gateway's default burst per account and region.
pub const API_ACCOUNT_BURST: u64 = 5_000;
/// The usage plan allows this multiple of the planned requests/s: producer retries and
/// smaller batches must not be throttled by our own limit.
pub const API_THROTTLE_HEADROOM: f64 = 2.0;
/// Smallest usage-plan rate the plan writes: the stack's default `api_throttle_rate_limit`.
pub const API_THROTTLE_RATE_MIN: u64 = 100;

// ---------------------------------------------------------------------------------------
// Kinesis Data Streams (Kinesis Data Streams quotas and limits page)
// ---------------------------------------------------------------------------------------

/// Write bytes per second one provisioned shard takes ("1 MB per second").
pub const KINESIS_SHARD_WRITE_BYTES_PER_S: f64 = 1_000_000.0;
/// Write records per second one provisioned shard takes.
pub const KINESIS_SHARD_WRITE_RECORDS_PER_S: f64 = 1_000.0;
/// Largest data blob of one record (1 MiB); one event is one record.
pub const KINESIS_MAX_RECORD_BYTES: u64 = 1_048_576;
/// Default write throughput of one on-demand stream (bytes/s), as of [`PRICES_AS_OF`].
pub const KINESIS_ON_DEMAND_WRITE_BYTES_PER_S: f64 = 200_000_000.0;
/// Default write records/s of one on-demand stream, as of [`PRICES_AS_OF`].
pub const KINESIS_ON_DEMAND_WRITE_RECORDS_PER_S: f64 = 200_000.0;
/// Write capacity a new on-demand stream starts with (bytes/s); it doubles from its peak.
pub const KINESIS_ON_DEMAND_INITIAL_BYTES_PER_S: f64 = 4_000_000.0;
/// Default shards per account in [`LARGE_QUOTA_REGIONS`].
pub const KINESIS_SHARD_QUOTA_LARGE_REGIONS: u64 = 500;
/// Default shards per account in every other region.
pub const KINESIS_SHARD_QUOTA_OTHER_REGIONS: u64 = 200;
/// A PUT payload unit: each record is billed in 25 KB chunks (Kinesis pricing).
pub const KINESIS_PUT_PAYLOAD_UNIT_BYTES: u64 = 25 * 1024;

// ---------------------------------------------------------------------------------------
// The processor Lambda
// ---------------------------------------------------------------------------------------

/// Events/s the pure core (decode, validate, enrich) processes on one thread: criterion,
/// 10,000-record batch, 2026-11-27 (docs/PERFORMANCE.md, "The pure batch flow"); 1.6 µs/event.
pub const CORE_EVENTS_PER_S_PER_THREAD: f64 = 626_000.0;
/// Conservative end-to-end processor time per event on one Lambda vCPU (1,769 MB), AWS writes
/// included: the whole handler is dominated by DynamoDB and Firehose latency, not by the core's
/// 1.6 µs (docs/PERFORMANCE.md), so 20 µs is assumed until it is measured on Lambda.
pub const PROCESSOR_SECONDS_PER_EVENT: f64 = 20e-6;
/// Share of each execution's time planned busy; the rest absorbs bursts and slow writes.
pub const PROCESSOR_TARGET_UTILISATION: f64 = 0.5;
/// Processor memory: 1,769 MB is exactly one vCPU (Lambda allocates CPU by memory).
pub const PROCESSOR_MEMORY_MB: u64 = 1_769;
/// Largest Kinesis batch per invocation the plan sets (what envs/prod.tfvars uses).
pub const PROCESSOR_BATCH_SIZE_MAX: u64 = 1_000;
/// Batching window: the longest a record waits for its batch to fill.
pub const PROCESSOR_BATCHING_WINDOW_S: u64 = 1;
/// Largest invocation payload of a Kinesis batch (Lambda's 6 MB synchronous payload quota).
pub const LAMBDA_INVOCATION_PAYLOAD_BYTES: u64 = 6_000_000;
/// Per-record JSON of the Kinesis event around the base64 data (ids, keys, ARNs, times).
pub const KINESIS_EVENT_RECORD_OVERHEAD_BYTES: u64 = 300;
/// Parallelization factor range of a Kinesis event source mapping.
pub const PARALLELIZATION_FACTOR_MAX: u64 = 10;
/// Default concurrent executions per account and region (Lambda quotas).
pub const LAMBDA_CONCURRENCY_QUOTA: u64 = 1_000;
/// Concurrency Lambda keeps unreserved in every account (the aggregator and query run there).
pub const LAMBDA_UNRESERVED_MINIMUM: u64 = 100;

// ---------------------------------------------------------------------------------------
// DynamoDB (DynamoDB service quotas; DESIGN.md section 6)
// ---------------------------------------------------------------------------------------

/// Bytes enrichment and keys add to an event: `_pipeline`, `event_id`, pk, sk, gsi keys, ttl.
pub const ENRICHMENT_BYTES: u64 = 400;
/// One write request unit writes up to 1 KB of an item.
pub const DYNAMODB_WRITE_UNIT_BYTES: u64 = 1_024;
/// Largest item (400 KB); bigger events are stored compressed or only in the archive.
pub const DYNAMODB_MAX_ITEM_BYTES: u64 = 400 * 1_024;
/// Write units of one `KEYS_ONLY` index entry (its keys are far under 1 KB).
pub const INDEX_WRITE_UNITS_PER_ITEM: u64 = 1;
/// Default write request units/s of one on-demand table (and of each of its indexes).
pub const DYNAMODB_TABLE_WRITE_QUOTA: f64 = 40_000.0;
/// Write units/s one partition (so one index partition key) takes.
pub const DYNAMODB_PARTITION_WRITE_UNITS: f64 = 1_000.0;
/// Write units/s a new on-demand table serves at once, before warm throughput or adaptation.
pub const DYNAMODB_NEW_TABLE_WRITE_UNITS: f64 = 4_000.0;
/// Share of all events the busiest event type is assumed to carry (pageview in the reference
/// workload: 60 %).
pub const BUSIEST_TYPE_SHARE: f64 = 0.6;
/// Most write shards `gsi_write_shards` accepts (terraform/variables.tf validation).
pub const GSI_WRITE_SHARDS_MAX: u64 = 1_024;
/// Event types of the catalogue (DESIGN.md section 2): pageview, click, purchase, identify.
pub const EVENT_TYPES: u64 = 4;
/// Write units of one partial aggregate (counts, revenue and a HyperLogLog sketch <= 4 KB).
/// An assumption: partial aggregates are not written by the processor yet.
pub const AGGREGATE_PARTIAL_WRITE_UNITS: u64 = 4;
/// Days an event stays in the events table when `--event-ttl-days` is not given: the stack's
/// `event_ttl_days` default.
pub const EVENT_TTL_DAYS_DEFAULT: u64 = 30;
/// Bytes DynamoDB adds to every stored item for its own bookkeeping.
pub const DYNAMODB_ITEM_STORAGE_OVERHEAD_BYTES: u64 = 100;
/// Stored bytes of one index entry: its four keys (~100 B) and the item overhead.
pub const INDEX_ENTRY_STORED_BYTES: u64 = 200;

// ---------------------------------------------------------------------------------------
// Amazon Data Firehose and S3 (Firehose quotas page; DESIGN.md section 6)
// ---------------------------------------------------------------------------------------

/// Direct PUT bytes/s per delivery stream in [`LARGE_QUOTA_REGIONS`] (5 MiB/s).
pub const FIREHOSE_DIRECT_PUT_BYTES_LARGE_REGIONS: f64 = 5.0 * MIB;
/// Direct PUT bytes/s per delivery stream elsewhere (1 MiB/s).
pub const FIREHOSE_DIRECT_PUT_BYTES_OTHER_REGIONS: f64 = MIB;
/// Direct PUT records/s per delivery stream in [`LARGE_QUOTA_REGIONS`].
pub const FIREHOSE_DIRECT_PUT_RECORDS_LARGE_REGIONS: f64 = 500_000.0;
/// Direct PUT records/s per delivery stream elsewhere.
pub const FIREHOSE_DIRECT_PUT_RECORDS_OTHER_REGIONS: f64 = 100_000.0;
/// Largest Firehose record (1,000 KiB); the processor packs events up to it.
pub const FIREHOSE_MAX_RECORD_BYTES: u64 = 1_000 * 1_024;
/// Most events packed into one Firehose record (what deaggregation splits one record into).
pub const FIREHOSE_EVENTS_PER_RECORD_MAX: u64 = 500;
/// Most delivery streams `archive_stream_count` accepts (terraform/variables.tf validation).
pub const ARCHIVE_STREAM_COUNT_MAX: u64 = 50;
/// Active partitions (event type × hour in its buffer) one delivery stream takes by default;
/// records of further partitions go to the error prefix, `activePartitionExceeded`
/// (Firehose developer guide, "Buffer data for dynamic partitioning"; up to 5,000 on request).
pub const FIREHOSE_ACTIVE_PARTITIONS_PER_STREAM: u64 = 500;
/// Hours either side of a record's arrival the processor sends to every delivery stream
/// (aws/src/firehose.rs `LIVE_HOURS`); other hours go to one stream per partition.
pub const ARCHIVE_LIVE_HOURS: u64 = 1;
/// Assumed gzip ratio of newline-delimited enriched JSON in the archive.
pub const ARCHIVE_GZIP_RATIO: f64 = 8.0;

// ---------------------------------------------------------------------------------------
// Prices: us-east-1 list prices as of PRICES_AS_OF, in US dollars
// ---------------------------------------------------------------------------------------

/// Kinesis provisioned: per shard-hour.
pub const KINESIS_SHARD_HOUR_USD: f64 = 0.015;
/// Kinesis provisioned: per million PUT payload units (25 KB each).
pub const KINESIS_PUT_UNITS_PER_MILLION_USD: f64 = 0.014;
/// DynamoDB on-demand: per million write request units.
pub const DYNAMODB_WRITE_UNITS_PER_MILLION_USD: f64 = 0.625;
/// DynamoDB Standard table class: per GB-month stored.
pub const DYNAMODB_STORAGE_GB_MONTH_USD: f64 = 0.25;
/// DynamoDB point-in-time recovery (enabled on both tables): per GB-month of table data.
pub const DYNAMODB_PITR_GB_MONTH_USD: f64 = 0.20;
/// Lambda on arm64: per GB-second.
pub const LAMBDA_ARM_GB_SECOND_USD: f64 = 0.000_013_333_4;
/// Lambda: per million requests.
pub const LAMBDA_REQUESTS_PER_MILLION_USD: f64 = 0.20;
/// Firehose Direct PUT: per GB ingested (first 500 TB a month).
pub const FIREHOSE_INGEST_GB_USD: f64 = 0.029;
/// Firehose dynamic partitioning: per GB processed.
pub const FIREHOSE_DYNAMIC_PARTITIONING_GB_USD: f64 = 0.020;
/// S3 Standard: per GB-month (first 50 TB).
pub const S3_STANDARD_GB_MONTH_USD: f64 = 0.023;
/// API Gateway REST: per million requests (first 333 million a month).
pub const API_GATEWAY_REST_REQUESTS_PER_MILLION_USD: f64 = 3.50;

/// The smallest valid event (DESIGN.md section 2); nothing smaller can be planned for.
pub const SMALLEST_EVENT: &str = r#"{"event_type":"pageview","user_id":0}"#;
/// Bytes of [`SMALLEST_EVENT`].
pub const MIN_EVENT_BYTES: u64 = SMALLEST_EVENT.len() as u64;

/// What the plan is for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlanRequest {
    /// Peak events per second.
    pub rate: u64,
    /// Mean bytes of one event's JSON.
    pub event_bytes: u64,
    pub region: String,
    /// Events per `POST /v1/events` the producers send.
    pub events_per_request: u64,
    /// Days events stay in the events table (`event_ttl_days`).
    pub event_ttl_days: u64,
    /// The Terraform `environment` written into the tfvars.
    pub environment: String,
}

impl PlanRequest {
    /// A request with the defaults of `pipeline plan` (us-east-1, 250 events per POST, events
    /// kept 30 days, environment prod).
    pub fn new(rate: u64, event_bytes: u64) -> Self {
        Self {
            rate,
            event_bytes,
            region: DEFAULT_REGION.into(),
            events_per_request: API_EVENTS_PER_REQUEST_DEFAULT,
            event_ttl_days: EVENT_TTL_DAYS_DEFAULT,
            environment: "prod".into(),
        }
    }
}

/// A request the pipeline cannot be planned for; the message names the limit.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PlanError {
    #[error("--rate must be at least 1 event per second")]
    ZeroRate,
    #[error(
        "--event-bytes must be at least {MIN_EVENT_BYTES}, the size of the smallest valid event {SMALLEST_EVENT}; got {0}"
    )]
    EventTooSmall(u64),
    #[error(
        "--event-bytes {0} is over Kinesis's limit of 1 MiB ({KINESIS_MAX_RECORD_BYTES} bytes) on one record's data; one event is one record, so no stream can take it"
    )]
    OverKinesisRecordLimit(u64),
    #[error(
        "--event-bytes {bytes} enriches to about {enriched} bytes, over Firehose's limit of 1,000 KiB ({FIREHOSE_MAX_RECORD_BYTES} bytes) on one record, so the archive cannot take it; plan events of at most {max} bytes"
    )]
    OverFirehoseRecordLimit { bytes: u64, enriched: u64, max: u64 },
    #[error(
        "--rate {rate} needs {shards} write shards of the per-type index, over the stack's limit of {GSI_WRITE_SHARDS_MAX} (gsi_write_shards in terraform/variables.tf); one deployment can be planned for at most {max_rate} events/s"
    )]
    RateTooHigh { rate: u64, shards: u64, max_rate: u64 },
    #[error(
        "--batch-size must be 1 to {API_EVENTS_PER_REQUEST_MAX} events per POST /v1/events (the ingest API's limit); got {0}"
    )]
    BatchSize(u64),
    #[error("--event-ttl-days must be at least 1 (the `event_ttl_days` validation of terraform/variables.tf)")]
    TtlDays,
    #[error("--region {0:?} is not an AWS region name like us-east-1 or eu-central-1")]
    Region(String),
    #[error(
        "--environment {0:?} must be 2-10 lowercase letters or digits starting with a letter (the `environment` variable of terraform/variables.tf)"
    )]
    Environment(String),
}

/// Which of a shard's two write limits decides the shard count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShardBound {
    Bytes,
    Records,
}

#[derive(Clone, Debug, PartialEq)]
pub struct IngestPlan {
    /// Events per request after the 5 MiB request limit.
    pub events_per_request: u64,
    pub requests_per_s: f64,
    pub throttle_rate_limit: u64,
    pub throttle_burst_limit: u64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct StreamPlan {
    pub write_bytes_per_s: f64,
    pub shards_for_bytes: f64,
    pub shards_for_records: f64,
    pub bound: ShardBound,
    pub shards: u64,
    pub bytes_per_shard: f64,
    pub records_per_shard: f64,
    /// Whether one on-demand stream's default quota takes the rate with headroom.
    pub on_demand_fits: bool,
    pub shard_quota: u64,
    pub put_payload_units_per_record: u64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ProcessorPlan {
    pub batch_size: u64,
    pub invocation_bytes_per_record: u64,
    pub batching_window_s: u64,
    pub records_per_invocation: f64,
    pub batch_seconds: f64,
    pub core_vcpus: f64,
    pub concurrency_needed: f64,
    pub parallelization_factor: u64,
    pub reserved_concurrency: u64,
    pub memory_mb: u64,
    pub invocations_per_s: f64,
    pub gb_seconds_per_s: f64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct TablePlan {
    pub item_bytes: u64,
    pub write_units_per_item: u64,
    pub table_write_units_per_s: f64,
    pub index_write_units_per_s: f64,
    pub aggregate_write_units_per_s: f64,
    pub busiest_type_events_per_s: f64,
    pub gsi_write_shards: u64,
    pub index_key_write_units_per_s: f64,
    pub warm_table_write_units: u64,
    pub warm_index_write_units: u64,
    pub stored_gb: f64,
    pub table_gb: f64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ArchivePlan {
    pub enriched_event_bytes: u64,
    pub bytes_per_s: f64,
    pub direct_put_bytes_per_s: f64,
    pub direct_put_records_per_s: f64,
    /// Streams the quota calls for, before the stack's cap.
    pub streams_needed: u64,
    pub stream_count: u64,
    pub bytes_per_stream: f64,
    pub events_per_record: u64,
    pub records_per_s: f64,
    /// Partitions of live traffic each stream holds: event types × the live hours.
    pub live_partitions_per_stream: u64,
    /// Partitions of other hours (backfills, skewed clocks) all streams hold together on top.
    pub late_partition_capacity: u64,
    pub ingested_gb_per_month: f64,
    pub archived_gb_per_month: f64,
}

/// One service's monthly cost and how it was computed.
#[derive(Clone, Debug, PartialEq)]
pub struct ServiceCost {
    pub service: &'static str,
    pub usd_per_month: f64,
    pub basis: String,
}

/// A default quota the plan exceeds, and what to ask for.
#[derive(Clone, Debug, PartialEq)]
pub struct QuotaIncrease {
    pub quota: &'static str,
    pub default: String,
    pub request: String,
}

/// The whole plan: every figure, the costs and the quota increases.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    pub request: PlanRequest,
    pub large_quota_region: bool,
    pub ingest: IngestPlan,
    pub stream: StreamPlan,
    pub processor: ProcessorPlan,
    pub tables: TablePlan,
    pub archive: ArchivePlan,
    pub costs: Vec<ServiceCost>,
    pub quota_increases: Vec<QuotaIncrease>,
}

impl Plan {
    pub fn monthly_total_usd(&self) -> f64 {
        self.costs.iter().map(|c| c.usd_per_month).sum()
    }
}

/// `ceil` that ignores floating-point dust (60.000000000001 is 60).
fn ceil_count(x: f64) -> u64 {
    (x * (1.0 - 1e-12)).ceil().max(0.0) as u64
}

fn valid_region(region: &str) -> bool {
    // <area>-[<qualifier>-]<direction>-<n>, e.g. us-east-1, eu-central-2, us-gov-west-1.
    let parts: Vec<&str> = region.split('-').collect();
    let letters = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_lowercase());
    parts.len() >= 3
        && parts[0].len() == 2
        && letters(parts[0])
        && parts[1..parts.len() - 1].iter().all(|p| letters(p))
        && parts.last().is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

fn valid_environment(environment: &str) -> bool {
    // terraform/variables.tf: ^[a-z][a-z0-9]{1,9}$
    let bytes = environment.as_bytes();
    (2..=10).contains(&bytes.len())
        && bytes[0].is_ascii_lowercase()
        && bytes.iter().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

/// Sizes the deployment for `request`; pure arithmetic over the constants above.
pub fn plan(request: &PlanRequest) -> Result<Plan, PlanError> {
    let PlanRequest { rate, event_bytes, .. } = *request;
    if rate == 0 {
        return Err(PlanError::ZeroRate);
    }
    if event_bytes < MIN_EVENT_BYTES {
        return Err(PlanError::EventTooSmall(event_bytes));
    }
    if event_bytes > KINESIS_MAX_RECORD_BYTES {
        return Err(PlanError::OverKinesisRecordLimit(event_bytes));
    }
    let enriched_event_bytes = event_bytes + ENRICHMENT_BYTES;
    // One archived event is its enriched JSON and a newline, inside one Firehose record.
    if enriched_event_bytes + 1 > FIREHOSE_MAX_RECORD_BYTES {
        return Err(PlanError::OverFirehoseRecordLimit {
            bytes: event_bytes,
            enriched: enriched_event_bytes,
            max: FIREHOSE_MAX_RECORD_BYTES - 1 - ENRICHMENT_BYTES,
        });
    }
    if !(1..=API_EVENTS_PER_REQUEST_MAX).contains(&request.events_per_request) {
        return Err(PlanError::BatchSize(request.events_per_request));
    }
    if request.event_ttl_days == 0 {
        return Err(PlanError::TtlDays);
    }
    if !valid_region(&request.region) {
        return Err(PlanError::Region(request.region.clone()));
    }
    if !valid_environment(&request.environment) {
        return Err(PlanError::Environment(request.environment.clone()));
    }
    let rate_f = rate as f64;
    let bytes_f = event_bytes as f64;
    let large_quota_region = LARGE_QUOTA_REGIONS.contains(&request.region.as_str());

    // DynamoDB index shards first: they bound the rate one deployment can take.
    let busiest_type_events_per_s = rate_f * BUSIEST_TYPE_SHARE;
    let gsi_write_shards = ceil_count(busiest_type_events_per_s / DYNAMODB_PARTITION_WRITE_UNITS * HEADROOM).max(1);
    if gsi_write_shards > GSI_WRITE_SHARDS_MAX {
        let max_rate =
            (GSI_WRITE_SHARDS_MAX as f64 * DYNAMODB_PARTITION_WRITE_UNITS / HEADROOM / BUSIEST_TYPE_SHARE) as u64;
        return Err(PlanError::RateTooHigh { rate, shards: gsi_write_shards, max_rate });
    }

    // Ingest.
    let events_per_request = request.events_per_request.min(API_REQUEST_BYTES_MAX / event_bytes).max(1);
    let requests_per_s = rate_f / events_per_request as f64;
    let throttle_rate_limit = ceil_count(requests_per_s * API_THROTTLE_HEADROOM).max(API_THROTTLE_RATE_MIN);
    let throttle_burst_limit = (2 * throttle_rate_limit).min(API_ACCOUNT_BURST);
    let ingest = IngestPlan { events_per_request, requests_per_s, throttle_rate_limit, throttle_burst_limit };

    // Processor cost decides whether shards alone give enough concurrency.
    let concurrency_needed = rate_f * PROCESSOR_SECONDS_PER_EVENT / PROCESSOR_TARGET_UTILISATION;

    // Stream.
    let write_bytes_per_s = rate_f * bytes_f;
    let shards_for_bytes = write_bytes_per_s / KINESIS_SHARD_WRITE_BYTES_PER_S;
    let shards_for_records = rate_f / KINESIS_SHARD_WRITE_RECORDS_PER_S;
    let bound = if shards_for_bytes > shards_for_records { ShardBound::Bytes } else { ShardBound::Records };
    let shards = ceil_count(shards_for_bytes.max(shards_for_records) * HEADROOM)
        .max(ceil_count(concurrency_needed / PARALLELIZATION_FACTOR_MAX as f64))
        .max(1);
    let on_demand_fits = write_bytes_per_s * HEADROOM <= KINESIS_ON_DEMAND_WRITE_BYTES_PER_S
        && rate_f * HEADROOM <= KINESIS_ON_DEMAND_WRITE_RECORDS_PER_S;
    let shard_quota =
        if large_quota_region { KINESIS_SHARD_QUOTA_LARGE_REGIONS } else { KINESIS_SHARD_QUOTA_OTHER_REGIONS };
    let stream = StreamPlan {
        write_bytes_per_s,
        shards_for_bytes,
        shards_for_records,
        bound,
        shards,
        bytes_per_shard: write_bytes_per_s / shards as f64,
        records_per_shard: rate_f / shards as f64,
        on_demand_fits,
        shard_quota,
        put_payload_units_per_record: event_bytes.div_ceil(KINESIS_PUT_PAYLOAD_UNIT_BYTES),
    };

    // Processor.
    let invocation_bytes_per_record = (event_bytes * 4).div_ceil(3) + KINESIS_EVENT_RECORD_OVERHEAD_BYTES;
    let batch_size = PROCESSOR_BATCH_SIZE_MAX.min(LAMBDA_INVOCATION_PAYLOAD_BYTES / invocation_bytes_per_record).max(1);
    let window = PROCESSOR_BATCHING_WINDOW_S as f64;
    // A shard invokes when its batch is full or its window ends, and never without records.
    let per_shard_invocations =
        stream.records_per_shard.min((stream.records_per_shard / batch_size as f64).max(1.0 / window));
    let invocations_per_s = per_shard_invocations * shards as f64;
    let records_per_invocation = rate_f / invocations_per_s;
    let parallelization_factor = ceil_count(concurrency_needed / shards as f64).clamp(1, PARALLELIZATION_FACTOR_MAX);
    let processor = ProcessorPlan {
        batch_size,
        invocation_bytes_per_record,
        batching_window_s: PROCESSOR_BATCHING_WINDOW_S,
        records_per_invocation,
        batch_seconds: records_per_invocation * PROCESSOR_SECONDS_PER_EVENT,
        core_vcpus: rate_f / CORE_EVENTS_PER_S_PER_THREAD,
        concurrency_needed,
        parallelization_factor,
        reserved_concurrency: shards * parallelization_factor,
        memory_mb: PROCESSOR_MEMORY_MB,
        invocations_per_s,
        gb_seconds_per_s: rate_f * PROCESSOR_SECONDS_PER_EVENT * PROCESSOR_MEMORY_MB as f64 / 1024.0,
    };

    // DynamoDB.
    let item_bytes = enriched_event_bytes.min(DYNAMODB_MAX_ITEM_BYTES);
    let write_units_per_item = item_bytes.div_ceil(DYNAMODB_WRITE_UNIT_BYTES);
    let table_write_units_per_s = rate_f * write_units_per_item as f64;
    let index_write_units_per_s = rate_f * INDEX_WRITE_UNITS_PER_ITEM as f64;
    let items_kept = rate_f * 86_400.0 * request.event_ttl_days as f64;
    let table_gb = items_kept * (item_bytes + DYNAMODB_ITEM_STORAGE_OVERHEAD_BYTES) as f64 / GB;
    let tables = TablePlan {
        item_bytes,
        write_units_per_item,
        table_write_units_per_s,
        index_write_units_per_s,
        aggregate_write_units_per_s: invocations_per_s * (EVENT_TYPES * AGGREGATE_PARTIAL_WRITE_UNITS) as f64,
        busiest_type_events_per_s,
        gsi_write_shards,
        index_key_write_units_per_s: busiest_type_events_per_s * INDEX_WRITE_UNITS_PER_ITEM as f64
            / gsi_write_shards as f64,
        warm_table_write_units: ceil_count(table_write_units_per_s * HEADROOM),
        warm_index_write_units: ceil_count(index_write_units_per_s * HEADROOM),
        stored_gb: table_gb + items_kept * INDEX_ENTRY_STORED_BYTES as f64 / GB,
        table_gb,
    };

    // Firehose and S3.
    let (direct_put_bytes_per_s, direct_put_records_per_s) = if large_quota_region {
        (FIREHOSE_DIRECT_PUT_BYTES_LARGE_REGIONS, FIREHOSE_DIRECT_PUT_RECORDS_LARGE_REGIONS)
    } else {
        (FIREHOSE_DIRECT_PUT_BYTES_OTHER_REGIONS, FIREHOSE_DIRECT_PUT_RECORDS_OTHER_REGIONS)
    };
    let archive_bytes_per_s = rate_f * enriched_event_bytes as f64;
    let streams_needed = ceil_count(archive_bytes_per_s * HEADROOM / direct_put_bytes_per_s).max(1);
    let stream_count = streams_needed.min(ARCHIVE_STREAM_COUNT_MAX);
    let events_per_record = FIREHOSE_EVENTS_PER_RECORD_MAX.min(FIREHOSE_MAX_RECORD_BYTES / (enriched_event_bytes + 1));
    let ingested_gb_per_month = archive_bytes_per_s * SECONDS_PER_MONTH / GB;
    let archive = ArchivePlan {
        enriched_event_bytes,
        bytes_per_s: archive_bytes_per_s,
        direct_put_bytes_per_s,
        direct_put_records_per_s,
        streams_needed,
        stream_count,
        bytes_per_stream: archive_bytes_per_s / stream_count as f64,
        events_per_record,
        records_per_s: rate_f / events_per_record as f64,
        live_partitions_per_stream: EVENT_TYPES * (2 * ARCHIVE_LIVE_HOURS + 1),
        late_partition_capacity: stream_count
            * (FIREHOSE_ACTIVE_PARTITIONS_PER_STREAM - EVENT_TYPES * (2 * ARCHIVE_LIVE_HOURS + 1)),
        ingested_gb_per_month,
        archived_gb_per_month: ingested_gb_per_month / ARCHIVE_GZIP_RATIO,
    };

    let costs = monthly_costs(rate_f, &ingest, &stream, &processor, &tables, &archive);
    let quota_increases = quota_increases(&ingest, &stream, &processor, &tables, &archive);
    Ok(Plan {
        request: request.clone(),
        large_quota_region,
        ingest,
        stream,
        processor,
        tables,
        archive,
        costs,
        quota_increases,
    })
}

fn monthly_costs(
    rate: f64,
    ingest: &IngestPlan,
    stream: &StreamPlan,
    processor: &ProcessorPlan,
    tables: &TablePlan,
    archive: &ArchivePlan,
) -> Vec<ServiceCost> {
    let per_month = |per_s: f64| per_s * SECONDS_PER_MONTH;
    let shard_hours = stream.shards as f64 * HOURS_PER_MONTH;
    let put_units = per_month(rate * stream.put_payload_units_per_record as f64);
    let write_units =
        per_month(tables.table_write_units_per_s + tables.index_write_units_per_s + tables.aggregate_write_units_per_s);
    let gb_seconds = per_month(processor.gb_seconds_per_s);
    let invocations = per_month(processor.invocations_per_s);
    let requests = per_month(ingest.requests_per_s);
    vec![
        ServiceCost {
            service: "API Gateway",
            usd_per_month: requests / 1e6 * API_GATEWAY_REST_REQUESTS_PER_MILLION_USD,
            basis: format!(
                "{} million requests × ${API_GATEWAY_REST_REQUESTS_PER_MILLION_USD:.2} per million (REST, first tier)",
                num(requests / 1e6, 1)
            ),
        },
        ServiceCost {
            service: "Kinesis Data Streams",
            usd_per_month: shard_hours * KINESIS_SHARD_HOUR_USD + put_units / 1e6 * KINESIS_PUT_UNITS_PER_MILLION_USD,
            basis: format!(
                "{} shard-hours × ${KINESIS_SHARD_HOUR_USD} + {} million PUT payload units × ${KINESIS_PUT_UNITS_PER_MILLION_USD} per million",
                int(shard_hours as u64),
                num(put_units / 1e6, 1)
            ),
        },
        ServiceCost {
            service: "Lambda (processor)",
            usd_per_month: gb_seconds * LAMBDA_ARM_GB_SECOND_USD + invocations / 1e6 * LAMBDA_REQUESTS_PER_MILLION_USD,
            basis: format!(
                "{} GB-s × ${LAMBDA_ARM_GB_SECOND_USD} (arm64) + {} million invocations × ${LAMBDA_REQUESTS_PER_MILLION_USD:.2} per million",
                int(gb_seconds.round() as u64),
                num(invocations / 1e6, 1)
            ),
        },
        ServiceCost {
            service: "DynamoDB writes",
            usd_per_month: write_units / 1e6 * DYNAMODB_WRITE_UNITS_PER_MILLION_USD,
            basis: format!(
                "{} million write request units (table, index, aggregates) × ${DYNAMODB_WRITE_UNITS_PER_MILLION_USD} per million (on-demand)",
                num(write_units / 1e6, 1)
            ),
        },
        ServiceCost {
            service: "DynamoDB storage",
            usd_per_month: tables.stored_gb * DYNAMODB_STORAGE_GB_MONTH_USD
                + tables.table_gb * DYNAMODB_PITR_GB_MONTH_USD,
            basis: format!(
                "{} GB of items and index entries × ${} + {} GB of table data × ${} point-in-time recovery",
                int(tables.stored_gb.round() as u64),
                price(DYNAMODB_STORAGE_GB_MONTH_USD),
                int(tables.table_gb.round() as u64),
                price(DYNAMODB_PITR_GB_MONTH_USD)
            ),
        },
        ServiceCost {
            service: "Firehose",
            usd_per_month: archive.ingested_gb_per_month
                * (FIREHOSE_INGEST_GB_USD + FIREHOSE_DYNAMIC_PARTITIONING_GB_USD),
            basis: format!(
                "{} GB ingested × (${} + ${} dynamic partitioning)",
                int(archive.ingested_gb_per_month.round() as u64),
                price(FIREHOSE_INGEST_GB_USD),
                price(FIREHOSE_DYNAMIC_PARTITIONING_GB_USD)
            ),
        },
        ServiceCost {
            service: "S3 (archive)",
            usd_per_month: archive.archived_gb_per_month * S3_STANDARD_GB_MONTH_USD,
            basis: format!(
                "{} GB a month (gzip ~{ARCHIVE_GZIP_RATIO}×) in Standard for its first 30 days × ${S3_STANDARD_GB_MONTH_USD}",
                int(archive.archived_gb_per_month.round() as u64)
            ),
        },
    ]
}

fn quota_increases(
    ingest: &IngestPlan,
    stream: &StreamPlan,
    processor: &ProcessorPlan,
    tables: &TablePlan,
    archive: &ArchivePlan,
) -> Vec<QuotaIncrease> {
    let mut increases = Vec::new();
    if stream.shards > stream.shard_quota {
        increases.push(QuotaIncrease {
            quota: "Kinesis Data Streams: shards per region",
            default: int(stream.shard_quota),
            request: format!("at least {} shards", int(stream.shards)),
        });
    }
    let concurrency = processor.reserved_concurrency + LAMBDA_UNRESERVED_MINIMUM;
    if concurrency > LAMBDA_CONCURRENCY_QUOTA {
        increases.push(QuotaIncrease {
            quota: "Lambda: concurrent executions",
            default: int(LAMBDA_CONCURRENCY_QUOTA),
            request: format!(
                "at least {} (the processor's {} reserved + {LAMBDA_UNRESERVED_MINIMUM} unreserved for the other functions)",
                int(concurrency),
                int(processor.reserved_concurrency)
            ),
        });
    }
    let table_units = tables.warm_table_write_units.max(tables.warm_index_write_units);
    if table_units as f64 > DYNAMODB_TABLE_WRITE_QUOTA {
        increases.push(QuotaIncrease {
            quota: "DynamoDB: table-level write throughput (on-demand, per table and index)",
            default: format!("{} WRU/s", num(DYNAMODB_TABLE_WRITE_QUOTA, 0)),
            request: format!("at least {} WRU/s", int(table_units)),
        });
    }
    if archive.streams_needed > archive.stream_count {
        let per_stream = archive.bytes_per_s * HEADROOM / archive.stream_count as f64 / MIB;
        increases.push(QuotaIncrease {
            quota: "Firehose: Direct PUT throughput per delivery stream",
            default: format!("{} MiB/s", num(archive.direct_put_bytes_per_s / MIB, 0)),
            request: format!(
                "at least {} MiB/s on each of the {} streams ({} would be needed at the default)",
                ceil_count(per_stream),
                archive.stream_count,
                archive.streams_needed
            ),
        });
    }
    let requests = ingest.requests_per_s * HEADROOM;
    if requests > API_ACCOUNT_REQUESTS_PER_S {
        increases.push(QuotaIncrease {
            quota: "API Gateway: throttle rate per account and region",
            default: format!("{} requests/s", num(API_ACCOUNT_REQUESTS_PER_S, 0)),
            request: format!("at least {} requests/s", int(ceil_count(requests))),
        });
    }
    increases
}

// ---------------------------------------------------------------------------------------
// Presentation
// ---------------------------------------------------------------------------------------

/// A group of figures printed under one heading.
#[derive(Clone, Debug, PartialEq)]
pub struct Section {
    pub title: String,
    pub figures: Vec<Figure>,
}

/// One figure: its name, its value and the reasoning behind it.
#[derive(Clone, Debug, PartialEq)]
pub struct Figure {
    pub name: String,
    pub value: String,
    pub why: String,
}

fn figure(name: &str, value: impl Into<String>, why: impl Into<String>) -> Figure {
    Figure { name: name.into(), value: value.into(), why: why.into() }
}

/// `1234567` as `1,234,567`.
pub fn int(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `x` (not negative: every figure of a plan is a count, a rate or a price) with `decimals`
/// decimals and thousands separators.
pub fn num(x: f64, decimals: usize) -> String {
    let text = format!("{:.*}", decimals, x.max(0.0));
    let (whole, fraction) = text.split_once('.').map_or((text.as_str(), None), |(w, f)| (w, Some(f)));
    let mut out = int(whole.parse().unwrap_or(0));
    if let Some(fraction) = fraction {
        out.push('.');
        out.push_str(fraction);
    }
    out
}

/// Dollars with cents: `$1,368.75`.
pub fn usd(x: f64) -> String {
    format!("${}", num(x, 2))
}

/// A unit price: as many decimals as it has, at least two (`0.20`, `0.015`).
pub fn price(x: f64) -> String {
    let text = format!("{x}");
    match text.split_once('.') {
        None => format!("{text}.00"),
        Some((_, fraction)) if fraction.len() < 2 => format!("{text}0"),
        Some(_) => text,
    }
}

/// A derived count: whole when it is, else two decimals (`60`, `0.75`).
fn count(x: f64) -> String {
    if (x - x.round()).abs() < 1e-9 { int(x.round() as u64) } else { num(x, 2) }
}

/// A quantity that may be well under one: two decimals, three under 0.1 (`4.00`, `0.002`).
fn fraction(x: f64) -> String {
    num(x, if x < 0.1 { 3 } else { 2 })
}

/// Bytes per second in MB/s (decimal, as Kinesis states its shard limit).
fn mb_per_s(bytes_per_s: f64) -> String {
    let decimals = if bytes_per_s < 1e5 {
        3
    } else if bytes_per_s < 1e7 {
        2
    } else {
        1
    };
    format!("{} MB/s", num(bytes_per_s / 1e6, decimals))
}

/// A count that may be fractional, with one decimal only when it has one.
fn rate_num(x: f64) -> String {
    if (x - x.round()).abs() < 1e-9 { int(x.round() as u64) } else { num(x, 1) }
}

/// The plan as sections of figures with their reasoning.
pub fn sections(plan: &Plan) -> Vec<Section> {
    let r = &plan.request;
    let rate = int(r.rate);
    let bytes = int(r.event_bytes);
    let (ingest, stream, processor, tables, archive) =
        (&plan.ingest, &plan.stream, &plan.processor, &plan.tables, &plan.archive);
    let large_regions = LARGE_QUOTA_REGIONS.join(", ");
    let mut out = Vec::new();

    let api_fits =
        if ingest.requests_per_s * HEADROOM > API_ACCOUNT_REQUESTS_PER_S { "quota increase needed" } else { "fits" };
    let capped = if ingest.events_per_request < r.events_per_request {
        format!(" (--batch-size {} lowered: a request carries at most 5 MiB of records)", r.events_per_request)
    } else {
        String::new()
    };
    out.push(Section {
        title: "API Gateway (ingest)".into(),
        figures: vec![
            figure(
                "requests/s",
                rate_num(ingest.requests_per_s),
                format!(
                    "{rate} events/s ÷ {} events per POST /v1/events{capped}; × {HEADROOM} headroom = {} of the account default {} requests/s: {api_fits}",
                    ingest.events_per_request,
                    rate_num((ingest.requests_per_s * HEADROOM * 10.0).round() / 10.0),
                    num(API_ACCOUNT_REQUESTS_PER_S, 0)
                ),
            ),
            figure(
                "usage-plan throttle",
                format!("{} rps, burst {}", int(ingest.throttle_rate_limit), int(ingest.throttle_burst_limit)),
                format!(
                    "{API_THROTTLE_HEADROOM} × the requests/s (at least the stack's {API_THROTTLE_RATE_MIN}) for retries and smaller batches; burst twice that, at most the account's {}",
                    int(API_ACCOUNT_BURST)
                ),
            ),
        ],
    });

    let (bytes_note, records_note) = match stream.bound {
        ShardBound::Bytes => (" (binds)", ""),
        ShardBound::Records => ("", " (binds)"),
    };
    let on_demand = if stream.on_demand_fits {
        format!(
            "could serve it: {} and {} records/s with headroom are within one on-demand stream's default {} and {} records/s; but a new on-demand stream starts at {} and only doubles its previous peak, so PROVISIONED is planned",
            mb_per_s(stream.write_bytes_per_s * HEADROOM),
            rate_num(r.rate as f64 * HEADROOM),
            mb_per_s(KINESIS_ON_DEMAND_WRITE_BYTES_PER_S),
            num(KINESIS_ON_DEMAND_WRITE_RECORDS_PER_S, 0),
            mb_per_s(KINESIS_ON_DEMAND_INITIAL_BYTES_PER_S)
        )
    } else {
        format!(
            "could not serve it: {} and {} records/s with headroom exceed one on-demand stream's default {} and {} records/s",
            mb_per_s(stream.write_bytes_per_s * HEADROOM),
            rate_num(r.rate as f64 * HEADROOM),
            mb_per_s(KINESIS_ON_DEMAND_WRITE_BYTES_PER_S),
            num(KINESIS_ON_DEMAND_WRITE_RECORDS_PER_S, 0)
        )
    };
    out.push(Section {
        title: "Kinesis Data Stream".into(),
        figures: vec![
            figure(
                "write bytes",
                mb_per_s(stream.write_bytes_per_s),
                format!(
                    "{rate} events/s × {bytes} B; a shard takes 1 MB/s of writes → {} shards' worth{bytes_note}",
                    count(stream.shards_for_bytes)
                ),
            ),
            figure(
                "write records",
                format!("{rate}/s"),
                format!(
                    "one event is one record; a shard takes 1,000 records/s → {} shards' worth{records_note}",
                    count(stream.shards_for_records)
                ),
            ),
            figure(
                "shards",
                int(stream.shards),
                format!(
                    "ceil(max({}, {}) × {HEADROOM} headroom): {} and {} records/s per shard on average",
                    count(stream.shards_for_bytes),
                    count(stream.shards_for_records),
                    mb_per_s(stream.bytes_per_shard),
                    rate_num(stream.records_per_shard)
                ),
            ),
            figure("stream mode", "PROVISIONED", format!("ON_DEMAND {on_demand}")),
            figure(
                "shard quota",
                format!("{} of {}", int(stream.shards), int(stream.shard_quota)),
                format!(
                    "default shards per account: {} in {large_regions}, {} elsewhere",
                    KINESIS_SHARD_QUOTA_LARGE_REGIONS, KINESIS_SHARD_QUOTA_OTHER_REGIONS
                ),
            ),
        ],
    });

    let payload_kb = processor.batch_size * processor.invocation_bytes_per_record / 1000;
    out.push(Section {
        title: "Processor (Lambda)".into(),
        figures: vec![
            figure(
                "batch size",
                int(processor.batch_size),
                format!(
                    "records per invocation, at most {}; a record is ~{} B of invocation payload (base64 + metadata), so a full batch is ~{} kB of Lambda's 6 MB",
                    int(PROCESSOR_BATCH_SIZE_MAX),
                    int(processor.invocation_bytes_per_record),
                    int(payload_kb)
                ),
            ),
            figure(
                "batching window",
                format!("{} s", processor.batching_window_s),
                format!(
                    "a shard invokes when its batch fills or the window ends: ~{} records per invocation",
                    rate_num(processor.records_per_invocation.round())
                ),
            ),
            figure(
                "concurrency needed",
                fraction(processor.concurrency_needed),
                format!(
                    "{rate} events/s × {} µs per event per vCPU ÷ {PROCESSOR_TARGET_UTILISATION} target utilisation",
                    num(PROCESSOR_SECONDS_PER_EVENT * 1e6, 0)
                ),
            ),
            figure(
                "parallelization factor",
                int(processor.parallelization_factor),
                format!(
                    "ceil({} ÷ {} shards), 1 to 10: a batch of ~{} events takes ~{} ms of each {} s window",
                    fraction(processor.concurrency_needed),
                    int(stream.shards),
                    rate_num(processor.records_per_invocation.round()),
                    num(processor.batch_seconds * 1e3, 1),
                    processor.batching_window_s
                ),
            ),
            figure(
                "reserved concurrency",
                int(processor.reserved_concurrency),
                format!(
                    "{} shards × {}: what the event source mapping can run at once (the stack checks it is at least that)",
                    int(stream.shards),
                    processor.parallelization_factor
                ),
            ),
            figure(
                "memory",
                format!("{} MB", int(processor.memory_mb)),
                "1,769 MB is one vCPU, the unit the per-event cost was assumed for",
            ),
            figure(
                "core CPU",
                format!("{} vCPU", fraction(processor.core_vcpus)),
                format!(
                    "{rate} ÷ {} events/s per thread of the pure core (docs/PERFORMANCE.md): the rest of the {} µs is waiting on DynamoDB and Firehose",
                    num(CORE_EVENTS_PER_S_PER_THREAD, 0),
                    num(PROCESSOR_SECONDS_PER_EVENT * 1e6, 0)
                ),
            ),
            figure(
                "invocations/s",
                rate_num(processor.invocations_per_s),
                format!(
                    "{} shards × {} a second",
                    int(stream.shards),
                    num(processor.invocations_per_s / stream.shards as f64, 2)
                ),
            ),
        ],
    });

    let warm = if (tables.warm_table_write_units as f64) > DYNAMODB_NEW_TABLE_WRITE_UNITS {
        format!(
            "a new on-demand table takes ~{} WRU/s at once: before launch, aws dynamodb update-table --table-name <project>-{}-events --warm-throughput WriteUnitsPerSecond={} (and the index gsi1 likewise)",
            num(DYNAMODB_NEW_TABLE_WRITE_UNITS, 0),
            r.environment,
            tables.warm_table_write_units
        )
    } else {
        format!("not needed: a new on-demand table takes ~{} WRU/s at once", num(DYNAMODB_NEW_TABLE_WRITE_UNITS, 0))
    };
    let table_quota_fits =
        if tables.warm_table_write_units.max(tables.warm_index_write_units) as f64 > DYNAMODB_TABLE_WRITE_QUOTA {
            "quota increase needed"
        } else {
            "fits"
        };
    let item_cap = if tables.item_bytes < plan.archive.enriched_event_bytes {
        format!(
            " (capped at DynamoDB's {} B item limit: bigger payloads are stored compressed)",
            int(DYNAMODB_MAX_ITEM_BYTES)
        )
    } else {
        String::new()
    };
    // Within 10 % of the next write unit, a slightly bigger item than estimated costs one more.
    let room = tables.write_units_per_item * DYNAMODB_WRITE_UNIT_BYTES - tables.item_bytes;
    let boundary = if room * 10 < DYNAMODB_WRITE_UNIT_BYTES && tables.item_bytes < DYNAMODB_MAX_ITEM_BYTES {
        format!(
            "; only {room} B under the next unit: measure real items, one more unit adds {} WRU/s",
            rate_num(r.rate as f64)
        )
    } else {
        String::new()
    };
    out.push(Section {
        title: "DynamoDB".into(),
        figures: vec![
            figure(
                "item size",
                format!("{} B", int(tables.item_bytes)),
                format!(
                    "{bytes} B event + {ENRICHMENT_BYTES} B of enrichment and keys{item_cap} → {} write unit{} of 1 KB{boundary}",
                    tables.write_units_per_item,
                    if tables.write_units_per_item == 1 { "" } else { "s" }
                ),
            ),
            figure(
                "table writes",
                format!("{} WRU/s", rate_num(tables.table_write_units_per_s)),
                format!("{rate} items/s × {}", tables.write_units_per_item),
            ),
            figure(
                "index writes",
                format!("{} WRU/s", rate_num(tables.index_write_units_per_s)),
                "one KEYS_ONLY gsi1 entry per item, ~1 WRU each: the index doubles the writes",
            ),
            figure(
                "aggregate partials",
                format!("{} WRU/s", rate_num(tables.aggregate_write_units_per_s)),
                format!(
                    "{} invocations/s × {EVENT_TYPES} event types × {AGGREGATE_PARTIAL_WRITE_UNITS} WRU (a partial with its sketch, ≤ 4 KB; assumed)",
                    rate_num(plan.processor.invocations_per_s)
                ),
            ),
            figure(
                "gsi_write_shards",
                int(tables.gsi_write_shards),
                format!(
                    "ceil({} events/s of the busiest type (assumed {}% of all) ÷ 1,000 WRU/s per partition key × {HEADROOM}): ~{} WRU/s per index key",
                    rate_num(tables.busiest_type_events_per_s),
                    num(BUSIEST_TYPE_SHARE * 100.0, 0),
                    rate_num(tables.index_key_write_units_per_s.round())
                ),
            ),
            figure(
                "warm throughput",
                format!(
                    "table {}, index {} WRU/s",
                    int(tables.warm_table_write_units),
                    int(tables.warm_index_write_units)
                ),
                format!("{HEADROOM} × the writes; {warm}"),
            ),
            figure(
                "table quota",
                format!("{} WRU/s", num(DYNAMODB_TABLE_WRITE_QUOTA, 0)),
                format!(
                    "default per on-demand table and index; the plan needs up to {}: {table_quota_fits}",
                    int(tables.warm_table_write_units.max(tables.warm_index_write_units))
                ),
            ),
            figure(
                "stored",
                format!("{} GB", int(tables.stored_gb.round() as u64)),
                format!(
                    "{} days (event_ttl_days) × {rate} items/s × ({} B item + {DYNAMODB_ITEM_STORAGE_OVERHEAD_BYTES} B overhead + {INDEX_ENTRY_STORED_BYTES} B index entry)",
                    r.event_ttl_days,
                    int(tables.item_bytes)
                ),
            ),
        ],
    });

    let quota_where = if plan.large_quota_region { "is one of" } else { "is not one of" };
    let capped_streams = if archive.streams_needed > archive.stream_count {
        format!(
            " ({} needed; the stack allows {}: raise the per-stream quota)",
            archive.streams_needed, ARCHIVE_STREAM_COUNT_MAX
        )
    } else {
        String::new()
    };
    out.push(Section {
        title: "Firehose and S3 (archive)".into(),
        figures: vec![
            figure(
                "enriched bytes",
                mb_per_s(archive.bytes_per_s),
                format!("{rate} events/s × ({bytes} + {ENRICHMENT_BYTES}) B"),
            ),
            figure(
                "Direct PUT quota",
                format!("{} MiB/s per stream", num(archive.direct_put_bytes_per_s / MIB, 0)),
                format!("{} {quota_where} {large_regions} (5 MiB/s there, 1 MiB/s elsewhere)", r.region),
            ),
            figure(
                "delivery streams",
                int(archive.stream_count),
                format!(
                    "ceil({} × {HEADROOM} ÷ {} MiB/s){capped_streams}: {} per stream",
                    mb_per_s(archive.bytes_per_s),
                    num(archive.direct_put_bytes_per_s / MIB, 0),
                    mb_per_s(archive.bytes_per_stream)
                ),
            ),
            figure(
                "records/s",
                rate_num(archive.records_per_s),
                format!(
                    "{} events packed per record (≤ {} and ≤ 1,000 KiB): {} per stream, far under the {} records/s quota",
                    archive.events_per_record,
                    FIREHOSE_EVENTS_PER_RECORD_MAX,
                    rate_num((archive.records_per_s / archive.stream_count as f64 * 10.0).round() / 10.0),
                    num(archive.direct_put_records_per_s, 0)
                ),
            ),
            figure(
                "active partitions",
                format!(
                    "{} of {} per stream",
                    archive.live_partitions_per_stream,
                    int(FIREHOSE_ACTIVE_PARTITIONS_PER_STREAM)
                ),
                format!(
                    "live traffic: {EVENT_TYPES} event types × {} hours (events within {ARCHIVE_LIVE_HOURS} h of their arrival go to every stream); other hours (a backfill, skewed clocks) go one stream per partition: room for {} more across the {} stream{} per buffer; past {} on a stream, records go to errors/activePartitionExceeded/ (alarmed)",
                    2 * ARCHIVE_LIVE_HOURS + 1,
                    int(archive.late_partition_capacity),
                    archive.stream_count,
                    if archive.stream_count == 1 { "" } else { "s" },
                    int(FIREHOSE_ACTIVE_PARTITIONS_PER_STREAM)
                ),
            ),
            figure(
                "archive",
                format!("{} GB a month", int(archive.archived_gb_per_month.round() as u64)),
                format!(
                    "{} GB of enriched JSON a month ÷ {ARCHIVE_GZIP_RATIO} (gzip ratio assumed)",
                    int(archive.ingested_gb_per_month.round() as u64)
                ),
            ),
        ],
    });

    let mut costs: Vec<Figure> =
        plan.costs.iter().map(|c| figure(c.service, usd(c.usd_per_month), c.basis.clone())).collect();
    costs.push(figure(
        "total",
        usd(plan.monthly_total_usd()),
        format!(
            "{HOURS_PER_MONTH} hours; not included: CloudWatch, KMS, X-Ray, SQS/SNS, data transfer, S3 requests and older storage classes, DynamoDB reads, the aggregator and query functions"
        ),
    ));
    out.push(Section { title: format!("Monthly cost (us-east-1 list prices as of {PRICES_AS_OF})"), figures: costs });

    let quotas = if plan.quota_increases.is_empty() {
        vec![figure("none", "", "the plan stays within every default quota listed in docs/DEPLOY.md")]
    } else {
        plan.quota_increases
            .iter()
            .map(|q| figure(q.quota, q.request.clone(), format!("default {}", q.default)))
            .collect()
    };
    out.push(Section { title: "Quota increases to request before launch".into(), figures: quotas });
    out
}

/// The plan's opening lines: what was planned and how old the assumptions are.
fn heading(plan: &Plan) -> [String; 2] {
    let r = &plan.request;
    [
        format!(
            "Capacity plan: {} events/s × {} B in {}, environment {}",
            int(r.rate),
            int(r.event_bytes),
            r.region,
            r.environment
        ),
        format!(
            "Quotas and prices as of {PRICES_AS_OF} (prices: us-east-1 list prices): assumptions to check in the account's Service Quotas and the AWS price list."
        ),
    ]
}

/// The plan as aligned text, one figure and its reasoning per line.
pub fn render_text(plan: &Plan) -> String {
    let mut out = String::new();
    for line in heading(plan) {
        out.push_str(&line);
        out.push('\n');
    }
    for section in sections(plan) {
        let name_width = section.figures.iter().map(|f| f.name.chars().count()).max().unwrap_or(0);
        let value_width = section.figures.iter().map(|f| f.value.chars().count()).max().unwrap_or(0);
        let _ = writeln!(out, "\n{}", section.title);
        for f in &section.figures {
            let line = format!(
                "  {}{}  {}{}  {}",
                f.name,
                " ".repeat(name_width - f.name.chars().count()),
                f.value,
                " ".repeat(value_width - f.value.chars().count()),
                f.why
            );
            out.push_str(line.trim_end());
            out.push('\n');
        }
    }
    out
}

/// The plan as Markdown: a table per section (what docs/DEPLOY.md shows).
pub fn render_markdown(plan: &Plan) -> String {
    let [title, assumptions] = heading(plan);
    let mut out = format!("{title}. {assumptions}\n");
    for section in sections(plan) {
        let _ = writeln!(out, "\n**{}**\n\n| figure | value | reasoning |\n|---|---|---|", section.title);
        for f in &section.figures {
            let cell = |s: &str| s.replace('|', "\\|");
            let _ = writeln!(out, "| {} | {} | {} |", cell(&f.name), cell(&f.value), cell(&f.why));
        }
    }
    out
}

/// Terraform variables for the plan: only ones terraform/variables.tf declares, laid out as
/// `terraform fmt` would.
pub fn tfvars(plan: &Plan) -> String {
    let r = &plan.request;
    let quote = |s: &str| format!("\"{s}\"");
    let groups: [(&str, Vec<(&str, String)>); 5] = [
        ("", vec![("environment", quote(&r.environment)), ("aws_region", quote(&r.region))]),
        (
            "Kinesis: ceil(max(bytes/s ÷ 1 MB/s, records/s ÷ 1,000) × 1.25).",
            vec![("stream_mode", quote("PROVISIONED")), ("shard_count", plan.stream.shards.to_string())],
        ),
        (
            "Processor: concurrency = shards × parallelization factor.",
            vec![
                ("processor_memory_mb", plan.processor.memory_mb.to_string()),
                ("processor_batch_size", plan.processor.batch_size.to_string()),
                ("processor_batching_window_seconds", plan.processor.batching_window_s.to_string()),
                ("processor_parallelization_factor", plan.processor.parallelization_factor.to_string()),
                ("processor_reserved_concurrency", plan.processor.reserved_concurrency.to_string()),
            ],
        ),
        (
            "Events table retention, per-type index write shards, Firehose delivery streams.",
            vec![
                ("event_ttl_days", r.event_ttl_days.to_string()),
                ("gsi_write_shards", plan.tables.gsi_write_shards.to_string()),
                ("archive_stream_count", plan.archive.stream_count.to_string()),
            ],
        ),
        (
            "API usage plan: twice the planned requests/s.",
            vec![
                ("api_throttle_rate_limit", plan.ingest.throttle_rate_limit.to_string()),
                ("api_throttle_burst_limit", plan.ingest.throttle_burst_limit.to_string()),
            ],
        ),
    ];
    let mut out = format!(
        "# Written by `pipeline plan --rate {} --event-bytes {} --region {} --batch-size {} --event-ttl-days {} --environment {}`\n\
         # (quotas and prices as of {PRICES_AS_OF}); the reasoning: docs/DEPLOY.md, \"Capacity planning\".\n\
         # Use alone or after an environment's file: -var-file=envs/prod.tfvars -var-file=THIS.\n",
        r.rate, r.event_bytes, r.region, r.events_per_request, r.event_ttl_days, r.environment
    );
    for (comment, vars) in groups {
        out.push('\n');
        if !comment.is_empty() {
            let _ = writeln!(out, "# {comment}");
        }
        let width = vars.iter().map(|(name, _)| name.len()).max().unwrap_or(0);
        for (name, value) in vars {
            let _ = writeln!(out, "{name:<width$} = {value}");
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// The subcommand
// ---------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Format {
    /// Aligned text, a line of reasoning per figure.
    Text,
    /// Markdown tables (as in docs/DEPLOY.md).
    Markdown,
}

#[derive(Args)]
#[command(
    about = "Size an AWS deployment for an event rate and size; optionally write its tfvars",
    long_about = "Size an AWS deployment of the pipeline for a peak event rate and a mean event size: \
Kinesis shards, processor batch size, parallelization and concurrency, DynamoDB write units, index \
write shards and warm throughput, Firehose delivery streams, API Gateway requests/s, the monthly cost \
by service and the quota increases to request. Every figure is printed with its reasoning; quotas \
and prices are dated assumptions (see docs/DEPLOY.md, \"Capacity planning with `pipeline plan`\").\n\n\
Examples:\n  pipeline plan --rate 100000 --event-bytes 600\n  \
pipeline plan --rate 1000 --event-bytes 600 --region eu-central-1 --environment dev --out dev-plan.tfvars"
)]
pub struct PlanArgs {
    /// Peak events per second the deployment must take.
    #[arg(long, value_name = "EVENTS_PER_S")]
    rate: u64,
    /// Mean size of one event's JSON, in bytes.
    #[arg(long = "event-bytes", value_name = "N")]
    event_bytes: u64,
    /// AWS region (Firehose and Kinesis default quotas depend on it).
    #[arg(long, value_name = "R", default_value = DEFAULT_REGION)]
    region: String,
    /// Events per POST /v1/events the producers send (1-500).
    #[arg(long = "batch-size", value_name = "EVENTS", default_value_t = API_EVENTS_PER_REQUEST_DEFAULT)]
    batch_size: u64,
    /// Days events stay in the events table (event_ttl_days; the storage cost scales with it).
    #[arg(long = "event-ttl-days", value_name = "DAYS", default_value_t = EVENT_TTL_DAYS_DEFAULT)]
    event_ttl_days: u64,
    /// The Terraform environment name written into the tfvars.
    #[arg(long, value_name = "ENV", default_value = "prod")]
    environment: String,
    /// Write the planned Terraform variables to this file.
    #[arg(long, value_name = "FILE.tfvars")]
    out: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

pub fn run(args: &PlanArgs) -> Result<ExitCode> {
    let request = PlanRequest {
        region: args.region.clone(),
        events_per_request: args.batch_size,
        event_ttl_days: args.event_ttl_days,
        environment: args.environment.clone(),
        ..PlanRequest::new(args.rate, args.event_bytes)
    };
    let plan = plan(&request)?;
    if let Some(path) = &args.out {
        fs::write(path, tfvars(&plan)).with_context(|| format!("cannot write {}", path.display()))?;
    }
    let text = match args.format {
        Format::Text => render_text(&plan),
        Format::Markdown => render_markdown(&plan),
    };
    print!("{text}");
    if let Some(path) = &args.out {
        println!(
            "\nTerraform variables written to {} (terraform -chdir=terraform apply -var-file=...)",
            path.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn planned(rate: u64, event_bytes: u64, region: &str) -> Plan {
        plan(&PlanRequest { region: region.into(), ..PlanRequest::new(rate, event_bytes) }).unwrap()
    }

    fn cost(plan: &Plan, service: &str) -> String {
        usd(plan.costs.iter().find(|c| c.service == service).unwrap().usd_per_month)
    }

    fn close(actual: f64, expected: f64) -> bool {
        (actual - expected).abs() <= 1e-9 * expected.abs().max(1.0)
    }

    /// docs/DEPLOY.md, worked example 1: the prod target.
    #[test]
    fn worked_example_100k_events_of_600_bytes_in_us_east_1() {
        let p = planned(100_000, 600, "us-east-1");
        assert!(p.large_quota_region);

        assert_eq!(p.ingest.events_per_request, 250);
        assert!(close(p.ingest.requests_per_s, 400.0));
        assert_eq!((p.ingest.throttle_rate_limit, p.ingest.throttle_burst_limit), (800, 1_600));

        assert!(close(p.stream.write_bytes_per_s, 60e6));
        assert!(close(p.stream.shards_for_bytes, 60.0));
        assert!(close(p.stream.shards_for_records, 100.0));
        assert_eq!(p.stream.bound, ShardBound::Records);
        assert_eq!(p.stream.shards, 125);
        assert!(close(p.stream.records_per_shard, 800.0));
        assert!(p.stream.on_demand_fits);
        assert_eq!((p.stream.shard_quota, p.stream.put_payload_units_per_record), (500, 1));

        assert_eq!(p.processor.batch_size, 1_000);
        assert_eq!(p.processor.invocation_bytes_per_record, 1_100);
        assert_eq!(p.processor.batching_window_s, 1);
        assert!(close(p.processor.concurrency_needed, 4.0));
        assert_eq!(p.processor.parallelization_factor, 1);
        assert_eq!(p.processor.reserved_concurrency, 125);
        assert_eq!(p.processor.memory_mb, 1_769);
        assert!(close(p.processor.invocations_per_s, 125.0));
        assert!(close(p.processor.records_per_invocation, 800.0));
        assert!(close(p.processor.batch_seconds, 0.016));

        assert_eq!((p.tables.item_bytes, p.tables.write_units_per_item), (1_000, 1));
        assert!(close(p.tables.table_write_units_per_s, 100_000.0));
        assert!(close(p.tables.index_write_units_per_s, 100_000.0));
        assert!(close(p.tables.aggregate_write_units_per_s, 2_000.0));
        assert_eq!(p.tables.gsi_write_shards, 75);
        assert!(close(p.tables.index_key_write_units_per_s, 800.0));
        assert_eq!((p.tables.warm_table_write_units, p.tables.warm_index_write_units), (125_000, 125_000));
        assert_eq!(p.tables.stored_gb.round(), 336_960.0);

        assert!(close(p.archive.bytes_per_s, 100e6));
        assert_eq!(p.archive.streams_needed, 24);
        assert_eq!(p.archive.stream_count, 24);
        assert_eq!(p.archive.events_per_record, 500);
        assert!(close(p.archive.records_per_s, 200.0));
        assert_eq!((p.archive.live_partitions_per_stream, p.archive.late_partition_capacity), (12, 24 * 488));
        assert_eq!(p.archive.archived_gb_per_month.round(), 32_850.0);

        assert_eq!(cost(&p, "API Gateway"), "$3,679.20");
        assert_eq!(cost(&p, "Kinesis Data Streams"), "$5,047.95");
        assert_eq!(cost(&p, "Lambda (processor)"), "$186.77");
        assert_eq!(cost(&p, "DynamoDB writes"), "$331,785.00");
        assert_eq!(cost(&p, "DynamoDB storage"), "$141,264.00");
        assert_eq!(cost(&p, "Firehose"), "$12,877.20");
        assert_eq!(cost(&p, "S3 (archive)"), "$755.55");
        assert_eq!(usd(p.monthly_total_usd()), "$495,595.67");

        let quotas: Vec<_> = p.quota_increases.iter().map(|q| q.quota).collect();
        assert_eq!(quotas, ["DynamoDB: table-level write throughput (on-demand, per table and index)"]);
        assert_eq!(p.quota_increases[0].request, "at least 125,000 WRU/s");
    }

    /// docs/DEPLOY.md, worked example 2: a small deployment outside the large-quota regions.
    #[test]
    fn worked_example_1k_events_of_600_bytes_in_eu_central_1() {
        let p = planned(1_000, 600, "eu-central-1");
        assert!(!p.large_quota_region);
        assert!(close(p.ingest.requests_per_s, 4.0));
        assert_eq!((p.ingest.throttle_rate_limit, p.ingest.throttle_burst_limit), (100, 200));
        assert_eq!(p.stream.shards, 2);
        assert_eq!(p.stream.bound, ShardBound::Records);
        assert_eq!(p.stream.shard_quota, 200);
        assert_eq!((p.processor.batch_size, p.processor.parallelization_factor), (1_000, 1));
        assert_eq!(p.processor.reserved_concurrency, 2);
        assert!(close(p.processor.invocations_per_s, 2.0));
        assert!(close(p.tables.aggregate_write_units_per_s, 32.0));
        assert_eq!(p.tables.gsi_write_shards, 1);
        assert_eq!((p.tables.warm_table_write_units, p.tables.warm_index_write_units), (1_250, 1_250));
        assert!(close(p.archive.direct_put_bytes_per_s, MIB));
        assert_eq!((p.archive.streams_needed, p.archive.stream_count), (2, 2));
        assert!(close(p.archive.records_per_s, 2.0));

        assert_eq!(cost(&p, "API Gateway"), "$36.79");
        assert_eq!(cost(&p, "Kinesis Data Streams"), "$58.69");
        assert_eq!(cost(&p, "Lambda (processor)"), "$2.26");
        assert_eq!(cost(&p, "DynamoDB writes"), "$3,337.56");
        assert_eq!(cost(&p, "DynamoDB storage"), "$1,412.64");
        assert_eq!(cost(&p, "Firehose"), "$128.77");
        assert_eq!(cost(&p, "S3 (archive)"), "$7.56");
        assert_eq!(usd(p.monthly_total_usd()), "$4,984.27");
        assert!(p.quota_increases.is_empty());
    }

    #[test]
    fn bytes_bind_the_shards_of_large_events() {
        let p = planned(10_000, 5_000, "us-east-1");
        assert_eq!(p.stream.bound, ShardBound::Bytes);
        assert!(close(p.stream.shards_for_bytes, 50.0));
        assert_eq!(p.stream.shards, 63, "ceil(50 × 1.25)");
        assert_eq!(p.tables.write_units_per_item, 6, "5,400 B is 6 units of 1 KB");
    }

    #[test]
    fn on_demand_is_ruled_out_above_its_default_quota() {
        assert!(!planned(200_000, 1_000, "us-east-1").stream.on_demand_fits, "250 MB/s with headroom");
        assert!(!planned(170_000, 100, "us-east-1").stream.on_demand_fits, "212,500 records/s with headroom");
        assert!(planned(160_000, 100, "us-east-1").stream.on_demand_fits);
    }

    #[test]
    fn big_events_shrink_batches_and_requests_and_cap_items() {
        let p = planned(1_000, 500_000, "us-east-1");
        assert_eq!(p.processor.invocation_bytes_per_record, 666_967);
        assert_eq!(p.processor.batch_size, 8, "6 MB of invocation payload");
        assert_eq!(p.ingest.events_per_request, 10, "5 MiB per request");
        assert_eq!(p.tables.item_bytes, DYNAMODB_MAX_ITEM_BYTES);
        assert_eq!(p.tables.write_units_per_item, 400);
        assert_eq!(p.archive.events_per_record, 2);
        let text = render_text(&p);
        assert!(text.contains("--batch-size 250 lowered"), "{text}");
        assert!(text.contains("capped at DynamoDB's 409,600 B item limit"), "{text}");
    }

    #[test]
    fn lists_only_the_quotas_the_plan_exceeds() {
        let p = plan(&PlanRequest {
            region: "eu-central-1".into(),
            events_per_request: 20,
            ..PlanRequest::new(1_000_000, 600)
        })
        .unwrap();
        let quotas: Vec<_> = p.quota_increases.iter().map(|q| q.quota.split(':').next().unwrap()).collect();
        assert_eq!(quotas, ["Kinesis Data Streams", "Lambda", "DynamoDB", "Firehose", "API Gateway"]);
        assert_eq!(p.stream.shards, 1_250);
        assert_eq!(p.quota_increases[1].request.split(' ').nth(2), Some("1,350"), "1,250 reserved + 100");
        assert_eq!(p.archive.streams_needed, 1_193, "1 GB/s × 1.25 ÷ 1 MiB/s");
        assert_eq!(p.archive.stream_count, ARCHIVE_STREAM_COUNT_MAX);
        assert!(p.quota_increases[3].request.starts_with("at least 24 MiB/s on each of the 50 streams"));
        assert!(planned(30_000, 600, "us-east-1").quota_increases.is_empty(), "37,500 WRU/s fit the 40,000");
        assert_eq!(planned(40_000, 600, "us-east-1").quota_increases.len(), 1, "50,000 WRU/s do not");
    }

    #[test]
    fn refuses_what_cannot_be_planned_and_names_the_limit() {
        let err = |request: PlanRequest| plan(&request).unwrap_err();
        assert_eq!(err(PlanRequest::new(0, 600)), PlanError::ZeroRate);
        assert_eq!(err(PlanRequest::new(1, 0)), PlanError::EventTooSmall(0));
        assert_eq!(err(PlanRequest::new(1, MIN_EVENT_BYTES - 1)), PlanError::EventTooSmall(36));
        assert!(plan(&PlanRequest::new(1, MIN_EVENT_BYTES)).is_ok());
        let too_big = err(PlanRequest::new(1, 1_048_577));
        assert_eq!(too_big, PlanError::OverKinesisRecordLimit(1_048_577));
        assert!(too_big.to_string().contains("1 MiB (1048576 bytes)"), "{too_big}");
        let firehose = err(PlanRequest::new(1, 1_048_576));
        assert!(firehose.to_string().contains("1,000 KiB"), "{firehose}");
        assert!(plan(&PlanRequest::new(1, 1_023_599)).is_ok(), "the largest event the archive takes");
        assert!(err(PlanRequest::new(1, 1_023_600)).to_string().contains("at most 1023599 bytes"));
        assert!(plan(&PlanRequest::new(1_365_333, 600)).is_ok());
        let too_fast = err(PlanRequest::new(1_365_334, 600));
        assert_eq!(too_fast, PlanError::RateTooHigh { rate: 1_365_334, shards: 1_025, max_rate: 1_365_333 });
        assert!(too_fast.to_string().contains("gsi_write_shards"), "{too_fast}");
        for batch in [0, 501] {
            assert_eq!(
                err(PlanRequest { events_per_request: batch, ..PlanRequest::new(1, 600) }),
                PlanError::BatchSize(batch)
            );
        }
        assert_eq!(err(PlanRequest { event_ttl_days: 0, ..PlanRequest::new(1, 600) }), PlanError::TtlDays);
        for region in ["", "us-east", "US-EAST-1", "us-east-x", "useast1", "u-east-1"] {
            assert!(
                matches!(err(PlanRequest { region: region.into(), ..PlanRequest::new(1, 600) }), PlanError::Region(_)),
                "{region}"
            );
        }
        for region in ["eu-central-2", "us-gov-west-1", "ap-southeast-5"] {
            assert!(plan(&PlanRequest { region: region.into(), ..PlanRequest::new(1, 600) }).is_ok(), "{region}");
        }
        for environment in ["p", "Prod", "1prod", "production1", "pr-od"] {
            let request = PlanRequest { environment: environment.into(), ..PlanRequest::new(1, 600) };
            assert!(matches!(err(request), PlanError::Environment(_)), "{environment}");
        }
    }

    #[test]
    fn tfvars_set_the_planned_variables_in_terraform_fmt_layout() {
        let p = plan(&PlanRequest { environment: "stage".into(), ..PlanRequest::new(100_000, 600) }).unwrap();
        let text = tfvars(&p);
        let assignments: Vec<(&str, &str)> = text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .map(|l| l.split_once(" = ").map(|(k, v)| (k.trim_end(), v)).unwrap())
            .collect();
        assert_eq!(
            assignments,
            [
                ("environment", "\"stage\""),
                ("aws_region", "\"us-east-1\""),
                ("stream_mode", "\"PROVISIONED\""),
                ("shard_count", "125"),
                ("processor_memory_mb", "1769"),
                ("processor_batch_size", "1000"),
                ("processor_batching_window_seconds", "1"),
                ("processor_parallelization_factor", "1"),
                ("processor_reserved_concurrency", "125"),
                ("event_ttl_days", "30"),
                ("gsi_write_shards", "75"),
                ("archive_stream_count", "24"),
                ("api_throttle_rate_limit", "800"),
                ("api_throttle_burst_limit", "1600"),
            ]
        );
        assert!(text.contains("\nstream_mode = \"PROVISIONED\"\nshard_count = 125\n"), "aligned per group:\n{text}");
    }

    #[test]
    fn every_figure_is_printed_with_its_reasoning() {
        for p in [planned(100_000, 600, "us-east-1"), planned(1_000, 600, "eu-central-1")] {
            let text = render_text(&p);
            let markdown = render_markdown(&p);
            for section in sections(&p) {
                assert!(text.contains(&format!("\n{}\n", section.title)), "{}", section.title);
                assert!(markdown.contains(&format!("**{}**", section.title)), "{}", section.title);
                for f in &section.figures {
                    assert!(!f.why.is_empty(), "{} has no reasoning", f.name);
                    assert!(text.lines().any(|l| l.contains(&f.name) && l.contains(&f.value) && l.contains(&f.why)));
                    assert!(markdown.contains(&format!("| {} | {} | {} |", f.name, f.value, f.why)));
                }
            }
            assert!(text.starts_with("Capacity plan: "));
            assert!(text.contains(PRICES_AS_OF));
        }
    }

    #[test]
    fn formats_numbers_with_separators() {
        assert_eq!(int(0), "0");
        assert_eq!(int(999), "999");
        assert_eq!(int(1_000), "1,000");
        assert_eq!(int(1_234_567), "1,234,567");
        assert_eq!(num(1234.5, 1), "1,234.5");
        assert_eq!(num(0.126, 2), "0.13");
        assert_eq!(usd(1368.75), "$1,368.75");
        assert_eq!(
            (price(0.2), price(0.015), price(3.5), price(1.0)),
            ("0.20".into(), "0.015".into(), "3.50".into(), "1.00".into())
        );
        assert_eq!((count(60.0), count(0.6)), ("60".into(), "0.60".into()));
        assert_eq!(ceil_count(60.000_000_000_001), 60);
        assert_eq!(MIN_EVENT_BYTES, 37);
    }
}
