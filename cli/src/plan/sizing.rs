//! The sizing of everything but the tables, pure arithmetic over a [`Need`]: ingest (API
//! Gateway), the Kinesis stream (by records, or by bytes where producers aggregate with the
//! KPL), the processor (batches, invocations, concurrency and billed time from the measured
//! CPU per event) and the archive (Firehose streams, partitions, S3).

use crate::plan::limits::*;
use crate::plan::measured::*;
use crate::plan::need::{HEADROOM, Need, ceil_count};

/// The usage plan allows this multiple of the planned requests/s: producer retries and
/// smaller batches must not be throttled by our own limit.
pub const API_THROTTLE_HEADROOM: f64 = 2.0;
/// Smallest usage-plan rate the plan writes: the stack's default `api_throttle_rate_limit`.
pub const API_THROTTLE_RATE_MIN: u64 = 100;
/// Largest Kinesis batch per invocation the plan sets (what envs/prod.tfvars uses).
pub const PROCESSOR_BATCH_SIZE_MAX: u64 = 1_000;
/// Batching window: the longest a record waits for its batch to fill.
pub const PROCESSOR_BATCHING_WINDOW_S: u64 = 1;
/// Share of each execution's time planned busy; the rest absorbs bursts and slow writes.
pub const PROCESSOR_TARGET_UTILISATION: f64 = 0.5;
/// Hours either side of a record's arrival the processor sends to every delivery stream
/// (aws/src/firehose.rs `LIVE_HOURS`); other hours go to one stream per partition.
pub const ARCHIVE_LIVE_HOURS: u64 = 1;
/// Most delivery streams `archive_stream_count` accepts (terraform/variables.tf validation).
pub const ARCHIVE_STREAM_COUNT_MAX: u64 = 50;

#[derive(Clone, Debug, PartialEq)]
pub struct IngestPlan {
    /// Producers POST to the API (false: they write KPL-aggregated records to Kinesis).
    pub through_api: bool,
    /// Events per request after the 5 MiB request limit.
    pub events_per_request: u64,
    pub requests_per_s: f64,
    pub mean_requests_per_s: f64,
    pub throttle_rate_limit: u64,
    pub throttle_burst_limit: u64,
}

/// Which of a shard's two write limits decides the shard count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShardBound {
    Bytes,
    Records,
}

