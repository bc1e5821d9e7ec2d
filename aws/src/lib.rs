//! `pipeline-aws`: the AWS adapters of the pipeline's sink ports.
//!
//! [`dynamodb::DynamoEventStore`] writes events with `BatchWriteItem` (items built by
//! [`event_item`]; [`events_query`] and [`type_events`] read them back),
//! [`firehose::FirehoseArchive`] packs them into Firehose records, and
//! [`s3::S3BadRowStore`] keeps bad rows as gzip NDJSON objects, and
//! [`aggregates`] writes partial aggregates and is the table the aggregator merges. Each retries what AWS
//! did not take, with exponential backoff and full jitter ([`retry`]), until the
//! invocation's deadline. [`config`] reads the Lambda environment.

pub mod aggregates;
pub mod config;
pub mod dynamodb;
pub mod emf;
pub mod event_item;
pub mod events_query;
pub mod firehose;
pub mod logging;
pub mod retry;
pub mod s3;
pub mod type_events;

pub use aggregates::{DynamoAggregateStore, DynamoAggregateTable};
pub use config::{ProcessorConfig, QueryConfig, TablesConfig};
pub use dynamodb::DynamoEventStore;
pub use firehose::FirehoseArchive;
pub use s3::S3BadRowStore;
