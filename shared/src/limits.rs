//! The contract's limits, one home each: what the ingest API accepts (DESIGN.md section 4),
//! how long events are kept (section 8), and the AWS service limits the adapters and the
//! planner size requests by, each with the AWS document it comes from. Everything else
//! (local mode, `pipeline plan`, `pipeline recover`, the AWS adapters) names these.

/// Days an event stays queryable by default (DESIGN.md section 8, `EVENT_TTL_DAYS`; local
/// mode's `--retention` defaults to the same).
pub const EVENT_TTL_DAYS_DEFAULT: u32 = 30;

/// The largest record: Kinesis Data Streams takes a data blob of at most 1 MiB
/// ("Quotas and limits", Kinesis Data Streams developer guide). One event, as sent.
pub const KINESIS_RECORD_BYTES_MAX: usize = 1024 * 1024;
/// Records per `PutRecords` request (Kinesis API reference, `PutRecords`).
pub const KINESIS_PUT_RECORDS_MAX: usize = 500;
/// Bytes per `PutRecords` request, data and partition keys (Kinesis API reference).
pub const KINESIS_PUT_RECORDS_BYTES_MAX: usize = 5 * 1024 * 1024;

/// Events in one `POST /v1/events` (DESIGN.md section 4: the shape of `PutRecords`).
pub const INGEST_EVENTS_PER_REQUEST_MAX: usize = KINESIS_PUT_RECORDS_MAX;
/// A request body's size after decompression (DESIGN.md section 4: `PutRecords`' 5 MiB).
pub const INGEST_BODY_BYTES_MAX: usize = KINESIS_PUT_RECORDS_BYTES_MAX;

/// Bytes of one Firehose record: 1,000 KiB (Amazon Data Firehose quotas).
pub const FIREHOSE_RECORD_BYTES_MAX: usize = 1_000 * 1024;
/// Records per `PutRecordBatch` (Firehose API reference).
pub const FIREHOSE_PUT_BATCH_RECORDS_MAX: usize = 500;
/// Bytes per `PutRecordBatch`: 4 MiB (Firehose API reference).
pub const FIREHOSE_PUT_BATCH_BYTES_MAX: usize = 4 * 1024 * 1024;

/// Items per `BatchWriteItem` (DynamoDB API reference).
pub const DYNAMODB_BATCH_WRITE_ITEMS_MAX: usize = 25;
/// Bytes per `BatchWriteItem`: 16 MB (DynamoDB API reference).
pub const DYNAMODB_BATCH_WRITE_BYTES_MAX: usize = 16 * 1024 * 1024;
/// Bytes of one DynamoDB item, names and values: 400 KB ("Service, account, and table
/// quotas in Amazon DynamoDB").
pub const DYNAMODB_ITEM_BYTES_MAX: usize = 400 * 1024;
