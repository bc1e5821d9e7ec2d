//! AWS's limits, default quotas and list prices the planner sizes and prices with: each a
//! named constant saying where it comes from. Quotas and prices change, so they are dated
//! ([`PRICES_AS_OF`]) and every plan says so; quotas also differ by account (check Service
//! Quotas before a launch).

/// When the quotas and prices below were read (AWS documentation and us-east-1 price list).
pub const PRICES_AS_OF: &str = "2026-11";
/// Hours in a billing month, as AWS's price examples count them.
pub const HOURS_PER_MONTH: f64 = 730.0;
pub const SECONDS_PER_MONTH: f64 = HOURS_PER_MONTH * 3600.0;
/// Billing gigabyte: decimal, which slightly overstates where AWS bills binary GB.
pub const GB: f64 = 1e9;
pub const MIB: f64 = 1_048_576.0;

/// The region planned when `--region` is not given (and the one the prices are from).
pub const DEFAULT_REGION: &str = "us-east-1";
/// Regions with the larger default Kinesis shard quota and Firehose Direct PUT quota
/// (Kinesis Data Streams and Amazon Data Firehose quota pages).
pub const LARGE_QUOTA_REGIONS: [&str; 3] = ["us-east-1", "us-west-2", "eu-west-1"];

// ---------------------------------------------------------------------------------------
// API Gateway (REST) and the ingest contract (DESIGN.md section 4)
// ---------------------------------------------------------------------------------------

/// Most events one `POST /v1/events` may carry (DESIGN.md section 4; PutRecords' 500 records).
pub const API_EVENTS_PER_REQUEST_MAX: u64 = pipeline::limits::INGEST_EVENTS_PER_REQUEST_MAX as u64;
/// Most bytes of records in one request: PutRecords takes 5 MiB (and the ingest body <= 5 MiB).
pub const API_REQUEST_BYTES_MAX: u64 = pipeline::limits::INGEST_BODY_BYTES_MAX as u64;
/// API Gateway's default steady-state requests/s per account and region (API Gateway quotas).
pub const API_ACCOUNT_REQUESTS_PER_S: f64 = 10_000.0;
/// API Gateway's default burst per account and region.
pub const API_ACCOUNT_BURST: u64 = 5_000;

// ---------------------------------------------------------------------------------------
// Kinesis Data Streams (developer guide, "Quotas and limits"; KPL configuration)
// ---------------------------------------------------------------------------------------

/// Write bytes per second one provisioned shard takes ("1 MB per second").
pub const KINESIS_SHARD_WRITE_BYTES_PER_S: f64 = 1_000_000.0;
/// Write records per second one provisioned shard takes.
pub const KINESIS_SHARD_WRITE_RECORDS_PER_S: f64 = 1_000.0;
/// Largest data blob of one record (1 MiB).
pub const KINESIS_MAX_RECORD_BYTES: u64 = pipeline::limits::KINESIS_RECORD_BYTES_MAX as u64;
/// Default write throughput of one on-demand stream (bytes/s).
pub const KINESIS_ON_DEMAND_WRITE_BYTES_PER_S: f64 = 200_000_000.0;
/// Default write records/s of one on-demand stream.
pub const KINESIS_ON_DEMAND_WRITE_RECORDS_PER_S: f64 = 200_000.0;
/// Write capacity a new on-demand stream starts with (bytes/s); it doubles from its peak.
pub const KINESIS_ON_DEMAND_INITIAL_BYTES_PER_S: f64 = 4_000_000.0;
/// Default shards per account in [`LARGE_QUOTA_REGIONS`].
pub const KINESIS_SHARD_QUOTA_LARGE_REGIONS: u64 = 500;
/// Default shards per account in every other region.
pub const KINESIS_SHARD_QUOTA_OTHER_REGIONS: u64 = 200;
/// A PUT payload unit: each record is billed in 25 KB chunks (Kinesis pricing).
pub const KINESIS_PUT_PAYLOAD_UNIT_BYTES: u64 = 25 * 1024;
/// Bytes the KPL packs into one aggregated record by default (`AggregationMaxSize`, KPL's
/// default_config.properties: 51200).
pub const KPL_AGGREGATED_RECORD_BYTES: u64 = 51_200;
/// Per user record inside an aggregated record: its protobuf framing (~8 B) and, where every
/// record has its own partition key (one per user), that key in the record's key table
/// (~12 B) (awslabs/amazon-kinesis-producer, aggregation-format.md).
pub const KPL_USER_RECORD_OVERHEAD_BYTES: u64 = 20;

// ---------------------------------------------------------------------------------------
// Lambda (developer guide, "Lambda quotas", "Kinesis parameters")
// ---------------------------------------------------------------------------------------

/// Largest invocation payload of a Kinesis batch (6 MB synchronous payload quota).
pub const LAMBDA_INVOCATION_PAYLOAD_BYTES: u64 = 6_000_000;
/// Per-record JSON of the Kinesis event around the base64 data (ids, keys, ARNs, times).
pub const KINESIS_EVENT_RECORD_OVERHEAD_BYTES: u64 = 300;
/// Parallelization factor range of a Kinesis event source mapping.
pub const PARALLELIZATION_FACTOR_MAX: u64 = 10;
/// Default concurrent executions per account and region.
pub const LAMBDA_CONCURRENCY_QUOTA: u64 = 1_000;
/// Concurrency Lambda keeps unreserved in every account (the aggregator and query run there).
pub const LAMBDA_UNRESERVED_MINIMUM: u64 = 100;
/// 1,769 MB is exactly one vCPU (Lambda allocates CPU by memory).
pub const LAMBDA_MB_PER_VCPU: u64 = 1_769;