#[derive(Clone, Debug, PartialEq)]
pub struct StreamPlan {
    /// Bytes of one Kinesis record: an event, or a KPL aggregated record.
    pub record_bytes: u64,
    /// Events one Kinesis record carries (1 without KPL aggregation).
    pub events_per_record: f64,
    pub write_bytes_per_s: f64,
    pub write_records_per_s: f64,
    pub shards_for_bytes: f64,
    pub shards_for_records: f64,
    /// Shards the processor's concurrency asks for (parallelization factor at most 10).
    pub shards_for_concurrency: u64,
    pub bound: ShardBound,
    pub shards: u64,
    pub bytes_per_shard: f64,
    pub records_per_shard: f64,
    /// Whether one on-demand stream's default quota takes the rate with headroom.
    pub on_demand_fits: bool,
    pub shard_quota: u64,
    /// PUT payload units per second at the mean rate (each record in 25 KB units).
    pub mean_put_units_per_s: f64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ProcessorPlan {
    /// Kinesis records per invocation.
    pub batch_size: u64,
    pub invocation_bytes_per_record: u64,
    pub batching_window_s: u64,
    pub events_per_invocation: f64,
    pub invocations_per_s: f64,
    pub mean_invocations_per_s: f64,
    /// Billed (wall) seconds of one invocation at the peak: CPU plus waiting on the writes.
    pub invocation_seconds: f64,
    pub mean_invocation_seconds: f64,
    pub cpu_vcpus: f64,
    pub concurrency_needed: f64,
    pub parallelization_factor: u64,
    pub reserved_concurrency: u64,
    pub memory_mb: u64,
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

pub fn ingest(need: &Need) -> IngestPlan {
    if need.kpl_aggregation {
        return IngestPlan {
            through_api: false,
            events_per_request: 0,
            requests_per_s: 0.0,
            mean_requests_per_s: 0.0,
            throttle_rate_limit: API_THROTTLE_RATE_MIN,
            throttle_burst_limit: 2 * API_THROTTLE_RATE_MIN,
        };
    }
    let events_per_request = need.events_per_request.min(API_REQUEST_BYTES_MAX / need.event_bytes).max(1);
    let requests_per_s = need.rate as f64 / events_per_request as f64;
    let throttle_rate_limit = ceil_count(requests_per_s * need.burst * API_THROTTLE_HEADROOM).max(API_THROTTLE_RATE_MIN);
    IngestPlan {
        through_api: true,
        events_per_request,
        requests_per_s,
        mean_requests_per_s: need.mean_rate as f64 / events_per_request as f64,
        throttle_rate_limit,
        throttle_burst_limit: (2 * throttle_rate_limit).min(API_ACCOUNT_BURST),
    }
}

/// Bytes of one KPL aggregated record and the events it carries.
fn aggregated_record(event_bytes: u64) -> (u64, f64) {
    let per_event = event_bytes + KPL_USER_RECORD_OVERHEAD_BYTES;
    let events = (KPL_AGGREGATED_RECORD_BYTES / per_event).max(1);
    (events * per_event, events as f64)
}

/// The stream: shards for the peak (with spikes and headroom), at least as many as the
/// processor's concurrency needs at 10 batches per shard.
pub fn stream(need: &Need, shards_for_concurrency: u64) -> StreamPlan {
    let (record_bytes, events_per_record) =
        if need.kpl_aggregation { aggregated_record(need.event_bytes) } else { (need.event_bytes, 1.0) };
    let peak = need.rate as f64 * need.burst.max(1.0);
    let write_records_per_s = peak / events_per_record;
    let write_bytes_per_s = write_records_per_s * record_bytes as f64;
    let shards_for_bytes = write_bytes_per_s / KINESIS_SHARD_WRITE_BYTES_PER_S;
    let shards_for_records = write_records_per_s / KINESIS_SHARD_WRITE_RECORDS_PER_S;
    let bound = if shards_for_bytes > shards_for_records { ShardBound::Bytes } else { ShardBound::Records };
    let shards = ceil_count(shards_for_bytes.max(shards_for_records) * HEADROOM).max(shards_for_concurrency).max(1);
    let shard_quota = if need.large_quota_region() { KINESIS_SHARD_QUOTA_LARGE_REGIONS } else { KINESIS_SHARD_QUOTA_OTHER_REGIONS };
    let units_per_record = record_bytes.div_ceil(KINESIS_PUT_PAYLOAD_UNIT_BYTES) as f64;
    StreamPlan {
        record_bytes,
        events_per_record,
        write_bytes_per_s,
        write_records_per_s,
        shards_for_bytes,
        shards_for_records,
        shards_for_concurrency,
        bound,
        shards,
        bytes_per_shard: write_bytes_per_s / shards as f64,
        records_per_shard: write_records_per_s / shards as f64,
        on_demand_fits: write_bytes_per_s * HEADROOM <= KINESIS_ON_DEMAND_WRITE_BYTES_PER_S
            && write_records_per_s * HEADROOM <= KINESIS_ON_DEMAND_WRITE_RECORDS_PER_S,
        shard_quota,
        mean_put_units_per_s: need.mean_rate as f64 / events_per_record * units_per_record,
    }
}

/// Billed seconds of one invocation of `events` events writing `items` DynamoDB items:
/// the measured CPU per event, plus waiting on the writes (DynamoDB's rounds of requests,
/// concurrent with one Firehose round).
pub fn invocation_seconds(events: f64, items: f64) -> f64 {
    let rounds = (items / DYNAMODB_ITEMS_PER_REQUEST / DYNAMODB_REQUESTS_IN_FLIGHT).ceil().max(1.0);
    events * PROCESSOR_CPU_SECONDS_PER_EVENT + (rounds * DYNAMODB_WRITE_ROUND_SECONDS).max(FIREHOSE_PUT_SECONDS)
}

/// Invocations per second of `shards` shards taking `records_per_s` Kinesis records in all:
/// a shard invokes when its batch is full or its window ends, and never without records.
fn invocations_per_s(records_per_s: f64, shards: u64, batch_size: u64) -> f64 {
    let per_shard = records_per_s / shards as f64;
    let window = PROCESSOR_BATCHING_WINDOW_S as f64;
    per_shard.min((per_shard / batch_size as f64).max(1.0 / window)) * shards as f64
}

/// The processor over `stream`, writing `kept_share` of the events to the events table.
pub fn processor(need: &Need, stream: &StreamPlan, kept_share: f64) -> ProcessorPlan {
    let invocation_bytes_per_record = (stream.record_bytes * 4).div_ceil(3) + KINESIS_EVENT_RECORD_OVERHEAD_BYTES;
    let batch_size = PROCESSOR_BATCH_SIZE_MAX.min(LAMBDA_INVOCATION_PAYLOAD_BYTES / invocation_bytes_per_record).max(1);
    let invocations = invocations_per_s(stream.write_records_per_s, stream.shards, batch_size);
    let mean_records = need.mean_rate as f64 / stream.events_per_record;
    let mean_invocations = invocations_per_s(mean_records, stream.shards, batch_size);
    let events_per_invocation = stream.write_records_per_s * stream.events_per_record / invocations;
    let mean_events_per_invocation = need.mean_rate as f64 / mean_invocations;
    let partial_items = 2.0 * need.mix.len() as f64; // a partial and a touched-minute marker per type
    let seconds = |events: f64| invocation_seconds(events, events * kept_share + partial_items);
    let invocation_seconds = seconds(events_per_invocation);
    let concurrency_needed = invocations * invocation_seconds / PROCESSOR_TARGET_UTILISATION;
    let parallelization_factor = ceil_count(concurrency_needed / stream.shards as f64).clamp(1, PARALLELIZATION_FACTOR_MAX);
    ProcessorPlan {
        batch_size,
        invocation_bytes_per_record,
        batching_window_s: PROCESSOR_BATCHING_WINDOW_S,
        events_per_invocation,
        invocations_per_s: invocations,
        mean_invocations_per_s: mean_invocations,
        invocation_seconds,
        mean_invocation_seconds: seconds(mean_events_per_invocation),
        cpu_vcpus: need.rate as f64 * need.burst * PROCESSOR_CPU_SECONDS_PER_EVENT,
        concurrency_needed,
        parallelization_factor,
        reserved_concurrency: stream.shards * parallelization_factor,
        memory_mb: LAMBDA_MB_PER_VCPU,
    }
}

/// Shards the processor needs so that 10 batches per shard give it enough concurrency.
pub fn shards_for_concurrency(need: &Need, kept_share: f64) -> u64 {
    // One shard alone, to learn the time per event at full batches; concurrency scales with it.
    let probe = stream(need, 1);
    let plan = processor(need, &probe, kept_share);
    ceil_count(plan.concurrency_needed / PARALLELIZATION_FACTOR_MAX as f64).max(1)
}

pub fn archive(need: &Need) -> ArchivePlan {
    let large = need.large_quota_region();
    let (direct_put_bytes_per_s, direct_put_records_per_s) = if large {
        (FIREHOSE_DIRECT_PUT_BYTES_LARGE_REGIONS, FIREHOSE_DIRECT_PUT_RECORDS_LARGE_REGIONS)
    } else {
        (FIREHOSE_DIRECT_PUT_BYTES_OTHER_REGIONS, FIREHOSE_DIRECT_PUT_RECORDS_OTHER_REGIONS)
    };
    let enriched_event_bytes = need.event_bytes + ENRICHMENT_BYTES;
    let bytes_per_s = need.rate as f64 * need.burst * enriched_event_bytes as f64;
    let streams_needed = ceil_count(bytes_per_s * HEADROOM / direct_put_bytes_per_s).max(1);
    let stream_count = streams_needed.min(ARCHIVE_STREAM_COUNT_MAX);
    let events_per_record = FIREHOSE_EVENTS_PER_RECORD_MAX.min(FIREHOSE_MAX_RECORD_BYTES / (enriched_event_bytes + 1));
    let ingested_gb_per_month = need.mean_rate as f64 * enriched_event_bytes as f64 * SECONDS_PER_MONTH / GB;
    let live = need.mix.len() as u64 * (2 * ARCHIVE_LIVE_HOURS + 1);
    ArchivePlan {
        enriched_event_bytes,
        bytes_per_s,
        direct_put_bytes_per_s,
        direct_put_records_per_s,
        streams_needed,
        stream_count,
        bytes_per_stream: bytes_per_s / stream_count as f64,
        events_per_record,
        records_per_s: need.rate as f64 * need.burst / events_per_record as f64,
        live_partitions_per_stream: live,
        late_partition_capacity: stream_count * FIREHOSE_ACTIVE_PARTITIONS_PER_STREAM.saturating_sub(live),
        ingested_gb_per_month,
        archived_gb_per_month: ingested_gb_per_month / ARCHIVE_GZIP_RATIO,
    }
}