// ---------------------------------------------------------------------------------------
// DynamoDB (developer guide: "Service, account, and table quotas", "Read/write capacity
// mode", "Item sizes"; Application Auto Scaling)
// ---------------------------------------------------------------------------------------

/// One write unit (on-demand request unit or provisioned capacity unit) writes up to 1 KB.
pub const DYNAMODB_WRITE_UNIT_BYTES: u64 = 1_024;
/// One strongly consistent read unit reads up to 4 KB.
pub const DYNAMODB_READ_UNIT_BYTES: u64 = 4_096;
/// Largest item (400 KB); bigger events are stored without their payload.
pub const DYNAMODB_MAX_ITEM_BYTES: u64 = pipeline::limits::DYNAMODB_ITEM_BYTES_MAX as u64;
/// Default read/write units/s of one table (and of each of its indexes), either mode.
pub const DYNAMODB_TABLE_THROUGHPUT_QUOTA: f64 = 40_000.0;
/// Default provisioned read/write capacity units per account and region, all tables together.
pub const DYNAMODB_ACCOUNT_PROVISIONED_QUOTA: f64 = 80_000.0;
/// Write units/s one partition (so one index partition key) takes.
pub const DYNAMODB_PARTITION_WRITE_UNITS: f64 = 1_000.0;
/// Write units/s a new on-demand table serves at once, before warm throughput or adaptation.
pub const DYNAMODB_NEW_TABLE_WRITE_UNITS: f64 = 4_000.0;
/// Bytes DynamoDB adds to every stored item for its own bookkeeping.
pub const DYNAMODB_ITEM_STORAGE_OVERHEAD_BYTES: u64 = 100;
/// Application Auto Scaling's highest target utilisation for DynamoDB.
pub const AUTOSCALING_TARGET_MAX: f64 = 0.90;
/// Application Auto Scaling's lowest target utilisation for DynamoDB.
pub const AUTOSCALING_TARGET_MIN: f64 = 0.20;

// ---------------------------------------------------------------------------------------
// Amazon Data Firehose (developer guide, "Quota", "Buffer data for dynamic partitioning")
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
pub const FIREHOSE_MAX_RECORD_BYTES: u64 = pipeline::limits::FIREHOSE_RECORD_BYTES_MAX as u64;
/// Most events packed into one Firehose record (what deaggregation splits one record into).
pub const FIREHOSE_EVENTS_PER_RECORD_MAX: u64 = 500;
/// Active partitions (event type × hour in its buffer) one delivery stream takes by default;
/// records of further partitions go to the error prefix, `activePartitionExceeded` (up to
/// 5,000 on request).
pub const FIREHOSE_ACTIVE_PARTITIONS_PER_STREAM: u64 = 500;

// ---------------------------------------------------------------------------------------
// Prices: us-east-1 list prices as of PRICES_AS_OF, in US dollars
// ---------------------------------------------------------------------------------------

/// API Gateway REST: per million requests (first 333 million a month).
pub const API_GATEWAY_REST_REQUESTS_PER_MILLION_USD: f64 = 3.50;
/// Kinesis provisioned: per shard-hour.
pub const KINESIS_SHARD_HOUR_USD: f64 = 0.015;
/// Kinesis provisioned: per million PUT payload units (25 KB each).
pub const KINESIS_PUT_UNITS_PER_MILLION_USD: f64 = 0.014;
/// Lambda on arm64: per GB-second.
pub const LAMBDA_ARM_GB_SECOND_USD: f64 = 0.000_013_333_4;
/// Lambda: per million requests.
pub const LAMBDA_REQUESTS_PER_MILLION_USD: f64 = 0.20;
/// DynamoDB prices of one table class.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TableClassPrices {
    /// On-demand: per million write request units.
    pub write_request_units_per_million: f64,
    /// On-demand: per million read request units.
    pub read_request_units_per_million: f64,
    /// Provisioned: per write capacity unit-hour.
    pub write_capacity_unit_hour: f64,
    /// Provisioned: per read capacity unit-hour.
    pub read_capacity_unit_hour: f64,
    /// Storage: per GB-month.
    pub storage_gb_month: f64,
}
/// DynamoDB Standard table class.
pub const DYNAMODB_STANDARD: TableClassPrices = TableClassPrices {
    write_request_units_per_million: 0.625,
    read_request_units_per_million: 0.125,
    write_capacity_unit_hour: 0.00065,
    read_capacity_unit_hour: 0.00013,
    storage_gb_month: 0.25,
};
/// DynamoDB Standard-Infrequent Access table class: storage 60 % cheaper, throughput 25 % dearer.
pub const DYNAMODB_STANDARD_IA: TableClassPrices = TableClassPrices {
    write_request_units_per_million: 0.78125,
    read_request_units_per_million: 0.15625,
    write_capacity_unit_hour: 0.00081,
    read_capacity_unit_hour: 0.00016,
    storage_gb_month: 0.10,
};
/// DynamoDB point-in-time recovery (continuous backups): per GB-month of table data.
pub const DYNAMODB_PITR_GB_MONTH_USD: f64 = 0.20;
/// Firehose Direct PUT ingestion, per GB (first 500 TB a month).
pub const FIREHOSE_INGEST_GB_USD: f64 = 0.029;
/// Firehose dynamic partitioning, per GB processed.
pub const FIREHOSE_DYNAMIC_PARTITIONING_GB_USD: f64 = 0.020;
/// S3 Standard, per GB-month (first 50 TB).
pub const S3_STANDARD_GB_MONTH_USD: f64 = 0.023;
